//! The `consents` table: which scopes a user has allowed a client.
use diesel::prelude::*;

use super::schema::consents;
use super::{DbConnection, StoreError};

pub fn scope_of(
    conn: &mut DbConnection,
    user_id: i64,
    client_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(consents::table
        .find((user_id, client_id))
        .select(consents::scope)
        .get_result(conn)
        .optional()?)
}

/// Record consent for `scope` (the caller passes the union with what was allowed before).
pub fn upsert(
    conn: &mut DbConnection,
    user_id: i64,
    client_id: &str,
    scope: &str,
    now: i64,
) -> Result<(), StoreError> {
    let updated = diesel::update(consents::table.find((user_id, client_id)))
        .set((consents::scope.eq(scope), consents::updated_at.eq(now)))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(consents::table)
            .values((
                consents::user_id.eq(user_id),
                consents::client_id.eq(client_id),
                consents::scope.eq(scope),
                consents::created_at.eq(now),
                consents::updated_at.eq(now),
            ))
            .execute(conn)
            .map_err(StoreError::from_write)?;
    }
    Ok(())
}
