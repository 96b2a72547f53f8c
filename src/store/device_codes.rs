//! The `device_codes` table (RFC 8628): one row per device authorization, found by the
//! digest of its device code (the token endpoint) or of its user code (the `/device` page).
//! Every change of state is a conditional update, so of two racing requests one wins.
use diesel::prelude::*;

use super::schema::device_codes;
use super::{DbConnection, StoreError};

/// What `device_codes.status` stores.
pub const PENDING: &str = "pending";
pub const APPROVED: &str = "approved";
pub const DENIED: &str = "denied";
pub const ISSUED: &str = "issued";

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = device_codes)]
pub struct DeviceCodeRow {
    pub device_code_hash: String,
    pub user_code_hash: String,
    pub client_id: String,
    pub scope: String,
    pub status: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub poll_interval: i64,
    pub last_polled_at: Option<i64>,
    pub user_id: Option<i64>,
    pub auth_time: Option<i64>,
    pub amr: Option<String>,
    pub session_id: Option<String>,
    pub decided_at: Option<i64>,
}

/// Insert a new authorization; a user code already in use is `StoreError::Conflict`.
pub fn insert(conn: &mut DbConnection, row: &DeviceCodeRow) -> Result<(), StoreError> {
    diesel::insert_into(device_codes::table)
        .values(row)
        .execute(conn)
        .map_err(StoreError::from_write)?;
    Ok(())
}

pub fn by_device_code(
    conn: &mut DbConnection,
    device_code_hash: &str,
) -> Result<Option<DeviceCodeRow>, StoreError> {
    Ok(device_codes::table
        .find(device_code_hash)
        .select(DeviceCodeRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn by_user_code(
    conn: &mut DbConnection,
    user_code_hash: &str,
) -> Result<Option<DeviceCodeRow>, StoreError> {
    Ok(device_codes::table
        .filter(device_codes::user_code_hash.eq(user_code_hash))
        .select(DeviceCodeRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Record a poll at `now`; `interval` is the (possibly grown) interval from now on.
pub fn polled(
    conn: &mut DbConnection,
    device_code_hash: &str,
    now: i64,
    interval: i64,
) -> Result<(), StoreError> {
    diesel::update(device_codes::table.find(device_code_hash))
        .set((
            device_codes::last_polled_at.eq(now),
            device_codes::poll_interval.eq(interval),
        ))
        .execute(conn)?;
    Ok(())
}

/// The user's answer to a pending authorization. False when it is no longer pending (or
/// expired): someone else answered first.
pub struct Decision<'a> {
    pub status: &'static str,
    pub user_id: i64,
    pub auth_time: i64,
    pub amr: &'a str,
    pub session_id: Option<&'a str>,
}

pub fn decide(
    conn: &mut DbConnection,
    user_code_hash: &str,
    decision: &Decision<'_>,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = diesel::update(
        device_codes::table
            .filter(device_codes::user_code_hash.eq(user_code_hash))
            .filter(device_codes::status.eq(PENDING))
            .filter(device_codes::expires_at.gt(now)),
    )
    .set((
        device_codes::status.eq(decision.status),
        device_codes::user_id.eq(decision.user_id),
        device_codes::auth_time.eq(decision.auth_time),
        device_codes::amr.eq(decision.amr),
        device_codes::session_id.eq(decision.session_id),
        device_codes::decided_at.eq(now),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Mark an approved authorization as redeemed. Exactly one caller wins; false for the rest.
pub fn take(conn: &mut DbConnection, device_code_hash: &str) -> Result<bool, StoreError> {
    let changed = diesel::update(
        device_codes::table
            .find(device_code_hash)
            .filter(device_codes::status.eq(APPROVED)),
    )
    .set(device_codes::status.eq(ISSUED))
    .execute(conn)?;
    Ok(changed == 1)
}
