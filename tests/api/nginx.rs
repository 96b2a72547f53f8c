//! Two instances on one PostgreSQL database, each with its own keys folder, behind the nginx
//! configuration docs/deploy-nginx.md shows (TLS with a certificate made here): what one
//! instance issues or ends holds at the other, and the proxy's headers are believed from
//! nginx only; one instance restarts under load with no request nginx may retry failing.
//! The configuration is read from the doc, so the doc is what is tested.
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::flow::{self, Browser, REDIRECT};
use crate::helpers::{Backend, TestApp, spawn_beside, spawn_with};

/// The test's host name: cookies set through nginx are sent to the instances' own ports
/// too (cookies ignore ports), and "localhost" counts as secure for the Secure ones.
const HOST: &str = "localhost";
/// The client's own loopback address, apart from nginx's 127.0.0.1: what nginx forwards
/// is then told apart from what an instance sees of nginx.
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
const DOC: &str = include_str!("../../docs/deploy-nginx.md");

/// nginx running on a test's folder; stopped (by its pid) when dropped.
struct Nginx {
    child: Child,
    https: u16,
    http: u16,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: the master then stops its workers; killed, it would leave
        // them running.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// A port free now (the test binds nginx to it moments later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The doc's block between the markers, with only the host name, ports and paths changed.
fn doc_config(dir: &Path, http: u16, https: u16, upstreams: [u16; 2]) -> String {
    let begin = DOC
        .find("# tessera-nginx: begin")
        .expect("begin marker in docs/deploy-nginx.md");
    let end = DOC
        .find("# tessera-nginx: end")
        .expect("end marker in docs/deploy-nginx.md");
    let d = dir.display();
    let block = DOC[begin..end]
        .replace(
            "/etc/letsencrypt/live/id.example.com/fullchain.pem",
            &format!("{d}/cert.pem"),
        )
        .replace(
            "/etc/letsencrypt/live/id.example.com/privkey.pem",
            &format!("{d}/key.pem"),
        )
        .replace("id.example.com", HOST)
        .replace("listen 80;", &format!("listen 127.0.0.1:{http};"))
        .replace("listen 443 ", &format!("listen 127.0.0.1:{https} "))
        .replace("/var/cache/nginx/tessera", &format!("{d}/cache"))
        .replace("/var/log/nginx/tessera.log", &format!("{d}/access.log"))
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{}", upstreams[0]))
        .replace("127.0.0.1:8081", &format!("127.0.0.1:{}", upstreams[1]));
    for (part, why) in [
        ("/etc/", "a system path left"),
        ("/var/", "a system path left"),
        ("8080", "a doc port left"),
    ] {
        assert!(!block.contains(part), "{why}: {block}");
    }
    // What the doc leaves to Debian's /etc/nginx/nginx.conf, kept inside the test folder.
    format!(
        "worker_processes 1;\nevents {{}}\nhttp {{\n\
         client_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n\
         access_log off;\n{block}\n}}\n"
    )
}

/// A self-signed certificate for HOST, made with Debian's openssl CLI: no crate and no
/// build time for something the test needs once, and the same tool an operator would use.
fn make_certificate(dir: &Path) -> Vec<u8> {
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", &format!("/CN={HOST}")])
        .args(["-addext", &format!("subjectAltName=DNS:{HOST}")])
        // rustls refuses a CA certificate presented as the server's own.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(dir.join("cert.pem")).unwrap()
}

/// nginx on `https` (the port the instances' issuer names) in front of `upstreams`.
fn start_nginx(dir: &Path, https: u16, upstreams: [u16; 2]) -> Nginx {
    use std::os::unix::fs::PermissionsExt;
    // Run as root, nginx's workers become nobody: they must reach the cache folder.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let http = free_port();
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, doc_config(dir, http, https, upstreams)).unwrap();
    let child = Command::new("nginx")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf)
        .arg("-g")
        .arg(format!(
            "daemon off; pid {}/nginx.pid; error_log stderr;",
            dir.display()
        ))
        .stdin(Stdio::null())
        .spawn()
        .expect("start nginx");
    let mut nginx = Nginx { child, https, http };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", https)).is_err() {
        if let Some(status) = nginx.child.try_wait().unwrap() {
            panic!("nginx exited: {status}");
        }
        assert!(Instant::now() < deadline, "nginx did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    nginx
}

