//! SimpleJWT settings a migrating app may have changed, against Tessera alone:
//! `AUTH_HEADER_TYPES` at `/hello/` (and the scheme every 401 challenges with), the
//! SimpleJWT-only token lifetimes, `LEEWAY`, `UPDATE_LAST_LOGIN`, a custom serializer's extra
//! claims, and `USER_ID_CLAIM` / `USER_ID_FIELD` in the access tokens of `/oauth/token`. The same settings against a real Django app: django_resource_server.rs
//! and simplejwt_vs_django.rs.
use serde_json::{Value, json};
use tessera::clock::{Clock, ManualClock, SystemClock};

use crate::flow;
use crate::helpers::{Backend, TestApp, spawn, spawn_with, spawn_with_clock};
use crate::introspection::introspect;
use crate::jwt;
use crate::simplejwt::{hello, obtain, post_json};

macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[actix_web::test]
            async fn sqlite() {
                ($body)(Backend::Sqlite).await;
            }

            #[actix_web::test]
            #[cfg_attr(
                not(tessera_test_postgres),
                ignore = "TESSERA_TEST_POSTGRES_URL not set: PostgreSQL not tested"
            )]
            async fn postgres() {
                ($body)(Backend::Postgres).await;
            }
        }
    };
}

/// `/hello/` with `authorization`: status, the `WWW-Authenticate` header, and the body.
async fn hello_with_challenge(app: &TestApp, authorization: &str) -> (u16, String, Value) {
    let res = app
        .http
        .get(app.url("/hello/"))
        .header("Authorization", authorization)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let challenge = res
        .headers()
        .get("WWW-Authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, challenge, res.json().await.unwrap())
}

fn not_provided() -> Value {
    json!({"detail": "Authentication credentials were not provided."})
}

both!(
    hello_takes_only_the_configured_header_types,
    |backend| async move {
        let app = spawn_with(
            backend,
            &[("TESSERA_SIMPLEJWT_AUTH_HEADER_TYPES", "JWT, Token")],
        )
        .await;
        flow::create_user(&app, "alice");
        let (access, _) = obtain(&app, "alice").await;
        let greeting = json!({"message": "Hello, World!"});

        // Another scheme, `Bearer` included now, counts as no credentials at all, as in
        // SimpleJWT (matched exactly: `jwt` is not `JWT`), and the challenge names `JWT`.
        for refused in [
            format!("Bearer {access}"),
            format!("jwt {access}"),
            format!("Basic {access}"),
            "Bearer".to_owned(),
        ] {
            let (status, challenge, body) = hello_with_challenge(&app, &refused).await;
            assert_eq!((status, body), (401, not_provided()), "{refused}");
            assert_eq!(challenge, "JWT realm=\"api\"", "{refused}");
        }
        // A listed scheme with not exactly one token is a malformed header.
        for malformed in ["JWT".to_owned(), format!("Token {access} x")] {
            let (status, challenge, body) = hello_with_challenge(&app, &malformed).await;
            assert_eq!(status, 401);
            assert_eq!(body["code"], "bad_authorization_header", "{malformed}");
            assert!(challenge.starts_with("JWT realm=\"api\""), "{challenge}");
        }
        // A listed scheme with a bad token: the token's own refusal.
        let (status, _, body) = hello_with_challenge(&app, "Token garbage").await;
        assert_eq!(status, 401);
        assert_eq!(body["messages"][0]["message"], "Token is invalid");
        // Each listed scheme works, for SimpleJWT and OAuth tokens alike.
        let client = flow::confidential(&app);
        let oauth = flow::tokens_for(&app, &client, "alice", "openid").await;
        let oauth = oauth["access_token"].as_str().unwrap();
        for ok in [
            format!("JWT {access}"),
            format!("Token {access}"),
            format!("JWT   {oauth}"),
        ] {
            assert_eq!(
                hello(&app, Some(&ok)).await,
                (200, greeting.clone()),
                "{ok}"
            );
        }

        // The token endpoints' 401s challenge with the first scheme too, as DRF's do.
        let res = app
            .http
            .post(app.url("/api/token/"))
            .json(&json!({"username": "alice", "password": "wrong"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(res.headers()["WWW-Authenticate"], "JWT realm=\"api\"");
        // OAuth's own endpoints stay RFC 6750 `Bearer`: the setting is SimpleJWT's.
        let res = app
            .http
            .get(app.url("/oauth/userinfo"))
            .header("Authorization", "Bearer garbage")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        let challenge = res.headers()["WWW-Authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Bearer "), "{challenge}");
    }
);

#[actix_web::test]
async fn by_default_hello_takes_bearer_only() {
    let app = spawn(Backend::Sqlite).await;
    flow::create_user(&app, "alice");
    let (access, _) = obtain(&app, "alice").await;
    let (status, challenge, body) = hello_with_challenge(&app, &format!("JWT {access}")).await;
    assert_eq!((status, body), (401, not_provided()));
    assert_eq!(challenge, "Bearer realm=\"api\"");
    let (status, _) = hello(&app, Some(&format!("Bearer {access}"))).await;
    assert_eq!(status, 200);
}

/// `exp - iat` of a JWT.
fn lifetime(token: &str) -> i64 {
    let c = jwt::claims(token);
    c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap()
}

both!(
    simplejwt_lifetimes_are_their_own_and_default_to_the_oauth_ones,
    |backend| async move {
        let app = spawn_with_clock(
            backend,
            &[
                ("TESSERA_ACCESS_TOKEN_TTL", "120"),
                ("TESSERA_SIMPLEJWT_ACCESS_TOKEN_LIFETIME", "60"),
                ("TESSERA_SIMPLEJWT_REFRESH_TOKEN_LIFETIME", "600"),
            ],
            ManualClock::at(SystemClock.unix()),
        )
        .await;
        flow::create_user(&app, "alice");
        let (access, refresh) = obtain(&app, "alice").await;
        assert_eq!((lifetime(&access), lifetime(&refresh)), (60, 600));
        // OAuth tokens keep the OAuth lifetime.
        let client = flow::confidential(&app);
        let oauth = flow::tokens_for(&app, &client, "alice", "openid").await;
        assert_eq!(oauth["expires_in"], 120);
        assert_eq!(lifetime(oauth["access_token"].as_str().unwrap()), 120);

        // The access token dies at 60 s; the refresh token lives on and gives fresh ones.
        app.advance(60);
        let (status, body) = hello(&app, Some(&format!("Bearer {access}"))).await;
        assert_eq!(status, 401);
        assert_eq!(body["messages"][0]["message"], "Token is expired");
        let (status, body) =
            post_json(&app, "/api/token/refresh/", json!({"refresh": refresh})).await;
        assert_eq!(status, 200, "{body}");
        let fresh = body["access"].as_str().unwrap();
        let rotated = body["refresh"].as_str().unwrap().to_owned();
        assert_eq!((lifetime(fresh), lifetime(&rotated)), (60, 600));
        assert_eq!(hello(&app, Some(&format!("Bearer {fresh}"))).await.0, 200);
        // The rotated refresh token dies 600 s after its rotation, not a day later.
        app.advance(600);
        let (status, body) =
            post_json(&app, "/api/token/refresh/", json!({"refresh": rotated})).await;
        assert_eq!(status, 401);
        assert_eq!(body["detail"], "Token is expired");
    }
);

#[actix_web::test]
async fn without_their_own_lifetimes_simplejwt_tokens_follow_the_oauth_ttls() {
    let app = spawn_with(
        Backend::Sqlite,
        &[
            ("TESSERA_ACCESS_TOKEN_TTL", "120"),
            ("TESSERA_REFRESH_TOKEN_TTL", "3600"),
        ],
    )
    .await;
    flow::create_user(&app, "alice");
    let (access, refresh) = obtain(&app, "alice").await;
    assert_eq!((lifetime(&access), lifetime(&refresh)), (120, 3600));
}

both!(
    oauth_access_tokens_name_the_user_as_the_simplejwt_settings_say,
    |backend| async move {
        let app = spawn_with(
            backend,
            &[
                ("TESSERA_SIMPLEJWT_USER_ID_CLAIM", "uid"),
                ("TESSERA_SIMPLEJWT_USER_ID_FIELD", "username"),
            ],
        )
        .await;
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let tokens = flow::tokens_for(&app, &client, "alice", "openid profile").await;
        let access = tokens["access_token"].as_str().unwrap();
        let claims = jwt::claims(access);
        assert_eq!(claims["uid"], "alice");
        assert_eq!(claims["token_type"], "access");
        assert!(!claims.contains_key("user_id"), "{claims:?}");
        // A refreshed one says the same.
        let refreshed = flow::token(
            &app,
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
        assert_eq!(refreshed.status(), 200);
        let refreshed: Value = refreshed.json().await.unwrap();
        let claims = jwt::claims(refreshed["access_token"].as_str().unwrap());
        assert_eq!(claims["uid"], "alice");
        // What reads the user back from an access token still finds her.
        let res = app
            .http
            .get(app.url("/oauth/userinfo"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let info: Value = res.json().await.unwrap();
        assert_eq!(info["preferred_username"], "alice");
        let info = introspect(&app, &client, access).await;
        assert_eq!(
            (info["active"].clone(), info["username"].clone()),
            (json!(true), json!("alice"))
        );
        // And `/api/token/` tokens carry the same claim.
        let (simple, _) = obtain(&app, "alice").await;
        assert_eq!(jwt::claims(&simple)["uid"], "alice");
    }
);

#[actix_web::test]
async fn by_default_oauth_access_tokens_carry_user_id_as_a_string_of_the_id() {
    let app = spawn(Backend::Sqlite).await;
    let id = flow::create_user(&app, "alice");
    let client = flow::confidential(&app);
    let tokens = flow::tokens_for(&app, &client, "alice", "openid").await;
    let claims = jwt::claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["user_id"], json!(id.to_string()));
}

/// The user's recorded last login.
fn last_login(app: &TestApp, username: &str) -> Option<i64> {
    let mut conn = app.store.conn().unwrap();
    tessera::store::users::by_username(&mut conn, username)
        .unwrap()
        .unwrap()
        .last_login_at
}

both!(
    update_last_login_records_api_sign_ins_unless_turned_off,
    |backend| async move {
        let on = spawn_with_clock(backend, &[], ManualClock::at(SystemClock.unix())).await;
        flow::create_user(&on, "alice");
        assert_eq!(last_login(&on, "alice"), None);
        obtain(&on, "alice").await;
        assert_eq!(last_login(&on, "alice"), Some(on.clock.unix()));

        let off = spawn_with(backend, &[("TESSERA_SIMPLEJWT_UPDATE_LAST_LOGIN", "false")]).await;
        flow::create_user(&off, "alice");
        obtain(&off, "alice").await;
        assert_eq!(last_login(&off, "alice"), None);
    }
);

both!(
    leeway_stretches_exp_at_verify_refresh_and_hello,
    |backend| async move {
        let app = spawn_with_clock(
            backend,
            &[
                ("TESSERA_SIMPLEJWT_ACCESS_TOKEN_LIFETIME", "60"),
                ("TESSERA_SIMPLEJWT_REFRESH_TOKEN_LIFETIME", "120"),
                ("TESSERA_SIMPLEJWT_LEEWAY", "30"),
            ],
            ManualClock::at(SystemClock.unix()),
        )
        .await;
        flow::create_user(&app, "alice");
        let (access, refresh) = obtain(&app, "alice").await;
        // Past `exp` but within the leeway: still good.
        app.advance(89);
        let verify = |token: &str| post_json(&app, "/api/token/verify/", json!({"token": token}));
        assert_eq!(verify(&access).await, (200, json!({})));
        assert_eq!(hello(&app, Some(&format!("Bearer {access}"))).await.0, 200);
        // Past the leeway: expired.
        app.advance(1);
        let (status, body) = verify(&access).await;
        assert_eq!((status, &body["detail"]), (401, &json!("Token is expired")));
        let (status, body) = hello(&app, Some(&format!("Bearer {access}"))).await;
        assert_eq!(status, 401);
        assert_eq!(body["messages"][0]["message"], "Token is expired");
        // The refresh token (exp at 120) still refreshes at 149, not at 150.
        app.advance(59);
        let (status, body) =
            post_json(&app, "/api/token/refresh/", json!({"refresh": refresh})).await;
        assert_eq!(status, 200, "{body}");
        let rotated = body["refresh"].as_str().unwrap().to_owned();
        app.advance(150);
        let (status, body) =
            post_json(&app, "/api/token/refresh/", json!({"refresh": rotated})).await;
        assert_eq!((status, &body["detail"]), (401, &json!("Token is expired")));
    }
);

both!(
    extra_claims_carry_the_mapped_user_fields,
    |backend| async move {
        let app = spawn_with(
            backend,
            &[(
                "TESSERA_SIMPLEJWT_EXTRA_CLAIMS",
                "username=username, staff=is_staff, mail=email",
            )],
        )
        .await;
        flow::create_user(&app, "alice");
        let (access, refresh) = obtain(&app, "alice").await;
        let (status, body) =
            post_json(&app, "/api/token/refresh/", json!({"refresh": refresh})).await;
        assert_eq!(status, 200, "{body}");
        let tokens = [
            access,
            refresh,
            body["access"].as_str().unwrap().to_owned(),
            body["refresh"].as_str().unwrap().to_owned(),
        ];
        let mut conn = app.store.conn().unwrap();
        let alice = tessera::store::users::by_username(&mut conn, "alice")
            .unwrap()
            .unwrap();
        for token in &tokens {
            let c = jwt::claims(token);
            assert_eq!(
                (&c["username"], &c["staff"], &c["mail"]),
                (
                    &json!("alice"),
                    &json!(alice.is_admin),
                    &json!(alice.email.clone().unwrap_or_default())
                ),
                "{c:?}"
            );
        }
    }
);
