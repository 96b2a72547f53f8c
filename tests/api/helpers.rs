//! Test harness: each test gets its own server on a random loopback port, its own database
//! (a fresh SQLite file, or a fresh PostgreSQL database in TESSERA_TEST_POSTGRES_URL's
//! server) and its own keys folder. Whether the PostgreSQL runs happen is decided when the
//! tests are built (see build.rs): without the variable they are reported as ignored.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use diesel::{Connection, PgConnection, RunQueryDsl};
use tempfile::TempDir;
use tessera::clock::{Clock, ManualClock, SharedClock, SystemClock};
use tessera::config::Settings;
use tessera::signing::{KeyDir, Keys};
use tessera::startup::{self, Application};
use tessera::store::Store;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test.
pub enum TestDb {
    Sqlite {
        path: PathBuf,
    },
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
    /// Another test's database, used by a second server beside the first: the first's
    /// owner drops it.
    Shared {
        url: String,
    },
}

impl TestDb {
    /// A new empty database. PostgreSQL tests are built only when the URL is set (or under
    /// CI, which must test both backends and so fails here when it forgot the URL).
    pub fn create(backend: Backend, dir: &Path) -> TestDb {
        match backend {
            Backend::Sqlite => TestDb::Sqlite {
                path: dir.join("tessera.db"),
            },
            Backend::Postgres => {
                let admin_url = std::env::var("TESSERA_TEST_POSTGRES_URL").expect(
                    "TESSERA_TEST_POSTGRES_URL must be set: CI must test PostgreSQL, and tests \
                     built with it set run only with it set",
                );
                let name = format!("tessera_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::establish(&admin_url)
                    .expect("connect to TESSERA_TEST_POSTGRES_URL");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create test database");
                let mut url = url::Url::parse(&admin_url).expect("postgres url");
                url.set_path(&name);
                TestDb::Postgres {
                    admin_url,
                    name,
                    url: url.to_string(),
                }
            }
        }
    }

    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite { path } => format!("sqlite://{}", path.display()),
            TestDb::Postgres { url, .. } | TestDb::Shared { url } => url.clone(),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres {
            admin_url, name, ..
        } = self
            && let Ok(mut conn) = PgConnection::establish(admin_url)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn);
        }
    }
}

/// One RSA key generated per test process and copied into each test's keys folder:
/// generating a key per test would dominate the run time.
pub fn seed_keys(into: &Path) {
    static SEED: OnceLock<(TempDir, PathBuf)> = OnceLock::new();
    let (_dir, file) = SEED.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let info = KeyDir::new(dir.path())
            .generate(SystemClock.now())
            .expect("generate seed key");
        (dir, info.path.expect("a folder key has a file"))
    });
    std::fs::create_dir_all(into).expect("keys dir");
    let target = into.join(file.file_name().expect("key file name"));
    std::fs::copy(file, &target).expect("copy seed key");
}

/// The environment a test server (or CLI run) is configured by.
pub fn test_env(db: &TestDb, keys_dir: &Path) -> HashMap<String, String> {
    HashMap::from([
        ("TESSERA_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ("TESSERA_DATABASE_URL".to_owned(), db.url()),
        (
            "TESSERA_KEYS_DIR".to_owned(),
            keys_dir.display().to_string(),
        ),
        ("TESSERA_WORKERS".to_owned(), "1".to_owned()),
        ("TESSERA_DATABASE_POOL_SIZE".to_owned(), "4".to_owned()),
        ("TESSERA_KEYS_RELOAD_INTERVAL".to_owned(), "0.05".to_owned()),
        // New keys sign at once unless a test is about the activation delay.
        ("TESSERA_KEY_ACTIVATION_DELAY".to_owned(), "0".to_owned()),
    ])
}

pub struct TestApp {
    pub base: String,
    pub dir: TempDir,
    pub keys_dir: PathBuf,
    pub env: HashMap<String, String>,
    pub settings: Settings,
    pub store: Store,
    pub keys: Arc<Keys>,
    /// The clock the server reads.
    pub clock: SharedClock,
    /// The same clock when the test moves it (see `spawn_with_clock`).
    manual: Option<Arc<ManualClock>>,
    pub http: reqwest::Client,
    // Dropped last: the server's connections must close before the database is dropped.
    _db: TestDb,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// GET `path` and parse the JSON body (asserting 200).
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let res = self.http.get(self.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "GET {path}");
        res.json().await.unwrap()
    }

    /// Move the server's clock forward: expiry without sleeping.
    pub fn advance(&self, seconds: i64) {
        self.manual
            .as_ref()
            .expect("advance needs a server started on a manual clock (spawn_with_clock)")
            .advance(seconds);
    }

    /// Run the `tessera` binary against this app's database and keys folder.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> CliOutput {
        run_cli(&self.env, args, stdin, self.dir.path())
    }
}

