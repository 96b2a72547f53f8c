//! The `passkeys` table (a user's WebAuthn credentials) and `webauthn_ceremonies` (a
//! ceremony's state between its two requests, taken once by the request that finishes it).
use diesel::prelude::*;

use super::schema::{passkeys, webauthn_ceremonies};
use super::{DbConnection, StoreError};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = passkeys)]
pub struct PasskeyRow {
    pub id: String,
    pub user_id: i64,
    /// The authenticator's credential id, base64url without padding.
    pub credential_id: String,
    pub name: String,
    /// The relying-party library's credential, as JSON.
    pub credential: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub fn insert(conn: &mut DbConnection, row: &PasskeyRow) -> Result<(), StoreError> {
    diesel::insert_into(passkeys::table)
        .values(row)
        .execute(conn)
        .map_err(StoreError::from_write)?;
    Ok(())
}

/// A user's passkeys, oldest first.
pub fn of_user(conn: &mut DbConnection, user_id: i64) -> Result<Vec<PasskeyRow>, StoreError> {
    Ok(passkeys::table
        .filter(passkeys::user_id.eq(user_id))
        .order((passkeys::created_at.asc(), passkeys::id.asc()))
        .select(PasskeyRow::as_select())
        .load(conn)?)
}

pub fn by_credential_id(
    conn: &mut DbConnection,
    credential_id: &str,
) -> Result<Option<PasskeyRow>, StoreError> {
    Ok(passkeys::table
        .filter(passkeys::credential_id.eq(credential_id))
        .select(PasskeyRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// After a sign-in: the credential as the library updated it (counter, backup state), and
/// when it was used.
pub fn record_use(
    conn: &mut DbConnection,
    id: &str,
    credential: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    let target = passkeys::table.find(id);
    match credential {
        Some(c) => diesel::update(target)
            .set((passkeys::credential.eq(c), passkeys::last_used_at.eq(now)))
            .execute(conn)?,
        None => diesel::update(target)
            .set(passkeys::last_used_at.eq(now))
            .execute(conn)?,
    };
    Ok(())
}

/// Rename one of the user's own passkeys; `NotFound` for anyone else's.
pub fn rename(
    conn: &mut DbConnection,
    user_id: i64,
    id: &str,
    name: &str,
) -> Result<(), StoreError> {
    let n = diesel::update(
        passkeys::table
            .find(id)
            .filter(passkeys::user_id.eq(user_id)),
    )
    .set(passkeys::name.eq(name))
    .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Delete one of the user's own passkeys and return it; `NotFound` for anyone else's.
pub fn delete(conn: &mut DbConnection, user_id: i64, id: &str) -> Result<PasskeyRow, StoreError> {
    let row = passkeys::table
        .find(id)
        .filter(passkeys::user_id.eq(user_id))
        .select(PasskeyRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or(StoreError::NotFound)?;
    diesel::delete(passkeys::table.find(id)).execute(conn)?;
    Ok(row)
}

/// Delete all of a user's passkeys (an administrator's reset of their second factors);
/// how many there were.
pub fn delete_of_user(conn: &mut DbConnection, user_id: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(passkeys::table.filter(passkeys::user_id.eq(user_id))).execute(conn)?)
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = webauthn_ceremonies)]
pub struct CeremonyRow {
    pub id_hash: String,
    pub kind: String,
    /// The user registering a passkey (none for a sign-in: the passkey will say who).
    pub user_id: Option<i64>,
    /// The session that started a registration; only it may finish it.
    pub session_key: Option<String>,
    /// The library's ceremony state, as JSON.
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// The address that asked for an unauthenticated sign-in's options.
    pub address: Option<String>,
}

/// The live ceremonies nobody is signed in for (passkey sign-ins): how many `address` holds,
/// how many there are in all, and when the earliest of that address's expires.
pub fn unowned_live(
    conn: &mut DbConnection,
    address: Option<&str>,
    now: i64,
) -> Result<(i64, i64, Option<i64>), StoreError> {
    use diesel::dsl::{count_star, min};
    let live = || {
        webauthn_ceremonies::table
            .filter(webauthn_ceremonies::user_id.is_null())
            .filter(webauthn_ceremonies::expires_at.gt(now))
    };
    let (mine, earliest): (i64, Option<i64>) = match address {
        Some(a) => live()
            .filter(webauthn_ceremonies::address.eq(a))
            .select((count_star(), min(webauthn_ceremonies::expires_at)))
            .get_result(conn)?,
        None => live()
            .filter(webauthn_ceremonies::address.is_null())
            .select((count_star(), min(webauthn_ceremonies::expires_at)))
            .get_result(conn)?,
    };
    let all: i64 = live().count().get_result(conn)?;
    Ok((mine, all, earliest))
}

/// How many live ceremonies `key` (a session's or a pending sign-in's digest) holds.
pub fn owned_live(conn: &mut DbConnection, key: &str, now: i64) -> Result<i64, StoreError> {
    Ok(webauthn_ceremonies::table
        .filter(webauthn_ceremonies::session_key.eq(key))
        .filter(webauthn_ceremonies::expires_at.gt(now))
        .count()
        .get_result(conn)?)
}

/// Store a new ceremony, first deleting expired ones (nothing else reads them again).
pub fn begin(conn: &mut DbConnection, row: &CeremonyRow, now: i64) -> Result<(), StoreError> {
    diesel::delete(webauthn_ceremonies::table.filter(webauthn_ceremonies::expires_at.le(now)))
        .execute(conn)?;
    diesel::insert_into(webauthn_ceremonies::table)
        .values(row)
        .execute(conn)
        .map_err(StoreError::from_write)?;
    Ok(())
}

/// Take a ceremony: read it, then delete it; only the request whose delete removed the row
/// gets it, so of two requests finishing the same ceremony one finds nothing. Expired ones
/// are returned too; the caller decides (and says so).
pub fn take(conn: &mut DbConnection, id_hash: &str) -> Result<Option<CeremonyRow>, StoreError> {
    let Some(row) = webauthn_ceremonies::table
        .find(id_hash)
        .select(CeremonyRow::as_select())
        .get_result(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let deleted = diesel::delete(webauthn_ceremonies::table.find(id_hash)).execute(conn)?;
    Ok((deleted == 1).then_some(row))
}
