//! The resource-server verifier (`tessera::resource`) over real HTTP JWKS: what it accepts,
//! what it refuses, and how it caches and refetches keys.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use tessera::clock::{Clock, SystemClock};
use tessera::resource::{Expectations, JwksCache, TokenProblem, Verifier};
use tessera::signing::{KeyDir, Keys};

use crate::flow;
use crate::helpers::TestApp;
use crate::jwt;
use crate::on_both_backends;
use crate::simplejwt::obtain;

on_both_backends!(
    verifies_tessera_tokens_through_the_published_jwks,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let (access, refresh) = obtain(&app, "alice").await;
        let jwks = JwksCache::new(&app.url("/.well-known/jwks.json")).unwrap();
        let verifier = Verifier::new(jwks, Expectations::access(&app.settings.issuer));
        let claims = verifier.verify(&access).await.unwrap();
        assert_eq!(claims.str("token_type"), Some("access"));
        assert!(claims.user_id().is_some());

        let client = flow::confidential(&app);
        let tokens = flow::tokens_for(&app, &client, "alice", "openid").await;
        let oauth = verifier
            .verify(tokens["access_token"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(oauth.scopes(), ["openid"]);
        // An ID token is not an access token: its audience is the client.
        assert_eq!(
            verifier.verify(tokens["id_token"].as_str().unwrap()).await,
            Err(TokenProblem::Invalid)
        );

        let now = jwt::now();
        let refused = [
            (refresh.clone(), TokenProblem::WrongType),
            (
                jwt::edit(&app, &access, |c| {
                    c.insert("exp".into(), json!(now - 1));
                }),
                TokenProblem::Expired,
            ),
            (
                jwt::edit(&app, &access, |c| {
                    c.insert("iss".into(), json!("https://evil.example"));
                }),
                TokenProblem::Invalid,
            ),
            (
                jwt::edit(&app, &access, |c| {
                    c.insert("aud".into(), json!(["other", "another"]));
                }),
                TokenProblem::Invalid,
            ),
            (
                jwt::edit(&app, &access, |c| {
                    c.insert("nbf".into(), json!(now + 600));
                }),
                TokenProblem::Invalid,
            ),
            (jwt::alg_none(&access), TokenProblem::Invalid),
            (
                jwt::hs256_with_public_key(&app, &access),
                TokenProblem::Invalid,
            ),
            (
                format!("{}AAAA", &access[..access.len() - 4]),
                TokenProblem::Invalid,
            ),
        ];
        for (token, problem) in refused {
            assert_eq!(verifier.verify(&token).await, Err(problem), "{token}");
        }

        // Leeway forgives a little clock skew, and only a little.
        let lenient = Verifier::new(
            JwksCache::new(&app.url("/.well-known/jwks.json")).unwrap(),
            Expectations::access(&app.settings.issuer).leeway(30),
        );
        let just_expired = jwt::edit(&app, &access, |c| {
            c.insert("exp".into(), json!(now - 5));
        });
        assert!(lenient.verify(&just_expired).await.is_ok());
        let long_expired = jwt::edit(&app, &access, |c| {
            c.insert("exp".into(), json!(now - 300));
        });
        assert_eq!(
            lenient.verify(&long_expired).await,
            Err(TokenProblem::Expired)
        );
    }
);

/// A JWKS endpoint whose document the test swaps, counting how often it is fetched.
pub struct StubJwks {
    pub url: String,
    pub body: Arc<Mutex<String>>,
    pub hits: Arc<AtomicUsize>,
}

pub fn stub_jwks(cache_control: &'static str) -> StubJwks {
    let body = Arc::new(Mutex::new(String::from(r#"{"keys":[]}"#)));
    let hits = Arc::new(AtomicUsize::new(0));
    let (b, h) = (body.clone(), hits.clone());
    let server = HttpServer::new(move || {
        let (b, h) = (b.clone(), h.clone());
        App::new().route(
            "/jwks.json",
            web::get().to(move || {
                let (b, h) = (b.clone(), h.clone());
                async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    let body = b.lock().unwrap().clone();
                    HttpResponse::Ok()
                        .insert_header(("Cache-Control", cache_control))
                        .content_type("application/json")
                        .body(body)
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let url = format!("http://{}/jwks.json", server.addrs()[0]);
    actix_web::rt::spawn(server.run());
    StubJwks { url, body, hits }
}

fn token(keys: &Keys, issuer: &str) -> String {
    let now = jwt::now();
    keys.current()
        .sign(
            "at+jwt",
            &json!({
                "iss": issuer, "aud": issuer, "sub": "u1", "exp": now + 300, "iat": now,
                "jti": uuid::Uuid::new_v4().to_string(), "token_type": "access", "user_id": "1",
            }),
        )
        .unwrap()
}

#[actix_web::test]
async fn refetches_for_an_unknown_kid_but_not_more_than_the_interval_allows() {
    let issuer = "https://id.example";
    let dir = tempfile::tempdir().unwrap();
    let key_dir = KeyDir::new(dir.path());
    key_dir
        .generate(SystemClock.now() - chrono::Duration::seconds(1))
        .unwrap();
    let old = Keys::load(KeyDir::new(dir.path())).unwrap();
    // A newer key, as `tessera keys rotate` would add; the JWKS does not list it yet.
    key_dir.generate(SystemClock.now()).unwrap();
    let rotated = Keys::load(KeyDir::new(dir.path())).unwrap();
    assert_ne!(old.current().active_kid(), rotated.current().active_kid());

    let stub = stub_jwks("public, max-age=3600");
    *stub.body.lock().unwrap() = old.current().jwks().0.to_owned();
    let jwks = JwksCache::new(&stub.url)
        .unwrap()
        .min_refetch_interval(Duration::from_millis(500));
    let verifier = Verifier::new(jwks, Expectations::access(issuer));

    let with_old = token(&old, issuer);
    assert!(verifier.verify(&with_old).await.is_ok());
    assert!(verifier.verify(&with_old).await.is_ok());
    assert_eq!(
        stub.hits.load(Ordering::SeqCst),
        1,
        "a fresh cache is reused"
    );

    // The issuer rotates. Right after a fetch, an unknown kid does not trigger another one.
    *stub.body.lock().unwrap() = rotated.current().jwks().0.to_owned();
    let with_new = token(&rotated, issuer);
    assert_eq!(verifier.verify(&with_new).await, Err(TokenProblem::Invalid));
    assert_eq!(
        stub.hits.load(Ordering::SeqCst),
        1,
        "refetching is rate-limited"
    );

    // Once the interval has passed, the unknown kid is looked up again and found.
    actix_web::rt::time::sleep(Duration::from_millis(600)).await;
    assert!(verifier.verify(&with_new).await.is_ok());
    assert_eq!(stub.hits.load(Ordering::SeqCst), 2);

    // A burst of tokens naming keys that do not exist costs at most one fetch.
    let forged: Vec<String> = (0..20)
        .map(|i| {
            let t = token(&rotated, issuer);
            let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
            let mut header: Value = serde_json::from_slice(
                &base64::Engine::decode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    &parts[0],
                )
                .unwrap(),
            )
            .unwrap();
            header["kid"] = json!(format!("no-such-key-{i}"));
            parts[0] = base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                header.to_string(),
            );
            parts.join(".")
        })
        .collect();
    actix_web::rt::time::sleep(Duration::from_millis(600)).await;
    for t in &forged {
        assert_eq!(verifier.verify(t).await, Err(TokenProblem::Invalid));
    }
    assert_eq!(stub.hits.load(Ordering::SeqCst), 3);
}

#[actix_web::test]
async fn honours_max_age_and_keeps_known_keys_when_the_issuer_is_down() {
    let issuer = "https://id.example";
    let dir = tempfile::tempdir().unwrap();
    KeyDir::new(dir.path()).generate(SystemClock.now()).unwrap();
    let keys = Keys::load(KeyDir::new(dir.path())).unwrap();
    let stub = stub_jwks("public, max-age=1");
    *stub.body.lock().unwrap() = keys.current().jwks().0.to_owned();
    let verifier = Verifier::new(
        JwksCache::new(&stub.url)
            .unwrap()
            .min_refetch_interval(Duration::from_millis(100)),
        Expectations::access(issuer),
    );
    let t = token(&keys, issuer);
    assert!(verifier.verify(&t).await.is_ok());
    assert!(verifier.verify(&t).await.is_ok());
    assert_eq!(stub.hits.load(Ordering::SeqCst), 1);
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    assert!(verifier.verify(&t).await.is_ok());
    assert_eq!(
        stub.hits.load(Ordering::SeqCst),
        2,
        "max-age=1 expired the cache"
    );

    // The issuer now answers garbage: the keys already known keep working.
    *stub.body.lock().unwrap() = "not json".to_owned();
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    assert!(verifier.verify(&t).await.is_ok());
    assert_eq!(stub.hits.load(Ordering::SeqCst), 3);
}
