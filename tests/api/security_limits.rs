//! Resource limits a client cannot push past (RFC 9110 §15.5.14 413, RFC 6585 §5 431,
//! RFC 9110 §15.5.9 408): an oversized body is refused before it is read, oversized or
//! too many headers get 431, a client that sends its request head too slowly gets 408, and
//! an idle keep-alive connection is closed. Each limit is a setting or a documented
//! constant (docs/security.md).
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Backend, TestApp, spawn_with};

/// `tessera::startup::MAX_BODY`, the largest body read.
const MAX_BODY: usize = tessera::startup::MAX_BODY;

async fn limited() -> TestApp {
    spawn_with(
        Backend::Sqlite,
        &[
            ("TESSERA_CLIENT_REQUEST_TIMEOUT", "1"),
            ("TESSERA_KEEP_ALIVE", "1"),
        ],
    )
    .await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Read what the server sends until it closes the connection or `within` passes; returns
/// the bytes and whether the server closed.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let deadline = Instant::now() + within;
    loop {
        let mut buf = [0u8; 4096];
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
        }
    }
}

#[actix_web::test]
async fn oversized_bodies_get_413_before_they_are_read() {
    let app = limited().await;
    let big = "a".repeat(MAX_BODY + 1);
    for (path, req) in [
        (
            "/oauth/token",
            app.http
                .post(app.url("/oauth/token"))
                .form(&[("grant_type", "client_credentials"), ("padding", &big)]),
        ),
        (
            "/api/token/",
            app.http
                .post(app.url("/api/token/"))
                .json(&json!({"username": "u", "password": big})),
        ),
        (
            "/login",
            app.http
                .post(app.url("/login"))
                .form(&[("username", "u"), ("password", &big)]),
        ),
    ] {
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 413, "{path}");
        let body = res.text().await.unwrap();
        assert!(
            body.to_lowercase().contains("large") || body.contains("limit"),
            "{path}: {body}"
        );
    }
    // Just under the limit is read (and refused for what it says, not for its size).
    let fits = "a".repeat(MAX_BODY - 200);
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[("grant_type", "client_credentials"), ("padding", &fits)])
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 413);
    assert!(res.status().is_client_error());

    // A declared length over the limit is refused without waiting for the body.
    let mut stream = connect(&app).await;
    let head = format!(
        "POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        100 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[actix_web::test]
async fn oversized_or_too_many_headers_get_431() {
    let app = limited().await;
    // actix-web's request head buffer: 128 KiB.
    let huge = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(130 * 1024)
    );
    // actix-web parses at most 96 headers.
    let many = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..100)
            .map(|i| format!("X-H{i}: v\r\n"))
            .collect::<String>()
    );
    for (what, request) in [("one huge header", huge), ("100 headers", many)] {
        let mut stream = connect(&app).await;
        // The server may answer and close before it has read everything.
        let _ = stream.write_all(request.as_bytes()).await;
        let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
        assert!(answer.starts_with("HTTP/1.1 431"), "{what}: {answer}");
    }
    // A normal request on a fresh connection is still served.
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn a_client_that_sends_its_head_too_slowly_gets_408() {
    let app = limited().await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (answer, closed) = read_until_closed(&mut stream, Duration::from_secs(6)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(closed, "and the connection is closed");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not before TESSERA_CLIENT_REQUEST_TIMEOUT: {:?}",
        started.elapsed()
    );

    // A connection that sends nothing at all is closed too.
    let mut stream = connect(&app).await;
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(6)).await;
    assert!(closed, "a silent connection is closed");
}

#[actix_web::test]
async fn idle_keep_alive_connections_are_closed() {
    let app = limited().await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (answer, closed) = read_until_closed(&mut stream, Duration::from_secs(6)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed, "the idle connection is closed");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "kept alive for TESSERA_KEEP_ALIVE first: {:?}",
        started.elapsed()
    );
}

/// RFC 9110 §15.5.14 with RFC 6749 §5.2: a 413 is answered in the language of the endpoint,
/// so a client's error handling still works: RFC 6749 JSON on OAuth endpoints, SimpleJWT's
/// `{"detail": ...}` on its API, and a readable page for the forms people submit.
#[actix_web::test]
async fn rfc9110_15_5_14_a_413_speaks_the_endpoints_language() {
    let app = limited().await;
    let big = "a".repeat(MAX_BODY + 1);
    for path in [
        "/oauth/token",
        "/oauth/introspect",
        "/oauth/revoke",
        "/oauth/userinfo",
        "/oauth/authorize",
        "/oauth/logout",
        "/logout",
        "/api/token/",
        "/api/token/refresh/",
        "/api/token/verify/",
        "/login",
    ] {
        let res = app
            .http
            .post(app.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("token={big}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 413, "{path}");
        let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
        let body = res.text().await.unwrap();
        let page = matches!(path, "/oauth/authorize" | "/oauth/logout");
        if path.starts_with("/oauth/") && !page {
            assert!(kind.starts_with("application/json"), "{path}: {kind}");
            let json: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(json["error"], "invalid_request", "{path}: {body}");
            assert!(json["error_description"].is_string(), "{path}: {body}");
        } else if path.starts_with("/api/") {
            assert!(kind.starts_with("application/json"), "{path}: {kind}");
            let json: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert!(json["detail"].as_str().unwrap().contains("too large"));
        } else {
            assert!(kind.starts_with("text/html"), "{path}: {kind}");
            assert!(body.contains("Request too large"), "{path}: {body}");
        }
    }
}
