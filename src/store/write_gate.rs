//! SQLite lets one connection write at a time. Left to itself, a connection that finds the
//! write lock taken polls for it in SQLite's busy handler, sleeping 1, 2, 5, 10 … 100 ms
//! between tries: under concurrent writes (refresh tokens rotating) a waiter sleeps far
//! longer than the 50 µs the holder needs, and every sleep and retry costs system calls.
//! The server's own write transactions queue on this gate instead: the holder's release
//! wakes the next one at once. Other processes (the CLI) and single-statement writes still
//! meet the busy handler, so the database's own locking stays the rule; the gate only
//! orders this process's transactions before they reach it.
//!
//! One gate per process: a server opens one database. Two stores in one process (tests)
//! share it, which serialises their write transactions but cannot deadlock: a transaction
//! never waits for another one inside it (a nested transaction is a savepoint and does not
//! come here).
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard, const_mutex};

use super::StoreError;

/// How long a write waits for the lock: SQLite's busy timeout, and the wait at the gate.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

static GATE: Mutex<()> = const_mutex(());

/// Wait for this process's turn to write; the turn lasts until the guard drops, after
/// the transaction's COMMIT or ROLLBACK.
pub fn enter() -> Result<MutexGuard<'static, ()>, StoreError> {
    enter_within(BUSY_TIMEOUT)
}

/// [`enter`], giving up after `patience`: a transaction stuck that long is a fault, and
/// the request gets "temporarily unavailable" rather than a wait with no end.
fn enter_within(patience: Duration) -> Result<MutexGuard<'static, ()>, StoreError> {
    GATE.try_lock_for(patience).ok_or_else(|| {
        StoreError::Pool(format!(
            "no turn to write within {} ms: the database is busy",
            patience.as_millis()
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::thread;

    use diesel::connection::SimpleConnection;

    use super::*;
    use crate::config::DatabaseUrl;
    use crate::store::{self, Store};

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gate.db").to_string_lossy().into_owned();
        let store = Store::connect(&DatabaseUrl::Sqlite(path), 8).unwrap();
        let mut conn = store.conn().unwrap();
        conn.batch_execute("CREATE TABLE t (n INTEGER NOT NULL)")
            .unwrap();
        (dir, store)
    }

    fn insert(store: &Store, n: i64) -> Result<(), StoreError> {
        let mut conn = store.conn()?;
        store::transaction(&mut conn, |conn| {
            conn.batch_execute(&format!("INSERT INTO t VALUES ({n})"))?;
            Ok::<_, StoreError>(())
        })
    }

    #[test]
    fn a_write_transaction_waits_for_its_turn_then_runs() {
        let (_dir, store) = store();
        let turn = enter().unwrap();
        let (ran, began) = mpsc::channel();
        let writer = thread::spawn(move || {
            let mut conn = store.conn().unwrap();
            store::transaction(&mut conn, |conn| {
                ran.send(()).unwrap();
                conn.batch_execute("INSERT INTO t VALUES (1)")?;
                Ok::<_, StoreError>(())
            })
        });
        assert!(
            began.recv_timeout(Duration::from_millis(300)).is_err(),
            "a write transaction began while another held the turn"
        );
        drop(turn);
        began
            .recv_timeout(Duration::from_secs(5))
            .expect("the transaction ran once the turn was free");
        writer.join().unwrap().unwrap();
    }

    #[test]
    fn a_transaction_inside_a_transaction_does_not_wait_for_itself() {
        let (_dir, store) = store();
        let (done, finished) = mpsc::channel();
        thread::spawn(move || {
            let mut conn = store.conn().unwrap();
            let nested = store::transaction(&mut conn, |conn| {
                store::transaction(conn, |conn| {
                    conn.batch_execute("INSERT INTO t VALUES (2)")?;
                    Ok::<_, StoreError>(())
                })
            });
            done.send(nested.is_ok()).unwrap();
        });
        let ok = finished
            .recv_timeout(Duration::from_secs(5))
            .expect("the nested transaction finished");
        assert!(ok);
    }

    #[test]
    fn concurrent_writers_all_commit_and_none_is_refused() {
        let (_dir, store) = store();
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let store = store.clone();
                thread::spawn(move || (0..25).map(|i| insert(&store, w * 100 + i)).collect())
            })
            .collect();
        for writer in writers {
            let results: Result<Vec<()>, StoreError> = writer.join().unwrap();
            results.unwrap();
        }
        let mut conn = store.conn().unwrap();
        let store::DbConnection::Sqlite(c) = &mut **conn else {
            unreachable!("a SQLite store")
        };
        use diesel::RunQueryDsl;
        let count: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM t)",
        ))
        .get_result(c)
        .unwrap();
        assert_eq!(count, 200);
    }

    #[test]
    fn a_turn_not_given_in_time_is_a_busy_database_not_a_wait_without_end() {
        let holder = thread::spawn(|| {
            let _turn = enter().unwrap();
            thread::sleep(Duration::from_millis(400));
        });
        thread::sleep(Duration::from_millis(100));
        match enter_within(Duration::from_millis(50)) {
            Err(StoreError::Pool(why)) => assert!(why.contains("busy"), "{why}"),
            Err(other) => panic!("expected a busy database, got {other}"),
            Ok(_) => panic!("the turn was given while another held it"),
        }
        holder.join().unwrap();
    }
}
