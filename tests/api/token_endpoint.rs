//! The token endpoint: code exchange, refresh rotation, client credentials, client
//! authentication, and every refusal as RFC 6749 §5.2 JSON.
use serde_json::Value;
use tessera::domain::{ClientKind, GrantType};

use crate::flow::{self, Browser, REDIRECT, auth_url, pkce, token, tokens_for};
use crate::helpers::{Backend, TestApp, spawn, spawn_with};
use crate::on_both_backends;

async fn error_of(res: reqwest::Response) -> (u16, String, reqwest::header::HeaderMap) {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    assert_eq!(headers["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert!(body["error_description"].is_string(), "{body}");
    (status, body["error"].as_str().unwrap().to_owned(), headers)
}

/// A fresh code for `client` (signed in as alice, consent given), with its PKCE verifier.
async fn code_for(client: &flow::Client, browser: &Browser) -> (String, String) {
    let (verifier, challenge) = pkce();
    let url = auth_url(
        &client.id,
        &[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let page = browser.authorize(&url, "alice").await;
    (page.redirect_param("code").expect("code"), verifier)
}

on_both_backends!(
    code_exchange_returns_the_documented_tokens,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let body = tokens_for(
            &app,
            &client,
            "alice",
            "openid profile email offline_access",
        )
        .await;
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 300);
        assert_eq!(body["scope"], "openid profile email offline_access");
        assert!(body["refresh_token"].as_str().unwrap().len() >= 43);
        let access = body["access_token"].as_str().unwrap();
        let header = jsonwebtoken::decode_header(access).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert!(header.kid.is_some());
        let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(access).unwrap();
        for name in [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "jti",
            "client_id",
            "scope",
            "auth_time",
            "user_id",
        ] {
            assert!(
                claims.get(name).is_some(),
                "access token lacks {name}: {claims}"
            );
        }
        assert_eq!(claims["token_type"], "access");
        assert_eq!(claims["client_id"], client.id.as_str());
        let id: Value =
            jsonwebtoken::dangerous::insecure_decode_claims(body["id_token"].as_str().unwrap())
                .unwrap();
        assert_eq!(id["aud"], client.id.as_str());
        assert_eq!(id["azp"], client.id.as_str());
        assert_eq!(id["nonce"], "n-1");
        assert_eq!(id["sub"], claims["sub"]);
        assert_eq!(id["email"], "alice@example.com");
        assert_eq!(id["name"], "alice Example");
        assert!(
            jsonwebtoken::decode_header(body["id_token"].as_str().unwrap())
                .unwrap()
                .kid
                .is_some()
        );
    }
);

on_both_backends!(
    a_replayed_code_fails_and_revokes_what_it_issued,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let browser = Browser::new(&app);
        let (code, verifier) = code_for(&client, &browser).await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ];
        let first: Value = token(&app, &client, &form).await.json().await.unwrap();
        let access = first["access_token"].as_str().unwrap();
        let refresh = first["refresh_token"].as_str().unwrap();
        assert_eq!(flow::userinfo_status(&app, access).await, 200);

        let (status, error, _) = error_of(token(&app, &client, &form).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_grant"));
        // What the first exchange issued is dead.
        assert_eq!(flow::userinfo_status(&app, access).await, 401);
        let (_, error, _) = error_of(
            token(
                &app,
                &client,
                &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            )
            .await,
        )
        .await;
        assert_eq!(error, "invalid_grant");
    }
);

on_both_backends!(
    refresh_rotates_and_reuse_revokes_the_family,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let first = tokens_for(
            &app,
            &client,
            "alice",
            "openid profile email offline_access",
        )
        .await;
        let r1 = first["refresh_token"].as_str().unwrap().to_owned();

        // Narrowing works, widening does not.
        let narrowed: Value = token(
            &app,
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &r1),
                ("scope", "openid email"),
            ],
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(narrowed["scope"], "openid email");
        let r2 = narrowed["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(r1, r2, "rotated on use");
        let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(
            narrowed["access_token"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(claims["scope"], "openid email");
        let (_, error, _) = error_of(
            token(
                &app,
                &client,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &r2),
                    ("scope", "openid phone"),
                ],
            )
            .await,
        )
        .await;
        assert_eq!(error, "invalid_scope");

        // r2 was not consumed by the refused request; it still rotates, to the family's full scope.
        let third: Value = token(
            &app,
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", &r2)],
        )
        .await
        .json()
        .await
        .unwrap();
        let r3 = third["refresh_token"].as_str().unwrap().to_owned();
        let a3 = third["access_token"].as_str().unwrap().to_owned();
        assert_eq!(third["scope"], "openid profile email offline_access");

        // Presenting the already-rotated r1 again kills the whole family, r3 included.
        let (status, error, _) = error_of(
            token(
                &app,
                &client,
                &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
            )
            .await,
        )
        .await;
        assert_eq!((status, error.as_str()), (400, "invalid_grant"));
        let (_, error, _) = error_of(
            token(
                &app,
                &client,
                &[("grant_type", "refresh_token"), ("refresh_token", &r3)],
            )
            .await,
        )
        .await;
        assert_eq!(error, "invalid_grant");
        assert_eq!(flow::userinfo_status(&app, &a3).await, 401);
    }
);

