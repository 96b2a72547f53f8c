//! DPoP-bound access tokens (RFC 9449 §7) where they are spent: userinfo, `/hello/`, an API
//! built on `tessera::resource`, and what introspection tells a resource server. Every
//! refusal first: the bound token as Bearer, no proof, no `ath`, another key, wrong
//! `htm`/`htu`, a stale `iat`, a replayed proof, an unbound token with the DPoP scheme.
use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::Value;
use tessera::resource::{Authenticated, Expectations, JwksCache, Verifier};

use crate::dpop::{code_for, machine, with_proof};
use crate::dpop_keys::DpopKey;
use crate::flow::{self, REDIRECT};
use crate::helpers::TestApp;
use crate::introspection::introspect;
use crate::on_both_backends;

/// A DPoP-bound access token for alice, through a public client's code flow.
async fn bound_token(app: &TestApp, key: &DpopKey) -> String {
    flow::create_user(app, "alice");
    let client = flow::public(app);
    let (code, verifier) = code_for(app, &client, "alice").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let answer = with_proof(app, &client, &form, key).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["access_token"].as_str().unwrap().to_owned()
}

struct Reply {
    status: u16,
    challenge: String,
    body: String,
}

/// GET `url` with `Authorization: <scheme> <token>` and the proof, if any.
async fn call(app: &TestApp, url: &str, scheme: &str, token: &str, proof: Option<String>) -> Reply {
    let mut req = app
        .http
        .get(url)
        .header("Authorization", format!("{scheme} {token}"));
    if let Some(proof) = proof {
        req = req.header("DPoP", proof);
    }
    let res = req.send().await.unwrap();
    Reply {
        status: res.status().as_u16(),
        challenge: res
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default(),
        body: res.text().await.unwrap(),
    }
}

/// Every way a DPoP presentation at `url` can be wrong is refused with a `DPoP`
/// challenge naming the error; then the right one is taken, once.
async fn refusals_then_success(app: &TestApp, url: &str, key: &DpopKey, token: &str) {
    let now = app.clock.unix();
    let other = DpopKey::es256();
    let good = || key.proof("GET", url, now).ath(token);
    let cases: Vec<(&str, &str, Option<String>, &str)> = vec![
        (
            "bound token as Bearer",
            "Bearer",
            Some(good().sign()),
            "invalid_token",
        ),
        ("no proof", "DPoP", None, "invalid_dpop_proof"),
        (
            "no ath",
            "DPoP",
            Some(key.proof("GET", url, now).sign()),
            "invalid_dpop_proof",
        ),
        (
            "ath of another token",
            "DPoP",
            Some(key.proof("GET", url, now).ath("another").sign()),
            "invalid_dpop_proof",
        ),
        (
            "another key",
            "DPoP",
            Some(other.proof("GET", url, now).ath(token).sign()),
            "invalid_dpop_proof",
        ),
        (
            "wrong htm",
            "DPoP",
            Some(key.proof("POST", url, now).ath(token).sign()),
            "invalid_dpop_proof",
        ),
        (
            "wrong htu",
            "DPoP",
            Some(
                key.proof("GET", &app.url("/elsewhere"), now)
                    .ath(token)
                    .sign(),
            ),
            "invalid_dpop_proof",
        ),
        (
            "stale iat",
            "DPoP",
            Some(key.proof("GET", url, now - 61).ath(token).sign()),
            "invalid_dpop_proof",
        ),
        (
            "future iat",
            "DPoP",
            Some(key.proof("GET", url, now + 120).ath(token).sign()),
            "invalid_dpop_proof",
        ),
        (
            "signed by a key other than its jwk",
            "DPoP",
            Some(good().signed_by(&other).sign()),
            "invalid_dpop_proof",
        ),
    ];
    for (why, scheme, proof, error) in cases {
        let reply = call(app, url, scheme, token, proof).await;
        assert_eq!(reply.status, 401, "{why}: {}", reply.body);
        assert!(
            reply.challenge.starts_with("DPoP ")
                && reply.challenge.contains(&format!("error=\"{error}\""))
                && reply.challenge.contains("algs=\""),
            "{why}: {}",
            reply.challenge
        );
    }
    let proof = good().sign();
    let reply = call(app, url, "DPoP", token, Some(proof.clone())).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let replayed = call(app, url, "DPoP", token, Some(proof)).await;
    assert_eq!(replayed.status, 401, "replayed proof: {}", replayed.body);
    assert!(replayed.challenge.contains("invalid_dpop_proof"));
}

