//! The `reset_mail_throttle` table (reset emails asked for per bucket in a fixed window)
//! and finding the accounts a "Forgot password?" request names.
use diesel::prelude::*;

use super::schema::{reset_mail_throttle as throttle, users};
use super::users::UserRow;
use super::{DbConnection, StoreError, transaction};

diesel::define_sql_function! {
    /// SQL's lower(): email addresses compare without case on both backends.
    fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// Count one request in `bucket` and return the count in the current window, which starts
/// again once `window` seconds have passed since it began. One transaction, so instances
/// sharing the database count together.
pub fn count(
    conn: &mut DbConnection,
    bucket: &str,
    now: i64,
    window: i64,
) -> Result<i64, StoreError> {
    transaction(conn, |conn| {
        // The conditional update first: it takes the row's write lock before the read.
        diesel::update(
            throttle::table
                .find(bucket)
                .filter(throttle::window_start.le(now - window)),
        )
        .set((throttle::window_start.eq(now), throttle::requests.eq(0)))
        .execute(conn)?;
        let bumped = diesel::update(throttle::table.find(bucket))
            .set(throttle::requests.eq(throttle::requests + 1))
            .execute(conn)?;
        if bumped == 0 {
            diesel::insert_into(throttle::table)
                .values((
                    throttle::bucket.eq(bucket),
                    throttle::window_start.eq(now),
                    throttle::requests.eq(1),
                ))
                .execute(conn)
                .map_err(StoreError::from_write)?;
        }
        Ok(throttle::table
            .find(bucket)
            .select(throttle::requests)
            .get_result(conn)?)
    })
}

/// Forget windows that ended before `before`.
pub fn prune(conn: &mut DbConnection, before: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(throttle::table.filter(throttle::window_start.lt(before))).execute(conn)?)
}

/// The accounts whose email address is `email` (ignoring case), at most `limit`.
pub fn users_by_email(
    conn: &mut DbConnection,
    email: &str,
    limit: i64,
) -> Result<Vec<UserRow>, StoreError> {
    Ok(users::table
        .filter(lower(users::email).eq(email.to_lowercase()))
        .order(users::id)
        .limit(limit)
        .select(UserRow::as_select())
        .load(conn)?)
}
