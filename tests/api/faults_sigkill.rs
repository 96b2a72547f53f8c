//! A crash in the middle of issuing tokens loses nothing: the real `tessera` binary serves
//! concurrent refresh chains (OAuth and SimpleJWT), is killed with SIGKILL mid-load and
//! started again on the same database. Every refresh token a client received still works
//! once (the one whose answer was lost with the process, within the refresh grace), a
//! reuse is still caught, SQLite's integrity check passes, and no family is half-written.
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::prelude::*;
use serde_json::{Value, json};
use tessera::store::schema::{authorization_codes, grants, refresh_tokens};

use crate::flow::{self, tokens_for};
use crate::helpers::{Backend, TestApp, spawn_with};
use crate::serve::Server;
use crate::simplejwt::obtain;

const OAUTH_CHAINS: usize = 3;
const SIMPLEJWT_CHAINS: usize = 3;

/// The `tessera` binary serving the test app's database, as a process the test can kill.
struct Process {
    server: Server,
    base: String,
}

impl Process {
    fn start(app: &TestApp) -> Process {
        let mut env: Vec<(&str, &str)> = app
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        // Its own port: the test app's in-process server holds the one in its settings.
        env.extend([("TESSERA_LISTEN", "127.0.0.1:0"), ("TESSERA_WORKERS", "2")]);
        let mut server = Server::start(app.dir.path(), &env);
        let base = server.wait_listening();
        Process { server, base }
    }

    fn kill(self) {
        self.server.kill();
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Api {
    OAuth,
    SimpleJwt,
}

/// One client's refresh chain: the last refresh token it received.
struct Chain {
    api: Api,
    held: Mutex<String>,
    refreshed: Mutex<usize>,
}

/// Exchange `refresh` once: the status and, on success, the next refresh token. `None`
/// when the server did not answer at all.
async fn exchange(
    http: &reqwest::Client,
    base: &str,
    client: &flow::Client,
    api: Api,
    refresh: &str,
) -> Option<(u16, Option<String>)> {
    let req = match api {
        Api::OAuth => http
            .post(format!("{base}/oauth/token"))
            .basic_auth(&client.id, client.secret.as_deref())
            .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)]),
        Api::SimpleJwt => http
            .post(format!("{base}/api/token/refresh/"))
            .json(&json!({ "refresh": refresh })),
    };
    let res = req.send().await.ok()?;
    let status = res.status().as_u16();
    let body: Value = res.json().await.ok()?;
    let field = match api {
        Api::OAuth => "refresh_token",
        Api::SimpleJwt => "refresh",
    };
    Some((status, body[field].as_str().map(str::to_owned)))
}

/// What is left in the database after the crash must be whole: each live family has
/// exactly one live refresh token, each rotated token kept its sealed answer for the
/// grace, and no family exists without a token or a code.
fn assert_no_half_written_rows(app: &TestApp) {
    let mut conn = app.store.conn().unwrap();
    let families: Vec<(String, Option<i64>)> = grants::table
        .select((grants::id, grants::revoked_at))
        .load(&mut **conn)
        .unwrap();
    let tokens: Vec<(String, Option<i64>, Option<i64>, bool)> = refresh_tokens::table
        .select((
            refresh_tokens::grant_id,
            refresh_tokens::rotated_at,
            refresh_tokens::revoked_at,
            refresh_tokens::successor.is_not_null(),
        ))
        .load(&mut **conn)
        .unwrap();
    let coded: HashSet<String> = authorization_codes::table
        .select(authorization_codes::grant_id)
        .load::<String>(&mut **conn)
        .unwrap()
        .into_iter()
        .collect();
    let mut live: HashMap<&str, usize> = HashMap::new();
    let mut with_tokens: HashSet<&str> = HashSet::new();
    for (grant, rotated, revoked, sealed) in &tokens {
        with_tokens.insert(grant);
        if rotated.is_none() && revoked.is_none() {
            *live.entry(grant).or_default() += 1;
        }
        if rotated.is_some() && revoked.is_none() {
            assert!(sealed, "a rotated token of {grant} lost its sealed answer");
        }
    }
    for (id, revoked) in &families {
        assert!(
            with_tokens.contains(id.as_str()) || coded.contains(id),
            "family {id} has neither a refresh token nor a code"
        );
        if revoked.is_none() && with_tokens.contains(id.as_str()) {
            assert_eq!(
                live.get(id.as_str()).copied().unwrap_or(0),
                1,
                "live family {id} must have exactly one live refresh token"
            );
        }
    }
}

