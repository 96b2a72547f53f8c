//! The `users` table.
use diesel::prelude::*;

use super::schema::users;
use super::{DbConnection, StoreError, on_engine};

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
    /// `django` for a user `tessera user import-django` created; `None` for Tessera's own.
    pub imported_from: Option<String>,
    /// The user must choose a new password before anything else (the first administrator).
    pub must_change_password: bool,
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
    Ok(on_engine!(&mut *conn, |c| users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .get_result(c)
        .optional())?)
}

pub fn count(conn: &mut DbConnection) -> Result<i64, StoreError> {
    Ok(users::table.count().get_result(conn)?)
}

pub fn by_id(conn: &mut DbConnection, id: i64) -> Result<Option<UserRow>, StoreError> {
    Ok(on_engine!(&mut *conn, |c| users::table
        .find(id)
        .select(UserRow::as_select())
        .get_result(c)
        .optional())?)
}

pub fn by_subject(conn: &mut DbConnection, subject: &str) -> Result<Option<UserRow>, StoreError> {
    Ok(on_engine!(&mut *conn, |c| users::table
        .filter(users::subject.eq(subject))
        .select(UserRow::as_select())
        .get_result(c)
        .optional())?)
}

pub fn touch_login(conn: &mut DbConnection, id: i64, now: i64) -> Result<(), StoreError> {
    on_engine!(&mut *conn, |c| diesel::update(users::table.find(id))
        .set(users::last_login_at.eq(now))
        .execute(c))?;
    Ok(())
}

/// Replace a user's password hash (an imported Django hash upgraded to Argon2id).
pub fn set_password_hash(conn: &mut DbConnection, id: i64, hash: &str) -> Result<(), StoreError> {
    diesel::update(users::table.find(id))
        .set(users::password_hash.eq(hash))
        .execute(conn)?;
    Ok(())
}

/// Set or clear the flag that sends the user to the password change form.
pub fn set_must_change_password(
    conn: &mut DbConnection,
    id: i64,
    must: bool,
) -> Result<(), StoreError> {
    diesel::update(users::table.find(id))
        .set(users::must_change_password.eq(must))
        .execute(conn)?;
    Ok(())
}

/// A user's own profile change: name and email (an email the user typed is not verified).
pub fn set_own_profile(
    conn: &mut DbConnection,
    id: i64,
    name: Option<&str>,
    email: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    let current: Option<String> = users::table
        .find(id)
        .select(users::email)
        .get_result(conn)?;
    let keep_verified = current.as_deref() == email;
    diesel::update(users::table.find(id))
        .set((
            users::name.eq(name),
            users::email.eq(email),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    if !keep_verified {
        diesel::update(users::table.find(id))
            .set(users::email_verified.eq(false))
            .execute(conn)?;
    }
    Ok(())
}

/// A user as an import writes it: the id is the source's primary key, kept so tokens name
/// the same user the source's resource servers know.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = users, treat_none_as_null = true)]
pub struct ImportedUserRow<'a> {
    pub id: i64,
    pub username: &'a str,
    pub email: Option<&'a str>,
    pub name: Option<&'a str>,
    pub is_admin: bool,
    pub is_active: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_login_at: Option<i64>,
    pub imported_from: &'a str,
}

/// Insert an imported user with its own id; `Conflict` if the id or username is taken.
pub fn insert_imported(
    conn: &mut DbConnection,
    row: &ImportedUserRow<'_>,
    subject: &str,
    password_hash: &str,
) -> Result<(), StoreError> {
    diesel::insert_into(users::table)
        .values((
            row,
            users::subject.eq(subject),
            users::password_hash.eq(password_hash),
        ))
        .execute(conn)
        .map_err(StoreError::from_write)?;
    Ok(())
}

/// Update an imported user in place; `Conflict` if its new username is taken.
pub fn update_imported(
    conn: &mut DbConnection,
    row: &ImportedUserRow<'_>,
    password_hash: Option<&str>,
) -> Result<(), StoreError> {
    diesel::update(users::table.find(row.id))
        .set(row)
        .execute(conn)
        .map_err(StoreError::from_write)?;
    if let Some(hash) = password_hash {
        diesel::update(users::table.find(row.id))
            .set(users::password_hash.eq(hash))
            .execute(conn)?;
    }
    Ok(())
}

/// After rows were inserted with explicit ids: move PostgreSQL's identity past them, so the
/// next user created in Tessera gets a fresh id. (SQLite's AUTOINCREMENT already does.)
pub fn advance_id_sequence(conn: &mut DbConnection) -> Result<(), StoreError> {
    use diesel::connection::SimpleConnection;
    if let DbConnection::Postgres(pg) = conn {
        pg.batch_execute(
            "SELECT setval(pg_get_serial_sequence('users', 'id'), \
             GREATEST((SELECT MAX(id) FROM users), 1))",
        )?;
    }
    Ok(())
}
