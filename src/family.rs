//! Refresh-token families: every refresh token, OAuth or SimpleJWT, belongs to the grant
//! (one sign-in, one authorization) it came from. This module owns the one rule set for
//! them — how a token is added, when it is live, how it rotates, what a reuse does (and
//! the short grace in which a repeat is not one), and how a family (and every access
//! token it issued) is revoked and for how long that is remembered. The OAuth refresh
//! grant, the SimpleJWT endpoints, introspection, revocation and the admin console all go
//! through here.
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::secrets;
use crate::store::grants::{self, GrantRow};
use crate::store::refresh_tokens::{self, RefreshRow};
use crate::store::{self, DbConnection, StoreError};

/// How long expired codes and refresh tokens are kept, so a late replay is still
/// recognised (and answered by revoking the family) instead of looking unknown.
pub const RETENTION: i64 = 86_400;

/// Access tokens recorded before their `exp` was stored are remembered this long after a
/// revocation: longer than any access-token lifetime the console allows.
const LEGACY_REMEMBER: i64 = 31 * 86_400;

/// An access token issued beside a refresh token or a code: what a revocation must cover.
#[derive(Clone, Debug)]
pub struct IssuedAccess {
    pub jti: String,
    pub exp: i64,
}

/// A refresh token about to join a family.
#[derive(Debug)]
pub struct NewRefresh<'a> {
    /// The SHA-256 digest of the token; the token itself is never stored.
    pub token_hash: String,
    pub grant_id: &'a str,
    /// `None` for SimpleJWT tokens, which belong to no OAuth client.
    pub client_id: Option<&'a str>,
    pub user_id: i64,
    pub scope: &'a str,
    /// A SimpleJWT refresh token's `jti` (its blacklist key).
    pub jti: Option<String>,
    pub access: &'a IssuedAccess,
    pub now: i64,
    pub expires_at: i64,
    /// The DPoP key a public client's token is bound to.
    pub dpop_jkt: Option<&'a str>,
}

/// Where a stored refresh token stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Live,
    /// Already exchanged for a successor: presenting it again is a reuse.
    Rotated,
    /// The token or its whole family was revoked.
    Revoked,
    Expired,
}

impl Status {
    /// Rotated or revoked: what SimpleJWT calls blacklisted.
    pub fn is_spent(self) -> bool {
        matches!(self, Status::Rotated | Status::Revoked)
    }
}

/// The outcome of presenting a refresh token to be exchanged for an answer `T`.
#[derive(Debug)]
pub enum Exchange<T> {
    /// This request won the token and issued its successor: the answer to send.
    Rotated(T),
    /// The token was rotated less than the grace ago and its successor is still unused:
    /// the very answer that rotation gave (a lost response, or parallel requests).
    Replayed(T),
    /// The token was rotated before, outside the grace or with its successor already
    /// used: someone holds a copy, so the whole family is now revoked.
    Reused,
}

/// What a rotation seals for a repeat within the grace: the successor's digest (so a
/// repeat after the successor was used is a reuse) and the answer.
#[derive(serde::Deserialize, Serialize)]
struct Sealed<T> {
    successor: String,
    answer: T,
}

/// Start a family: one grant row per sign-in or authorization.
pub fn start(conn: &mut DbConnection, grant: &GrantRow) -> Result<(), StoreError> {
    grants::insert(conn, grant)
}

/// Add a refresh token to a family.
pub fn add(conn: &mut DbConnection, new: NewRefresh<'_>) -> Result<(), StoreError> {
    refresh_tokens::insert(
        conn,
        &RefreshRow {
            token_hash: new.token_hash,
            grant_id: new.grant_id.to_owned(),
            client_id: new.client_id.map(str::to_owned),
            user_id: Some(new.user_id),
            scope: new.scope.to_owned(),
            jti: new.jti,
            access_jti: Some(new.access.jti.clone()),
            access_exp: Some(new.access.exp),
            created_at: new.now,
            expires_at: new.expires_at,
            rotated_at: None,
            revoked_at: None,
            dpop_jkt: new.dpop_jkt.map(str::to_owned),
        },
    )
}

/// A live refresh token that is not rotated (SimpleJWT without `ROTATE_REFRESH_TOKENS`)
/// issued a new access token: record it beside the token, so revoking the family covers it.
pub fn reissue_access(
    conn: &mut DbConnection,
    row: &RefreshRow,
    access: &IssuedAccess,
) -> Result<(), StoreError> {
    refresh_tokens::set_access(conn, &row.token_hash, &access.jti, access.exp)
}

/// Where `row` stands at `now`: revocation (of the token or its family) first, then
/// rotation, then expiry.
pub fn status(conn: &mut DbConnection, row: &RefreshRow, now: i64) -> Result<Status, StoreError> {
    Ok(status_in(
        grants::by_id(conn, &row.grant_id)?.as_ref(),
        row,
        now,
    ))
}

/// [`status`], with the family's grant row already read (callers that need the grant too
/// read it once).
pub fn status_in(grant: Option<&GrantRow>, row: &RefreshRow, now: i64) -> Status {
    let family_live = grant.is_some_and(|g| g.revoked_at.is_none());
    if row.revoked_at.is_some() || !family_live {
        Status::Revoked
    } else if row.rotated_at.is_some() {
        Status::Rotated
    } else if row.expires_at <= now {
        Status::Expired
    } else {
        Status::Live
    }
}

