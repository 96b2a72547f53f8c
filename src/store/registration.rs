//! Dynamic registration's rows: the initial access tokens admins mint
//! (`registration_tokens`) and the registration columns of `clients`.
use diesel::prelude::*;

use super::schema::{clients, registration_tokens};
use super::{DbConnection, StoreError};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = registration_tokens)]
pub struct RegistrationTokenRow {
    pub id: String,
    /// SHA-256 digest; the token itself is shown once and never stored.
    pub token_hash: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub uses: i64,
}

pub fn insert_token(conn: &mut DbConnection, row: &RegistrationTokenRow) -> Result<(), StoreError> {
    diesel::insert_into(registration_tokens::table)
        .values(row)
        .execute(conn)
        .map_err(StoreError::from_write)?;
    Ok(())
}

pub fn token_by_hash(
    conn: &mut DbConnection,
    hash: &str,
) -> Result<Option<RegistrationTokenRow>, StoreError> {
    Ok(registration_tokens::table
        .filter(registration_tokens::token_hash.eq(hash))
        .select(RegistrationTokenRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn token_by_id(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<RegistrationTokenRow>, StoreError> {
    Ok(registration_tokens::table
        .find(id)
        .select(RegistrationTokenRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Newest first.
pub fn tokens_all(conn: &mut DbConnection) -> Result<Vec<RegistrationTokenRow>, StoreError> {
    Ok(registration_tokens::table
        .order((
            registration_tokens::created_at.desc(),
            registration_tokens::id.asc(),
        ))
        .select(RegistrationTokenRow::as_select())
        .load(conn)?)
}

/// Count one registration made with the token.
pub fn token_used(conn: &mut DbConnection, id: &str, now: i64) -> Result<(), StoreError> {
    diesel::update(registration_tokens::table.find(id))
        .set((
            registration_tokens::uses.eq(registration_tokens::uses + 1),
            registration_tokens::last_used_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Revoke a live token; false when there is none by that id, or it was revoked already.
pub fn revoke_token(conn: &mut DbConnection, id: &str, now: i64) -> Result<bool, StoreError> {
    let n = diesel::update(
        registration_tokens::table
            .find(id)
            .filter(registration_tokens::revoked_at.is_null()),
    )
    .set(registration_tokens::revoked_at.eq(now))
    .execute(conn)?;
    Ok(n > 0)
}

/// Mark a client self-registered, with its registration access token's digest and the
/// metadata kept only to be handed back.
pub fn set_registration(
    conn: &mut DbConnection,
    client_id: &str,
    token_hash: &str,
    metadata: &str,
) -> Result<(), StoreError> {
    let n = diesel::update(clients::table.find(client_id))
        .set((
            clients::self_registered.eq(true),
            clients::registration_token_hash.eq(token_hash),
            clients::registration_metadata.eq(metadata),
        ))
        .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Replace the registration access token (and the kept metadata) only if `old_hash` is
/// still the client's: of two concurrent updates with one token, exactly one wins.
pub fn rotate_registration(
    conn: &mut DbConnection,
    client_id: &str,
    old_hash: &str,
    new_hash: &str,
    metadata: &str,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        clients::table
            .find(client_id)
            .filter(clients::self_registered.eq(true))
            .filter(clients::registration_token_hash.eq(old_hash)),
    )
    .set((
        clients::registration_token_hash.eq(new_hash),
        clients::registration_metadata.eq(metadata),
    ))
    .execute(conn)?;
    Ok(n > 0)
}
