//! Storage: the only module that speaks diesel. One connection type covers SQLite and
//! PostgreSQL; every call runs on the blocking thread pool, never on an actix worker.
use std::time::{Duration, Instant};

use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::r2d2::{CustomizeConnection, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::DatabaseUrl;

pub mod admin;
pub mod audit;
pub mod client_assertions;
pub mod clients;
pub mod codes;
pub mod consents;
pub mod device_codes;
pub mod django;
pub mod dpop;
pub mod grants;
pub mod maintenance;
pub mod passkeys;
pub mod password_resets;
pub mod pending_logins;
pub mod pool;
pub mod pushed_requests;
pub mod refresh_tokens;
pub mod registration;
pub mod reset_mail;
pub mod resources;
pub mod schema;
pub mod second_factors;
pub mod server_settings;
pub mod sessions;
pub mod signing_keys;
pub mod throttle;
pub mod usage;
pub mod users;
pub mod write_gate;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to whichever engine the database URL selected.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(diesel::SqliteConnection),
    Postgres(diesel::PgConnection),
}

/// Run `$body` with `$c` bound to the engine's own connection, for the lookups and writes
/// on every request's path. Through [`DbConnection`], diesel builds a query's SQL text at
/// every execution to find its prepared statement (about a third of the instructions a
/// client_credentials grant spent outside RSA); the engine's connection finds it by the
/// query's type. The query is written once and compiled for each engine.
macro_rules! on_engine {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::store::DbConnection::Sqlite($c) => $body,
            $crate::store::DbConnection::Postgres($c) => $body,
        }
    };
}
pub(crate) use on_engine;

pub type DbPool = Pool<pool::Manager>;
pub type PooledConn = PooledConnection<pool::Manager>;

/// What can go wrong in storage. Callers match on the first two; the rest are faults.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists")]
    Conflict,
    #[error("not found")]
    NotFound,
    #[error("database error: {0}")]
    Database(diesel::result::Error),
    /// The database cannot be reached (no connection within the pool's timeout, or the
    /// connection broke mid-query): the request may succeed if tried again.
    #[error("database unavailable: {0}")]
    Pool(String),
    /// A stored value no longer parses (a row edited by hand).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("storage task failed: {0}")]
    Blocking(String),
    #[error("storage metrics: {0}")]
    Metrics(String),
}

impl From<diesel::result::Error> for StoreError {
    /// A connection that broke under a query (the server went away, the network was cut)
    /// is an outage, not a fault of ours: it reads as `Pool`, which every caller turns into
    /// "temporarily unavailable", and the pool drops the broken connection.
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match err {
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => {
                pool::connection_lost();
                Self::Pool(info.message().trim().replace('\n', " "))
            }
            other => Self::Database(other),
        }
    }
}

impl StoreError {
    /// Map diesel's unique-violation to `Conflict` so callers can say "already exists".
    pub fn from_write(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match err {
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => Self::Conflict,
            Error::NotFound => Self::NotFound,
            other => Self::from(other),
        }
    }
}