#[derive(QueryableByName)]
struct IntegrityCheck {
    #[diesel(sql_type = diesel::sql_types::Text)]
    integrity_check: String,
}

async fn crash_mid_load_loses_no_token(backend: Backend) {
    let app = spawn_with(
        backend,
        &[
            // Long enough to cover the restart: the answer a client lost with the
            // killed process is given again, once.
            ("TESSERA_REFRESH_GRACE", "60"),
            ("TESSERA_SIMPLEJWT_ROTATE_REFRESH_TOKENS", "true"),
        ],
    )
    .await;
    flow::create_user(&app, "alice");
    let client = Arc::new(flow::confidential(&app));
    let mut chains = Vec::new();
    for _ in 0..OAUTH_CHAINS {
        let tokens = tokens_for(&app, &client, "alice", "openid").await;
        chains.push(Chain {
            api: Api::OAuth,
            held: Mutex::new(tokens["refresh_token"].as_str().unwrap().to_owned()),
            refreshed: Mutex::new(0),
        });
    }
    for _ in 0..SIMPLEJWT_CHAINS {
        let (_, refresh) = obtain(&app, "alice").await;
        chains.push(Chain {
            api: Api::SimpleJwt,
            held: Mutex::new(refresh),
            refreshed: Mutex::new(0),
        });
    }
    let chains = Arc::new(chains);

    let server = Process::start(&app);
    let running = Arc::new(AtomicBool::new(true));
    let mut load = Vec::new();
    for i in 0..chains.len() {
        let (chains, client, running) = (chains.clone(), client.clone(), running.clone());
        let (http, base) = (app.http.clone(), server.base.clone());
        load.push(tokio::spawn(async move {
            let chain = &chains[i];
            while running.load(Ordering::SeqCst) {
                let held = chain.held.lock().unwrap().clone();
                let Some((status, next)) = exchange(&http, &base, &client, chain.api, &held).await
                else {
                    break; // the server is gone
                };
                assert_eq!(
                    status, 200,
                    "{:?} chain {i} refused before the crash",
                    chain.api
                );
                *chain.held.lock().unwrap() = next.expect("a rotated refresh token");
                *chain.refreshed.lock().unwrap() += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill();
    running.store(false, Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }
    for chain in chains.iter() {
        assert!(
            *chain.refreshed.lock().unwrap() > 0,
            "every chain was under load"
        );
    }

    if backend == Backend::Sqlite {
        let path = app.dir.path().join("tessera.db");
        let mut raw = diesel::SqliteConnection::establish(path.to_str().unwrap()).unwrap();
        let checks: Vec<IntegrityCheck> = diesel::sql_query("PRAGMA integrity_check")
            .load(&mut raw)
            .unwrap();
        let checks: Vec<_> = checks.into_iter().map(|c| c.integrity_check).collect();
        assert_eq!(checks, ["ok"]);
    }
    assert_no_half_written_rows(&app);

    let server = Process::start(&app);
    for (i, chain) in chains.iter().enumerate() {
        let held = chain.held.lock().unwrap().clone();
        let (status, next) = exchange(&app.http, &server.base, &client, chain.api, &held)
            .await
            .unwrap();
        assert_eq!(
            status, 200,
            "{:?} chain {i}: the token it held still works",
            chain.api
        );
        let next = next.unwrap();
        let (status, after) = exchange(&app.http, &server.base, &client, chain.api, &next)
            .await
            .unwrap();
        assert_eq!(status, 200, "{:?} chain {i} goes on", chain.api);
        // Once: after its successor was used, the held token is a reuse (RFC 9700
        // §4.14.2), which still revokes the family after the crash.
        let (status, _) = exchange(&app.http, &server.base, &client, chain.api, &held)
            .await
            .unwrap();
        assert!(
            matches!(status, 400 | 401),
            "{:?} chain {i}: reuse refused",
            chain.api
        );
        let (status, _) = exchange(&app.http, &server.base, &client, chain.api, &after.unwrap())
            .await
            .unwrap();
        assert!(
            matches!(status, 400 | 401),
            "{:?} chain {i}: family revoked",
            chain.api
        );
    }
    server.kill();
    assert_no_half_written_rows(&app);
}

#[actix_web::test]
async fn sigkill_mid_load_loses_no_refresh_token_sqlite() {
    crash_mid_load_loses_no_token(Backend::Sqlite).await;
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_postgres),
    ignore = "TESSERA_TEST_POSTGRES_URL not set: PostgreSQL not tested"
)]
async fn sigkill_mid_load_loses_no_refresh_token_postgres() {
    crash_mid_load_loses_no_token(Backend::Postgres).await;
}
