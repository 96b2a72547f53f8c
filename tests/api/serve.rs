//! The real binary as a new user runs it: first start in an empty folder, then shutdown.
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

pub(crate) struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Server {
    pub(crate) fn start(dir: &std::path::Path, env: &[(&str, &str)]) -> Server {
        let vars: HashMap<&str, &str> = env.iter().copied().collect();
        let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TESSERA_LISTEN", "127.0.0.1:0")
            .env("TESSERA_WORKERS", "1")
            .envs(vars)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        for stream in [
            Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stdout.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        Server {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Wait for the "listening on" line and return the base URL it names.
    pub(crate) fn wait_listening(&mut self) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no 'listening on' line; saw {:#?}", self.seen));
            self.seen.push(line.clone());
            if let Some(rest) = line.split("tessera listening on ").nth(1) {
                return rest.split_whitespace().next().unwrap().to_owned();
            }
        }
    }

    pub(crate) fn terminate(&self) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
    }

    pub(crate) fn stop(mut self) -> (i32, Vec<String>) {
        self.terminate();
        let status = self.child.wait().unwrap();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
        (status.code().unwrap_or(-1), std::mem::take(&mut self.seen))
    }
}

impl Server {
    /// SIGKILL: no shutdown, no flush, no rollback but the database's own.
    pub(crate) fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// A test that fails before `stop` leaves no server running.
impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The `admin` user in the default SQLite database of `dir`.
fn admin_row(dir: &std::path::Path) -> tessera::store::users::UserRow {
    let url = tessera::config::DatabaseUrl::Sqlite(dir.join("tessera.db").display().to_string());
    let store = tessera::store::Store::connect(&url, 1).unwrap();
    let mut conn = store.conn().unwrap();
    tessera::store::users::by_username(&mut conn, "admin")
        .unwrap()
        .unwrap()
}

#[actix_web::test]
async fn first_start_creates_database_key_and_admin() {
    let dir = tempfile::tempdir().unwrap();
    // As a git checkout brings it: the folder exists, world-readable, with its README.
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    std::fs::set_permissions(
        dir.path().join("keys"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let base = server.wait_listening();
    tessera::resource::install_crypto_provider();
    let http = reqwest::Client::new();

    let health: Value = http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let head = http.head(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(head.status(), 200, "load balancers probe with HEAD");
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["database"], "sqlite");

    // The default database and keys folder, in the working directory: the key is in the
    // database, sealed under the key-encryption key generated into the folder.
    assert!(dir.path().join("tessera.db").exists());
    let dir_mode = std::fs::metadata(dir.path().join("keys"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700, "the keys folder is private");
    let kek = dir.path().join("keys").join("kek");
    let mode = std::fs::metadata(&kek).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the key-encryption key must be 0600");
    let kek_text = std::fs::read_to_string(&kek).unwrap();
    let stored = signing_key_rows(dir.path());
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].private_key.contains("PRIVATE KEY"), "sealed");
    assert_eq!(ready["active_kid"], stored[0].kid.as_str());

    let (code, lines) = server.stop();
    assert_eq!(code, 0, "graceful shutdown exits 0: {lines:#?}");
    let password_line = lines
        .iter()
        .find(|l| l.trim_start().starts_with("password: "))
        .unwrap_or_else(|| panic!("admin password not printed: {lines:#?}"));
    let password = password_line.trim().strip_prefix("password: ").unwrap();
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("tessera listening on"))
            .count(),
        1,
        "one line says where it listens"
    );

    // The printed password is the admin's.
    let admin = admin_row(dir.path());
    assert!(admin.is_admin);
    assert!(tessera::secrets::verify_secret(
        &tessera::secrets::SecretString::new(password),
        &admin.password_hash
    ));

    // A second start reuses the key and prints no password.
    let mut server = Server::start(dir.path(), &[]);
    server.wait_listening();
    let (code, lines) = server.stop();
    assert_eq!(code, 0);
    assert!(
        !lines.iter().any(|l| l.contains("password: ")),
        "{lines:#?}"
    );
    let again = signing_key_rows(dir.path());
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].kid, stored[0].kid);
    assert_eq!(std::fs::read_to_string(&kek).unwrap(), kek_text);
}

