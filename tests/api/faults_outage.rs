//! A PostgreSQL outage under load: the server reaches PostgreSQL through a TCP proxy the
//! test cuts (every connection closed, new ones refused) and restores, so the shared
//! PostgreSQL service keeps running. While cut, every endpoint that needs the database
//! answers 503 in its own format within the database timeout, what lives in memory (JWKS,
//! discovery, liveness) is still served, and readiness is off; once restored, Tessera
//! recovers by itself.
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use crate::admin::Console;
use crate::flow::{self, tokens_for};
use crate::helpers::{Backend, TestApp, spawn_routed};
use crate::simplejwt::obtain;

/// `TESSERA_DATABASE_TIMEOUT` in these tests: how long a request may wait for a connection.
const DB_TIMEOUT: &str = "2";
/// The longest any request may take during the outage: the timeout plus scheduling slack
/// on a busy machine.
const NO_HANG: Duration = Duration::from_secs(6);

/// A TCP proxy to `upstream` that can be cut and restored.
struct Proxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    /// The proxy runs on a thread and runtime of its own: the test thread blocks on the
    /// database now and then (fixtures use synchronous connections), and the proxy must
    /// relay meanwhile.
    fn start(upstream: SocketAddr) -> Proxy {
        let open = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (accepting, tracked) = (open.clone(), conns.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        continue;
                    };
                    if !accepting.load(Ordering::SeqCst) {
                        // Cut: the connection is closed as soon as it is made.
                        drop(inbound);
                        continue;
                    }
                    let task = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    tracked.lock().unwrap().push(task.abort_handle());
                }
            });
        });
        Proxy { addr, open, conns }
    }

    /// Close every connection (aborting a relay drops both of its sockets) and refuse new
    /// ones.
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for conn in self.conns.lock().unwrap().drain(..) {
            conn.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }

    /// `url` with its host and port replaced by the proxy's.
    fn route(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).unwrap();
        url.set_host(Some(&self.addr.ip().to_string())).unwrap();
        url.set_port(Some(self.addr.port())).unwrap();
        url.to_string()
    }
}

fn postgres_addr() -> SocketAddr {
    let url = std::env::var("TESSERA_TEST_POSTGRES_URL").expect("set when built with it");
    let url = url::Url::parse(&url).unwrap();
    let host = url.host_str().unwrap().to_owned();
    let port = url.port().unwrap_or(5432);
    std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
        .unwrap()
        .next()
        .unwrap()
}

struct Answer {
    status: u16,
    content_type: String,
    body: String,
    took: Duration,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: not JSON: {}", self.body))
    }
}

async fn answer(req: reqwest::RequestBuilder) -> Answer {
    let started = Instant::now();
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.text().await.unwrap();
    Answer {
        status,
        content_type,
        body,
        took: started.elapsed(),
    }
}

fn refresh_form(refresh: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "refresh_token".to_owned()),
        ("refresh_token", refresh.to_owned()),
    ]
}

async fn oauth_refresh(app: &TestApp, client: &flow::Client, refresh: &str) -> Answer {
    let req = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&refresh_form(refresh));
    answer(req).await
}

async fn simplejwt_refresh(app: &TestApp, refresh: &str) -> Answer {
    let req = app
        .http
        .post(app.url("/api/token/refresh/"))
        .json(&json!({ "refresh": refresh }));
    answer(req).await
}

