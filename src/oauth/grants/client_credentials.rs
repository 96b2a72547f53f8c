//! The client credentials grant (RFC 6749 §4.4): a confidential client acting for itself
//! gets an access token and nothing else (no user, so no ID token and no refresh token).
use super::issue::Aimed;
use super::request::CredentialsRequest;
use super::{Issuing, TokenResponse};
use crate::clients::Client;
use crate::oauth::tokens::{self, AccessClaims, Confirmation};
use crate::oauth::{OAuthError, target};

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
    conn: &mut crate::store::DbConnection,
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
    // No user consented to anything here: the client's own list is the whole policy.
    let resource = request
        .resource
        .as_ref()
        .map(|asked| target::resolve(conn, client, asked, None))
        .transpose()?;
    let aimed = Aimed::at(resource.as_ref(), client, issuing, &scope)?;
    let now = issuing.now;
    let claims = AccessClaims {
        iss: issuing.settings.issuer.clone(),
        sub: client.id.clone(),
        aud: aimed.aud,
        exp: now + aimed.ttl,
        iat: now,
        jti: tokens::new_jti(),
        client_id: Some(client.id.clone()),
        scope: aimed.scope.clone(),
        auth_time: None,
        token_type: "access".to_owned(),
        act: None,
        cnf: issuing.dpop_jkt.map(|jkt| Confirmation {
            jkt: jkt.to_owned(),
        }),
    };
    let access = tokens::sign_access(issuing.keys, aimed.alg, &claims, None)
        .map_err(|e| OAuthError::ServerError(e.to_string()))?;
    Ok(TokenResponse {
        access_token: access.jwt,
        token_type: issuing.token_type().to_owned(),
        expires_in: aimed.ttl,
        refresh_token: None,
        scope: aimed.scope,
        id_token: None,
        issued_token_type: None,
    })
}
