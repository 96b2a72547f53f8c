//! The `login_throttle` table: failed sign-ins and client authentications per bucket, with
//! the time a bucket is locked until, what it names (for the console) and when its pair
//! last authenticated (a known device).
use diesel::prelude::*;

use super::schema::login_throttle;
use super::{DbConnection, StoreError, on_engine};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = login_throttle)]
pub struct ThrottleRow {
    pub bucket: String,
    pub failures: i64,
    pub locked_until: Option<i64>,
    pub updated_at: i64,
    pub kind: String,
    pub subject: Option<String>,
    pub address: Option<String>,
    pub succeeded_at: Option<i64>,
}

/// What a bucket counts, for a row created by its first failure or success.
#[derive(Clone, Copy, Debug)]
pub struct BucketName<'a> {
    pub bucket: &'a str,
    pub kind: &'a str,
    pub subject: Option<&'a str>,
    pub address: Option<&'a str>,
}

impl BucketName<'_> {
    fn row(&self, now: i64, failures: i64, succeeded_at: Option<i64>) -> ThrottleRow {
        ThrottleRow {
            bucket: self.bucket.to_owned(),
            failures,
            locked_until: None,
            updated_at: now,
            kind: self.kind.to_owned(),
            subject: self.subject.map(str::to_owned),
            address: self.address.map(str::to_owned),
            succeeded_at,
        }
    }
}

/// The rows of these buckets (absent ones have no failures).
pub fn by_buckets(
    conn: &mut DbConnection,
    buckets: &[String],
) -> Result<Vec<ThrottleRow>, StoreError> {
    // One lookup per bucket rather than one `IN (...)`: diesel cannot keep a prepared
    // statement whose SQL depends on the list's length, so on SQLite the IN form was parsed
    // and planned again on every sign-in and client authentication.
    let mut rows = Vec::with_capacity(buckets.len());
    for bucket in buckets {
        if let Some(row) = on_engine!(&mut *conn, |c| login_throttle::table
            .find(bucket)
            .select(ThrottleRow::as_select())
            .get_result(c)
            .optional())?
        {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// Count one more failure in a bucket and set its lock from the new count. Counts older
/// than `forget_before` start again from zero. One transaction, so instances sharing the
/// database do not lose each other's counts.
pub fn add_failure(
    conn: &mut DbConnection,
    name: BucketName<'_>,
    now: i64,
    forget_before: i64,
    lock_for: impl Fn(i64) -> Option<i64>,
) -> Result<ThrottleRow, StoreError> {
    let bucket = name.bucket;
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
                .values(&name.row(now, 1, None))
                .execute(conn)
                .map_err(StoreError::from_write)?;
        }
        let locked_until = {
            let failures: i64 = login_throttle::table
                .find(bucket)
                .select(login_throttle::failures)
                .get_result(conn)?;
            lock_for(failures).map(|secs| now + secs)
        };
        diesel::update(login_throttle::table.find(bucket))
            .set(login_throttle::locked_until.eq(locked_until))
            .execute(conn)?;
        Ok(login_throttle::table
            .find(bucket)
            .select(ThrottleRow::as_select())
            .get_result(conn)?)
    })
}

/// A success from this bucket's pair: its count starts again and it is remembered as a
/// known device from `now`.
pub fn mark_known(
    conn: &mut DbConnection,
    name: BucketName<'_>,
    now: i64,
) -> Result<(), StoreError> {
    let set = || {
        (
            login_throttle::failures.eq(0),
            login_throttle::locked_until.eq(None::<i64>),
            login_throttle::updated_at.eq(now),
            login_throttle::succeeded_at.eq(Some(now)),
        )
    };
    let updated = diesel::update(login_throttle::table.find(name.bucket))
        .set(set())
        .execute(conn)?;
    if updated == 0 {
        // In its own (nested) transaction: on PostgreSQL a failed insert would otherwise
        // abort a caller's transaction.
        let inserted = super::transaction(conn, |conn| {
            diesel::insert_into(login_throttle::table)
                .values(&name.row(now, 0, Some(now)))
                .execute(conn)
                .map_err(StoreError::from_write)
        });
        match inserted {
            // Another instance wrote the row first: mark that one.
            Err(StoreError::Conflict) => {
                diesel::update(login_throttle::table.find(name.bucket))
                    .set(set())
                    .execute(conn)?;
            }
            other => {
                other?;
            }
        }
    }
    Ok(())
}

/// Every bucket locked at `now` that names an account, a client or an address, the
/// longest lock first.
pub fn locked(conn: &mut DbConnection, now: i64) -> Result<Vec<ThrottleRow>, StoreError> {
    Ok(login_throttle::table
        .filter(login_throttle::locked_until.gt(now))
        .filter(
            login_throttle::subject
                .is_not_null()
                .or(login_throttle::address.is_not_null()),
        )
        .order((
            login_throttle::locked_until.desc(),
            login_throttle::bucket.asc(),
        ))
        .select(ThrottleRow::as_select())
        .load(conn)?)
}

/// Forgive every failure of one account or client (`subject`, at any address), or of one
/// address's own bucket (`subject` None): the counts start again and the locks end. Known
/// devices stay known. Returns how many buckets were locked.
pub fn unlock(
    conn: &mut DbConnection,
    kind: &str,
    subject: Option<&str>,
    address: Option<&str>,
    now: i64,
) -> Result<usize, StoreError> {
    let of_kind = login_throttle::table.filter(login_throttle::kind.eq(kind));
    let buckets: Vec<(String, Option<i64>)> = match (subject, address) {
        (Some(subject), _) => of_kind
            .filter(login_throttle::subject.eq(subject))
            .select((login_throttle::bucket, login_throttle::locked_until))
            .load(conn)?,
        (None, Some(address)) => of_kind
            .filter(login_throttle::subject.is_null())
            .filter(login_throttle::address.eq(address))
            .select((login_throttle::bucket, login_throttle::locked_until))
            .load(conn)?,
        (None, None) => return Ok(0),
    };
    let was_locked = buckets
        .iter()
        .filter(|(_, until)| until.is_some_and(|u| u > now))
        .count();
    let keys: Vec<String> = buckets.into_iter().map(|(b, _)| b).collect();
    diesel::update(login_throttle::table.filter(login_throttle::bucket.eq_any(&keys)))
        .set((
            login_throttle::failures.eq(0),
            login_throttle::locked_until.eq(None::<i64>),
        ))
        .execute(conn)?;
    Ok(was_locked)
}
