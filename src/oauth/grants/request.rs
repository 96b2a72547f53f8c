//! Parsing a token request's form into a typed [`GrantRequest`]: every field a grant
//! reads is checked and typed here, so the grants never look at raw strings.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::domain::{GrantType, RedirectUri, ScopeSet};
use crate::oauth::{OAuthError, target};
use crate::resources::ResourceId;
use crate::secrets;

/// A value echoed in an error description, cut so a hostile one cannot bloat the answer.
fn cut(value: &str) -> String {
    value.chars().take(80).collect()
}

/// A token request, one variant per grant.
#[derive(Debug)]
pub enum GrantRequest {
    AuthorizationCode(CodeRequest),
    RefreshToken(RefreshRequest),
    ClientCredentials(CredentialsRequest),
    DeviceCode(DeviceCodeRequest),
    TokenExchange(ExchangeRequest),
}

#[derive(Debug)]
pub struct CodeRequest {
    pub code: String,
    pub redirect_uri: Option<RedirectUri>,
    pub verifier: Option<PkceVerifier>,
    /// RFC 8707: the API the access token is for.
    pub resource: Option<ResourceId>,
}

#[derive(Debug)]
pub struct RefreshRequest {
    pub refresh_token: String,
    /// A narrower scope for the new access token (RFC 6749 §6).
    pub scope: Option<ScopeSet>,
    pub resource: Option<ResourceId>,
}

#[derive(Debug)]
pub struct CredentialsRequest {
    pub scope: Option<ScopeSet>,
    pub resource: Option<ResourceId>,
}

/// RFC 8693 §2.1. The token types are checked here: access tokens in, access tokens out.
pub struct ExchangeRequest {
    pub subject_token: String,
    pub actor_token: Option<String>,
    pub scope: Option<ScopeSet>,
    /// The one API asked for, named by `resource` or `audience` (Tessera names its APIs by
    /// their identifiers, so both mean the same; if both are sent they must agree).
    pub target: Option<ResourceId>,
}

impl std::fmt::Debug for ExchangeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The tokens are bearer credentials: never in a log.
        f.debug_struct("ExchangeRequest")
            .field("actor", &self.actor_token.is_some())
            .field("scope", &self.scope)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// RFC 8693 §3: the only token type Tessera exchanges, and issues.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

#[derive(Debug)]
pub struct DeviceCodeRequest {
    pub device_code: String,
}

/// A PKCE `code_verifier` (RFC 7636 §4.1): 43 to 128 unreserved characters.
#[derive(Clone)]
pub struct PkceVerifier(String);

impl std::fmt::Debug for PkceVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PkceVerifier(..)")
    }
}

impl PkceVerifier {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let unreserved = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
        if (43..=128).contains(&raw.len()) && raw.chars().all(unreserved) {
            Ok(Self(raw.to_owned()))
        } else {
            Err("code_verifier must be 43 to 128 unreserved characters (RFC 7636)".into())
        }
    }

    /// Whether this verifier answers an S256 `code_challenge`, compared in constant time.
    pub fn matches_s256(&self, challenge: &str) -> bool {
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(self.0.as_bytes()));
        secrets::constant_time_eq(computed.as_bytes(), challenge.as_bytes())
    }
}

/// The form of a token request. A parameter sent twice is refused (RFC 6749 §3.2); an
/// empty one counts as absent.
pub struct Form<'a>(pub &'a [(String, String)]);

impl Form<'_> {
    pub fn field(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut values = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(OAuthError::InvalidRequest(format!("{name} is repeated")));
        }
        Ok(first.filter(|v| !v.is_empty()))
    }

    fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.field(name)?
            .ok_or_else(|| OAuthError::InvalidRequest(format!("{name} is required")))
    }

    /// Every value of a parameter that may repeat (`resource`, RFC 8707 §2).
    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn resource(&self) -> Result<Option<ResourceId>, OAuthError> {
        target::parse_single(&self.all("resource"))
    }

    /// The token exchange's fields (RFC 8693 §2.1).
    fn exchange(&self) -> Result<ExchangeRequest, OAuthError> {
        let subject_token = self.required("subject_token")?.to_owned();
        match self.required("subject_token_type")? {
            ACCESS_TOKEN_TYPE => {}
            other => {
                return Err(OAuthError::InvalidRequest(format!(
                    "subject_token_type '{}' is not supported; only {ACCESS_TOKEN_TYPE}",
                    cut(other)
                )));
            }
        }
        if let Some(requested) = self.field("requested_token_type")?
            && requested != ACCESS_TOKEN_TYPE
        {
            return Err(OAuthError::InvalidRequest(format!(
                "requested_token_type '{}' is not supported; only {ACCESS_TOKEN_TYPE}",
                cut(requested)
            )));
        }
        let actor_token = self.field("actor_token")?.map(str::to_owned);
        match (actor_token.is_some(), self.field("actor_token_type")?) {
            (true, Some(ACCESS_TOKEN_TYPE)) | (false, None) => {}
            (true, None) => {
                return Err(OAuthError::InvalidRequest(
                    "actor_token_type is required with actor_token".into(),
                ));
            }
            (true, Some(other)) => {
                return Err(OAuthError::InvalidRequest(format!(
                    "actor_token_type '{}' is not supported; only {ACCESS_TOKEN_TYPE}",
                    cut(other)
                )));
            }
            (false, Some(_)) => {
                return Err(OAuthError::InvalidRequest(
                    "actor_token_type without actor_token".into(),
                ));
            }
        }
        let resource = self.resource()?;
        let audience = target::parse_single(&self.all("audience"))?;
        let target = match (resource, audience) {
            (Some(r), Some(a)) if r != a => {
                return Err(OAuthError::InvalidTarget(
                    "resource and audience name different APIs; a token is for one".into(),
                ));
            }
            (r, a) => r.or(a),
        };
        Ok(ExchangeRequest {
            subject_token,
            actor_token,
            scope: self.scope()?,
            target,
        })
    }

    fn scope(&self) -> Result<Option<ScopeSet>, OAuthError> {
        self.field("scope")?
            .map(|raw| ScopeSet::parse(raw).map_err(OAuthError::InvalidScope))
            .transpose()
    }
}

