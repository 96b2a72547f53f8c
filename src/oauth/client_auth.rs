//! Client authentication at the token, PAR, device-authorization, introspection and
//! revocation endpoints: `client_secret_basic`, `client_secret_post`, `private_key_jwt`
//! (a signed assertion, `super::assertion`), or `none` (a public client's bare client_id).
//! Credentials are parsed once at the edge into a [`ClientAuth`], then checked once here,
//! behind the throttle (`crate::throttle`): a locked client is refused before its secret or
//! assertion is looked at, so a throttled guess costs no Argon2id. A client authenticates
//! only with the method it registered.
use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::assertion::{self, ASSERTION_TYPE};
use super::error::OAuthError;
use super::grants::Form;
use crate::clients::{self, AuthMethod, Client};
use crate::secrets::{self, SecretString};
use crate::signing::VerifyingKey;
use crate::store::DbConnection;
use crate::throttle::{self, Attempt, Policy};

/// Credentials as presented, before they are checked.
#[derive(Debug, Clone)]
pub struct ClientAuth {
    pub client_id: String,
    pub credential: Credential,
}

/// What a client presented to prove itself.
#[derive(Debug, Clone)]
pub enum Credential {
    /// Only its client_id (a public client).
    None,
    /// A secret, by HTTP Basic or in the form.
    Secret(SecretString),
    /// A JWT it signed (RFC 7523 §2.2).
    Assertion(String),
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

/// Where a client authentication comes from and when, for the throttle, and what an
/// assertion must name.
#[derive(Clone, Copy, Debug)]
pub struct Origin<'a> {
    pub ip: Option<&'a str>,
    pub now: i64,
    pub policy: Policy,
    pub issuer: &'a str,
    /// The path of the endpoint presented at (`/oauth/token`, `/oauth/par`, ...).
    pub endpoint: &'static str,
    /// For a client with a `jwks_uri`: the key its JWKS has for the assertion's `kid`,
    /// fetched before the blocking work ([`super::client_keys::RemoteKeys`]).
    pub fetched: Option<&'a VerifyingKey>,
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
    let proven = client.as_ref().is_some_and(|client| {
        // A row edited by hand may name a method its profile does not allow.
        if !client.profile.permits_method(client.auth_method) {
            tracing::info!(client_id = %client.id, "client's profile refuses its auth method");
            return false;
        }
        match (client.auth_method, &auth.credential) {
            (AuthMethod::None, Credential::None) => true,
            (m, Credential::Secret(secret)) if m.uses_secret() => cache.verify(client, secret),
            (AuthMethod::PrivateKeyJwt, Credential::Assertion(jwt)) => {
                let audiences = assertion::audiences(origin.issuer, origin.endpoint);
                match assertion::verify(conn, client, jwt, origin.fetched, &audiences, origin.now) {
                    Ok(()) => true,
                    Err(why) => {
                        tracing::info!(client_id = %client.id, %why, "client assertion refused");
                        false
                    }
                }
            }
            _ => false,
        }
    });
    // A public client has no secret to guess: a request that gets its method wrong is not
    // counted, so nobody can lock out every user of a public app.
    let guessable = client
        .as_ref()
        .is_none_or(|c| c.auth_method != AuthMethod::None);
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

/// Read the credentials of a request from its Authorization header and form fields
/// (`client_id`, `client_secret`, `client_assertion_type`, `client_assertion`). Using two
/// methods at once is refused (RFC 6749 §2.3).
pub fn presented(
    authorization: Option<&str>,
    form: &[(String, String)],
) -> Result<Option<ClientAuth>, OAuthError> {
    let form = Form(form);
    let form_client_id = form.field("client_id")?;
    let form_secret = form.field("client_secret")?;
    let assertion = match (
        form.field("client_assertion_type")?,
        form.field("client_assertion")?,
    ) {
        (None, None) => None,
        (Some(ASSERTION_TYPE), Some(jwt)) => Some(jwt),
        (Some(ASSERTION_TYPE), None) => {
            return Err(OAuthError::InvalidRequest(
                "client_assertion is required with client_assertion_type".into(),
            ));
        }
        (Some(_), _) => {
            return Err(OAuthError::InvalidClient(format!(
                "unsupported client_assertion_type; use {ASSERTION_TYPE}"
            )));
        }
        (None, Some(_)) => {
            return Err(OAuthError::InvalidRequest(
                "client_assertion_type is required with client_assertion".into(),
            ));
        }
    };
    if let Some(jwt) = assertion {
        if authorization.is_some() || form_secret.is_some() {
            return Err(OAuthError::InvalidRequest(
                "client authenticated with more than one method".into(),
            ));
        }
        // RFC 7521 §4.2: client_id may be left out; the assertion's subject names the client.
        let claimed = assertion::peek(jwt)
            .map_err(|_| OAuthError::InvalidClient("the client assertion is malformed".into()))?;
        if form_client_id.is_some_and(|id| id != claimed.client_id) {
            return Err(OAuthError::InvalidClient(
                "client_id differs from the client assertion's subject".into(),
            ));
        }
        return Ok(Some(ClientAuth {
            client_id: claimed.client_id,
            credential: Credential::Assertion(jwt.to_owned()),
        }));
    }
    basic_or_post(authorization, form_client_id, form_secret)
}

fn basic_or_post(
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
            credential: if secret.is_empty() {
                Credential::None
            } else {
                Credential::Secret(SecretString::new(secret))
            },
        }));
    }
    Ok(form_client_id.map(|id| ClientAuth {
        client_id: id.to_owned(),
        credential: match form_secret {
            Some(secret) => Credential::Secret(SecretString::new(secret)),
            None => Credential::None,
        },
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

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn secret(auth: &ClientAuth) -> Option<&str> {
        match &auth.credential {
            Credential::Secret(s) => Some(s.expose()),
            _ => None,
        }
    }

    #[test]
    fn basic_credentials_are_url_decoded() {
        let p = presented(Some(&basic("my%20id:s%3Acret")), &[])
            .unwrap()
            .unwrap();
        assert_eq!(p.client_id, "my id");
        assert_eq!(secret(&p), Some("s:cret"));
    }

    #[test]
    fn two_methods_at_once_are_refused() {
        let b = basic("a:b");
        assert!(
            presented(
                Some(&b),
                &form(&[("client_id", "a"), ("client_secret", "b")])
            )
            .is_err()
        );
        assert!(presented(Some(&b), &form(&[("client_id", "other")])).is_err());
        assert!(presented(Some(&b), &form(&[("client_id", "a")])).is_ok());
        let assertion = form(&[
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", "x.y.z"),
            ("client_secret", "s"),
        ]);
        assert!(presented(None, &assertion).is_err());
    }

    #[test]
    fn post_and_none() {
        let p = presented(None, &form(&[("client_id", "c"), ("client_secret", "s")]))
            .unwrap()
            .unwrap();
        assert_eq!(secret(&p), Some("s"));
        let p = presented(None, &form(&[("client_id", "c")]))
            .unwrap()
            .unwrap();
        assert!(matches!(p.credential, Credential::None));
        assert!(presented(None, &[]).unwrap().is_none());
        assert!(presented(Some("Bearer x"), &[]).is_err());
    }

    #[test]
    fn assertion_type_must_be_jwt_bearer() {
        let f = form(&[("client_assertion_type", "saml"), ("client_assertion", "x")]);
        assert!(presented(None, &f).is_err());
        let f = form(&[("client_assertion", "x")]);
        assert!(presented(None, &f).is_err());
    }
}