fn signing_key_rows(dir: &std::path::Path) -> Vec<tessera::store::signing_keys::SigningKeyRow> {
    let url = tessera::config::DatabaseUrl::Sqlite(dir.join("tessera.db").display().to_string());
    let store = tessera::store::Store::connect(&url, 1).unwrap();
    let mut conn = store.conn().unwrap();
    tessera::store::signing_keys::all(&mut conn).unwrap()
}

#[actix_web::test]
async fn admin_password_can_be_supplied() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(
        dir.path(),
        &[
            ("TESSERA_ADMIN_PASSWORD", "chosen-by-operator"),
            ("TESSERA_LOG_FORMAT", "json"),
        ],
    );
    server.wait_listening();
    let (code, lines) = server.stop();
    assert_eq!(code, 0);
    assert!(!lines.iter().any(|l| l.contains("chosen-by-operator")));
    // The message names where to sign in, and that a new password comes first.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("sign in at http://")
                && l.contains("/admin/ and choose a new password")),
        "{lines:?}"
    );
    // JSON logs: every log line parses.
    let json_lines: Vec<_> = lines.iter().filter(|l| l.starts_with('{')).collect();
    assert!(!json_lines.is_empty());
    for l in json_lines {
        let v: Value = serde_json::from_str(l).unwrap();
        assert!(v["level"].is_string(), "{l}");
    }
    let admin = admin_row(dir.path());
    assert!(tessera::secrets::verify_secret(
        &tessera::secrets::SecretString::new("chosen-by-operator"),
        &admin.password_hash
    ));
}

#[actix_web::test]
async fn sigterm_turns_readiness_off_while_requests_are_still_served() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[("TESSERA_SHUTDOWN_DRAIN", "3")]);
    let base = server.wait_listening();
    let http = reqwest::Client::new();
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    server.terminate();
    let mut not_ready = false;
    for _ in 0..100 {
        let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
        if ready.status() == 503 {
            not_ready = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(not_ready, "readiness turns off on SIGTERM");
    // Still serving during the drain: the load balancer moves traffic away meanwhile.
    let jwks = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), 200);
    let (code, _) = server.stop();
    assert_eq!(code, 0, "then it stops gracefully");
}

