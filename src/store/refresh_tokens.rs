//! The `refresh_tokens` table: stored by digest, rotated on use, revoked by family.
use diesel::prelude::*;

use super::schema::refresh_tokens;
use super::{DbConnection, StoreError, on_engine};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshRow {
    pub token_hash: String,
    pub grant_id: String,
    pub client_id: Option<String>,
    pub user_id: Option<i64>,
    pub scope: String,
    pub jti: Option<String>,
    pub access_jti: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The `exp` of the access token issued beside this refresh token.
    pub access_exp: Option<i64>,
    /// The DPoP key thumbprint (RFC 7638) a public client's token is bound to (RFC 9449 §5).
    pub dpop_jkt: Option<String>,
}

pub fn insert(conn: &mut DbConnection, row: &RefreshRow) -> Result<(), StoreError> {
    on_engine!(&mut *conn, |c| diesel::insert_into(refresh_tokens::table)
        .values(row)
        .execute(c))
    .map_err(StoreError::from_write)?;
    Ok(())
}

pub fn by_hash(conn: &mut DbConnection, hash: &str) -> Result<Option<RefreshRow>, StoreError> {
    Ok(on_engine!(&mut *conn, |c| refresh_tokens::table
        .find(hash)
        .select(RefreshRow::as_select())
        .get_result(c)
        .optional())?)
}

/// Mark a token rotated; false if another request rotated (or revoked) it first.
pub fn mark_rotated(conn: &mut DbConnection, hash: &str, now: i64) -> Result<bool, StoreError> {
    let n = on_engine!(&mut *conn, |c| diesel::update(
        refresh_tokens::table
            .find(hash)
            .filter(refresh_tokens::rotated_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::rotated_at.eq(now))
    .execute(c))?;
    Ok(n == 1)
}

/// Keep the sealed answer of a rotation beside the rotated token (the refresh grace).
pub fn set_successor(conn: &mut DbConnection, hash: &str, sealed: &[u8]) -> Result<(), StoreError> {
    on_engine!(&mut *conn, |c| diesel::update(
        refresh_tokens::table.find(hash)
    )
    .set(refresh_tokens::successor.eq(sealed))
    .execute(c))?;
    Ok(())
}

/// The sealed answer of the rotation of this token, if one is kept.
pub fn successor(conn: &mut DbConnection, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(on_engine!(&mut *conn, |c| refresh_tokens::table
        .find(hash)
        .select(refresh_tokens::successor)
        .get_result::<Option<Vec<u8>>>(c)
        .optional())?
    .flatten())
}

/// A SimpleJWT refresh token by its `jti`.
pub fn by_jti(conn: &mut DbConnection, jti: &str) -> Result<Option<RefreshRow>, StoreError> {
    Ok(on_engine!(&mut *conn, |c| refresh_tokens::table
        .filter(refresh_tokens::jti.eq(jti))
        .select(RefreshRow::as_select())
        .get_result(c)
        .optional())?)
}

/// Revoke one token (SimpleJWT's blacklist); false if it was already rotated or revoked.
pub fn revoke_one(conn: &mut DbConnection, hash: &str, now: i64) -> Result<bool, StoreError> {
    let n = on_engine!(&mut *conn, |c| diesel::update(
        refresh_tokens::table
            .find(hash)
            .filter(refresh_tokens::rotated_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(c))?;
    Ok(n == 1)
}

/// Record the newest access token issued from a refresh token that was not rotated.
pub fn set_access(
    conn: &mut DbConnection,
    hash: &str,
    jti: &str,
    exp: i64,
) -> Result<(), StoreError> {
    on_engine!(&mut *conn, |c| diesel::update(
        refresh_tokens::table.find(hash)
    )
    .set((
        refresh_tokens::access_jti.eq(jti),
        refresh_tokens::access_exp.eq(exp),
    ))
    .execute(c))?;
    Ok(())
}