/// Exchange a live token, presented as `token`: mark it rotated, `issue` the successor
/// (which returns the answer and the successor refresh token), and seal that answer under
/// a key only `token` derives — all in one transaction. Exactly one of several concurrent
/// requests wins; a loser's conditional update waits for the winner's commit (a row lock
/// on PostgreSQL, the one writer lock on SQLite), finds the token rotated, and then reads
/// the committed answer as any repeat within the grace does.
pub fn exchange<T, E>(
    conn: &mut DbConnection,
    row: &RefreshRow,
    token: &str,
    now: i64,
    grace: i64,
    issue: impl FnOnce(&mut DbConnection) -> Result<(T, Option<String>), E>,
) -> Result<Exchange<T>, E>
where
    T: Serialize + DeserializeOwned,
    E: From<StoreError>,
{
    let won: Option<T> = store::transaction::<_, E, _>(conn, |conn| {
        if !refresh_tokens::mark_rotated(conn, &row.token_hash, now)? {
            return Ok(None);
        }
        let (answer, successor) = issue(conn)?;
        if let Some(successor) = successor.filter(|_| grace > 0) {
            let sealed = Sealed {
                successor: secrets::digest(&successor),
                answer: &answer,
            };
            let plain = serde_json::to_vec(&sealed).map_err(corrupt)?;
            let sealed = secrets::seal_for_token(token, row.token_hash.as_bytes(), &plain)
                .map_err(corrupt)?;
            refresh_tokens::set_successor(conn, &row.token_hash, &sealed)?;
        }
        Ok(Some(answer))
    })?;
    match won {
        Some(answer) => Ok(Exchange::Rotated(answer)),
        None => Ok(replay(conn, row, token, now, grace)?),
    }
}

/// A rotated token, presented as `token`, came back: within the grace and while its
/// successor is unused, the answer its rotation gave; otherwise a reuse, and the family
/// is revoked.
pub fn replay<T: DeserializeOwned>(
    conn: &mut DbConnection,
    row: &RefreshRow,
    token: &str,
    now: i64,
    grace: i64,
) -> Result<Exchange<T>, StoreError> {
    if let Some(answer) = within_grace(conn, row, token, now, grace)? {
        return Ok(Exchange::Replayed(answer));
    }
    reused(conn, row, now)?;
    Ok(Exchange::Reused)
}

/// The sealed answer of `row`'s rotation, if a repeat now is still within the grace.
fn within_grace<T: DeserializeOwned>(
    conn: &mut DbConnection,
    row: &RefreshRow,
    token: &str,
    now: i64,
    grace: i64,
) -> Result<Option<T>, StoreError> {
    // Read again: `row` may predate a concurrent rotation that committed since.
    let Some(current) = refresh_tokens::by_hash(conn, &row.token_hash)? else {
        return Ok(None);
    };
    let Some(rotated_at) = current.rotated_at else {
        return Ok(None);
    };
    if current.revoked_at.is_some() || now - rotated_at >= grace {
        return Ok(None);
    }
    let Some(sealed) = refresh_tokens::successor(conn, &row.token_hash)? else {
        return Ok(None);
    };
    let Some(plain) = secrets::open_with_token(token, row.token_hash.as_bytes(), &sealed) else {
        return Ok(None);
    };
    let Ok(sealed) = serde_json::from_slice::<Sealed<T>>(&plain) else {
        return Ok(None);
    };
    // Once the successor itself was exchanged (or revoked), the client moved on: a copy of
    // the old token in other hands must not get a live pair.
    let successor_live = match refresh_tokens::by_hash(conn, &sealed.successor)? {
        Some(next) => status(conn, &next, now)? == Status::Live,
        None => false,
    };
    Ok(successor_live.then_some(sealed.answer))
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// A rotated token came back: revoke its family.
pub fn reused(conn: &mut DbConnection, row: &RefreshRow, now: i64) -> Result<(), StoreError> {
    tracing::warn!(
        client_id = ?row.client_id,
        grant = %row.grant_id,
        "rotated refresh token reused; its family is revoked"
    );
    revoke(conn, &row.grant_id, now)
}

/// Revoke a family: the grant, its refresh tokens, and every access token issued from it,
/// each remembered as revoked until its own expiry.
pub fn revoke(conn: &mut DbConnection, grant_id: &str, now: i64) -> Result<(), StoreError> {
    grants::revoke(conn, grant_id, now, now + LEGACY_REMEMBER)
}

/// Revoke one refresh token and nothing else (SimpleJWT's blacklist); false if it was
/// already rotated or revoked.
pub fn revoke_one(conn: &mut DbConnection, row: &RefreshRow, now: i64) -> Result<bool, StoreError> {
    refresh_tokens::revoke_one(conn, &row.token_hash, now)
}

/// Remember one access token as revoked until its own expiry.
pub fn revoke_access(
    conn: &mut DbConnection,
    access: &IssuedAccess,
    now: i64,
) -> Result<(), StoreError> {
    Ok(grants::insert_revoked_jti(
        conn,
        &access.jti,
        access.exp,
        now,
    )?)
}

/// Whether an access token (by `jti`) was revoked before it expired.
pub fn is_access_revoked(conn: &mut DbConnection, jti: &str) -> Result<bool, StoreError> {
    grants::is_jti_revoked(conn, jti)
}
