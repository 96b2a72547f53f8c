//! The OpenID Provider metadata (OpenID Connect Discovery 1.0, plus RFC 8414's fields),
//! rendered once per process: it depends only on settings. The same document answers at
//! `/.well-known/openid-configuration` and at RFC 8414's `/.well-known/oauth-authorization-server`.
use serde_json::json;

use crate::clients::AuthMethod;
use crate::config::Settings;
use crate::oauth::grants;
use crate::signing::{SigningAlg, keyset_etag};

/// The rendered discovery document and its ETag.
#[derive(Debug)]
pub struct Discovery {
    pub body: String,
    pub etag: String,
}

/// Scopes Tessera understands.
pub const SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "offline_access",
];

/// Claims Tessera can put in ID tokens and userinfo.
pub const CLAIMS: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "azp",
    "amr",
    "acr",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
];

impl Discovery {
    pub fn render(settings: &Settings) -> Self {
        // Client assertions are verified with the key's own algorithm: any Tessera verifies.
        let assertion_algs = SigningAlg::ALL.map(SigningAlg::as_str);
        let confidential: Vec<&str> = AuthMethod::ALL
            .into_iter()
            .filter(|m| *m != AuthMethod::None)
            .map(AuthMethod::as_str)
            .collect();
        let mut doc = json!({
            "issuer": settings.issuer,
            "jwks_uri": settings.endpoint("/.well-known/jwks.json"),
            "authorization_endpoint": settings.endpoint("/oauth/authorize"),
            "token_endpoint": settings.endpoint("/oauth/token"),
            "device_authorization_endpoint": settings.endpoint("/oauth/device_authorization"),
            "userinfo_endpoint": settings.endpoint("/oauth/userinfo"),
            "introspection_endpoint": settings.endpoint("/oauth/introspect"),
            "revocation_endpoint": settings.endpoint("/oauth/revoke"),
            "end_session_endpoint": settings.endpoint("/oauth/logout"),
            "pushed_authorization_request_endpoint": settings.endpoint("/oauth/par"),
            "require_pushed_authorization_requests": settings.require_par,
            "introspection_endpoint_auth_methods_supported": confidential,
            "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
            "revocation_endpoint_auth_methods_supported": confidential,
            "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
            "authorization_response_iss_parameter_supported": true,
            "claims_parameter_supported": true,
            "prompt_values_supported": ["none", "login", "consent"],
            "acr_values_supported": crate::auth_methods::ACR_VALUES,
            "display_values_supported": ["page"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "form_post"],
            "grant_types_supported": grants::SUPPORTED.map(|g| g.as_str()),
            "subject_types_supported": ["public"],
            // Every algorithm Tessera signs with; a client gets one once a key of it signs
            // (`tessera keys rotate --alg`). RS256 first: the default.
            "id_token_signing_alg_values_supported": SigningAlg::ALL.map(SigningAlg::as_str),
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": AuthMethod::ALL.map(AuthMethod::as_str),
            "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
            "scopes_supported": SCOPES,
            "claims_supported": CLAIMS,
            "claim_types_supported": ["normal"],
            "request_parameter_supported": false,
            // Only the request_uris of pushed requests.
            "request_uri_parameter_supported": false,
            // RFC 9449 §5.1: the algorithms DPoP proofs may be signed with.
            "dpop_signing_alg_values_supported": crate::resource::dpop::algorithms(),
        });
        // RFC 8414 §2: only when clients may register (TESSERA_REGISTRATION).
        if settings.registration.mode != crate::registration::policy::Mode::Off
            && let Some(fields) = doc.as_object_mut()
        {
            fields.insert(
                "registration_endpoint".into(),
                settings.endpoint(crate::registration::PATH).into(),
            );
        }
        let body = doc.to_string();
        let etag = keyset_etag(body.as_bytes());
        Self { body, etag }
    }
}