impl GrantRequest {
    /// The grant a form asks for, with its fields typed.
    pub fn parse(form: &[(String, String)]) -> Result<Self, OAuthError> {
        let form = Form(form);
        let grant_type = form.required("grant_type")?;
        let grant = GrantType::parse(grant_type).map_err(|_| {
            OAuthError::UnsupportedGrantType(format!("grant_type '{grant_type}' is not supported"))
        })?;
        Ok(match grant {
            GrantType::AuthorizationCode => GrantRequest::AuthorizationCode(CodeRequest {
                code: form.required("code")?.to_owned(),
                redirect_uri: form
                    .field("redirect_uri")?
                    .map(|raw| RedirectUri::parse(raw).map_err(OAuthError::InvalidRequest))
                    .transpose()?,
                verifier: form
                    .field("code_verifier")?
                    .map(|raw| PkceVerifier::parse(raw).map_err(OAuthError::InvalidRequest))
                    .transpose()?,
                resource: form.resource()?,
            }),
            GrantType::RefreshToken => GrantRequest::RefreshToken(RefreshRequest {
                refresh_token: form.required("refresh_token")?.to_owned(),
                scope: form.scope()?,
                resource: form.resource()?,
            }),
            GrantType::ClientCredentials => GrantRequest::ClientCredentials(CredentialsRequest {
                scope: form.scope()?,
                resource: form.resource()?,
            }),
            GrantType::DeviceCode => GrantRequest::DeviceCode(DeviceCodeRequest {
                device_code: form.required("device_code")?.to_owned(),
            }),
            GrantType::TokenExchange => GrantRequest::TokenExchange(form.exchange()?),
        })
    }

    pub fn grant_type(&self) -> GrantType {
        match self {
            GrantRequest::AuthorizationCode(_) => GrantType::AuthorizationCode,
            GrantRequest::RefreshToken(_) => GrantType::RefreshToken,
            GrantRequest::ClientCredentials(_) => GrantType::ClientCredentials,
            GrantRequest::DeviceCode(_) => GrantType::DeviceCode,
            GrantRequest::TokenExchange(_) => GrantType::TokenExchange,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn code(e: Result<GrantRequest, OAuthError>) -> &'static str {
        e.map(|_| "ok").unwrap_or_else(|e| e.code())
    }

    #[test]
    fn grant_type_is_required_once_and_known() {
        assert_eq!(code(GrantRequest::parse(&form(&[]))), "invalid_request");
        let twice = form(&[
            ("grant_type", "refresh_token"),
            ("grant_type", "refresh_token"),
        ]);
        assert_eq!(code(GrantRequest::parse(&twice)), "invalid_request");
        let password = form(&[("grant_type", "password")]);
        assert_eq!(
            code(GrantRequest::parse(&password)),
            "unsupported_grant_type"
        );
    }

    #[test]
    fn fields_are_typed_at_the_edge() {
        let no_code = form(&[("grant_type", "authorization_code")]);
        assert_eq!(code(GrantRequest::parse(&no_code)), "invalid_request");
        let short = form(&[
            ("grant_type", "authorization_code"),
            ("code", "c"),
            ("code_verifier", "too-short"),
        ]);
        assert_eq!(code(GrantRequest::parse(&short)), "invalid_request");
        let bad_scope = form(&[("grant_type", "client_credentials"), ("scope", "a\"b")]);
        assert_eq!(code(GrantRequest::parse(&bad_scope)), "invalid_scope");
        let ok = form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "r"),
            ("scope", "openid  email"),
        ]);
        match GrantRequest::parse(&ok) {
            Ok(GrantRequest::RefreshToken(r)) => {
                assert_eq!(
                    r.scope.map(|s| s.to_string()).as_deref(),
                    Some("openid email")
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn s256_matches_the_rfc_example() {
        // RFC 7636, appendix B.
        let v = PkceVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
        assert!(v.matches_s256("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!v.matches_s256("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
    }
}
