//! The refresh token grant (RFC 6749 §6): the token rotates on every use, and a rotated
//! token presented again revokes its whole family (the rules live in `crate::family`).
use super::issue::{self, UserGrant, invalid_grant};
use super::request::RefreshRequest;
use super::{Issuing, TokenResponse};
use crate::clients::Client;
use crate::domain::ScopeSet;
use crate::family::{self, Rotation, Status};
use crate::oauth::OAuthError;
use crate::secrets;
use crate::store::refresh_tokens;
use crate::store::{DbConnection, grants};

const UNUSABLE: &str = "the grant is invalid, expired or revoked";

pub fn exchange(
    conn: &mut DbConnection,
    issuing: &Issuing<'_>,
    client: &Client,
    request: RefreshRequest,
) -> Result<TokenResponse, OAuthError> {
    let now = issuing.now;
    // SimpleJWT refresh tokens (those with a jti) live in the same table but are not
    // OAuth refresh tokens.
    let row = match refresh_tokens::by_hash(conn, &secrets::digest(&request.refresh_token))? {
        Some(row) if row.jti.is_none() => row,
        _ => return Err(invalid_grant(UNUSABLE)),
    };
    match family::status(conn, &row, now)? {
        Status::Live => {}
        Status::Rotated => {
            family::reused(conn, &row, now)?;
            return Err(reused());
        }
        Status::Revoked | Status::Expired => return Err(invalid_grant(UNUSABLE)),
    }
    let (Some(client_id), Some(user_id)) = (row.client_id.as_deref(), row.user_id) else {
        return Err(invalid_grant(UNUSABLE));
    };
    if client_id != client.id {
        return Err(invalid_grant(UNUSABLE));
    }
    let family_scope = ScopeSet::parse(&row.scope).map_err(OAuthError::ServerError)?;
    // The access token gets the (possibly narrowed) scope asked for; the new refresh token
    // keeps the family's scope, so a later refresh may ask for it all again.
    let scope = match request.scope {
        Some(asked) if !asked.is_subset(&family_scope) => {
            return Err(OAuthError::InvalidScope(
                "the requested scope exceeds what was granted".into(),
            ));
        }
        Some(asked) => asked.ordered_like(&family_scope),
        None => family_scope.clone(),
    };
    let auth_time = grants::by_id(conn, &row.grant_id)?
        .and_then(|g| g.auth_time)
        .unwrap_or(row.created_at);
    if let Rotation::Reused = family::rotate(conn, &row, now)? {
        return Err(reused());
    }
    let user = issue::active_user(conn, user_id)?;
    let grant = UserGrant {
        client,
        user: &user,
        scope: &scope,
        auth_time,
        nonce: None,
        claims_request: None,
        sid: None,
    };
    let signed = issue::sign(issuing, &grant)?;
    issue::respond(conn, issuing, &grant, &row.grant_id, &family_scope, signed)
}

fn reused() -> OAuthError {
    invalid_grant("the refresh token was already used; its whole family is revoked")
}