#[actix_web::test]
async fn json_logs_stay_json_and_requests_are_fields() {
    // reqwest's default client needs the TLS crypto provider, even for plain HTTP; run
    // alone, no other test has installed it.
    tessera::resource::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[("TESSERA_LOG_FORMAT", "json")]);
    let base = server.wait_listening();
    let res = reqwest::get(format!("{base}/healthz?token=secret-in-query"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let (code, lines) = server.stop();
    assert_eq!(code, 0);
    // Every line is one JSON object, the one-time admin password included.
    let events: Vec<Value> = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let bootstrap = events
        .iter()
        .find(|e| e["password"].is_string())
        .expect("the first admin's password is one event");
    assert_eq!(bootstrap["username"], "admin");
    assert!(bootstrap["sign_in"].as_str().unwrap().ends_with("/admin/"));
    let admin = admin_row(dir.path());
    assert!(tessera::secrets::verify_secret(
        &tessera::secrets::SecretString::new(bootstrap["password"].as_str().unwrap()),
        &admin.password_hash
    ));
    let request = events
        .iter()
        .find(|e| e["request_id"] == request_id.as_str())
        .expect("a request event with the id the response carried");
    assert_eq!(request["method"], "GET");
    assert_eq!(request["route"], "/healthz");
    assert_eq!(request["status"], 200);
    assert!(request["latency_ms"].is_number());
    assert_eq!(request["client_ip"], "127.0.0.1");
    assert!(
        !lines.iter().any(|l| l.contains("secret-in-query")),
        "query strings never reach the log"
    );
    assert!(
        !lines.iter().any(|l| l.contains(".cargo/registry")),
        "no builder paths in the log"
    );
}

#[actix_web::test]
async fn an_unreachable_database_is_a_one_line_error() {
    // PostgreSQL on a port where nothing listens: startup fails with a clear message.
    let dir = tempfile::tempdir().unwrap();
    let out = crate::helpers::run_cli(
        &HashMap::from([(
            "TESSERA_DATABASE_URL".to_owned(),
            "postgres://postgres@127.0.0.1:1/none".to_owned(),
        )]),
        &["migrate"],
        None,
        dir.path(),
    );
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.trim().starts_with("error: database"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("refused") && !out.stderr.contains("Invalid connection url"),
        "the error says what failed: {}",
        out.stderr
    );
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_postgres),
    ignore = "TESSERA_TEST_POSTGRES_URL not set: PostgreSQL not tested"
)]
async fn a_missing_postgres_database_is_named_in_the_error() {
    let admin = std::env::var("TESSERA_TEST_POSTGRES_URL").expect("set when built with it");
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path("tessera_no_such_database");
    let dir = tempfile::tempdir().unwrap();
    let out = crate::helpers::run_cli(
        &HashMap::from([("TESSERA_DATABASE_URL".to_owned(), url.to_string())]),
        &["migrate"],
        None,
        dir.path(),
    );
    assert_ne!(out.code, 0);
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("tessera_no_such_database") && out.stderr.contains("does not exist"),
        "{}",
        out.stderr
    );
}

#[actix_web::test]
async fn two_first_starts_at_once_on_one_keys_folder_seal_under_one_kek() {
    // Two instances, each its own new database, one keys folder, started together: each
    // finds no KEK and writes one; both must end up with the same, or keys sealed by one
    // could never be opened by the other (or after a restart, by itself).
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let url = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
    let (url_a, url_b) = (url("a.db"), url("b.db"));
    let keys_dir = keys.display().to_string();
    let env = |db: &str| {
        vec![
            ("TESSERA_DATABASE_URL", db.to_owned()),
            ("TESSERA_KEYS_DIR", keys_dir.clone()),
            (
                "TESSERA_ADMIN_PASSWORD",
                "two-first-starts-admin".to_owned(),
            ),
        ]
    };
    let (env_a, env_b) = (env(&url_a), env(&url_b));
    let a: Vec<(&str, &str)> = env_a.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let b: Vec<(&str, &str)> = env_b.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut first = Server::start(dir.path(), &a);
    let mut second = Server::start(dir.path(), &b);
    let bases = [first.wait_listening(), second.wait_listening()];

    tessera::resource::install_crypto_provider();
    let http = reqwest::Client::new();
    for base in &bases {
        let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200, "{base} serves");
    }
    let kek = std::fs::read_to_string(keys.join("kek")).unwrap();
    let kek_id = tessera::kek::Kek::parse(&kek).unwrap().id();
    for db in ["a.db", "b.db"] {
        let rows = signing_key_rows_in(&dir.path().join(db));
        assert!(!rows.is_empty(), "{db} has its key");
        for row in rows {
            assert_eq!(
                row.kek_id, kek_id,
                "{db}'s key is sealed under the KEK on disk"
            );
        }
    }
    let left: Vec<String> = std::fs::read_dir(&keys)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".kek"))
        .collect();
    assert!(left.is_empty(), "temporary KEK files left: {left:?}");
    assert_eq!(first.stop().0, 0);
    assert_eq!(second.stop().0, 0);
}

fn signing_key_rows_in(db: &std::path::Path) -> Vec<tessera::store::signing_keys::SigningKeyRow> {
    let url = tessera::config::DatabaseUrl::Sqlite(db.display().to_string());
    let store = tessera::store::Store::connect(&url, 1).unwrap();
    let mut conn = store.conn().unwrap();
    tessera::store::signing_keys::all(&mut conn).unwrap()
}