/// Run `f` in one database transaction: all of a change (and its audit entry) or none. `f`
/// may fail with its own error type (an admin refusal half-way), which rolls back too; a
/// failure of the transaction itself reaches the caller as a `StoreError`.
pub fn transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    E: From<StoreError>,
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
{
    use diesel::Connection;

    // diesel needs an error it can build from its own; this carries the caller's through.
    enum Failed<E> {
        Caller(E),
        Database(diesel::result::Error),
    }
    impl<E> From<diesel::result::Error> for Failed<E> {
        fn from(e: diesel::result::Error) -> Self {
            Failed::Database(e)
        }
    }
    // SQLite: take the write lock at BEGIN. A deferred transaction that reads first and
    // writes later cannot wait for another writer (its snapshot would be stale), so SQLite
    // fails it at once with "database is locked" whatever the busy timeout; BEGIN IMMEDIATE
    // queues behind the busy timeout instead. Inside an outer transaction this is a
    // savepoint, which the outer transaction's lock already covers.
    if let DbConnection::Sqlite(c) = conn {
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        let outermost = AnsiTransactionManager::transaction_manager_status_mut(c)
            .transaction_depth()
            .map_err(StoreError::Database)?
            .is_none();
        // Held until the COMMIT or ROLLBACK below: this process's writers queue here,
        // not in SQLite's sleeping busy handler (see `write_gate`).
        let _turn = if outermost {
            Some(write_gate::enter()?)
        } else {
            None
        };
        match AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE") {
            Ok(()) => {
                return match f(conn) {
                    Ok(value) => match DbConnection::commit_transaction(conn) {
                        Ok(()) => Ok(value),
                        Err(e) => {
                            // A failed COMMIT leaves the transaction open: end it.
                            let _ = DbConnection::rollback_transaction(conn);
                            Err(E::from(StoreError::from_write(e)))
                        }
                    },
                    Err(e) => {
                        let _ = DbConnection::rollback_transaction(conn);
                        Err(e)
                    }
                };
            }
            Err(diesel::result::Error::AlreadyInTransaction) => {}
            Err(e) => return Err(E::from(StoreError::from_write(e))),
        }
    }
    conn.transaction(|conn| f(conn).map_err(Failed::Caller))
        .map_err(|e| match e {
            Failed::Caller(e) => e,
            Failed::Database(e) => E::from(StoreError::from_write(e)),
        })
}

/// SQLite needs per-connection settings: WAL so readers never wait for the writer, a busy
/// timeout so concurrent writers queue instead of failing, and enforced foreign keys.
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<pool::Tracked, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut pool::Tracked) -> Result<(), diesel::r2d2::Error> {
        if let DbConnection::Sqlite(c) = &mut **conn {
            // The busy timeout first: switching a new file to WAL takes a lock that the
            // pool's other connections, opening at the same moment, would otherwise be
            // refused at once ("database is locked") instead of waiting for.
            c.batch_execute(&format!(
                "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                write_gate::BUSY_TIMEOUT.as_millis()
            ))
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// How long the CLI waits for its database connection.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// libpq's `connect_timeout` (whole seconds, at least 2: libpq's own floor) unless the URL
/// sets one. Without it, connecting to a host that drops packets waits for the kernel's TCP
/// timeout, minutes long.
fn with_connect_timeout(url: &str, timeout: Duration) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_owned();
    };
    if parsed.query_pairs().any(|(k, _)| k == "connect_timeout") {
        return url.to_owned();
    }
    let secs = timeout.as_secs_f64().ceil().max(2.0) as u64;
    parsed
        .query_pairs_mut()
        .append_pair("connect_timeout", &secs.to_string());
    parsed.to_string()
}

/// The pool's connections right now, for the metrics.
#[derive(Clone, Copy, Debug)]
pub struct PoolState {
    pub connections: u32,
    pub idle: u32,
    pub max: u32,
}

/// The shared handle to the database: cheap to clone, safe to use from any task.
#[derive(Clone)]
pub struct Store {
    pool: DbPool,
    backend: &'static str,
    usage: usage::Usage,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Store {
    /// Open a pool of `size` connections for a short-lived process (the CLI). Fails fast
    /// if the database cannot be reached.
    ///
    /// Such a pool opens connections only when asked for one: a pool that keeps one idle
    /// replaces a checked-out connection in a background thread, and a process that exits
    /// while that thread is inside libpq (and OpenSSL, which tears itself down at exit)
    /// can crash with SIGSEGV after its work is done.
    pub fn connect(url: &DatabaseUrl, size: u32) -> Result<Self, StoreError> {
        Self::open(url, size, DEFAULT_TIMEOUT, 0)
    }

    /// [`Store::connect`], waiting at most `timeout` for a connection (pool checkout, and
    /// PostgreSQL's connect): during an outage requests fail fast with `Pool` instead of
    /// hanging, and the pool reconnects by itself once the database is back.
    pub fn connect_with(
        url: &DatabaseUrl,
        size: u32,
        timeout: Duration,
    ) -> Result<Self, StoreError> {
        Self::open(url, size, timeout, 1)
    }

    fn open(
        url: &DatabaseUrl,
        size: u32,
        timeout: Duration,
        min_idle: u32,
    ) -> Result<Self, StoreError> {
        let (conn_url, backend) = match url {
            DatabaseUrl::Sqlite(path) => (path.clone(), "sqlite"),
            DatabaseUrl::Postgres(url) => (with_connect_timeout(url, timeout), "postgres"),
        };
        // One direct connection first: r2d2 would retry for its whole timeout and diesel's
        // MultiConnection reports every failure as "invalid connection url", hiding what
        // went wrong (no such database, connection refused, bad password).
        let preflight = match url {
            DatabaseUrl::Sqlite(path) => diesel::SqliteConnection::establish(path).map(drop),
            DatabaseUrl::Postgres(_) => diesel::PgConnection::establish(&conn_url).map(drop),
        };
        preflight.map_err(|e| StoreError::Pool(e.to_string().trim().replace('\n', " ")))?;
        let manager = pool::Manager::new(conn_url);
        let pool = Pool::builder()
            .max_size(size)
            .min_idle(Some(min_idle))
            .connection_timeout(timeout)
            .connection_customizer(Box::new(SqlitePragmas))
            .build(manager)
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let usage = usage::Usage::new().map_err(|e| StoreError::Metrics(e.to_string()))?;
        Ok(Self {
            pool,
            backend,
            usage,
        })
    }

    pub fn backend(&self) -> &'static str {
        self.backend
    }

