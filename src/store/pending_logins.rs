//! The `pending_logins` table: sign-ins whose password is checked and whose second step is
//! not done yet, keyed by the digest of the browser's cookie.
use diesel::prelude::*;

use super::schema::pending_logins;
use super::{DbConnection, StoreError};

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = pending_logins)]
pub struct PendingRow {
    pub id_hash: String,
    pub user_id: i64,
    /// The session being stepped up; `None` for a new sign-in.
    pub session_hash: Option<String>,
    /// The methods already used (`AuthMethods::to_stored`).
    pub amr: String,
    pub return_to: String,
    pub csrf_token: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl std::fmt::Debug for PendingRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingRow")
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

pub fn insert(conn: &mut DbConnection, row: &PendingRow) -> Result<(), StoreError> {
    diesel::insert_into(pending_logins::table)
        .values(row)
        .execute(conn)
        .map_err(StoreError::from_write)?;
    Ok(())
}

/// A pending sign-in by digest that has not expired.
pub fn live(
    conn: &mut DbConnection,
    id_hash: &str,
    now: i64,
) -> Result<Option<PendingRow>, StoreError> {
    Ok(pending_logins::table
        .find(id_hash)
        .filter(pending_logins::expires_at.gt(now))
        .select(PendingRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Delete a pending sign-in; whether it was there (of two completions, one wins).
pub fn take(conn: &mut DbConnection, id_hash: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(pending_logins::table.find(id_hash)).execute(conn)? == 1)
}

/// End a user's pending sign-ins (their second factors were reset or removed).
pub fn delete_of(conn: &mut DbConnection, user_id: i64) -> Result<(), StoreError> {
    diesel::delete(pending_logins::table.filter(pending_logins::user_id.eq(user_id)))
        .execute(conn)?;
    Ok(())
}

/// Forget expired pending sign-ins.
pub fn prune(conn: &mut DbConnection, now: i64) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(pending_logins::table.filter(pending_logins::expires_at.le(now)))
            .execute(conn)?,
    )
}
