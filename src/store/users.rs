//! The `users` table.
use diesel::prelude::*;

use super::schema::users;
use super::{DbConnection, StoreError};

/// A user row.
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i64,
    pub subject: String,
    pub username: String,
    pub password_hash: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    /// Other standard claims (given_name, phone_number, address, ...), a JSON object.
    pub profile: String,
    pub is_admin: bool,
    pub is_active: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_login_at: Option<i64>,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("is_admin", &self.is_admin)
            .field("is_active", &self.is_active)
            .finish_non_exhaustive()
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUserRow<'a> {
    pub subject: &'a str,
    pub username: &'a str,
    pub password_hash: &'a str,
    pub email: Option<&'a str>,
    pub name: Option<&'a str>,
    pub is_admin: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Insert a user; `Conflict` if the username is taken.
pub fn insert(conn: &mut DbConnection, row: &NewUserRow<'_>) -> Result<UserRow, StoreError> {
    diesel::insert_into(users::table)
        .values(row)
        .execute(conn)
        .map_err(StoreError::from_write)?;
    by_username(conn, row.username)?.ok_or(StoreError::NotFound)
}

pub fn by_username(conn: &mut DbConnection, username: &str) -> Result<Option<UserRow>, StoreError> {
    Ok(users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn count(conn: &mut DbConnection) -> Result<i64, StoreError> {
    Ok(users::table.count().get_result(conn)?)
}

pub fn by_id(conn: &mut DbConnection, id: i64) -> Result<Option<UserRow>, StoreError> {
    Ok(users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn by_subject(conn: &mut DbConnection, subject: &str) -> Result<Option<UserRow>, StoreError> {
    Ok(users::table
        .filter(users::subject.eq(subject))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn touch_login(conn: &mut DbConnection, id: i64, now: i64) -> Result<(), StoreError> {
    diesel::update(users::table.find(id))
        .set(users::last_login_at.eq(now))
        .execute(conn)?;
    Ok(())
}
