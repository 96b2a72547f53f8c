//! The `sessions` table: a user's login at Tessera, keyed by the cookie value's digest.
use diesel::prelude::*;

use super::schema::sessions;
use super::{DbConnection, StoreError};

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id_hash: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// How the user authenticated (`AuthMethods::to_stored`).
    pub amr: String,
}

impl std::fmt::Debug for SessionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRow")
            .field("user_id", &self.user_id)
            .field("auth_time", &self.auth_time)
            .finish_non_exhaustive()
    }
}

pub fn insert(conn: &mut DbConnection, row: &SessionRow) -> Result<(), StoreError> {
    diesel::insert_into(sessions::table)
        .values(row)
        .execute(conn)
        .map_err(StoreError::from_write)?;
    Ok(())
}

/// A live session by digest.
pub fn live(
    conn: &mut DbConnection,
    id_hash: &str,
    now: i64,
) -> Result<Option<SessionRow>, StoreError> {
    Ok(sessions::table
        .find(id_hash)
        .filter(sessions::expires_at.gt(now))
        .select(SessionRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn delete(conn: &mut DbConnection, id_hash: &str) -> Result<(), StoreError> {
    diesel::delete(sessions::table.find(id_hash)).execute(conn)?;
    Ok(())
}

/// End a user's sessions except `keep` (the one that changed the password); how many ended.
pub fn delete_others_of(
    conn: &mut DbConnection,
    user_id: i64,
    keep: &str,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::id_hash.ne(keep)),
    )
    .execute(conn)?)
}

/// Record the methods of a live session after a step-up; whether it still existed.
pub fn set_amr(conn: &mut DbConnection, id_hash: &str, amr: &str) -> Result<bool, StoreError> {
    Ok(diesel::update(sessions::table.find(id_hash))
        .set(sessions::amr.eq(amr))
        .execute(conn)?
        == 1)
}
