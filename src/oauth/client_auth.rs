//! Client authentication at the token, introspection and revocation endpoints:
//! `client_secret_basic`, `client_secret_post`, or `none` (a public client's bare client_id).
//! Credentials are parsed once at the edge into a [`ClientAuth`], then checked once here,
//! behind the throttle (`crate::throttle`): a locked client is refused before its secret is
//! looked at, so a throttled guess costs no Argon2id.
use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::error::OAuthError;
use crate::clients::{self, AuthMethod, Client};
use crate::secrets::{self, SecretString};
use crate::store::DbConnection;
use crate::throttle::{self, Attempt, Policy};

/// Credentials as presented, before they are checked.
#[derive(Debug, Clone)]
pub struct ClientAuth {
    pub client_id: String,
    pub secret: Option<SecretString>,
}

/// Verified client secrets, so a confidential client pays for Argon2id once, not on every
/// token request (that would cap the token endpoint far below the RSA signing rate). An
/// entry holds the stored hash it was verified against, so a rotated secret misses.
#[derive(Debug, Default)]
pub struct SecretCache {
    verified: Mutex<HashMap<String, (String, String)>>,
}

impl SecretCache {
    pub fn verify(&self, client: &Client, secret: &SecretString) -> bool {
        let Some(phc) = client.secret_hash.as_deref() else {
            return false;
        };
        let digest = secrets::digest(secret.expose());
        if let Ok(map) = self.verified.lock()
            && let Some((cached_phc, cached_digest)) = map.get(&client.id)
            && cached_phc == phc
        {
            return secrets::constant_time_eq(cached_digest.as_bytes(), digest.as_bytes());
        }
        if !secrets::verify_secret(secret, phc) {
            return false;
        }
        if let Ok(mut map) = self.verified.lock() {
            map.insert(client.id.clone(), (phc.to_owned(), digest));
        }
        true
    }
}

/// Where a client authentication comes from and when, for the throttle.
#[derive(Clone, Copy, Debug)]
pub struct Origin<'a> {
    pub ip: Option<&'a str>,
    pub now: i64,
    pub policy: Policy,
}

/// The client these credentials prove, or `invalid_client` (one answer for an unknown
/// client and a wrong secret, so the answer does not tell which client ids exist). Failures
/// are counted per client_id and address and per client_id, unknown ids included, so the
/// throttle does not tell either.
pub fn authenticate(
    conn: &mut DbConnection,
    cache: &SecretCache,
    auth: Option<ClientAuth>,
    origin: Origin<'_>,
) -> Result<Client, OAuthError> {
    let fail = || OAuthError::InvalidClient("unknown client or wrong credentials".into());
    let auth =
        auth.ok_or_else(|| OAuthError::InvalidClient("client authentication is required".into()))?;
    let attempt = Attempt::client(&auth.client_id, origin.ip);
    let checked = throttle::check(conn, origin.policy, &attempt, origin.now)?;
    if let Some(locked) = checked.locked {
        return Err(OAuthError::ClientThrottled {
            description: format!(
                "too many failed authentications for this client ({}); try again in {} s",
                locked.scope.as_str(),
                locked.retry_after
            ),
            retry_after: locked.retry_after,
        });
    }
    let client = clients::by_id(conn, &auth.client_id)?;
    let proven = client
        .as_ref()
        .is_some_and(|client| match (client.auth_method, &auth.secret) {
            (AuthMethod::None, None) => true,
            (AuthMethod::ClientSecret, Some(secret)) => cache.verify(client, secret),
            _ => false,
        });
    // A public client has no secret to guess: a request that gets its method wrong is not
    // counted, so nobody can lock out every user of a public app.
    let guessable = client
        .as_ref()
        .is_none_or(|c| c.auth_method == AuthMethod::ClientSecret);
    match client {
        Some(client) if proven => {
            if guessable {
                throttle::succeeded(conn, origin.policy, &attempt, &checked, origin.now)?;
            }
            Ok(client)
        }
        _ if guessable => {
            if let Some(locked) = throttle::failed(conn, origin.policy, &attempt, origin.now)? {
                tracing::info!(
                    client_id = %auth.client_id,
                    scope = locked.scope.as_str(),
                    retry_after = locked.retry_after,
                    "client authentication throttled"
                );
            }
            Err(fail())
        }
        _ => Err(fail()),
    }
}

/// Read the credentials of a request from its Authorization header and form fields.
/// Using two methods at once is refused (RFC 6749 §2.3).
pub fn presented(
    authorization: Option<&str>,
    form_client_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<Option<ClientAuth>, OAuthError> {
    if let Some(header) = authorization {
        let Some(encoded) = header
            .strip_prefix("Basic ")
            .or_else(|| header.strip_prefix("basic "))
        else {
            return Err(OAuthError::InvalidClient(
                "unsupported authentication scheme; use HTTP Basic".into(),
            ));
        };
        let bad = || OAuthError::InvalidClient("malformed HTTP Basic credentials".into());
        let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
        let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
        let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
        // RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
        let id = form_decode(id).ok_or_else(bad)?;
        let secret = form_decode(secret).ok_or_else(bad)?;
        if form_secret.is_some() {
            return Err(OAuthError::InvalidRequest(
                "client authenticated with more than one method".into(),
            ));
        }
        if form_client_id.is_some_and(|f| f != id) {
            return Err(OAuthError::InvalidRequest(
                "client_id in the body differs from the authenticated client".into(),
            ));
        }
        return Ok(Some(ClientAuth {
            client_id: id,
            secret: (!secret.is_empty()).then(|| SecretString::new(secret)),
        }));
    }
    Ok(form_client_id.map(|id| ClientAuth {
        client_id: id.to_owned(),
        secret: form_secret.map(SecretString::new),
    }))
}

fn form_decode(s: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(s: &str) -> String {
        format!("Basic {}", STANDARD.encode(s))
    }

    #[test]
    fn basic_credentials_are_url_decoded() {
        let p = presented(Some(&basic("my%20id:s%3Acret")), None, None)
            .unwrap()
            .unwrap();
        assert_eq!(p.client_id, "my id");
        assert_eq!(p.secret.unwrap().expose(), "s:cret");
    }

    #[test]
    fn two_methods_at_once_are_refused() {
        assert!(presented(Some(&basic("a:b")), Some("a"), Some("b")).is_err());
        assert!(presented(Some(&basic("a:b")), Some("other"), None).is_err());
        assert!(presented(Some(&basic("a:b")), Some("a"), None).is_ok());
    }

    #[test]
    fn post_and_none() {
        let p = presented(None, Some("c"), Some("s")).unwrap().unwrap();
        assert_eq!(p.secret.unwrap().expose(), "s");
        let p = presented(None, Some("c"), None).unwrap().unwrap();
        assert!(p.secret.is_none());
        assert!(presented(None, None, None).unwrap().is_none());
        assert!(presented(Some("Bearer x"), None, None).is_err());
    }
}