on_both_backends!(client_authentication_methods, |app: TestApp| async move {
    flow::create_user(&app, "alice");
    let client = flow::confidential(&app);
    let secret = client.secret.clone().unwrap();
    let browser = Browser::new(&app);

    // client_secret_post
    let (code, verifier) = code_for(&client, &browser).await;
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
            ("client_id", &client.id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    // Refresh with client_secret_post too.
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
            ("client_id", &client.id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Wrong secret: 401 invalid_client with a Basic challenge.
    let wrong = flow::Client {
        id: client.id.clone(),
        secret: Some("wrong".into()),
    };
    let (code, verifier) = code_for(&client, &browser).await;
    let (status, error, headers) = error_of(
        token(
            &app,
            &wrong,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ],
        )
        .await,
    )
    .await;
    assert_eq!((status, error.as_str()), (401, "invalid_client"));
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );

    // No authentication at all for a confidential client.
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &client.id),
        ])
        .send()
        .await
        .unwrap();
    let (status, error, _) = error_of(res).await;
    assert_eq!((status, error.as_str()), (401, "invalid_client"));

    // Two methods at once.
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&client.id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("redirect_uri", REDIRECT),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    let (status, error, _) = error_of(res).await;
    assert_eq!((status, error.as_str()), (400, "invalid_request"));
});

#[actix_web::test]
async fn code_exchange_refusals() {
    let app = spawn(Backend::Sqlite).await;
    flow::create_user(&app, "alice");
    let client = flow::confidential(&app);
    let public = flow::public(&app);
    let browser = Browser::new(&app);

    let (code, verifier) = code_for(&client, &browser).await;
    let (_, error, _) = error_of(
        token(
            &app,
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1:9999/other"),
                ("code_verifier", &verifier),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(error, "invalid_grant", "redirect_uri must match");

    let (code, _) = code_for(&client, &browser).await;
    let (_, error, _) = error_of(
        token(
            &app,
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                (
                    "code_verifier",
                    "a-wrong-verifier-that-is-long-enough-to-be-valid-xx",
                ),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(error, "invalid_grant", "PKCE mismatch");

    let (code, _) = code_for(&client, &browser).await;
    let (_, error, _) = error_of(
        token(
            &app,
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(error, "invalid_grant", "PKCE verifier missing");

    // A code is bound to its client.
    let (code, verifier) = code_for(&client, &browser).await;
    let (_, error, _) = error_of(
        token(
            &app,
            &public,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
                ("client_id", &public.id),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(error, "invalid_grant");

    let (_, error, _) = error_of(
        token(
            &app,
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", "made-up"),
                ("redirect_uri", REDIRECT),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(error, "invalid_grant");
    let (_, error, _) = error_of(
        token(
            &app,
            &client,
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "x"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(error, "unsupported_grant_type");
    let (_, error, _) = error_of(token(&app, &client, &[("code", "x")]).await).await;
    assert_eq!(error, "invalid_request");
    let (_, error, _) = error_of(
        token(
            &app,
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("grant_type", "refresh_token"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(error, "invalid_request");
    let (_, error, _) =
        error_of(token(&app, &client, &[("grant_type", "client_credentials")]).await).await;
    assert_eq!(
        error, "unauthorized_client",
        "the client was not registered for client_credentials"
    );
}

#[actix_web::test]
async fn codes_expire() {
    let app = spawn_with(Backend::Sqlite, &[("TESSERA_AUTHORIZATION_CODE_TTL", "1")]).await;
    flow::create_user(&app, "alice");
    let client = flow::confidential(&app);
    let browser = Browser::new(&app);
    let (code, verifier) = code_for(&client, &browser).await;
    actix_web::rt::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (_, error, _) = error_of(
        token(
            &app,
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(error, "invalid_grant");
}

on_both_backends!(
    client_credentials_for_confidential_clients,
    |app: TestApp| async move {
        let machine = flow::register(
            &app,
            ClientKind::Confidential,
            &[GrantType::ClientCredentials],
            &[],
        );
        let res = token(&app, &machine, &[("grant_type", "client_credentials")]).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body: Value = res.json().await.unwrap();
        assert!(body.get("refresh_token").is_none());
        assert!(body.get("id_token").is_none());
        let claims: Value =
            jsonwebtoken::dangerous::insecure_decode_claims(body["access_token"].as_str().unwrap())
                .unwrap();
        assert_eq!(claims["sub"], machine.id.as_str());
        assert_eq!(claims["client_id"], machine.id.as_str());
        assert_eq!(claims["token_type"], "access");
        assert!(claims.get("user_id").is_none());
        // A machine token is no user: userinfo refuses it.
        let res = app
            .http
            .get(app.url("/oauth/userinfo"))
            .bearer_auth(body["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
    }
);

#[actix_web::test]
async fn public_clients_exchange_with_pkce_and_no_secret() {
    let app = spawn(Backend::Sqlite).await;
    flow::create_user(&app, "alice");
    let public = flow::public(&app);
    let body = tokens_for(&app, &public, "alice", "openid").await;
    assert!(body["id_token"].is_string());
    // Its refresh tokens need no secret either.
    let res = token(
        &app,
        &public,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
            ("client_id", &public.id),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn a_disabled_user_cannot_redeem_or_refresh() {
    use diesel::prelude::*;
    let app = spawn(Backend::Sqlite).await;
    let uid = flow::create_user(&app, "alice");
    let client = flow::confidential(&app);
    let body = tokens_for(&app, &client, "alice", "openid offline_access").await;
    {
        use tessera::store::schema::users;
        let mut conn = app.store.conn().unwrap();
        diesel::update(users::table.find(uid))
            .set(users::is_active.eq(false))
            .execute(&mut **conn)
            .unwrap();
    }
    let (_, error, _) = error_of(
        token(
            &app,
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", body["refresh_token"].as_str().unwrap()),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(error, "invalid_grant");
    assert_eq!(
        flow::userinfo_status(&app, body["access_token"].as_str().unwrap()).await,
        401
    );
}
