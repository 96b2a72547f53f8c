//! The second-factor tables: `totp_secrets` (one sealed TOTP secret per user, active once
//! confirmed) and `recovery_codes` (digests of single-use codes).
use diesel::prelude::*;

use super::schema::{recovery_codes, totp_secrets};
use super::{DbConnection, StoreError};

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = totp_secrets)]
pub struct TotpRow {
    pub user_id: i64,
    /// base64 of the sealed secret (ciphertext and tag).
    pub secret: String,
    pub nonce: String,
    pub kek_id: String,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
    pub last_step: Option<i64>,
}

impl std::fmt::Debug for TotpRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpRow")
            .field("user_id", &self.user_id)
            .field("confirmed_at", &self.confirmed_at)
            .finish_non_exhaustive()
    }
}

pub fn totp_of(conn: &mut DbConnection, user_id: i64) -> Result<Option<TotpRow>, StoreError> {
    Ok(totp_secrets::table
        .find(user_id)
        .select(TotpRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Store a new, unconfirmed secret in place of an unconfirmed one; a confirmed secret is
/// never replaced (`Conflict`).
pub fn put_unconfirmed(conn: &mut DbConnection, row: &TotpRow) -> Result<(), StoreError> {
    diesel::delete(
        totp_secrets::table
            .find(row.user_id)
            .filter(totp_secrets::confirmed_at.is_null()),
    )
    .execute(conn)?;
    diesel::insert_into(totp_secrets::table)
        .values(row)
        .execute(conn)
        .map_err(StoreError::from_write)?;
    Ok(())
}

/// Accept a code's time step: only if it is later than every step accepted before, so of
/// two requests with the same code exactly one wins. Confirms an unconfirmed secret.
pub fn accept_step(
    conn: &mut DbConnection,
    user_id: i64,
    step: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = diesel::update(
        totp_secrets::table.find(user_id).filter(
            totp_secrets::last_step
                .is_null()
                .or(totp_secrets::last_step.lt(step)),
        ),
    )
    .set(totp_secrets::last_step.eq(step))
    .execute(conn)?;
    if changed == 1 {
        diesel::update(
            totp_secrets::table
                .find(user_id)
                .filter(totp_secrets::confirmed_at.is_null()),
        )
        .set(totp_secrets::confirmed_at.eq(now))
        .execute(conn)?;
    }
    Ok(changed == 1)
}

/// Remove the user's TOTP secret and recovery codes; whether there was a secret.
pub fn remove_all(conn: &mut DbConnection, user_id: i64) -> Result<bool, StoreError> {
    let secrets = diesel::delete(totp_secrets::table.find(user_id)).execute(conn)?;
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    Ok(secrets > 0)
}

/// Replace the user's recovery codes with these digests.
pub fn replace_recovery_codes(
    conn: &mut DbConnection,
    user_id: i64,
    digests: &[String],
    now: i64,
) -> Result<(), StoreError> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    // One row at a time: the two-backend connection has no batch insert.
    for d in digests {
        diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::code_hash.eq(d),
                recovery_codes::user_id.eq(user_id),
                recovery_codes::created_at.eq(now),
            ))
            .execute(conn)
            .map_err(StoreError::from_write)?;
    }
    Ok(())
}

/// Use one of the user's unused recovery codes; whether it was one. A used code, or
/// another user's, changes nothing.
pub fn use_recovery_code(
    conn: &mut DbConnection,
    user_id: i64,
    digest: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = diesel::update(
        recovery_codes::table
            .find(digest)
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(now))
    .execute(conn)?;
    Ok(changed == 1)
}

/// How many unused recovery codes the user has left.
pub fn recovery_codes_left(conn: &mut DbConnection, user_id: i64) -> Result<i64, StoreError> {
    Ok(recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)?)
}