    pub fn pool_state(&self) -> PoolState {
        let state = self.pool.state();
        PoolState {
            connections: state.connections,
            idle: state.idle_connections,
            max: self.pool.max_size(),
        }
    }

    /// What this store's pool and blocking tasks are doing, for the metrics.
    pub fn usage(&self) -> &usage::Usage {
        &self.usage
    }

    /// A connection for synchronous callers (the CLI, startup). Never call on an async worker.
    /// Every checkout goes through here, so it is the one place that times them.
    pub fn conn(&self) -> Result<PooledConn, StoreError> {
        let started = Instant::now();
        // An idle connection is taken at once; without one, `get` waits for a connection to
        // come back or be opened, and that wait is what a too-small pool looks like.
        let conn = match self.pool.try_get() {
            Some(conn) => Ok(conn),
            None => {
                self.usage.waits.inc();
                self.pool.get()
            }
        };
        self.usage.checkout.observe(started.elapsed().as_secs_f64());
        conn.map_err(|e| StoreError::Pool(e.to_string()))
    }

    /// Run `f` with a connection on the blocking pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, StoreError> + Send + 'static,
    {
        self.blocking(move |mut conn| f(&mut conn)).await
    }

    /// Run `f` on the blocking pool with a connection it owns for the whole call (the
    /// OAuth flows share one connection between their steps).
    pub async fn with_conn<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(PooledConn) -> T + Send + 'static,
    {
        self.blocking(move |conn| Ok(f(conn))).await
    }

    /// The one way storage work reaches the blocking pool, so the blocking-task gauge sees
    /// every task from submission to its end.
    async fn blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(PooledConn) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        let mut task = self.usage.submit();
        actix_web::rt::task::spawn_blocking(move || {
            task.start();
            f(store.conn()?)
        })
        .await
        .map_err(|e| StoreError::Blocking(e.to_string()))?
    }

    /// Apply pending migrations; returns the versions applied.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn()?;
        migrate(&mut conn)
    }

    /// A trivial query, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.run(|conn| {
            conn.batch_execute("SELECT 1")?;
            Ok(())
        })
        .await
    }
}

fn migrate(conn: &mut DbConnection) -> Result<Vec<String>, StoreError> {
    let fail = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Migration(e.to_string());
    let applied = match conn {
        DbConnection::Sqlite(c) => c
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map_err(fail)?
            .iter()
            .map(ToString::to_string)
            .collect(),
        DbConnection::Postgres(c) => {
            // Several instances may start at once against one database: serialise their
            // migrations on an advisory lock so each sees a finished schema.
            c.batch_execute("SELECT pg_advisory_lock(7403726)")?;
            let result = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.iter().map(ToString::to_string).collect::<Vec<_>>())
                .map_err(fail);
            c.batch_execute("SELECT pg_advisory_unlock(7403726)")?;
            result?
        }
    };
    Ok(applied)
}
