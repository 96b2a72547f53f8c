//! The `client_assertion_jtis` table: the `jti` of each accepted client assertion until it
//! expires (RFC 7523 §3), shared by every instance on the database.
use diesel::prelude::*;

use super::schema::client_assertion_jtis;
use super::{DbConnection, StoreError};

/// Remember `jti` for `client_id` until `expires_at`. `Ok(false)`: it was already there (a
/// replay). The primary key decides, so of two concurrent presentations exactly one wins.
pub fn remember(
    conn: &mut DbConnection,
    client_id: &str,
    jti: &str,
    expires_at: i64,
    now: i64,
) -> Result<bool, StoreError> {
    // A jti whose assertion expired may be forgotten: the assertion itself is refused now.
    diesel::delete(
        client_assertion_jtis::table
            .filter(client_assertion_jtis::client_id.eq(client_id))
            .filter(client_assertion_jtis::expires_at.lt(now)),
    )
    .execute(conn)?;
    let inserted = diesel::insert_into(client_assertion_jtis::table)
        .values((
            client_assertion_jtis::client_id.eq(client_id),
            client_assertion_jtis::jti.eq(jti),
            client_assertion_jtis::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map_err(StoreError::from_write);
    match inserted {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict) => Ok(false),
        Err(e) => Err(e),
    }
}
