//! Threats of RFC 8725 (JSON Web Token Best Current Practices) that Tessera defends, one
//! test per section, named after it: every endpoint that takes a token refuses these.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use tessera::resource::{Expectations, JwksCache, Verifier};

use crate::flow::{self, tokens_for};
use crate::helpers::TestApp;
use crate::jwt;
use crate::on_both_backends;

/// userinfo, `/hello/` and SimpleJWT's verify accept `token`?
pub(crate) async fn accepted(app: &TestApp, token: &str) -> [bool; 3] {
    let userinfo = app
        .http
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status();
    let hello = app
        .http
        .get(app.url("/hello/"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status();
    let verify = app
        .http
        .post(app.url("/api/token/verify/"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap()
        .status();
    [userinfo == 200, hello == 200, verify == 200]
}

async fn access_token(app: &TestApp) -> (String, Value) {
    flow::create_user(app, "alice");
    let client = flow::confidential(app);
    let body = tokens_for(app, &client, "alice", "openid profile").await;
    (body["access_token"].as_str().unwrap().to_owned(), body)
}

on_both_backends!(
    rfc8725_2_1_and_3_1_alg_none_is_refused,
    |app: TestApp| async move {
        let (access, _) = access_token(&app).await;
        assert_eq!(accepted(&app, &access).await, [true; 3]);
        assert_eq!(accepted(&app, &jwt::alg_none(&access)).await, [false; 3]);
    }
);

on_both_backends!(
    rfc8725_2_1_and_3_1_hs256_keyed_with_the_public_key_is_refused,
    |app: TestApp| async move {
        let (access, _) = access_token(&app).await;
        let forged = jwt::hs256_with_public_key(&app, &access);
        assert_eq!(accepted(&app, &forged).await, [false; 3]);
    }
);

on_both_backends!(
    rfc8725_3_9_another_audience_is_refused,
    |app: TestApp| async move {
        let (access, _) = access_token(&app).await;
        let forged = jwt::edit(&app, &access, |c| {
            c.insert("aud".into(), json!("https://other-api.example"));
        });
        assert_eq!(accepted(&app, &forged).await, [false; 3]);
    }
);

on_both_backends!(
    rfc8725_3_8_another_issuer_is_refused,
    |app: TestApp| async move {
        let (access, _) = access_token(&app).await;
        let forged = jwt::edit(&app, &access, |c| {
            c.insert("iss".into(), json!("https://evil.example"));
        });
        assert_eq!(accepted(&app, &forged).await, [false; 3]);
    }
);

on_both_backends!(
    rfc8725_3_11_an_id_token_is_not_an_access_token,
    |app: TestApp| async move {
        let (_, body) = access_token(&app).await;
        let id_token = body["id_token"].as_str().unwrap();
        let [userinfo, hello, _] = accepted(&app, id_token).await;
        assert!(!userinfo, "userinfo took an ID token as a bearer token");
        assert!(!hello, "/hello/ took an ID token as a bearer token");
    }
);

/// A local listener that counts the connections made to it: a `jku`/`x5u` that Tessera
/// followed would show up here.
async fn counting_listener() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((_conn, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    (url, hits)
}

on_both_backends!(
    rfc8725_3_10_and_rfc7515_4_1_key_headers_are_not_trusted,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let body = tokens_for(&app, &client, "alice", "openid profile").await;
        let access = body["access_token"].as_str().unwrap();
        let (simple, _) = crate::simplejwt::obtain(&app, "alice").await;
        let (evil, hits) = counting_listener().await;
        let (_, attacker_kid) = jwt::attacker_key();
        let server_kid = app.keys.current().active_kid().to_owned();
        let jwk = jwt::attacker_jwk();
        let x5c = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            b"not a certificate Tessera issued",
        );
        let remote = Verifier::new(
            JwksCache::new(&app.url("/.well-known/jwks.json")).unwrap(),
            Expectations::access(&app.settings.issuer),
        );
        // Each header is tried on an OAuth and a SimpleJWT access token's claims.
        let headers = [
            (
                "jwk, attacker kid",
                json!({"kid": attacker_kid, "jwk": jwk}),
            ),
            ("jwk, server kid", json!({"kid": server_kid, "jwk": jwk})),
            ("jwk, no kid", json!({"jwk": jwk})),
            (
                "jku",
                json!({"kid": attacker_kid, "jku": format!("{evil}/jwks.json")}),
            ),
            (
                "jku, server kid",
                json!({"kid": server_kid, "jku": format!("{evil}/jwks.json")}),
            ),
            (
                "x5u",
                json!({"kid": attacker_kid, "x5u": format!("{evil}/cert.pem")}),
            ),
            ("x5c", json!({"kid": attacker_kid, "x5c": [x5c]})),
            ("unknown kid", json!({"kid": "no-such-key"})),
            (
                "path traversal kid",
                json!({"kid": "../../../../../../dev/null"}),
            ),
            ("SQL kid", json!({"kid": "x' OR '1'='1"})),
        ];
        for original in [access, simple.as_str()] {
            let claims = jwt::claims(original);
            let mut forged = Vec::new();
            for (what, header) in &headers {
                forged.push((*what, jwt::sign_as_attacker(header.clone(), &claims)));
            }
            // A kid that named a file or a row could make an empty or guessable secret the
            // key: HS256 under such kids, with the secrets they would yield.
            for kid in [
                "../../../../../../dev/null",
                "x' OR '1'='1",
                server_kid.as_str(),
            ] {
                for secret in [&b""[..], b"null", b"1"] {
                    forged.push((
                        "HS256 with a kid as key",
                        jwt::sign_hs256(json!({ "kid": kid }), &claims, secret),
                    ));
                }
            }
            for (what, token) in forged {
                assert_eq!(accepted(&app, &token).await, [false; 3], "{what}");
                let info = crate::introspection::introspect(&app, &client, &token).await;
                assert_eq!(info, json!({"active": false}), "{what}");
                assert!(remote.verify(&token).await.is_err(), "{what}");
            }
        }
        // The genuine tokens still pass, so the refusals above are about the headers.
        assert_eq!(accepted(&app, access).await, [true; 3]);
        assert!(remote.verify(access).await.is_ok());
        assert_eq!(hits.load(Ordering::SeqCst), 0, "a jku/x5u URL was fetched");
    }
);

/// RFC 7519 §4.1.4 (and RFC 8725 §3.10: a claim is checked, not trusted): SimpleJWT's
/// `LEEWAY` stretches `exp` at its endpoints by exactly that many seconds; OAuth access
/// tokens get no leeway and are refused at `exp` itself.
mod rfc7519_4_1_4_exp_with_and_without_leeway {
    use super::*;
    use crate::helpers::{Backend, spawn_with_clock};
    use crate::simplejwt::{hello, obtain, post_json};
    use tessera::clock::{Clock, ManualClock, SystemClock};

    async fn run(backend: Backend) {
        let app = spawn_with_clock(
            backend,
            &[("TESSERA_SIMPLEJWT_LEEWAY", "30")],
            ManualClock::at(SystemClock.unix()),
        )
        .await;
        flow::create_user(&app, "alice");
        let (simple, _) = obtain(&app, "alice").await;
        let client = flow::confidential(&app);
        let body = tokens_for(&app, &client, "alice", "openid").await;
        let oauth = body["access_token"].as_str().unwrap().to_owned();
        let exp = |token: &str| jwt::claims(token)["exp"].as_i64().unwrap();
        let verify = |token: String| {
            let app = &app;
            async move {
                post_json(app, "/api/token/verify/", json!({ "token": token }))
                    .await
                    .0
            }
        };
        let hello_status = |token: String| {
            let app = &app;
            async move { hello(app, Some(&format!("Bearer {token}"))).await.0 }
        };

        // OAuth: one second before exp accepted, at exp refused, leeway or not.
        app.advance(exp(&oauth) - app.clock.unix() - 1);
        assert_eq!(flow::userinfo_status(&app, &oauth).await, 200);
        app.advance(1);
        assert_eq!(app.clock.unix(), exp(&oauth));
        assert_eq!(flow::userinfo_status(&app, &oauth).await, 401);
        let info = crate::introspection::introspect(&app, &client, &oauth).await;
        assert_eq!(info["active"], false);

        // SimpleJWT: accepted up to exp + leeway - 1, refused from exp + leeway.
        app.advance(exp(&simple) + 29 - app.clock.unix());
        assert_eq!(verify(simple.clone()).await, 200);
        assert_eq!(hello_status(simple.clone()).await, 200);
        app.advance(1);
        assert_eq!(verify(simple.clone()).await, 401);
        assert_eq!(hello_status(simple.clone()).await, 401);
    }

    #[actix_web::test]
    async fn sqlite() {
        run(Backend::Sqlite).await;
    }

    #[actix_web::test]
    #[cfg_attr(
        not(tessera_test_postgres),
        ignore = "TESSERA_TEST_POSTGRES_URL not set: PostgreSQL not tested"
    )]
    async fn postgres() {
        run(Backend::Postgres).await;
    }
}
