//! The `login_throttle` table: failed sign-ins per bucket, with the time a bucket is
//! locked until.
use diesel::prelude::*;

use super::schema::login_throttle;
use super::{DbConnection, StoreError};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = login_throttle)]
pub struct ThrottleRow {
    pub bucket: String,
    pub failures: i64,
    pub locked_until: Option<i64>,
    pub updated_at: i64,
}

/// The rows of these buckets (absent ones have no failures).
pub fn by_buckets(
    conn: &mut DbConnection,
    buckets: &[String],
) -> Result<Vec<ThrottleRow>, StoreError> {
    Ok(login_throttle::table
        .filter(login_throttle::bucket.eq_any(buckets))
        .select(ThrottleRow::as_select())
        .load(conn)?)
}

/// Count one more failure in `bucket` and set its lock from the new count. Counts older
/// than `forget_before` start again from zero. One transaction, so instances sharing the
/// database do not lose each other's counts.
pub fn add_failure(
    conn: &mut DbConnection,
    bucket: &str,
    now: i64,
    forget_before: i64,
    lock_for: impl Fn(i64) -> Option<i64>,
) -> Result<ThrottleRow, StoreError> {
    super::transaction(conn, |conn| {
        // The conditional update first: it takes the row's write lock before the read.
        diesel::update(
            login_throttle::table
                .find(bucket)
                .filter(login_throttle::updated_at.lt(forget_before)),
        )
        .set(login_throttle::failures.eq(0))
        .execute(conn)?;
        let bumped = diesel::update(login_throttle::table.find(bucket))
            .set((
                login_throttle::failures.eq(login_throttle::failures + 1),
                login_throttle::updated_at.eq(now),
            ))
            .execute(conn)?;
        if bumped == 0 {
            diesel::insert_into(login_throttle::table)
                .values(&ThrottleRow {
                    bucket: bucket.to_owned(),
                    failures: 1,
                    locked_until: None,
                    updated_at: now,
                })
                .execute(conn)
                .map_err(StoreError::from_write)?;
        }
        let failures: i64 = login_throttle::table
            .find(bucket)
            .select(login_throttle::failures)
            .first(conn)?;
        let locked_until = lock_for(failures).map(|secs| now + secs);
        diesel::update(login_throttle::table.find(bucket))
            .set(login_throttle::locked_until.eq(locked_until))
            .execute(conn)?;
        Ok(ThrottleRow {
            bucket: bucket.to_owned(),
            failures,
            locked_until,
            updated_at: now,
        })
    })
}

/// Forget these buckets (a successful sign-in).
pub fn clear(conn: &mut DbConnection, buckets: &[String]) -> Result<(), StoreError> {
    diesel::delete(login_throttle::table.filter(login_throttle::bucket.eq_any(buckets)))
        .execute(conn)?;
    Ok(())
}
