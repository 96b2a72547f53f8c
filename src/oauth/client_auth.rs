//! Client authentication at the token, introspection and revocation endpoints:
//! `client_secret_basic`, `client_secret_post`, or `none` (a public client's bare client_id).
//! Credentials are parsed once at the edge into a [`ClientAuth`], then checked once here.
use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::error::OAuthError;
use crate::clients::{self, AuthMethod, Client};
use crate::secrets::{self, SecretString};
use crate::store::DbConnection;

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

/// The client these credentials prove, or `invalid_client` (one answer for an unknown
/// client and a wrong secret, so the answer does not tell which client ids exist).
pub fn authenticate(
    conn: &mut DbConnection,
    cache: &SecretCache,
    auth: Option<ClientAuth>,
) -> Result<Client, OAuthError> {
    let fail = || OAuthError::InvalidClient("unknown client or wrong credentials".into());
    let auth =
        auth.ok_or_else(|| OAuthError::InvalidClient("client authentication is required".into()))?;
    let client = clients::by_id(conn, &auth.client_id)?.ok_or_else(fail)?;
    let proven = match (client.auth_method, &auth.secret) {
        (AuthMethod::None, None) => true,
        (AuthMethod::ClientSecret, Some(secret)) => cache.verify(&client, secret),
        _ => false,
    };
    if proven { Ok(client) } else { Err(fail()) }
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
