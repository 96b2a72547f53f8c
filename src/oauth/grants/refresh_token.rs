//! The refresh token grant (RFC 6749 §6): the token rotates on every use, and a rotated
//! token presented again revokes its whole family — unless it comes back within the short
//! refresh grace while its successor is unused, when it gets the same answer again (the
//! rules live in `crate::family`).
use super::issue::{self, UserGrant, invalid_grant};
use super::request::RefreshRequest;
use super::{Issuing, TokenResponse};
use crate::clients::Client;
use crate::domain::ScopeSet;
use crate::family::{self, Exchange, Status};
use crate::oauth::{OAuthError, target};
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
    let grace = issuing.settings.refresh_grace.as_secs() as i64;
    let presented = request.refresh_token.as_str();
    // SimpleJWT refresh tokens (those with a jti) live in the same table but are not
    // OAuth refresh tokens.
    let row = match refresh_tokens::by_hash(conn, &secrets::digest(presented))? {
        Some(row) if row.jti.is_none() => row,
        _ => return Err(invalid_grant(UNUSABLE)),
    };
    // The grant row answers both whether the family is live and when the user signed in.
    let grant_row = grants::by_id(conn, &row.grant_id)?;
    let status = family::status_in(grant_row.as_ref(), &row, now);
    if matches!(status, Status::Revoked | Status::Expired) {
        return Err(invalid_grant(UNUSABLE));
    }
    let (Some(client_id), Some(user_id)) = (row.client_id.as_deref(), row.user_id) else {
        return Err(invalid_grant(UNUSABLE));
    };
    // RFC 9449 §5: a bound token refreshes only with a proof of its key. Checked before
    // rotation and reuse are looked at, so a thief without the key changes nothing.
    if let Some(bound) = row.dpop_jkt.as_deref()
        && issuing.dpop_jkt != Some(bound)
    {
        return Err(invalid_grant(
            "the refresh token is bound to a DPoP key: send a proof signed with it",
        ));
    }
    if status == Status::Rotated {
        // A rotated token at another client is a leaked copy: no grace for it.
        let outcome = if client_id == client.id {
            family::replay(conn, &row, presented, now, grace)?
        } else {
            family::reused(conn, &row, now)?;
            Exchange::Reused
        };
        return answer(conn, outcome, user_id);
    }
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
    let methods = grant_row
        .as_ref()
        .and_then(|g| g.amr.as_deref())
        .map(crate::auth_methods::AuthMethods::from_stored);
    // RFC 8707 §2.2: each refresh may aim at another resource the grant allows.
    let granted = target::stored(grant_row.as_ref().and_then(|g| g.resources.as_deref()));
    let resource = request
        .resource
        .as_ref()
        .map(|asked| target::resolve(conn, client, asked, granted.as_deref()))
        .transpose()?;
    let auth_time = grant_row
        .and_then(|g| g.auth_time)
        .unwrap_or(row.created_at);
    let user = issue::active_user(conn, user_id)?;
    let grant = UserGrant {
        client,
        user: &user,
        scope: &scope,
        auth_time,
        nonce: None,
        claims_request: None,
        sid: None,
        methods,
        resource: resource.as_ref(),
    };
    // Signed before the exchange's transaction: on SQLite that transaction holds the one
    // write lock, and signatures inside it made every other writer wait for them. A request
    // that loses the race (a repeat in the grace) throws its tokens away.
    let signed = issue::sign(issuing, &grant)?;
    let outcome = family::exchange(conn, &row, presented, now, grace, |conn| {
        let response = issue::respond(conn, issuing, &grant, &row.grant_id, &family_scope, signed)?;
        let successor = response.refresh_token.clone();
        Ok::<_, OAuthError>((response, successor))
    })?;
    answer(conn, outcome, user_id)
}

/// The answer to send; a repeat within the grace only while the user may still sign in.
fn answer(
    conn: &mut DbConnection,
    outcome: Exchange<TokenResponse>,
    user_id: i64,
) -> Result<TokenResponse, OAuthError> {
    match outcome {
        Exchange::Rotated(response) => Ok(response),
        Exchange::Replayed(response) => {
            issue::active_user(conn, user_id)?;
            Ok(response)
        }
        Exchange::Reused => Err(OAuthError::RefreshReused),
    }
}
