//! The login and consent pages in a real browser: headless Chromium driven over WebDriver
//! (chromedriver), clicking through sign-in and consent at a phone's width. Screenshots of
//! each page land in `target/screenshots/` (the test prints the path).
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tessera::clients::{self, NewClient};
use tessera::clock::SystemClock;
use tessera::domain::{ClientKind, GrantType, RedirectUri, ScopeSet};

use crate::flow;
use crate::helpers::{Backend, spawn};

pub struct Driver {
    child: Child,
    pub port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The browser the driver starts (build.rs looks for it at the same place).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver on a free port. The browser tests run only when build.rs found chromedriver
/// and Chromium, or under CI, which must run them and so fails here if they are missing.
pub fn start_driver() -> Driver {
    let Some(path) = option_env!("TESSERA_TEST_CHROMEDRIVER") else {
        panic!("CI must install chromium and chromium-driver (see scripts/test)");
    };
    let port = free_port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Driver {
        child,
        port,
        _profile: tempfile::tempdir().unwrap(),
    }
}

async fn browser(driver: &Driver) -> Client {
    let caps = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=390,844",
                format!("--user-data-dir={}", driver._profile.path().display()),
            ],
            // A phone: 390 CSS pixels wide.
            "mobileEmulation": { "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 2.0 } }
        }
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("start a Chromium session")
}

/// A one-request-at-a-time HTTP server standing in for the app's callback.
pub fn callback_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut stream in listener.incoming().map_while(Result::ok) {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let body = "<!doctype html><title>App</title><h1>Signed in to the app</h1>";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

fn screenshots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shoot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    let path = screenshots_dir().join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap();
    println!("screenshot: {}", path.display());
}

/// Wait until the browser has landed on a URL starting with `prefix`.
pub async fn wait_for_url(c: &Client, prefix: &str) -> url::Url {
    for _ in 0..100 {
        let url = c.current_url().await.unwrap();
        if url.as_str().starts_with(prefix) {
            return url;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "never reached {prefix}; at {}",
        c.current_url().await.unwrap()
    );
}

/// No horizontal scrolling at phone width.
pub async fn fits_the_screen(c: &Client) -> bool {
    let v = c
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth;",
            vec![],
        )
        .await
        .unwrap();
    v.as_bool().unwrap_or(false)
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_browser),
    ignore = "chromium or chromium-driver not installed: pages not tested in a browser"
)]
async fn a_user_signs_in_and_consents_in_chromium() {
    let driver = start_driver();
    let app = spawn(Backend::Sqlite).await;
    flow::create_user(&app, "alice");
    let callback = format!("http://127.0.0.1:{}/callback", callback_server());
    let registered = {
        let mut conn = app.store.conn().unwrap();
        clients::register(
            &mut conn,
            &SystemClock,
            &NewClient {
                name: "Photo Book".into(),
                kind: ClientKind::Confidential,
                redirect_uris: vec![RedirectUri::parse(&callback).unwrap()],
                post_logout_redirect_uris: vec![],
                grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
                scopes: ScopeSet::parse(clients::DEFAULT_SCOPES).unwrap(),
                algs: Default::default(),
                resources: Vec::new(),
                dpop_bound_access_tokens: false,
                profile: Default::default(),
            },
        )
        .unwrap()
    };
    let c = browser(&driver).await;
    let url = format!(
        "{}/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid%20profile%20email&state=s1&nonce=n1",
        app.base,
        registered.client_id,
        url::form_urlencoded::byte_serialize(callback.as_bytes()).collect::<String>()
    );
    c.goto(&url).await.unwrap();
    assert_eq!(
        c.find(Locator::Css("h1"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "Sign in"
    );
    assert!(
        fits_the_screen(&c).await,
        "login page scrolls sideways on a phone"
    );
    shoot(&c, "login").await;

    // A wrong password first: the page says so and keeps the username.
    c.find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys("alice")
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys("wrong password")
        .await
        .unwrap();
    c.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let alert = c.wait().for_element(Locator::Css(".alert")).await.unwrap();
    assert!(
        alert
            .text()
            .await
            .unwrap()
            .contains("Invalid username or password")
    );
    shoot(&c, "login-error").await;
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(flow::PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    let allow = c
        .wait()
        .for_element(Locator::Css("button[value=allow]"))
        .await
        .unwrap();
    let heading = c
        .find(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(heading, "Allow Photo Book?");
    let page = c.source().await.unwrap();
    assert!(page.contains("See your email address"));
    assert!(page.contains("alice Example"));
    assert!(
        fits_the_screen(&c).await,
        "consent page scrolls sideways on a phone"
    );
    shoot(&c, "consent").await;
    allow.click().await.unwrap();

    let landed = wait_for_url(&c, &callback).await;
    let code = landed
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    assert_eq!(
        landed
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .as_deref(),
        Some("s1")
    );
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(
            &registered.client_id,
            registered.client_secret.as_ref().map(|s| s.expose()),
        )
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", callback.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    assert!(tokens["id_token"].is_string());

    // Signed in and consented: the next request comes straight back.
    c.goto(&url).await.unwrap();
    wait_for_url(&c, &callback).await;

    // An unknown client gets a readable page.
    c.goto(&format!(
        "{}/oauth/authorize?client_id=nope&response_type=code",
        app.base
    ))
    .await
    .unwrap();
    assert_eq!(
        c.find(Locator::Css("h1"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "Unknown application"
    );
    shoot(&c, "error").await;
    c.close().await.unwrap();
}
