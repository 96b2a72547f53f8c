//! The SimpleJWT-compatible API against Tessera alone: token shapes and lifetimes, rotation,
//! reuse detection, blacklisting, and `/hello/` with tokens from both APIs.
use diesel::prelude::*;
use serde_json::{Value, json};
use tessera::store::schema::{audit_log, users};

use crate::flow::{self, PASSWORD};
use crate::helpers::TestApp;
use crate::jwt;
use crate::on_both_backends;

pub async fn post_json(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let res = app
        .http
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

pub async fn obtain(app: &TestApp, username: &str) -> (String, String) {
    let (status, body) = post_json(
        app,
        "/api/token/",
        json!({"username": username, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    (
        body["access"].as_str().unwrap().to_owned(),
        body["refresh"].as_str().unwrap().to_owned(),
    )
}

pub async fn hello(app: &TestApp, authorization: Option<&str>) -> (u16, Value) {
    let mut req = app.http.get(app.url("/hello/"));
    if let Some(value) = authorization {
        req = req.header("Authorization", value);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

pub fn set_active(app: &TestApp, user_id: i64, active: bool) {
    let mut conn = app.store.conn().unwrap();
    diesel::update(users::table.find(user_id))
        .set(users::is_active.eq(active))
        .execute(&mut **conn)
        .unwrap();
}

fn token_not_valid(message: &str) -> Value {
    json!({"detail": message, "code": "token_not_valid"})
}

on_both_backends!(
    obtain_issues_simplejwt_shaped_rs256_tokens,
    |app: TestApp| async move {
        let id = flow::create_user(&app, "alice");
        let (access, refresh) = obtain(&app, "alice").await;
        let names = [
            "aud",
            "exp",
            "iat",
            "iss",
            "jti",
            "sub",
            "token_type",
            "user_id",
        ];
        assert_eq!(jwt::claim_names(&access), names);
        assert_eq!(jwt::claim_names(&refresh), names);
        let a = jwt::claims(&access);
        let r = jwt::claims(&refresh);
        assert_eq!(a["token_type"], "access");
        assert_eq!(r["token_type"], "refresh");
        assert_eq!(
            a["user_id"],
            json!(id.to_string()),
            "SimpleJWT 5.5 writes user_id as a string"
        );
        assert_eq!(a["iss"], json!(app.settings.issuer));
        assert_eq!(a["aud"], json!(app.settings.issuer));
        assert_eq!(a["exp"].as_i64().unwrap() - a["iat"].as_i64().unwrap(), 300);
        assert_eq!(
            r["exp"].as_i64().unwrap() - r["iat"].as_i64().unwrap(),
            86_400
        );
        assert_ne!(a["jti"], r["jti"]);
        let header = jwt::header(&access);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["kid"], json!(app.keys.current().active_kid()));

        // The body lists `refresh` before `access`, as SimpleJWT does.
        let raw = app
            .http
            .post(app.url("/api/token/"))
            .form(&[("username", "alice"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status(), 200, "form-encoded bodies work too");
        assert_eq!(raw.headers()["cache-control"], "no-store");
        let text = raw.text().await.unwrap();
        assert!(text.starts_with("{\"refresh\":\"ey"), "{text}");
    }
);

#[actix_web::test]
async fn lifetimes_follow_the_settings() {
    let app = crate::helpers::spawn_with(
        crate::helpers::Backend::Sqlite,
        &[
            ("TESSERA_ACCESS_TOKEN_TTL", "60"),
            ("TESSERA_REFRESH_TOKEN_TTL", "3600"),
        ],
    )
    .await;
    flow::create_user(&app, "alice");
    let (access, refresh) = obtain(&app, "alice").await;
    let a = jwt::claims(&access);
    let r = jwt::claims(&refresh);
    assert_eq!(a["exp"].as_i64().unwrap() - a["iat"].as_i64().unwrap(), 60);
    assert_eq!(
        r["exp"].as_i64().unwrap() - r["iat"].as_i64().unwrap(),
        3600
    );
}

on_both_backends!(
    refresh_rotates_and_a_reused_token_revokes_the_family,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let (_, first) = obtain(&app, "alice").await;
        let (status, body) =
            post_json(&app, "/api/token/refresh/", json!({"refresh": first})).await;
        assert_eq!(status, 200, "{body}");
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["access", "refresh"]);
        let second = body["refresh"].as_str().unwrap().to_owned();
        let second_access = body["access"].as_str().unwrap().to_owned();
        assert_ne!(jwt::claims(&second)["jti"], jwt::claims(&first)["jti"]);
        assert_eq!(
            hello(&app, Some(&format!("Bearer {second_access}")))
                .await
                .0,
            200
        );

        // Past the refresh grace (default 5 s) the rotated token is blacklisted...
        app.advance(5);
        let (status, body) =
            post_json(&app, "/api/token/refresh/", json!({"refresh": first})).await;
        assert_eq!(
            (status, body),
            (401, token_not_valid("Token is blacklisted"))
        );
        let (status, body) = post_json(&app, "/api/token/verify/", json!({"token": first})).await;
        assert_eq!(
            (status, body),
            (400, json!({"non_field_errors": ["Token is blacklisted"]}))
        );
        // ...and its reuse revoked the whole family: the newest refresh token and the
        // access token issued with it are dead too (stricter than SimpleJWT, on purpose).
        let (status, body) =
            post_json(&app, "/api/token/refresh/", json!({"refresh": second})).await;
        assert_eq!(
            (status, body),
            (401, token_not_valid("Token is blacklisted"))
        );
        let (status, body) = hello(&app, Some(&format!("Bearer {second_access}"))).await;
        assert_eq!(status, 401);
        assert_eq!(body["messages"][0]["message"], "Token is blacklisted");
    }
);

on_both_backends!(
    blacklist_logs_a_refresh_token_out,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let (access, refresh) = obtain(&app, "alice").await;
        let (status, body) =
            post_json(&app, "/api/token/blacklist/", json!({"refresh": access})).await;
        assert_eq!(
            (status, body),
            (401, token_not_valid("Token has wrong type"))
        );
        let (status, body) =
            post_json(&app, "/api/token/blacklist/", json!({"refresh": refresh})).await;
        assert_eq!((status, body), (200, json!({})));
        for path in ["/api/token/blacklist/", "/api/token/refresh/"] {
            let (status, body) = post_json(&app, path, json!({"refresh": refresh})).await;
            assert_eq!(
                (status, body),
                (401, token_not_valid("Token is blacklisted")),
                "{path}"
            );
        }
        // Access tokens live out their five minutes, as with SimpleJWT.
        let (status, body) = post_json(&app, "/api/token/verify/", json!({"token": access})).await;
        assert_eq!((status, body), (200, json!({})));
    }
);

on_both_backends!(disabled_users_get_nothing, |app: TestApp| async move {
    let id = flow::create_user(&app, "alice");
    let (access, refresh) = obtain(&app, "alice").await;
    set_active(&app, id, false);
    let (status, body) = post_json(
        &app,
        "/api/token/",
        json!({"username": "alice", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            401,
            json!({"detail": "No active account found with the given credentials"})
        )
    );
    // Both API sign-ins are in the audit log, as login-page sign-ins are, a failure with
    // its reason.
    let mut conn = app.store.conn().unwrap();
    let entries: Vec<(String, Option<String>)> = audit_log::table
        .filter(audit_log::detail.like("via /api/token/%"))
        .order(audit_log::id.asc())
        .select((audit_log::action, audit_log::detail))
        .load(&mut **conn)
        .unwrap();
    assert_eq!(
        entries,
        [
            ("login".to_owned(), Some("via /api/token/".to_owned())),
            (
                "login.failed".to_owned(),
                Some("via /api/token/: account disabled".to_owned())
            ),
        ]
    );
    drop(conn);
    let (status, body) = post_json(&app, "/api/token/refresh/", json!({"refresh": refresh})).await;
    assert_eq!(
        (status, body),
        (
            401,
            json!({"detail": "No active account found for the given token."})
        )
    );
    let (status, body) = hello(&app, Some(&format!("Bearer {access}"))).await;
    assert_eq!(
        (status, body),
        (
            401,
            json!({"detail": "User is inactive", "code": "user_inactive"})
        )
    );
});

on_both_backends!(
    token_checks_follow_simplejwt_order_and_wording,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let (access, refresh) = obtain(&app, "alice").await;
        let past = jwt::now() - 3600;
        let cases = [
            (
                jwt::edit(&app, &refresh, |c| {
                    c.insert("exp".into(), json!(past));
                    c.insert("iss".into(), json!("https://elsewhere.example"));
                }),
                "Token is expired",
            ),
            (
                jwt::edit(&app, &refresh, |c| {
                    c.insert("iss".into(), json!("https://elsewhere.example"));
                }),
                "Token is invalid",
            ),
            (
                jwt::edit(&app, &refresh, |c| {
                    c.insert("aud".into(), json!("someone-else"));
                }),
                "Token is invalid",
            ),
            (
                jwt::edit(&app, &refresh, |c| {
                    c.remove("exp");
                }),
                "Token has no 'exp' claim",
            ),
            (
                jwt::edit(&app, &refresh, |c| {
                    c.remove("jti");
                }),
                "Token has no id",
            ),
            (
                jwt::edit(&app, &refresh, |c| {
                    c.remove("token_type");
                }),
                "Token has no type",
            ),
            (
                jwt::edit(&app, &refresh, |c| {
                    c.insert("nbf".into(), json!(jwt::now() + 3600));
                }),
                "Token is invalid",
            ),
            (access.clone(), "Token has wrong type"),
            (jwt::alg_none(&refresh), "Token is invalid"),
            (
                jwt::hs256_with_public_key(&app, &refresh),
                "Token is invalid",
            ),
            (format!("{refresh}x"), "Token is invalid"),
            ("not-a-jwt".to_owned(), "Token is invalid"),
        ];
        for (token, message) in cases {
            let (status, body) =
                post_json(&app, "/api/token/refresh/", json!({"refresh": token})).await;
            assert_eq!((status, body), (401, token_not_valid(message)), "{token}");
        }
        // A refresh token signed with our key but never issued is refused.
        let stranger = jwt::edit(&app, &refresh, |c| {
            c.insert("jti".into(), json!("0000"));
        });
        let (status, body) =
            post_json(&app, "/api/token/refresh/", json!({"refresh": stranger})).await;
        assert_eq!((status, body), (401, token_not_valid("Token is invalid")));
    }
);

on_both_backends!(
    hello_accepts_access_tokens_from_both_apis,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let (access, refresh) = obtain(&app, "alice").await;
        let (status, body) = hello(&app, Some(&format!("Bearer {access}"))).await;
        assert_eq!((status, body), (200, json!({"message": "Hello, World!"})));

        let client = flow::confidential(&app);
        let tokens = flow::tokens_for(&app, &client, "alice", "openid profile").await;
        let oauth_access = tokens["access_token"].as_str().unwrap();
        let (status, body) = hello(&app, Some(&format!("Bearer {oauth_access}"))).await;
        assert_eq!((status, body), (200, json!({"message": "Hello, World!"})));

        let expired = jwt::edit(&app, &access, |c| {
            c.insert("exp".into(), json!(jwt::now() - 10));
        });
        let no_user = jwt::edit(&app, &access, |c| {
            c.remove("user_id");
        });
        let ghost = jwt::edit(&app, &access, |c| {
            c.insert("user_id".into(), json!("987654"));
        });
        let invalid = |message: &str| {
            json!({
                "detail": "Given token not valid for any token type",
                "code": "token_not_valid",
                "messages": [{"token_class": "AccessToken", "token_type": "access", "message": message}],
            })
        };
        let cases: Vec<(Option<String>, Value)> = vec![
            (
                None,
                json!({"detail": "Authentication credentials were not provided."}),
            ),
            (
                Some("Basic YWxpY2U6cHc=".into()),
                json!({"detail": "Authentication credentials were not provided."}),
            ),
            (
                Some("Bearer".into()),
                json!({"detail": "Authorization header must contain two space-delimited values", "code": "bad_authorization_header"}),
            ),
            (
                Some(format!("Bearer {access} extra")),
                json!({"detail": "Authorization header must contain two space-delimited values", "code": "bad_authorization_header"}),
            ),
            (
                Some(format!("Bearer {refresh}")),
                invalid("Token has wrong type"),
            ),
            (
                Some(format!("Bearer {expired}")),
                invalid("Token is expired"),
            ),
            (Some("Bearer garbage".into()), invalid("Token is invalid")),
            (
                Some(format!("Bearer {}", jwt::alg_none(&access))),
                invalid("Token is invalid"),
            ),
            (
                Some(format!(
                    "Bearer {}",
                    jwt::hs256_with_public_key(&app, &access)
                )),
                invalid("Token is invalid"),
            ),
            (
                Some(format!("Bearer {no_user}")),
                token_not_valid("Token contained no recognizable user identification"),
            ),
            (
                Some(format!("Bearer {ghost}")),
                json!({"detail": "User not found", "code": "user_not_found"}),
            ),
        ];
        for (header, expected) in cases {
            let (status, body) = hello(&app, header.as_deref()).await;
            assert_eq!((status, &body), (401, &expected), "{header:?}");
        }

        // DRF authenticates before it checks the method.
        let res = app.http.post(app.url("/hello/")).send().await.unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(res.headers()["www-authenticate"], "Bearer realm=\"api\"");
        let res = app
            .http
            .post(app.url("/hello/"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405);
        assert_eq!(
            res.json::<Value>().await.unwrap(),
            json!({"detail": "Method \"POST\" not allowed."})
        );
    }
);

on_both_backends!(bad_requests_get_drf_bodies, |app: TestApp| async move {
    let send = |content_type: Option<&'static str>, body: &'static str| {
        let mut req = app.http.post(app.url("/api/token/")).body(body);
        if let Some(t) = content_type {
            req = req.header("Content-Type", t);
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let json_type = Some("application/json");
    let required =
        json!({"username": ["This field is required."], "password": ["This field is required."]});
    assert_eq!(send(None, "").await, (400, required.clone()));
    assert_eq!(send(json_type, "{}").await, (400, required));
    assert_eq!(
        send(json_type, "[1]").await,
        (
            400,
            json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
        )
    );
    assert_eq!(
        send(json_type, r#"{"username": true, "password": ""}"#).await,
        (
            400,
            json!({"username": ["Not a valid string."], "password": ["This field may not be blank."]})
        )
    );
    assert_eq!(
        send(Some("text/plain"), "username=a").await,
        (
            415,
            json!({"detail": "Unsupported media type \"text/plain\" in request."})
        )
    );
    let (status, body) = send(json_type, "{bad").await;
    assert_eq!(status, 400);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error - "),
        "{body}"
    );
    let res = app
        .http
        .get(app.url("/api/token/refresh/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"detail": "Method \"GET\" not allowed."})
    );
});
