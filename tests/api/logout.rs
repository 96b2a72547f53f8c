//! RP-initiated logout and the user's own sign-out.
use crate::flow::{self, Browser, auth_url, input, tokens_for};
use crate::helpers::{Backend, TestApp, spawn};
use crate::on_both_backends;
use tessera::domain::{ClientKind, GrantType};

const AFTER: &str = "http://127.0.0.1:9999/signed-out";

on_both_backends!(
    rp_initiated_logout_with_id_token_hint,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::register(
            &app,
            ClientKind::Confidential,
            &[GrantType::AuthorizationCode],
            &[AFTER],
        );
        let browser = Browser::new(&app);
        let page = browser.authorize(&auth_url(&client.id, &[]), "alice").await;
        let code = page.redirect_param("code").unwrap();
        let res = flow::token(
            &app,
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", flow::REDIRECT),
            ],
        )
        .await;
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(
            body.get("refresh_token").is_none(),
            "this client may not refresh"
        );
        let id_token = body["id_token"].as_str().unwrap();

        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id_token_hint", id_token)
            .append_pair("post_logout_redirect_uri", AFTER)
            .append_pair("state", "bye")
            .finish();
        let out = browser.get(&format!("/oauth/logout?{q}")).await;
        assert_eq!(out.status, 302, "{}", out.body);
        assert_eq!(
            out.location.as_deref(),
            Some(format!("{AFTER}?state=bye").as_str())
        );
        // The session is gone: authorizing again asks for the password.
        assert!(browser.get(&auth_url(&client.id, &[])).await.is_login());
    }
);

#[actix_web::test]
async fn logout_refusals_and_confirmation() {
    let app = spawn(Backend::Sqlite).await;
    flow::create_user(&app, "alice");
    let client = flow::register(
        &app,
        ClientKind::Confidential,
        &[GrantType::AuthorizationCode],
        &[AFTER],
    );
    let browser = Browser::new(&app);
    browser.sign_in("alice").await;

    let unregistered = browser
        .get(&format!(
            "/oauth/logout?client_id={}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F",
            client.id
        ))
        .await;
    assert_eq!(unregistered.status, 400);
    assert!(unregistered.location.is_none());
    let bad_hint = browser.get("/oauth/logout?id_token_hint=not.a.token").await;
    assert_eq!(bad_hint.status, 400);

    // Without a hint the user is asked first, and the answer needs the CSRF token.
    let ask = browser
        .get(&format!(
            "/oauth/logout?client_id={}&post_logout_redirect_uri={}",
            client.id,
            url::form_urlencoded::byte_serialize(AFTER.as_bytes()).collect::<String>()
        ))
        .await;
    assert_eq!(ask.status, 200);
    assert!(ask.body.contains("Sign out?"));
    assert!(
        browser
            .get("/login")
            .await
            .body
            .contains("You are signed in")
    );
    let form = flow::inputs(&ask.body);
    let out = browser.post("/oauth/logout", &form).await;
    assert_eq!(out.status, 302);
    assert!(out.location.as_deref().unwrap().starts_with(AFTER));
    assert!(browser.get("/login").await.is_login());
}

#[actix_web::test]
async fn users_sign_out_at_tessera() {
    let app = spawn(Backend::Sqlite).await;
    flow::create_user(&app, "alice");
    let client = flow::confidential(&app);
    let browser = Browser::new(&app);
    browser.sign_in("alice").await;
    let confirm = browser.get("/logout").await;
    let token = input(&confirm.body, "csrf_token").unwrap();
    // A forged form does not sign anyone out.
    let forged = browser
        .post("/logout", &[("csrf_token".into(), "forged".into())])
        .await;
    assert_eq!(forged.status, 400);
    assert!(
        browser
            .get("/login")
            .await
            .body
            .contains("You are signed in")
    );
    let out = browser
        .post("/logout", &[("csrf_token".into(), token)])
        .await;
    assert_eq!(out.status, 200);
    assert!(out.body.contains("You are signed out"));
    assert!(browser.get(&auth_url(&client.id, &[])).await.is_login());
    // Tokens issued before still work until they expire: sign-out ends the session only.
    let _ = tokens_for(&app, &client, "alice", "openid").await;
}
