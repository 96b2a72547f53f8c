//! How a client authenticates (OIDC Registration's `token_endpoint_auth_method`), the public
//! keys a `private_key_jwt` client signs its assertions with, and whether it must push its
//! authorization requests (RFC 9126). Parsed once, at registration and from the row.
use std::collections::HashMap;

use crate::domain::ClientKind;
use crate::signing::VerifyingKey;

/// How a client proves who it is at the token, PAR, introspection and revocation endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// A public client: it names itself and has nothing to prove (PKCE protects its codes).
    None,
    /// A secret by HTTP Basic; `client_secret_post` clients may use Basic too and the other
    /// way round (RFC 6749 §2.3.1 asks servers to take Basic, and this has always been so).
    ClientSecretBasic,
    ClientSecretPost,
    /// A JWT signed with the client's own private key (RFC 7523 §2.2, OIDC Core §9).
    PrivateKeyJwt,
}

impl AuthMethod {
    /// The methods Tessera takes, in discovery's order.
    pub const ALL: [AuthMethod; 4] = [
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::PrivateKeyJwt,
        AuthMethod::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }

    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "none" => Ok(AuthMethod::None),
            "client_secret_basic" => Ok(AuthMethod::ClientSecretBasic),
            "client_secret_post" => Ok(AuthMethod::ClientSecretPost),
            "private_key_jwt" => Ok(AuthMethod::PrivateKeyJwt),
            // A shared-secret JWT needs the secret in clear on the server; Tessera keeps only
            // Argon2id hashes of secrets, so it cannot verify one.
            "client_secret_jwt" => Err("client_secret_jwt is not supported: Tessera stores only \
                 hashes of client secrets; use private_key_jwt"
                .to_owned()),
            other => Err(format!(
                "unknown authentication method {other:?}; use client_secret_basic, \
                 client_secret_post, private_key_jwt or none"
            )),
        }
    }

    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
        )
    }
}

/// The most a registered JWKS may hold: a few keys of any type fit many times over.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// Where a `private_key_jwt` client's public keys are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientKeys {
    /// A JWKS document registered with the client (checked when registered).
    Jwks(String),
    /// A JWKS the client publishes, fetched and cached like a resource server's.
    JwksUri(String),
}

impl ClientKeys {
    /// A JWKS as registered: JSON with a `keys` array of public signing keys, each with a
    /// `kid` (an assertion picks its key by `kid`), at least one of them usable. Private
    /// members are refused rather than stored: whoever sent them has leaked the key.
    pub fn parse_jwks(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.len() > MAX_JWKS_BYTES {
            return Err(format!(
                "the JWKS is larger than {} KiB",
                MAX_JWKS_BYTES / 1024
            ));
        }
        let set: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("the JWKS is not valid JSON: {e}"))?;
        let Some(keys) = set.get("keys").and_then(serde_json::Value::as_array) else {
            return Err("the JWKS has no \"keys\" array".to_owned());
        };
        const PRIVATE: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];
        for key in keys {
            if let Some(member) = PRIVATE.iter().find(|m| key.get(**m).is_some()) {
                return Err(format!(
                    "the JWKS holds a private or symmetric key (member \"{member}\"); register \
                     only public keys"
                ));
            }
            if key.get("kid").and_then(serde_json::Value::as_str).is_none() {
                return Err("every key of the JWKS needs a \"kid\"".to_owned());
            }
        }
        let usable = crate::resource::signing_keys(&set);
        if usable.is_empty() {
            return Err(
                "the JWKS has no usable signing key (RSA, P-256 or Ed25519, with a kid)".to_owned(),
            );
        }
        if usable.len() != keys.len() {
            return Err(
                "every key of the JWKS must be an RSA, P-256 or Ed25519 signing key".to_owned(),
            );
        }
        Ok(ClientKeys::Jwks(text.to_owned()))
    }

    /// A `jwks_uri`: https, or http to this machine only (development), never with
    /// credentials or a fragment.
    pub fn parse_uri(text: &str) -> Result<Self, String> {
        let url = url::Url::parse(text.trim())
            .map_err(|e| format!("the JWKS URI is not a valid URL: {e}"))?;
        let loopback = matches!(
            url.host_str(),
            Some("localhost") | Some("127.0.0.1") | Some("[::1]")
        );
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err("the JWKS URI must use https".to_owned());
        }
        if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
            return Err("the JWKS URI must not carry credentials or a fragment".to_owned());
        }
        Ok(ClientKeys::JwksUri(url.to_string()))
    }

    /// The stored columns (`jwks`, `jwks_uri`); both at once is refused.
    pub fn from_columns(jwks: Option<&str>, uri: Option<&str>) -> Result<Option<Self>, String> {
        match (jwks, uri) {
            (None, None) => Ok(None),
            (Some(j), None) => Ok(Some(ClientKeys::Jwks(j.to_owned()))),
            (None, Some(u)) => Ok(Some(ClientKeys::JwksUri(u.to_owned()))),
            (Some(_), Some(_)) => Err("both jwks and jwks_uri are set".to_owned()),
        }
    }

    pub fn inline(&self) -> Option<&str> {
        match self {
            ClientKeys::Jwks(j) => Some(j),
            ClientKeys::JwksUri(_) => None,
        }
    }

    pub fn uri(&self) -> Option<&str> {
        match self {
            ClientKeys::JwksUri(u) => Some(u),
            ClientKeys::Jwks(_) => None,
        }
    }

    /// The keys of a registered JWKS by `kid` (none for a `jwks_uri`).
    pub fn registered_keys(&self) -> HashMap<String, VerifyingKey> {
        self.inline()
            .and_then(|j| serde_json::from_str(j).ok())
            .map(|set| crate::resource::signing_keys(&set))
            .unwrap_or_default()
    }
}

