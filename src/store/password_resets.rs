//! The `password_resets` table: one-time reset links, keyed by the digest of their token.
use diesel::prelude::*;

use super::schema::password_resets;
use super::{DbConnection, StoreError};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = password_resets)]
pub struct ResetRow {
    pub token_hash: String,
    pub user_id: i64,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub fn insert(conn: &mut DbConnection, row: &ResetRow) -> Result<(), StoreError> {
    diesel::insert_into(password_resets::table)
        .values(row)
        .execute(conn)
        .map_err(StoreError::from_write)?;
    Ok(())
}

pub fn by_hash(conn: &mut DbConnection, token_hash: &str) -> Result<Option<ResetRow>, StoreError> {
    Ok(password_resets::table
        .find(token_hash)
        .select(ResetRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Mark a link used, unless it already was: `false` when another request used it first, so
/// two submissions of the same link cannot both set a password.
pub fn mark_used(conn: &mut DbConnection, token_hash: &str, now: i64) -> Result<bool, StoreError> {
    let n = diesel::update(
        password_resets::table
            .find(token_hash)
            .filter(password_resets::used_at.is_null()),
    )
    .set(password_resets::used_at.eq(now))
    .execute(conn)?;
    Ok(n == 1)
}

/// A new link replaces the user's older unused ones: only the newest works.
pub fn retire_unused_of(conn: &mut DbConnection, user_id: i64, now: i64) -> Result<(), StoreError> {
    diesel::update(
        password_resets::table
            .filter(password_resets::user_id.eq(user_id))
            .filter(password_resets::used_at.is_null()),
    )
    .set(password_resets::used_at.eq(now))
    .execute(conn)?;
    Ok(())
}