on_both_backends!(dpop_userinfo, |app: TestApp| async move {
    let key = DpopKey::es256();
    let token = bound_token(&app, &key).await;
    let url = app.settings.endpoint("/oauth/userinfo");
    refusals_then_success(&app, &url, &key, &token).await;
    // POST with the form's access_token is Bearer, so refused too.
    let res = app
        .http
        .post(&url)
        .form(&[("access_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // An unbound token with the DPoP scheme: refused, it is not what it claims to be.
    let client = machine(&app);
    let plain =
        crate::dpop::post_token(&app, &client, &[("grant_type", "client_credentials")], None).await;
    let plain = plain.body["access_token"].as_str().unwrap().to_owned();
    let proof = key.proof("GET", &url, app.clock.unix()).ath(&plain).sign();
    let reply = call(&app, &url, "DPoP", &plain, Some(proof)).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert!(
        reply.challenge.contains("invalid_token"),
        "{}",
        reply.challenge
    );
});

on_both_backends!(dpop_hello, |app: TestApp| async move {
    let key = DpopKey::ed25519();
    let token = bound_token(&app, &key).await;
    let url = app.settings.endpoint("/hello/");
    refusals_then_success(&app, &url, &key, &token).await;
});

on_both_backends!(
    dpop_introspection_reports_the_binding,
    |app: TestApp| async move {
        let client = machine(&app);
        let key = DpopKey::es256();
        let answer = with_proof(&app, &client, &[("grant_type", "client_credentials")], &key).await;
        let token = answer.body["access_token"].as_str().unwrap();
        let info = introspect(&app, &client, token).await;
        assert_eq!(info["active"], true);
        assert_eq!(info["token_type"], "DPoP");
        assert_eq!(info["cnf"]["jkt"], key.thumbprint().as_str());
        let plain =
            crate::dpop::post_token(&app, &client, &[("grant_type", "client_credentials")], None)
                .await;
        let info = introspect(&app, &client, plain.body["access_token"].as_str().unwrap()).await;
        assert_eq!(info["token_type"], "Bearer");
        assert!(info.get("cnf").is_none(), "{info}");
    }
);

async fn me(token: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "sub": token.0.sub() }))
}

/// An API on its own port trusting `app` through the JWKS; `dpop` turns DPoP on for its
/// public origin. Its base URL.
fn spawn_api(app: &TestApp, dpop: bool) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let jwks = JwksCache::new(&app.url("/.well-known/jwks.json")).unwrap();
    let mut verifier = Verifier::new(jwks, Expectations::access(&app.settings.issuer));
    if dpop {
        verifier = verifier.with_dpop(&base);
    }
    let verifier = web::Data::new(verifier);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(verifier.clone())
            .route("/me", web::get().to(me))
    })
    .workers(1)
    .listen(listener)
    .unwrap();
    actix_web::rt::spawn(server.run());
    base
}

on_both_backends!(dpop_resource_verifier, |app: TestApp| async move {
    let key = DpopKey::es256();
    let token = bound_token(&app, &key).await;
    let api = spawn_api(&app, true);
    refusals_then_success(&app, &format!("{api}/me"), &key, &token).await;

    // An API that did not turn DPoP on still refuses a bound token as Bearer.
    let plain_api = spawn_api(&app, false);
    let reply = call(&app, &format!("{plain_api}/me"), "Bearer", &token, None).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    let body: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(body["code"], "invalid_token");
});