/// A client's authentication settings as registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthSettings {
    pub method: AuthMethod,
    pub keys: Option<ClientKeys>,
    /// Only pushed authorization requests are taken from this client.
    pub require_par: bool,
}

impl AuthSettings {
    /// What a client of this kind had before methods could be chosen.
    pub fn for_kind(kind: ClientKind) -> Self {
        Self {
            method: match kind {
                ClientKind::Public => AuthMethod::None,
                ClientKind::Confidential => AuthMethod::ClientSecretBasic,
            },
            keys: None,
            require_par: false,
        }
    }

    /// The kind a client with this method is.
    pub fn kind(&self) -> ClientKind {
        match self.method {
            AuthMethod::None => ClientKind::Public,
            _ => ClientKind::Confidential,
        }
    }

    /// Check the settings fit together and fit the client's kind.
    pub fn validate(&self, kind: ClientKind) -> Result<(), String> {
        if kind != self.kind() {
            return Err(match kind {
                ClientKind::Public => {
                    "a public client authenticates with no credentials (method none)".to_owned()
                }
                ClientKind::Confidential => {
                    "a confidential client needs an authentication method other than none"
                        .to_owned()
                }
            });
        }
        match (self.method, &self.keys) {
            (AuthMethod::PrivateKeyJwt, None) => Err(
                "a private_key_jwt client needs its public keys: a JWKS or a JWKS URI".to_owned(),
            ),
            (AuthMethod::PrivateKeyJwt, Some(_)) | (_, None) => Ok(()),
            (_, Some(_)) => {
                Err("a JWKS or JWKS URI is only for clients using private_key_jwt".to_owned())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1",
        "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;

    #[test]
    fn jwks_must_hold_public_signing_keys_with_kids() {
        assert!(ClientKeys::parse_jwks(EC).is_ok());
        assert!(ClientKeys::parse_jwks(&EC.replace("\"kid\":\"k1\",", "")).is_err());
        assert!(ClientKeys::parse_jwks(&EC.replace("\"kid\"", "\"d\":\"x\",\"kid\"")).is_err());
        assert!(
            ClientKeys::parse_jwks(r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"}]}"#).is_err()
        );
        assert!(ClientKeys::parse_jwks("{\"keys\":[]}").is_err());
        assert!(ClientKeys::parse_jwks("not json").is_err());
    }

    #[test]
    fn jwks_uri_is_https_or_loopback() {
        assert!(ClientKeys::parse_uri("https://app.example/jwks").is_ok());
        assert!(ClientKeys::parse_uri("http://127.0.0.1:9000/jwks").is_ok());
        assert!(ClientKeys::parse_uri("http://app.example/jwks").is_err());
        assert!(ClientKeys::parse_uri("https://u:p@app.example/jwks").is_err());
    }

    #[test]
    fn settings_fit_the_kind() {
        let mut s = AuthSettings::for_kind(ClientKind::Confidential);
        assert!(s.validate(ClientKind::Confidential).is_ok());
        assert!(s.validate(ClientKind::Public).is_err());
        s.method = AuthMethod::PrivateKeyJwt;
        assert!(s.validate(ClientKind::Confidential).is_err());
        s.keys = Some(ClientKeys::parse_jwks(EC).unwrap());
        assert!(s.validate(ClientKind::Confidential).is_ok());
        s.method = AuthMethod::ClientSecretPost;
        assert!(s.validate(ClientKind::Confidential).is_err());
        assert!(AuthMethod::parse("client_secret_jwt").is_err());
    }
}
