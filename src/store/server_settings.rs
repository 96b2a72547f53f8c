//! The `server_settings` table: settings administrators change in the console, by name.
use diesel::prelude::*;

use super::schema::server_settings;
use super::{DbConnection, StoreError};

pub fn get(conn: &mut DbConnection, name: &str) -> Result<Option<String>, StoreError> {
    Ok(server_settings::table
        .find(name)
        .select(server_settings::value)
        .get_result(conn)
        .optional()?)
}

/// Set `name` to `value` (insert or replace).
pub fn set(
    conn: &mut DbConnection,
    name: &str,
    value: &str,
    now: i64,
    by: &str,
) -> Result<(), StoreError> {
    let updated = diesel::update(server_settings::table.find(name))
        .set((
            server_settings::value.eq(value),
            server_settings::updated_at.eq(now),
            server_settings::updated_by.eq(by),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(server_settings::table)
            .values((
                server_settings::name.eq(name),
                server_settings::value.eq(value),
                server_settings::updated_at.eq(now),
                server_settings::updated_by.eq(by),
            ))
            .execute(conn)
            .map_err(StoreError::from_write)?;
    }
    Ok(())
}
