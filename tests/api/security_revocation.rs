//! Grants that end with the party they were given to (RFC 9700 §4.14, RFC 7009): when a
//! client is deleted, or a user disabled, what was issued to them stops working at once
//! wherever Tessera keeps state (userinfo, introspection, refresh, codes, sessions).
use serde_json::json;

use crate::admin::Console;
use crate::flow::{self, Browser, PASSWORD, auth_url, pkce, token, tokens_for};
use crate::helpers::TestApp;
use crate::introspection::introspect;
use crate::on_both_backends;
use crate::simplejwt::post_json;

/// An authorization code for `client` that has not been exchanged yet, and its verifier.
async fn fresh_code(app: &TestApp, client: &flow::Client, username: &str) -> (String, String) {
    let browser = Browser::new(app);
    let (verifier, challenge) = pkce();
    let url = auth_url(
        &client.id,
        &[
            ("scope", "openid"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let page = browser.authorize(&url, username).await;
    (page.redirect_param("code").expect("a code"), verifier)
}

async fn error_of(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: serde_json::Value = res.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

on_both_backends!(
    rfc9700_4_14_and_rfc7009_a_deleted_clients_tokens_and_codes_die,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let witness = flow::confidential(&app);
        let body = tokens_for(&app, &client, "alice", "openid offline_access").await;
        let access = body["access_token"].as_str().unwrap().to_owned();
        let refresh = body["refresh_token"].as_str().unwrap().to_owned();
        let (code, verifier) = fresh_code(&app, &client, "alice").await;
        assert_eq!(flow::userinfo_status(&app, &access).await, 200);
        assert_eq!(introspect(&app, &client, &access).await["active"], true);

        let out = app.cli(&["client", "delete", &client.id], None);
        assert_eq!(out.code, 0, "{}", out.stderr);

        assert_eq!(flow::userinfo_status(&app, &access).await, 401);
        for tok in [&access, &refresh] {
            assert_eq!(
                introspect(&app, &witness, tok).await,
                json!({"active": false})
            );
        }
        // The deleted client cannot even authenticate to ask.
        let res = app
            .http
            .post(app.url("/oauth/introspect"))
            .basic_auth(&client.id, client.secret.as_deref())
            .form(&[("token", access.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(res).await, (401, "invalid_client".into()));
        let refreshed = token(
            &app,
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
        assert_eq!(error_of(refreshed).await, (401, "invalid_client".into()));
        let exchanged = token(
            &app,
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", flow::REDIRECT),
                ("code_verifier", &verifier),
            ],
        )
        .await;
        assert_eq!(error_of(exchanged).await, (401, "invalid_client".into()));
        // Nor can another client spend what was issued to the deleted one.
        let stolen = token(
            &app,
            &witness,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
        assert_eq!(error_of(stolen).await, (400, "invalid_grant".into()));

        // Deleting in the console has the same effect.
        let body = tokens_for(&app, &witness, "alice", "openid offline_access").await;
        let access = body["access_token"].as_str().unwrap().to_owned();
        let refresh = body["refresh_token"].as_str().unwrap().to_owned();
        let console = Console::root(&app).await;
        let done = console
            .confirm(&format!("/admin/clients/{}/delete", witness.id))
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(flow::userinfo_status(&app, &access).await, 401);
        let refreshed = token(
            &app,
            &witness,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
        assert_eq!(error_of(refreshed).await, (401, "invalid_client".into()));
    }
);

on_both_backends!(
    rfc9700_4_14_a_disabled_users_tokens_and_sessions_end,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let body = tokens_for(&app, &client, "alice", "openid offline_access").await;
        let access = body["access_token"].as_str().unwrap().to_owned();
        let refresh = body["refresh_token"].as_str().unwrap().to_owned();
        let (simple_access, simple_refresh) = crate::simplejwt::obtain(&app, "alice").await;
        let browser = Browser::new(&app);
        browser.sign_in("alice").await;
        assert_eq!(browser.get("/account").await.status, 200);

        let out = app.cli(&["user", "disable", "alice"], None);
        assert_eq!(out.code, 0, "{}", out.stderr);

        assert_eq!(flow::userinfo_status(&app, &access).await, 401);
        assert_eq!(introspect(&app, &client, &access).await["active"], false);
        assert_eq!(introspect(&app, &client, &refresh).await["active"], false);
        let refreshed = token(
            &app,
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
        assert_eq!(error_of(refreshed).await, (400, "invalid_grant".into()));
        let (status, _) = post_json(
            &app,
            "/api/token/",
            json!({"username": "alice", "password": PASSWORD}),
        )
        .await;
        assert_eq!(status, 401);
        let (status, _) = post_json(
            &app,
            "/api/token/refresh/",
            json!({"refresh": simple_refresh}),
        )
        .await;
        assert_eq!(status, 401);
        // `/hello/` looks the user up as SimpleJWT's JWTAuthentication does: inactive users
        // are refused, whichever API issued the token.
        for tok in [&access, &simple_access] {
            let (status, _) = crate::simplejwt::hello(&app, Some(&format!("Bearer {tok}"))).await;
            assert_eq!(status, 401);
        }
        let page = browser.get("/account").await;
        assert_ne!(page.status, 200, "{}", page.body);
        assert!(
            page.location
                .as_deref()
                .is_some_and(|l| l.contains("/login")),
            "the session ended: {:?}",
            page.location
        );

        // Disabling in the console has the same effect.
        let bob = flow::create_user(&app, "bob");
        let body = tokens_for(&app, &client, "bob", "openid offline_access").await;
        let access = body["access_token"].as_str().unwrap().to_owned();
        let refresh = body["refresh_token"].as_str().unwrap().to_owned();
        let console = Console::root(&app).await;
        let done = console
            .confirm(&format!("/admin/users/{bob}/disable"))
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(flow::userinfo_status(&app, &access).await, 401);
        assert_eq!(introspect(&app, &client, &access).await["active"], false);
        let refreshed = token(
            &app,
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
        assert_eq!(error_of(refreshed).await, (400, "invalid_grant".into()));
    }
);
