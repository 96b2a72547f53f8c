//! The authorization code grant (RFC 6749 §4.1.3, OIDC Core §3.1.3): a code is redeemed
//! once, by the client it was issued to, with the same redirect URI and the PKCE verifier
//! of its challenge. A second redemption revokes everything the first one issued.
use super::issue::{self, UserGrant, invalid_grant};
use super::request::CodeRequest;
use super::{Issuing, TokenResponse};
use crate::auth_methods::AuthMethods;
use crate::clients::Client;
use crate::domain::ScopeSet;
use crate::family;
use crate::oauth::{OAuthError, target};
use crate::secrets;
use crate::sessions;
use crate::store::DbConnection;
use crate::store::{codes, grants};

pub fn exchange(
    conn: &mut DbConnection,
    issuing: &Issuing<'_>,
    client: &Client,
    request: CodeRequest,
) -> Result<TokenResponse, OAuthError> {
    let now = issuing.now;
    // Taking the code marks it used before anything else is checked, so of two racing
    // redemptions exactly one wins.
    let Some(code) = codes::take(conn, &secrets::digest(&request.code), now)? else {
        return Err(invalid_grant("the authorization code is invalid"));
    };
    if code.used_at.is_some() {
        // RFC 6749 §4.1.2: a second use revokes what the first one issued.
        tracing::warn!(client_id = %code.client_id, "authorization code replayed; grant revoked");
        family::revoke(conn, &code.grant_id, now)?;
        return Err(invalid_grant(
            "the authorization code was already used; tokens issued from it are revoked",
        ));
    }
    if code.client_id != client.id {
        return Err(invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if code.expires_at <= now {
        return Err(invalid_grant("the authorization code has expired"));
    }
    // Exact string comparison with the authorization request's redirect_uri.
    if request.redirect_uri.as_ref().map(|u| u.as_str()) != Some(code.redirect_uri.as_str()) {
        return Err(invalid_grant(
            "redirect_uri does not match the one of the authorization request",
        ));
    }
    match (challenge(&code.code_challenge), &request.verifier) {
        (Some(challenge), Some(verifier)) if verifier.matches_s256(challenge) => {}
        (Some(_), _) => return Err(invalid_grant("PKCE verification failed")),
        // RFC 9700 §2.1.1: a verifier for a code issued without a challenge is a PKCE
        // downgrade attempt (the challenge was stripped from the authorization request).
        (None, Some(_)) => {
            return Err(invalid_grant(
                "code_verifier sent for a code issued without code_challenge",
            ));
        }
        (None, None) => {}
    }
    if let Some(bound) = code.dpop_jkt.as_deref()
        && issuing.dpop_jkt != Some(bound)
    {
        return Err(invalid_grant(
            "the authorization code is bound to a DPoP key: send a proof signed with it",
        ));
    }
    let user = issue::active_user(conn, code.user_id)?;
    let grant_row = grants::by_id(conn, &code.grant_id)?;
    let methods = grant_row
        .as_ref()
        .and_then(|g| g.amr.as_deref())
        .map(AuthMethods::from_stored);
    let granted = target::stored(grant_row.as_ref().and_then(|g| g.resources.as_deref()));
    let resource = request
        .resource
        .as_ref()
        .map(|asked| target::resolve(conn, client, asked, granted.as_deref()))
        .transpose()?;
    let scope = ScopeSet::parse(&code.scope).map_err(OAuthError::ServerError)?;
    let grant = UserGrant {
        client,
        user: &user,
        scope: &scope,
        auth_time: code.auth_time,
        nonce: code.nonce.as_deref(),
        claims_request: code.claims_request.as_deref(),
        sid: code.session_id.as_deref().map(sessions::sid),
        methods,
        resource: resource.as_ref(),
    };
    let signed = issue::sign(issuing, &grant)?;
    codes::set_access(conn, &code.code_hash, &signed.access.jti, signed.access.exp)?;
    issue::respond(conn, issuing, &grant, &code.grant_id, &scope, signed)
}

/// The S256 challenge of a code. Codes stored before this version kept oxide-auth's
/// encoding, the challenge with "S" appended (44 characters; a challenge alone is 43); a
/// deployment upgraded mid-flow still redeems them.
fn challenge(stored: &Option<String>) -> Option<&str> {
    let stored = stored.as_deref()?;
    match stored.strip_suffix('S') {
        Some(challenge) if challenge.len() == 43 => Some(challenge),
        _ => Some(stored),
    }
}
