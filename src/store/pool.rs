//! How the pool decides a connection is still good. r2d2's default asks the database
//! (`SELECT 1`) at every checkout: on PostgreSQL that is a network round trip before each
//! request's own queries, and on SQLite one more statement. Instead a connection is asked
//! only when it sat idle long enough for the server to have gone away meanwhile, and a
//! connection that broke while in use is dropped when it comes back.
use std::cell::Cell;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use diesel::r2d2::{ConnectionManager, ManageConnection, R2D2Connection};

use super::DbConnection;

/// A connection idle for longer than this is pinged before it is handed out. Under load
/// no connection idles this long, so no request pays for the ping; a quiet server pays it
/// once, on a connection the database may have closed (a restart, a failover).
const TRUSTED_IDLE: Duration = Duration::from_secs(2);

thread_local! {
    /// Set when a query on this thread found its connection gone. A checkout is used on
    /// one blocking thread from checkout to return, so the flag names that connection.
    static LOST: Cell<bool> = const { Cell::new(false) };
}

/// A query found the connection closed (or could not send to it): the pool must not
/// hand this connection out again.
pub fn connection_lost() {
    LOST.with(|lost| lost.set(true));
}

/// A pooled connection and when it last went back to the pool.
pub struct Tracked {
    conn: DbConnection,
    returned: Instant,
}

impl Deref for Tracked {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl DerefMut for Tracked {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// diesel's connection manager, with the checkout test above.
pub struct Manager {
    inner: ConnectionManager<DbConnection>,
}

impl Manager {
    pub fn new(url: String) -> Self {
        Self {
            inner: ConnectionManager::new(url),
        }
    }
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Manager")
    }
}

impl ManageConnection for Manager {
    type Connection = Tracked;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Tracked, Self::Error> {
        Ok(Tracked {
            conn: self.inner.connect()?,
            returned: Instant::now(),
        })
    }

    /// Called at every checkout (the pool is built with `test_on_check_out`).
    fn is_valid(&self, conn: &mut Tracked) -> Result<(), Self::Error> {
        LOST.with(|lost| lost.set(false));
        if conn.returned.elapsed() < TRUSTED_IDLE {
            return Ok(());
        }
        conn.conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    /// Called when a connection comes back: one whose query found it gone, or left inside
    /// a transaction, is closed instead of kept.
    fn has_broken(&self, conn: &mut Tracked) -> bool {
        conn.returned = Instant::now();
        LOST.with(|lost| lost.replace(false)) || self.inner.has_broken(&mut conn.conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite() -> (tempfile::TempDir, Manager) {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("pool.db").to_string_lossy().into_owned();
        (dir, Manager::new(url))
    }

    #[test]
    fn a_connection_whose_query_found_it_gone_is_not_kept() {
        let (_dir, manager) = sqlite();
        let mut conn = manager.connect().unwrap();
        manager.is_valid(&mut conn).unwrap();
        assert!(!manager.has_broken(&mut conn));
        manager.is_valid(&mut conn).unwrap();
        connection_lost();
        assert!(manager.has_broken(&mut conn));
        // The flag was this checkout's: the next one starts clean.
        manager.is_valid(&mut conn).unwrap();
        assert!(!manager.has_broken(&mut conn));
    }

    #[test]
    fn a_lost_flag_from_an_earlier_checkout_does_not_condemn_the_next() {
        let (_dir, manager) = sqlite();
        let mut conn = manager.connect().unwrap();
        connection_lost();
        manager.is_valid(&mut conn).unwrap();
        assert!(!manager.has_broken(&mut conn));
    }
}