/// A cookie-keeping client from CLIENT_IP that trusts the test certificate.
fn tls_client(cert: &[u8]) -> reqwest::Client {
    tessera::resource::install_crypto_provider();
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .add_root_certificate(reqwest::Certificate::from_pem(cert).unwrap())
        .resolve(HOST, SocketAddr::from(([127, 0, 0, 1], 0)))
        .local_address(IpAddr::V4(CLIENT_IP))
        .build()
        .unwrap()
}

fn port_of(app: &TestApp) -> u16 {
    url::Url::parse(&app.base).unwrap().port().unwrap()
}

/// The newest audit entry whose action starts with `action`: its ip.
async fn last_ip(app: &TestApp, action: &str) -> Option<String> {
    let action = action.to_owned();
    let rows = app
        .store
        .run(move |conn| tessera::store::audit::page(conn, Some(&action), 0, 1))
        .await
        .unwrap();
    rows.first().expect("an audit entry").ip.clone()
}

async fn token_at(
    http: &reqwest::Client,
    base: &str,
    client: &flow::Client,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let res = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(form)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[actix_web::test]
#[cfg_attr(
    not(all(tessera_test_nginx, tessera_test_postgres)),
    ignore = "needs nginx (scripts/test installs it) and TESSERA_TEST_POSTGRES_URL"
)]
async fn two_instances_behind_the_documented_nginx() {
    let dir = tempfile::tempdir().unwrap();
    let cert = make_certificate(dir.path());
    // The issuer names nginx's port, so it is chosen before the instances start.
    let https = free_port();
    let issuer = format!("https://{HOST}:{https}");
    let first = spawn_with(
        Backend::Postgres,
        &[
            ("TESSERA_ISSUER", &issuer),
            ("TESSERA_TRUSTED_PROXIES", "127.0.0.1"),
            // Without the grace window for a client's retried refresh, any second use is reuse.
            ("TESSERA_REFRESH_GRACE", "0"),
        ],
    )
    .await;
    let kek = std::fs::read_to_string(first.keys_dir.join("kek")).unwrap();
    let second = spawn_beside(&first, &[("TESSERA_KEY_ENCRYPTION_KEY", kek.trim())]).await;
    assert_ne!(first.keys_dir, second.keys_dir);
    let nginx = start_nginx(dir.path(), https, [port_of(&first), port_of(&second)]);
    let http = tls_client(&cert);
    let front = format!("https://{HOST}:{}", nginx.https);
    let one = format!("http://{HOST}:{}", port_of(&first));
    let two = format!("http://{HOST}:{}", port_of(&second));

    // Refusals first. Plain HTTP only redirects to HTTPS.
    let res = http
        .get(format!("http://{HOST}:{}/login", nginx.http))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 301);
    let to = res.headers()["location"].to_str().unwrap();
    assert!(to.starts_with(&format!("https://{HOST}")), "{to}");
    // Metrics are never proxied.
    let res = http.get(format!("{front}/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 404);

    // X-Forwarded-For: forged straight at an instance, from an untrusted address, it is not
    // believed; through nginx, the address nginx saw is recorded.
    flow::create_user(&first, "alice");
    let browser = Browser {
        http: http.clone(),
        base: one.clone(),
    };
    let page = browser.get("/login").await;
    let mut form = flow::inputs(&page.body);
    form.retain(|(k, _)| k != "username");
    form.push(("username".into(), "alice".into()));
    form.push(("password".into(), "wrong password".into()));
    let res = http
        .post(format!("{one}/login"))
        .header("X-Forwarded-For", "203.0.113.9")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(
        last_ip(&first, "login.failed").await.as_deref(),
        Some("127.0.0.3")
    );
    let via = Browser {
        http: http.clone(),
        base: front.clone(),
    };
    let page = via.get("/login").await;
    let res = http
        .post(format!("{front}/login"))
        .header("X-Forwarded-For", "203.0.113.9")
        .form(&{
            let mut form = flow::inputs(&page.body);
            form.retain(|(k, _)| k != "username");
            form.push(("username".into(), "alice".into()));
            form.push(("password".into(), "wrong password".into()));
            form
        })
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(
        last_ip(&first, "login.failed").await.as_deref(),
        Some("127.0.0.3"),
        "the address nginx saw, not the one the client claimed"
    );

    // The issuer is nginx's, as discovery through nginx says.
    let res = http
        .get(format!("{front}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let discovery: Value = res.json().await.unwrap();
    assert_eq!(discovery["issuer"], issuer.as_str());

    // Signed in at the first instance: the session cookie is Secure, and the consent given
    // there is seen by the second.
    let client = flow::confidential(&first);
    let (verifier, challenge) = flow::pkce();
    let url = flow::auth_url(
        &client.id,
        &[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let page = browser.get("/login").await;
    let done = browser.login(&page, "alice", flow::PASSWORD).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let cookies: Vec<_> = done.headers.get_all("set-cookie").iter().collect();
    assert!(!cookies.is_empty());
    for c in &cookies {
        assert!(c.to_str().unwrap().contains("Secure"), "{c:?}");
    }
    let page = browser.authorize(&url, "alice").await;
    let code = page.redirect_param("code").expect("a code from the first");

    // A code issued by the first is redeemed at the second.
    let (status, tokens) = token_at(
        &http,
        &two,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // Consent given at the first: the second issues a code without asking again.
    let at_two = Browser {
        http: http.clone(),
        base: two.clone(),
    };
    let page = at_two.get(&flow::auth_url(&client.id, &[])).await;
    assert!(!page.is_consent(), "the second asked for consent again");
    assert!(page.redirect_param("code").is_some(), "{}", page.body);

    // A refresh rotated at the first is reuse at the second: refused, family ended.
    let (status, rotated) = token_at(
        &http,
        &one,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let (status, reused) = token_at(
        &http,
        &two,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(status, 400, "{reused}");
    assert_eq!(reused["error"], "invalid_grant");
    let (status, _) = token_at(
        &http,
        &two,
        &client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rotated["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 400, "the reuse ended the whole family");

    // A key rotated through the first instance's CLI is published by the second, and (active
    // at once here: no activation delay in tests) signs the tokens of both.
    let before: Value = second.get_json("/.well-known/jwks.json").await;
    let (env, cwd) = (first.env.clone(), first.dir.path().to_owned());
    let out = actix_web::rt::task::spawn_blocking(move || {
        crate::helpers::run_cli(&env, &["keys", "rotate"], None, &cwd)
    })
    .await
    .unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let kids = |jwks: &Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let old = kids(&before);
    let start = Instant::now();
    let new_kid = loop {
        let now: Value = second.get_json("/.well-known/jwks.json").await;
        if let Some(kid) = kids(&now).into_iter().find(|k| !old.contains(k)) {
            break kid;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "JWKS still {now}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    for base in [&one, &two] {
        let start = Instant::now();
        loop {
            let res = http
                .post(format!("{base}/api/token/"))
                .json(&serde_json::json!({ "username": "alice", "password": flow::PASSWORD }))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{base}");
            let pair: Value = res.json().await.unwrap();
            let header = jsonwebtoken::decode_header(pair["access"].as_str().unwrap()).unwrap();
            if header.kid.as_deref() == Some(new_kid.as_str()) {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{base} still signs with {:?}",
                header.kid
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // A logout at the first ends the session at the second too.
    let confirm = browser.get("/logout").await;
    let csrf = flow::input(&confirm.body, "csrf_token").expect("a logout form");
    let out = browser
        .post("/logout", &[("csrf_token".into(), csrf)])
        .await;
    assert_eq!(out.status, 200, "{}", out.body);
    assert!(
        at_two
            .get(&flow::auth_url(&client.id, &[]))
            .await
            .is_login(),
        "the second still knew the session"
    );

    // An admin change at the first (a new user) is seen by the second, and through nginx:
    // the new user signs in at both.
    crate::admin::create_admin(&first, crate::admin::ROOT);
    let admin = Browser {
        http: tls_client(&cert),
        base: one.clone(),
    };
    admin.sign_in(crate::admin::ROOT).await;
    let console = admin.get("/admin/").await;
    let csrf = flow::input(&console.body, "csrf_token").expect("csrf token on the console");
    let created = admin
        .post(
            "/admin/users/new",
            &[
                ("username".into(), "bob".into()),
                ("password".into(), flow::PASSWORD.into()),
                ("csrf_token".into(), csrf),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    for base in [&two, &front] {
        let bob = Browser {
            http: tls_client(&cert),
            base: base.clone(),
        };
        bob.sign_in("bob").await;
    }
}

/// Item 5 of the production issue: one of two instances restarts (SIGTERM, drain, start
/// again on its port) under a load of requests nginx may retry; none of them fails.
#[actix_web::test]
#[cfg_attr(
    not(all(tessera_test_nginx, tessera_test_postgres)),
    ignore = "needs nginx (scripts/test installs it) and TESSERA_TEST_POSTGRES_URL"
)]
async fn a_rolling_restart_under_load_loses_no_retryable_request() {
    use crate::serve::Server;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let dir = tempfile::tempdir().unwrap();
    let cert = make_certificate(dir.path());
    let db = crate::helpers::TestDb::create(Backend::Postgres, dir.path());
    let https = free_port();
    let issuer = format!("https://{HOST}:{https}");
    let ports = [free_port(), free_port()];
    let url = db.url();
    let env = |i: usize| -> Vec<(String, String)> {
        vec![
            ("TESSERA_DATABASE_URL".into(), url.clone()),
            (
                "TESSERA_KEYS_DIR".into(),
                dir.path().join(format!("keys{i}")).display().to_string(),
            ),
            (
                "TESSERA_KEY_ENCRYPTION_KEY".into(),
                "0000000000000000000000000000000000000000000000000000000000000001".into(),
            ),
            ("TESSERA_LISTEN".into(), format!("127.0.0.1:{}", ports[i])),
            ("TESSERA_ISSUER".into(), issuer.clone()),
            ("TESSERA_TRUSTED_PROXIES".into(), "127.0.0.1".into()),
            ("TESSERA_SHUTDOWN_DRAIN".into(), "1".into()),
        ]
    };
    let start = |dir: std::path::PathBuf, vars: Vec<(String, String)>| {
        let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut server = Server::start(&dir, &refs);
        server.wait_listening();
        server
    };
    let first = start(dir.path().to_owned(), env(0));
    let second = start(dir.path().to_owned(), env(1));
    let cli_env: std::collections::HashMap<String, String> = env(0).into_iter().collect();
    let out = crate::helpers::run_cli(
        &cli_env,
        &[
            "client",
            "create",
            "--name",
            "load",
            "--grant-type",
            "client_credentials",
            "--json",
        ],
        None,
        dir.path(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let created: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let (client_id, secret) = (
        created["client_id"].as_str().unwrap().to_owned(),
        created["client_secret"].as_str().unwrap().to_owned(),
    );
    let _nginx = start_nginx(dir.path(), https, ports);
    let http = tls_client(&cert);
    let front = format!("https://{HOST}:{https}");

    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut load = Vec::new();
    for path in [
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
        "/login",
        "/healthz",
    ] {
        let (http, stop, sent, failed) = (http.clone(), stop.clone(), sent.clone(), failed.clone());
        let url = format!("{front}{path}");
        load.push(actix_web::rt::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let ok = matches!(http.get(&url).send().await, Ok(res) if res.status() == 200);
                sent.fetch_add(1, Ordering::Relaxed);
                if !ok {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    // Token requests are POSTs, which nginx does not resend once sent: counted, not
    // required to be zero.
    let token_failed = Arc::new(AtomicUsize::new(0));
    let token_sent = Arc::new(AtomicUsize::new(0));
    {
        let (http, stop) = (http.clone(), stop.clone());
        let (sent, failed) = (token_sent.clone(), token_failed.clone());
        let url = format!("{front}/oauth/token");
        load.push(actix_web::rt::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let res = http
                    .post(&url)
                    .basic_auth(&client_id, Some(&secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await;
                sent.fetch_add(1, Ordering::Relaxed);
                if !matches!(res, Ok(res) if res.status() == 200) {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let (code, _) = actix_web::rt::task::spawn_blocking(move || first.stop())
        .await
        .unwrap();
    assert_eq!(code, 0, "the first stops gracefully");
    let (path, vars) = (dir.path().to_owned(), env(0));
    let first = actix_web::rt::task::spawn_blocking(move || start(path, vars))
        .await
        .unwrap();
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    let (sent, failed) = (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    println!("rolling restart: {sent} requests through nginx, {failed} failed");
    println!(
        "rolling restart: {} token POSTs through nginx, {} failed",
        token_sent.load(Ordering::Relaxed),
        token_failed.load(Ordering::Relaxed)
    );
    // Stopped before the assertions, so a failure leaves no process behind.
    actix_web::rt::task::spawn_blocking(move || {
        first.stop();
        second.stop();
    })
    .await
    .unwrap();
    assert!(sent > 0);
    assert_eq!(failed, 0, "of {sent}");
}
