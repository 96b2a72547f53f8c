//! Django apps as resource servers of Tessera's tokens: a stock SimpleJWT 5.5.1 app set up
//! with `JWK_URL` (Tessera's JWKS) accepts the tokens of `/api/token/` and `/oauth/token`
//! alike, with SimpleJWT's defaults for `ISSUER`/`AUDIENCE` and with them set to Tessera's,
//! and with its own `USER_ID_CLAIM` / `USER_ID_FIELD` mirrored in Tessera.
use serde_json::{Value, json};

use crate::django::{self, Django, DjangoDb};
use crate::flow::{self, PASSWORD};
use crate::helpers::{Backend, TestApp, spawn, spawn_with};
use crate::jwt;

/// GET `path` on `resource` with `token` as `Bearer`: status and JSON body.
async fn get(resource: &Django, path: &str, token: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .get(resource.url(path))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// Alice's access tokens: one from `/api/token/`, one from the OAuth code flow.
async fn alice_tokens(app: &TestApp) -> [String; 2] {
    let (access, _) = crate::simplejwt::obtain(app, "alice").await;
    let client = flow::confidential(app);
    let tokens = flow::tokens_for(app, &client, "alice", "openid").await;
    [access, tokens["access_token"].as_str().unwrap().to_owned()]
}

/// A stateless SimpleJWT app (`JWTStatelessUserAuthentication`) trusting `app`'s JWKS, with
/// `settings` added.
fn jwk_app(app: &TestApp, settings: &[(&str, &str)]) -> Django {
    let jwks = app.url("/.well-known/jwks.json");
    let mut all = vec![("REF_MODE", "jwk"), ("REF_JWK_URL", jwks.as_str())];
    all.extend_from_slice(settings);
    Django::start(&django::python(), &all, &[])
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_django),
    ignore = "TESSERA_TEST_DJANGO_PYTHON not set: not compared with Django SimpleJWT"
)]
async fn a_stock_simplejwt_app_accepts_tessera_tokens_through_jwk_url() {
    let python = django::python();
    let app = spawn(Backend::Sqlite).await;
    flow::create_user(&app, "alice");
    let jwks = app.url("/.well-known/jwks.json");
    let resource = Django::start(
        &python,
        &[
            ("REF_MODE", "jwk"),
            ("REF_JWK_URL", &jwks),
            ("REF_ISSUER", &app.settings.issuer),
            ("REF_AUDIENCE", app.settings.audience()),
        ],
        &[],
    );
    let http = reqwest::Client::new();
    let hello = |token: String| {
        let req = http
            .get(resource.url("/hello/"))
            .header("Authorization", format!("Bearer {token}"));
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let greeting = json!({"message": "Hello, World!"});

    let (access, refresh) = crate::simplejwt::obtain(&app, "alice").await;
    assert_eq!(hello(access.clone()).await, (200, greeting.clone()));

    // Tokens from the OAuth authorization-code flow carry SimpleJWT's claims too.
    let client = flow::confidential(&app);
    let tokens = flow::tokens_for(&app, &client, "alice", "openid").await;
    let oauth = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(hello(oauth).await, (200, greeting));

    let (status, body) = hello(refresh).await;
    assert_eq!(status, 401);
    assert_eq!(body["messages"][0]["message"], "Token has wrong type");
    let (status, body) = hello(jwt::hs256_with_public_key(&app, &access)).await;
    assert_eq!(status, 401);
    assert_eq!(body["messages"][0]["message"], "Token is invalid");
    let other_audience = jwt::edit(&app, &access, |c| {
        c.insert("aud".into(), json!("https://another-api.example"));
    });
    let (status, _) = hello(other_audience).await;
    assert_eq!(status, 401);
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_django),
    ignore = "TESSERA_TEST_DJANGO_PYTHON not set: not compared with Django SimpleJWT"
)]
async fn simplejwts_default_issuer_and_audience_check_nothing_so_set_them() {
    let app = spawn(Backend::Sqlite).await;
    flow::create_user(&app, "alice");
    let tokens = alice_tokens(&app).await;
    let greeting = (200, json!({"message": "Hello, World!"}));
    // ISSUER = AUDIENCE = None (SimpleJWT's defaults): PyJWT skips both checks, so
    // Tessera's tokens are accepted, and so is a token meant for another API.
    let lax = jwk_app(&app, &[]);
    for token in &tokens {
        assert_eq!(get(&lax, "/hello/", token).await, greeting);
    }
    let elsewhere = jwt::edit(&app, &tokens[0], |c| {
        c.insert("aud".into(), json!("https://another-api.example"));
        c.insert("iss".into(), json!("https://another-issuer.example"));
    });
    assert_eq!(get(&lax, "/hello/", &elsewhere).await, greeting);
    drop(lax);

    // Set to Tessera's issuer and audience: its tokens pass, the other API's do not.
    let strict = jwk_app(
        &app,
        &[
            ("REF_ISSUER", &app.settings.issuer),
            ("REF_AUDIENCE", app.settings.audience()),
        ],
    );
    for token in &tokens {
        assert_eq!(get(&strict, "/hello/", token).await, greeting);
    }
    let (status, body) = get(&strict, "/hello/", &elsewhere).await;
    assert_eq!(status, 401);
    assert_eq!(body["messages"][0]["message"], "Token is invalid");
    drop(strict);

    // Set to something else, Tessera's tokens are refused: the values must match.
    for wrong in [
        [
            ("REF_ISSUER", "https://another-issuer.example"),
            ("REF_AUDIENCE", app.settings.audience()),
        ],
        [
            ("REF_ISSUER", app.settings.issuer.as_str()),
            ("REF_AUDIENCE", "https://another-api.example"),
        ],
    ] {
        let resource = jwk_app(&app, &wrong);
        for token in &tokens {
            let (status, body) = get(&resource, "/hello/", token).await;
            assert_eq!(status, 401, "{wrong:?}: {body}");
            assert_eq!(body["messages"][0]["message"], "Token is invalid");
        }
    }
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_django),
    ignore = "TESSERA_TEST_DJANGO_PYTHON not set: not compared with Django SimpleJWT"
)]
async fn a_django_app_with_its_own_user_claim_accepts_tessera_oauth_tokens() {
    // Tessera mirrors the app's USER_ID_CLAIM / USER_ID_FIELD, for every access token.
    let app = spawn_with(
        Backend::Sqlite,
        &[
            ("TESSERA_SIMPLEJWT_USER_ID_CLAIM", "uid"),
            ("TESSERA_SIMPLEJWT_USER_ID_FIELD", "username"),
        ],
    )
    .await;
    flow::create_user(&app, "alice");
    // The app looks users up in its own database (stock JWTAuthentication), where alice is
    // user 2, not Tessera's id: only the username connects them.
    let db = DjangoDb::setup(
        &django::python(),
        &[
            ("DJANGO_SETTINGS_MODULE", "refsite.settings_users"),
            ("REF_MODE", "jwk"),
            ("REF_JWK_URL", &app.url("/.well-known/jwks.json")),
            ("REF_ISSUER", &app.settings.issuer),
            ("REF_AUDIENCE", app.settings.audience()),
            ("REF_USER_ID_CLAIM", "uid"),
            ("REF_USER_ID_FIELD", "username"),
        ],
        &[&format!("carl:{PASSWORD}"), &format!("alice:{PASSWORD}")],
    );
    let resource = db.serve(&[]);
    let tokens = alice_tokens(&app).await;
    for token in &tokens {
        let claims = jwt::claims(token);
        assert_eq!(claims["uid"], "alice");
        assert!(!claims.contains_key("user_id"), "{claims:?}");
        assert_eq!(
            get(&resource, "/whoami/", token).await,
            (200, json!({"id": 2, "username": "alice"}))
        );
        // Tessera's own /hello/ reads the same claim.
        let res = app
            .http
            .get(app.url("/hello/"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    // The app really reads `uid`: under SimpleJWT's default claim name it finds nobody.
    let renamed = jwt::edit(&app, &tokens[1], |c| {
        let uid = c.remove("uid").unwrap();
        c.insert("user_id".into(), uid);
    });
    let (status, body) = get(&resource, "/whoami/", &renamed).await;
    assert_eq!(status, 401);
    assert_eq!(
        body["detail"],
        "Token contained no recognizable user identification"
    );
}