/// Start a server with default settings on `backend`.
pub async fn spawn(backend: Backend) -> TestApp {
    spawn_with(backend, &[]).await
}

/// Start a server with extra `TESSERA_*` settings.
pub async fn spawn_with(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    start(backend, extra, Arc::new(SystemClock), None, None).await
}

/// Start a server that reaches its fresh database through `route`, which is given the
/// database's URL and returns the one the server uses (e.g. through a proxy the test cuts).
pub async fn spawn_routed(
    backend: Backend,
    extra: &[(&str, &str)],
    route: &dyn Fn(&str) -> String,
) -> TestApp {
    start_routed(
        backend,
        extra,
        Arc::new(SystemClock),
        None,
        None,
        Some(route),
        false,
    )
    .await
}

/// Something done to a test's database before the server first starts on it (a CLI run,
/// given the server's environment and folder): e.g. an import into a database with no users.
pub type Before<'a> = &'a dyn Fn(&HashMap<String, String>, &Path);

/// Start a server after `before` ran against its fresh database.
pub async fn spawn_after(backend: Backend, extra: &[(&str, &str)], before: Before<'_>) -> TestApp {
    start(backend, extra, Arc::new(SystemClock), None, Some(before)).await
}

/// Start a server whose time stands still until the test calls `TestApp::advance`.
pub async fn spawn_with_clock(
    backend: Backend,
    extra: &[(&str, &str)],
    clock: Arc<ManualClock>,
) -> TestApp {
    start(backend, extra, clock.clone(), Some(clock), None).await
}

/// A server on a manual clock set to the wall clock's time: the seed key and the rows that
/// helpers write directly (users, clients) carry wall-clock times, and must not be in the
/// server's future or distant past.
pub async fn spawn_on_manual_clock(backend: Backend) -> TestApp {
    spawn_with_clock(backend, &[], ManualClock::at(SystemClock.unix())).await
}

/// A server whose issuer names it `localhost` (on the port it bound): WebAuthn needs a
/// domain name, and an IP address cannot be a passkey's relying party. `base` stays the
/// loopback address (the server does not read the Host header); browsers go to the issuer.
pub async fn spawn_on_localhost(backend: Backend) -> TestApp {
    let clock = Arc::new(SystemClock);
    start_routed(backend, &[], clock, None, None, None, true).await
}

/// [`spawn_on_localhost`] on a manual clock set to the wall clock's time.
pub async fn spawn_on_localhost_manual_clock(backend: Backend) -> TestApp {
    let clock = ManualClock::at(SystemClock.unix());
    start_routed(backend, &[], clock.clone(), Some(clock), None, None, true).await
}

async fn start(
    backend: Backend,
    extra: &[(&str, &str)],
    clock: SharedClock,
    manual: Option<Arc<ManualClock>>,
    before: Option<Before<'_>>,
) -> TestApp {
    start_routed(backend, extra, clock, manual, before, None, false).await
}

async fn start_routed(
    backend: Backend,
    extra: &[(&str, &str)],
    clock: SharedClock,
    manual: Option<Arc<ManualClock>>,
    before: Option<Before<'_>>,
    route: Option<&dyn Fn(&str) -> String>,
    localhost: bool,
) -> TestApp {
    tessera::resource::install_crypto_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = TestDb::create(backend, dir.path());
    let keys_dir = dir.path().join("keys");
    seed_keys(&keys_dir);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let mut env = test_env(&db, &keys_dir);
    env.insert("TESSERA_LISTEN".to_owned(), addr.to_string());
    let host = if localhost {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    };
    env.insert("TESSERA_ISSUER".to_owned(), format!("http://{host}"));
    if let Some(route) = route {
        env.insert("TESSERA_DATABASE_URL".to_owned(), route(&db.url()));
    }
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    let settings = Settings::load_from(None, &env).expect("test settings");
    if let Some(before) = before {
        before(&env, dir.path());
    }
    launch(dir, db, keys_dir, env, settings, listener, clock, manual).await
}

