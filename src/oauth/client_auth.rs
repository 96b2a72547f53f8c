//! Client authentication at the token, introspection and revocation endpoints:
//! `client_secret_basic`, `client_secret_post`, or `none` (a public client's bare client_id).
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::OAuthError;
use crate::secrets::SecretString;

/// Credentials as presented, before they are checked.
#[derive(Debug, Clone)]
pub struct Presented {
    pub client_id: String,
    pub secret: Option<SecretString>,
}

/// Read the credentials of a request from its Authorization header and form fields.
/// Using two methods at once is refused (RFC 6749 §2.3).
pub fn presented(
    authorization: Option<&str>,
    form_client_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<Option<Presented>, OAuthError> {
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
        return Ok(Some(Presented {
            client_id: id,
            secret: (!secret.is_empty()).then(|| SecretString::new(secret)),
        }));
    }
    Ok(form_client_id.map(|id| Presented {
        client_id: id.to_owned(),
        secret: form_secret.map(SecretString::new),
    }))
}

fn form_decode(s: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

/// The credentials re-encoded as oxide-auth reads them: a Basic header for a client with
/// a secret (oxide-auth does not URL-decode, so the parts go in raw).
pub fn basic_header(client_id: &str, secret: &SecretString) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{client_id}:{}", secret.expose()))
    )
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
