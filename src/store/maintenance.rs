//! Pruning rows nothing will ever read again: expired sessions, codes, refresh tokens and
//! remembered revocations, unfinished second steps, the sealed answers of rotations once their refresh grace is
//! over, forgotten failed-sign-in counts, and DPoP proofs and nonces past their time. Without it those tables only grow.
use diesel::prelude::*;

use super::schema::{
    authorization_codes, client_assertion_jtis, device_codes, login_throttle, pushed_requests,
    refresh_tokens, revoked_tokens, sessions,
};
use super::{DbConnection, StoreError};

/// Rows deleted, per table.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub sessions: usize,
    /// Authorization codes and device codes.
    pub codes: usize,
    pub refresh_tokens: usize,
    pub revoked_tokens: usize,
    /// Sealed rotation answers cleared once no refresh grace can reach them.
    pub successors: usize,
    /// Failed-sign-in buckets quiet for a day and not locked.
    pub throttle: usize,
    /// Sign-ins whose second step was never finished.
    pub pending_logins: usize,
    /// Expired pushed authorization requests and remembered client-assertion `jti`s.
    pub pushed: usize,
    /// DPoP proofs past their window and expired DPoP nonces.
    pub dpop: usize,
}

/// How long failed sign-ins are counted: a bucket quiet this long starts again.
pub const THROTTLE_MEMORY: i64 = 86_400;

/// The longest refresh grace the settings allow: sealed answers older than this are dead
/// weight (and are only readable with the old token anyway).
pub const MAX_REFRESH_GRACE: i64 = 60;

/// Delete what expired before `now - grace` (the grace keeps recently expired codes and
/// refresh tokens around, so a late replay is still recognised as one).
pub fn prune(conn: &mut DbConnection, now: i64, grace: i64) -> Result<Pruned, StoreError> {
    let horizon = now - grace;
    Ok(Pruned {
        sessions: diesel::delete(sessions::table.filter(sessions::expires_at.le(now)))
            .execute(conn)?,
        codes: diesel::delete(
            authorization_codes::table.filter(authorization_codes::expires_at.le(horizon)),
        )
        .execute(conn)?
            + diesel::delete(device_codes::table.filter(device_codes::expires_at.le(horizon)))
                .execute(conn)?,
        refresh_tokens: diesel::delete(
            refresh_tokens::table.filter(refresh_tokens::expires_at.le(horizon)),
        )
        .execute(conn)?,
        revoked_tokens: diesel::delete(
            revoked_tokens::table.filter(revoked_tokens::expires_at.le(now)),
        )
        .execute(conn)?,
        pushed: diesel::delete(pushed_requests::table.filter(pushed_requests::expires_at.le(now)))
            .execute(conn)?
            + diesel::delete(
                client_assertion_jtis::table.filter(client_assertion_jtis::expires_at.lt(now)),
            )
            .execute(conn)?,
        successors: diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::successor.is_not_null())
                .filter(refresh_tokens::rotated_at.le(now - MAX_REFRESH_GRACE)),
        )
        .set(refresh_tokens::successor.eq(None::<Vec<u8>>))
        .execute(conn)?,
        throttle: diesel::delete(
            login_throttle::table
                .filter(login_throttle::updated_at.le(now - THROTTLE_MEMORY))
                .filter(
                    login_throttle::locked_until
                        .is_null()
                        .or(login_throttle::locked_until.le(now)),
                ),
        )
        .execute(conn)?,
        pending_logins: super::pending_logins::prune(conn, now)?,
        dpop: super::dpop::prune(conn, now)?,
    })
}