/// A second server on `first`'s database, as another instance behind the same load
/// balancer: same issuer, its own port and its own (empty) keys folder. `extra` settings
/// override the first's; an empty value removes one (its default applies).
pub async fn spawn_beside(first: &TestApp, extra: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys_dir = dir.path().join("keys");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let mut env = first.env.clone();
    env.insert("TESSERA_LISTEN".to_owned(), addr.to_string());
    env.insert(
        "TESSERA_KEYS_DIR".to_owned(),
        keys_dir.display().to_string(),
    );
    for (k, v) in extra {
        if v.is_empty() {
            env.remove(*k);
        } else {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
    }
    let settings = Settings::load_from(None, &env).expect("test settings");
    let db = TestDb::Shared {
        url: settings_url(&first.env),
    };
    launch(
        dir,
        db,
        keys_dir,
        env,
        settings,
        listener,
        Arc::new(SystemClock),
        None,
    )
    .await
}

fn settings_url(env: &HashMap<String, String>) -> String {
    env.get("TESSERA_DATABASE_URL")
        .cloned()
        .expect("a test server has a database URL")
}

#[allow(clippy::too_many_arguments)]
async fn launch(
    dir: TempDir,
    db: TestDb,
    keys_dir: PathBuf,
    env: HashMap<String, String>,
    settings: Settings,
    listener: std::net::TcpListener,
    clock: SharedClock,
    manual: Option<Arc<ManualClock>>,
) -> TestApp {
    let prepared = {
        let settings = settings.clone();
        let clock = clock.clone();
        actix_web::rt::task::spawn_blocking(move || startup::prepare(&settings, &clock, None))
            .await
            .expect("prepare task")
            .expect("prepare")
    };
    let store = prepared.store.clone();
    let keys = prepared.keys.clone();
    let app =
        Application::start_on(listener, settings.clone(), prepared, clock.clone()).expect("start");
    let base = format!("http://{}", app.addr());
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        base,
        dir,
        keys_dir,
        env,
        settings,
        store,
        keys,
        clock,
        manual,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client"),
        _db: db,
    }
}

/// A second server on this app's database, keys folder and clock, as another instance
/// behind the same load balancer would be; returns its base URL. It serves until the test
/// ends.
pub async fn spawn_sibling(app: &TestApp) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let prepared = {
        let (settings, clock) = (app.settings.clone(), app.clock.clone());
        actix_web::rt::task::spawn_blocking(move || startup::prepare(&settings, &clock, None))
            .await
            .expect("prepare task")
            .expect("prepare")
    };
    let sibling =
        Application::start_on(listener, app.settings.clone(), prepared, app.clock.clone())
            .expect("start");
    let base = format!("http://{}", sibling.addr());
    actix_web::rt::spawn(sibling.run_until_stopped());
    base
}

pub struct CliOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run the real binary with exactly `env` (plus PATH), in `cwd`.
pub fn run_cli(
    env: &HashMap<String, String>,
    args: &[&str],
    stdin: Option<&str>,
    cwd: &Path,
) -> CliOutput {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.args(args)
        .env_clear()
        .envs(env)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn tessera");
    {
        let mut pipe = child.stdin.take().expect("stdin");
        // A command that refuses its arguments exits before reading stdin: a broken pipe
        // then is its answer, not a test failure.
        if let Some(input) = stdin
            && let Err(e) = pipe.write_all(input.as_bytes())
        {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
        }
    }
    let out = child.wait_with_output().expect("wait tessera");
    CliOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Define a test that runs once on SQLite and once on PostgreSQL. The PostgreSQL run is
/// reported as ignored when the tests were built without TESSERA_TEST_POSTGRES_URL.
/// `on_both_backends!(name, manual_clock, body)` starts the servers on a manual clock.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, manual_clock, $body:expr) => {
        $crate::on_both_backends!(@spawn $name, $crate::helpers::spawn_on_manual_clock, $body);
    };
    ($name:ident, $body:expr) => {
        $crate::on_both_backends!(@spawn $name, $crate::helpers::spawn, $body);
    };
    (@spawn $name:ident, $spawn:path, $body:expr) => {
        mod $name {
            use super::*;

            #[actix_web::test]
            async fn sqlite() {
                ($body)($spawn($crate::helpers::Backend::Sqlite).await).await;
            }

            #[actix_web::test]
            #[cfg_attr(
                not(tessera_test_postgres),
                ignore = "TESSERA_TEST_POSTGRES_URL not set: PostgreSQL not tested"
            )]
            async fn postgres() {
                ($body)($spawn($crate::helpers::Backend::Postgres).await).await;
            }
        }
    };
}
