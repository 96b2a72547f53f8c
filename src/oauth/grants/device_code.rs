//! The device code grant (RFC 8628 §3.4, §3.5): the device polls with its device code and
//! gets `authorization_pending` until the user answers at `/device`, `slow_down` when it
//! polls before its interval (which then grows), `access_denied` or `expired_token`, and
//! tokens exactly once. Starting an authorization and the user's answer are
//! `oauth::device`.
use super::issue::{self, UserGrant, invalid_grant};
use super::request::DeviceCodeRequest;
use super::{Issuing, TokenResponse};
use crate::auth_methods::AuthMethods;
use crate::clients::Client;
use crate::domain::ScopeSet;
use crate::family;
use crate::oauth::OAuthError;
use crate::secrets;
use crate::sessions;
use crate::store::DbConnection;
use crate::store::device_codes::{self, APPROVED, DENIED, ISSUED};
use crate::store::grants::GrantRow;

/// What each too-early poll adds to the interval (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: i64 = 5;

pub fn exchange(
    conn: &mut DbConnection,
    issuing: &Issuing<'_>,
    client: &Client,
    request: DeviceCodeRequest,
) -> Result<TokenResponse, OAuthError> {
    let now = issuing.now;
    let hash = secrets::digest(&request.device_code);
    let Some(row) = device_codes::by_device_code(conn, &hash)? else {
        return Err(invalid_grant("the device code is invalid"));
    };
    // Another client's code is answered as an unknown one, and its polls are not recorded:
    // it must not be able to slow the real device down.
    if row.client_id != client.id {
        return Err(invalid_grant("the device code is invalid"));
    }
    if row.status == ISSUED {
        return Err(invalid_grant(
            "the device code was already exchanged for tokens",
        ));
    }
    if row.expires_at <= now {
        return Err(OAuthError::ExpiredToken(
            "the device code has expired; start again".into(),
        ));
    }
    if let Some(last) = row.last_polled_at
        && now - last < row.poll_interval
    {
        let interval = row.poll_interval + SLOW_DOWN_STEP;
        device_codes::polled(conn, &hash, now, interval)?;
        return Err(OAuthError::SlowDown(format!(
            "polling too fast; wait at least {interval} s between requests"
        )));
    }
    device_codes::polled(conn, &hash, now, row.poll_interval)?;
    match row.status.as_str() {
        APPROVED => {}
        DENIED => {
            return Err(OAuthError::AccessDenied(
                "the user denied the request".into(),
            ));
        }
        _ => {
            return Err(OAuthError::AuthorizationPending(
                "the user has not answered yet".into(),
            ));
        }
    }
    // Of two racing polls of an approved code, exactly one gets tokens.
    if !device_codes::take(conn, &hash)? {
        return Err(invalid_grant(
            "the device code was already exchanged for tokens",
        ));
    }
    let (Some(user_id), Some(auth_time)) = (row.user_id, row.auth_time) else {
        return Err(OAuthError::ServerError(
            "an approved device code has no user".into(),
        ));
    };
    let user = issue::active_user(conn, user_id)?;
    let scope = ScopeSet::parse(&row.scope).map_err(OAuthError::ServerError)?;
    let grant_row = GrantRow {
        id: uuid::Uuid::new_v4().to_string(),
        client_id: Some(client.id.clone()),
        user_id: Some(user_id),
        scope: scope.to_string(),
        auth_time: Some(auth_time),
        created_at: now,
        revoked_at: None,
        claims_request: None,
        amr: row.amr.clone(),
        acr: row
            .amr
            .as_deref()
            .map(|amr| AuthMethods::from_stored(amr).acr().to_owned()),
        resources: None,
    };
    family::start(conn, &grant_row)?;
    let grant = UserGrant {
        client,
        user: &user,
        scope: &scope,
        auth_time,
        nonce: None,
        claims_request: None,
        sid: row.session_id.as_deref().map(sessions::sid),
        methods: row.amr.as_deref().map(AuthMethods::from_stored),
        resource: None,
    };
    let signed = issue::sign(issuing, &grant)?;
    issue::respond(conn, issuing, &grant, &grant_row.id, &scope, signed)
}
