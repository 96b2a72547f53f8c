//! The `dpop_proofs` and `dpop_nonces` tables: DPoP proofs already seen and the server
//! nonces handed out, both by SHA-256 digest and both until they expire.
use diesel::prelude::*;

use super::schema::{dpop_nonces, dpop_proofs};
use super::{DbConnection, StoreError};

/// Remember a proof until `expires_at`; `false` if it was already remembered (a replay).
/// The primary key decides, so of two instances racing with one proof exactly one wins.
pub fn remember_proof(
    conn: &mut DbConnection,
    proof_hash: &str,
    expires_at: i64,
) -> Result<bool, StoreError> {
    match diesel::insert_into(dpop_proofs::table)
        .values((
            dpop_proofs::proof_hash.eq(proof_hash),
            dpop_proofs::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map_err(StoreError::from_write)
    {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict) => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn add_nonce(
    conn: &mut DbConnection,
    nonce_hash: &str,
    expires_at: i64,
) -> Result<(), StoreError> {
    diesel::insert_into(dpop_nonces::table)
        .values((
            dpop_nonces::nonce_hash.eq(nonce_hash),
            dpop_nonces::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map_err(StoreError::from_write)?;
    Ok(())
}

/// Whether the nonce with this digest was handed out and has not expired at `now`.
pub fn nonce_is_live(
    conn: &mut DbConnection,
    nonce_hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let found = dpop_nonces::table
        .find(nonce_hash)
        .filter(dpop_nonces::expires_at.gt(now))
        .select(dpop_nonces::nonce_hash)
        .get_result::<String>(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Delete expired proofs and nonces; the number of rows deleted.
pub fn prune(conn: &mut DbConnection, now: i64) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(dpop_proofs::table.filter(dpop_proofs::expires_at.le(now))).execute(conn)?
            + diesel::delete(dpop_nonces::table.filter(dpop_nonces::expires_at.le(now)))
                .execute(conn)?,
    )
}
