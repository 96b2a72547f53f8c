//! `examples/resource_server.rs` as a separate process: it verifies Tessera's tokens with
//! nothing but HTTP access to the JWKS.
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::flow;
use crate::helpers::{Backend, spawn};
use crate::jwt;
use crate::simplejwt::obtain;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `cargo test` builds the examples next to the test binary's `deps/` folder.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target profile dir");
    dir.join("examples").join("resource_server")
}

#[actix_web::test]
async fn the_example_resource_server_trusts_tessera_tokens_through_the_jwks() {
    let app = spawn(Backend::Sqlite).await;
    flow::create_user(&app, "alice");
    let (access, refresh) = obtain(&app, "alice").await;

    let binary = example_binary();
    assert!(
        binary.exists(),
        "{} is built by `cargo test`",
        binary.display()
    );
    let mut child = Command::new(&binary)
        .env("TESSERA_ISSUER", &app.settings.issuer)
        .env("RESOURCE_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the example");
    let stdout = child.stdout.take().expect("stdout");
    let _running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .and_then(|w| w.strip_suffix(','))
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_owned();

    let http = reqwest::Client::new();
    let hello = |auth: Option<String>| {
        let mut req = http.get(format!("{base}/hello/"));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = hello(Some(format!("Bearer {access}"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Hello, World!");
    assert_eq!(body["sub"], jwt::claims(&access)["sub"]);

    let (status, body) = hello(None).await;
    assert_eq!(status, 401);
    assert_eq!(
        body["detail"],
        "Authentication credentials were not provided."
    );
    let (status, body) = hello(Some(format!("Bearer {refresh}"))).await;
    assert_eq!(status, 401);
    assert_eq!(body["messages"][0]["message"], "Token has wrong type");
    let forged = jwt::hs256_with_public_key(&app, &access);
    let (status, _) = hello(Some(format!("Bearer {forged}"))).await;
    assert_eq!(status, 401);
}