/// A client refreshing its SimpleJWT token over and over until told to stop; returns every
/// status it got. Rotation is on, so each success hands over the next token.
fn refresh_loop(
    app: &TestApp,
    first: String,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<(u16, Duration)>> {
    let (http, url) = (app.http.clone(), app.url("/api/token/refresh/"));
    tokio::spawn(async move {
        let mut current = first;
        let mut seen = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            let started = Instant::now();
            let res = http
                .post(&url)
                .json(&json!({ "refresh": current }))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap();
            seen.push((status, started.elapsed()));
            if status == 200 {
                current = body["refresh"].as_str().unwrap().to_owned();
            } else {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        seen
    })
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_postgres),
    ignore = "TESSERA_TEST_POSTGRES_URL not set: PostgreSQL not tested"
)]
async fn a_postgres_outage_answers_503_serves_keys_from_memory_and_recovers_by_itself() {
    let proxy = Proxy::start(postgres_addr());
    let app = spawn_routed(
        Backend::Postgres,
        &[
            ("TESSERA_DATABASE_TIMEOUT", DB_TIMEOUT),
            ("TESSERA_SIMPLEJWT_ROTATE_REFRESH_TOKENS", "true"),
            ("TESSERA_WORKERS", "2"),
            // A refresh whose COMMIT reached PostgreSQL just as the connection was cut
            // reads as a failure to its client, who sends the token again after the
            // outage: the grace window is what answers it.
            ("TESSERA_REFRESH_GRACE", "60"),
        ],
        &|url| proxy.route(url),
    )
    .await;
    flow::create_user(&app, "alice");
    let client = flow::confidential(&app);
    let oauth = tokens_for(&app, &client, "alice", "openid").await;
    let oauth_refresh_token = oauth["refresh_token"].as_str().unwrap().to_owned();
    let (_, jwt_refresh) = obtain(&app, "alice").await;
    let console = Console::root(&app).await;

    // Load: clients keep refreshing while the database goes away and comes back.
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (_, first) = obtain(&app, "alice").await;
        load.push(refresh_loop(&app, first, stop.clone()));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    proxy.cut();

    // RFC 6749 §5.2 has no code for an outage; §4.1.2.1's temporarily_unavailable is the
    // one OAuth clients know, with 503.
    let res = oauth_refresh(&app, &client, &oauth_refresh_token).await;
    assert_eq!(res.status, 503, "{}", res.body);
    assert!(res.took < NO_HANG, "took {:?}", res.took);
    assert_eq!(
        res.json()["error"],
        "temporarily_unavailable",
        "{}",
        res.body
    );
    assert!(res.json()["error_description"].is_string());
    eprintln!(
        "/oauth/token answered 503 in {:?} during the outage",
        res.took
    );

    let res = simplejwt_refresh(&app, &jwt_refresh).await;
    assert_eq!(res.status, 503, "{}", res.body);
    assert!(res.took < NO_HANG, "took {:?}", res.took);
    assert!(
        res.json()["detail"]
            .as_str()
            .unwrap()
            .contains("unavailable")
    );

    let req = app
        .http
        .post(app.url("/api/token/"))
        .json(&json!({"username": "alice", "password": flow::PASSWORD}));
    let res = answer(req).await;
    assert_eq!(res.status, 503, "{}", res.body);
    assert!(res.took < NO_HANG);

    let req = app
        .http
        .post(app.url("/oauth/introspect"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("token", oauth_refresh_token.as_str())]);
    let res = answer(req).await;
    assert_eq!(res.status, 503, "{}", res.body);
    assert_eq!(res.json()["error"], "temporarily_unavailable");

    // The pages people read: a readable page, not a stack trace or an empty 500.
    let started = Instant::now();
    let page = console.get("/admin/").await;
    assert!(started.elapsed() < NO_HANG);
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(
        page.body.contains("Temporarily unavailable"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<html"), "{}", page.body);

    let browser = flow::Browser::new(&app);
    let login = browser.get("/login").await;
    let page = if login.status == 200 {
        browser.login(&login, "alice", flow::PASSWORD).await
    } else {
        login
    };
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(
        page.body.contains("Temporarily unavailable"),
        "{}",
        page.body
    );

    let page = browser
        .get(&flow::auth_url(&client.id, &[("scope", "openid")]))
        .await;
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(
        page.body.contains("Temporarily unavailable"),
        "{}",
        page.body
    );

    // What lives in memory keeps serving; readiness tells the load balancer.
    for path in [
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
    ] {
        let res = answer(app.http.get(app.url(path))).await;
        assert_eq!(res.status, 200, "{path}: {}", res.body);
        assert!(res.content_type.starts_with("application/json"));
        assert!(
            res.took < Duration::from_secs(1),
            "{path} took {:?}",
            res.took
        );
    }
    let res = answer(app.http.get(app.url("/healthz"))).await;
    assert_eq!(res.status, 200);
    let res = answer(app.http.get(app.url("/readyz"))).await;
    assert_eq!(res.status, 503, "{}", res.body);
    assert!(res.took < NO_HANG);
    assert_eq!(res.json()["error"], "temporarily_unavailable");

    proxy.restore();

    // Recovers without a restart, within seconds.
    let restored = Instant::now();
    loop {
        let res = answer(app.http.get(app.url("/readyz"))).await;
        if res.status == 200 {
            break;
        }
        assert!(
            restored.elapsed() < Duration::from_secs(10),
            "still not ready {:?} after PostgreSQL came back: {}",
            restored.elapsed(),
            res.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "ready again {:?} after PostgreSQL came back",
        restored.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);

    // Nothing was lost: the tokens refused during the outage work now.
    let res = oauth_refresh(&app, &client, &oauth_refresh_token).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let res = simplejwt_refresh(&app, &jwt_refresh).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let page = console.get("/admin/").await;
    assert_eq!(page.status, 200, "{}", page.body);

    // Under load, every answer was a success or a 503: never a 500, never a refusal of a
    // token the client rightly held, never a hang; and each chain carried on afterwards.
    for task in load {
        let chain = task.await.unwrap();
        assert!(
            chain.iter().any(|(s, _)| *s == 503),
            "saw the outage: {chain:?}"
        );
        let last_ok = chain.iter().rposition(|(s, _)| *s == 200);
        let first_503 = chain.iter().position(|(s, _)| *s == 503);
        assert!(
            last_ok > first_503,
            "carried on after the outage: {chain:?}"
        );
        for (status, took) in &chain {
            assert!(matches!(status, 200 | 503), "{chain:?}");
            assert!(*took < NO_HANG, "took {took:?}");
        }
    }
}
