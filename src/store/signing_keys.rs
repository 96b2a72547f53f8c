//! The `signing_keys` table: every instance's signing keys, private parts sealed (see
//! `signing::kek`). Rows are never deleted: a retired key keeps its row so a restored
//! backup or an old PEM file never brings it back.
use diesel::prelude::*;

use super::schema::signing_keys;
use super::{DbConnection, StoreError};

pub const PUBLISHED: &str = "published";
pub const RETIRED: &str = "retired";

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    pub algorithm: String,
    /// SPKI PEM.
    pub public_key: String,
    /// Base64 of the sealed PKCS#8 DER (ciphertext and tag).
    pub private_key: String,
    /// Base64 of the 96-bit AES-GCM nonce, random per key.
    pub nonce: String,
    pub kek_id: String,
    pub state: String,
    pub created_at_ms: i64,
    pub activates_at_ms: i64,
    pub retired_at_ms: Option<i64>,
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow")
            .field("kid", &self.kid)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// Every key, in no particular order.
pub fn all(conn: &mut DbConnection) -> Result<Vec<SigningKeyRow>, StoreError> {
    Ok(signing_keys::table
        .select(SigningKeyRow::as_select())
        .load(conn)?)
}

/// Add a key; `Conflict` if its kid is already there (another instance imported it first).
pub fn insert(conn: &mut DbConnection, row: &SigningKeyRow) -> Result<(), StoreError> {
    diesel::insert_into(signing_keys::table)
        .values(row)
        .execute(conn)
        .map_err(StoreError::from_write)?;
    Ok(())
}

/// Mark a published key retired; false if it was not published (any more).
pub fn retire(conn: &mut DbConnection, kid: &str, at_ms: i64) -> Result<bool, StoreError> {
    let changed = diesel::update(
        signing_keys::table
            .find(kid)
            .filter(signing_keys::state.eq(PUBLISHED)),
    )
    .set((
        signing_keys::state.eq(RETIRED),
        signing_keys::retired_at_ms.eq(Some(at_ms)),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}
