//! The client credentials grant (RFC 6749 §4.4): a confidential client acting for itself
//! gets an access token and nothing else (no user, so no ID token and no refresh token).
use super::request::CredentialsRequest;
use super::{Issuing, TokenResponse};
use crate::clients::Client;
use crate::oauth::OAuthError;
use crate::oauth::tokens::{self, AccessClaims, Confirmation};

/// Scopes that describe a user; a machine token without a user has no use for them.
const USER_SCOPES: [&str; 6] = [
    "openid",
    "offline_access",
    "profile",
    "email",
    "address",
    "phone",
];

pub fn exchange(
    _conn: &mut crate::store::DbConnection,
    issuing: &Issuing<'_>,
    client: &Client,
    request: CredentialsRequest,
) -> Result<TokenResponse, OAuthError> {
    let scope = match request.scope {
        // Everything asked for must be allowed: silently dropping scopes would hide a
        // misconfiguration from the app's developer.
        Some(asked) if !asked.is_subset(&client.scopes) => {
            return Err(OAuthError::InvalidScope(
                "the requested scope exceeds what this client may ask for".into(),
            ));
        }
        Some(asked) => asked.ordered_like(&client.scopes),
        None => client
            .scopes
            .filtered(|s| !USER_SCOPES.contains(&s.as_str())),
    };
    let now = issuing.now;
    let ttl = client.access_ttl(issuing.settings.access_token_ttl);
    let claims = AccessClaims {
        iss: issuing.settings.issuer.clone(),
        sub: client.id.clone(),
        aud: issuing.settings.audience().to_owned(),
        exp: now + ttl,
        iat: now,
        jti: tokens::new_jti(),
        client_id: Some(client.id.clone()),
        scope: scope.to_string(),
        auth_time: None,
        token_type: "access".to_owned(),
        cnf: issuing.dpop_jkt.map(|jkt| Confirmation {
            jkt: jkt.to_owned(),
        }),
    };
    let access = tokens::sign_access(issuing.keys, client.algs.access_token, &claims, None)
        .map_err(|e| OAuthError::ServerError(e.to_string()))?;
    Ok(TokenResponse {
        access_token: access.jwt,
        token_type: issuing.token_type().to_owned(),
        expires_in: ttl,
        refresh_token: None,
        scope: scope.to_string(),
        id_token: None,
    })
}
