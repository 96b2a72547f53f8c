//! The `pushed_requests` table (RFC 9126): pushed authorization requests by the digest of
//! their `request_uri`. Claiming one is a conditional update, so of two racing
//! authorizations one gets it.
use diesel::prelude::*;

use super::schema::pushed_requests;
use super::{DbConnection, StoreError};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = pushed_requests)]
pub struct PushedRequestRow {
    pub request_uri_hash: String,
    pub client_id: String,
    pub params: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used: bool,
}

pub fn insert(conn: &mut DbConnection, row: &PushedRequestRow) -> Result<(), StoreError> {
    diesel::insert_into(pushed_requests::table)
        .values(row)
        .execute(conn)
        .map_err(StoreError::from_write)?;
    Ok(())
}

pub fn by_hash(
    conn: &mut DbConnection,
    request_uri_hash: &str,
) -> Result<Option<PushedRequestRow>, StoreError> {
    Ok(pushed_requests::table
        .find(request_uri_hash)
        .select(PushedRequestRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Mark the request used; `false` if it already was (or is gone).
pub fn claim(conn: &mut DbConnection, request_uri_hash: &str) -> Result<bool, StoreError> {
    let n = diesel::update(
        pushed_requests::table
            .find(request_uri_hash)
            .filter(pushed_requests::used.eq(false)),
    )
    .set(pushed_requests::used.eq(true))
    .execute(conn)?;
    Ok(n == 1)
}

/// Give a claim back: the authorization stopped for the user (sign-in, consent) before
/// answering the client.
pub fn release(conn: &mut DbConnection, request_uri_hash: &str) -> Result<(), StoreError> {
    diesel::update(pushed_requests::table.find(request_uri_hash))
        .set(pushed_requests::used.eq(false))
        .execute(conn)?;
    Ok(())
}
