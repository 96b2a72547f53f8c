//! The `authorization_codes` table. Codes are stored by digest and marked used, not
//! deleted, so a replay can be recognised and answered by revoking the grant.
use diesel::prelude::*;

use super::schema::authorization_codes;
use super::{DbConnection, StoreError, on_engine};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = authorization_codes)]
pub struct CodeRow {
    pub code_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub user_id: i64,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub claims_request: Option<String>,
    pub auth_time: i64,
    pub session_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub access_jti: Option<String>,
    /// The `exp` of that access token: a revocation is remembered until then.
    pub access_exp: Option<i64>,
    /// The thumbprint of the DPoP key it is bound to (RFC 9449 §10), if the request named one.
    pub dpop_jkt: Option<String>,
}

pub fn insert(conn: &mut DbConnection, row: &CodeRow) -> Result<(), StoreError> {
    diesel::insert_into(authorization_codes::table)
        .values(row)
        .execute(conn)
        .map_err(StoreError::from_write)?;
    Ok(())
}

/// Mark a code used and return it as it was before. Exactly one caller wins a race for
/// an unused code; the others see it as used.
pub fn take(
    conn: &mut DbConnection,
    code_hash: &str,
    now: i64,
) -> Result<Option<CodeRow>, StoreError> {
    let Some(row) = on_engine!(&mut *conn, |c| authorization_codes::table
        .find(code_hash)
        .select(CodeRow::as_select())
        .get_result(c)
        .optional())?
    else {
        return Ok(None);
    };
    if row.used_at.is_none() {
        let won = on_engine!(&mut *conn, |c| diesel::update(
            authorization_codes::table
                .find(code_hash)
                .filter(authorization_codes::used_at.is_null()),
        )
        .set(authorization_codes::used_at.eq(now))
        .execute(c))?;
        if won == 0 {
            return Ok(Some(CodeRow {
                used_at: Some(now),
                ..row
            }));
        }
    }
    Ok(Some(row))
}

/// Record the access token a code was exchanged for, so a replay of the code revokes it.
pub fn set_access(
    conn: &mut DbConnection,
    code_hash: &str,
    jti: &str,
    exp: i64,
) -> Result<(), StoreError> {
    on_engine!(&mut *conn, |c| diesel::update(
        authorization_codes::table.find(code_hash)
    )
    .set((
        authorization_codes::access_jti.eq(jti),
        authorization_codes::access_exp.eq(exp),
    ))
    .execute(c))?;
    Ok(())
}
