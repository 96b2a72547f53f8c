//! RP-Initiated Logout 1.0 §2: an `id_token_hint` that does not name the signed-in user
//! and session is no proof the user asked to leave, so Tessera asks before signing out.
use crate::flow::{self, Browser, auth_url, tokens_for};
use crate::helpers::TestApp;
use crate::on_both_backends;
use tessera::domain::{ClientKind, GrantType};

const AFTER: &str = "http://127.0.0.1:9999/signed-out";

fn logout_url(id_token: &str) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", AFTER)
        .finish();
    format!("/oauth/logout?{q}")
}

async fn signed_in(browser: &Browser) -> bool {
    browser
        .get("/login")
        .await
        .body
        .contains("You are signed in")
}

on_both_backends!(
    a_hint_for_another_user_or_session_asks_first,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        flow::create_user(&app, "bob");
        let client = flow::register(
            &app,
            ClientKind::Confidential,
            &[GrantType::AuthorizationCode],
            &[AFTER],
        );
        let victim = Browser::new(&app);
        victim.sign_in("alice").await;

        // Bob's ID token, sent to alice's browser (a cross-site GET), does not sign her out.
        let bobs = tokens_for(&app, &client, "bob", "openid").await;
        let ask = victim
            .get(&logout_url(bobs["id_token"].as_str().unwrap()))
            .await;
        assert_eq!(ask.status, 200, "{}", ask.body);
        assert!(ask.body.contains("Sign out?"));
        assert!(
            signed_in(&victim).await,
            "another user's hint signed her out"
        );

        // Nor does an ID token of alice's from another session (another browser).
        let other_session = tokens_for(&app, &client, "alice", "openid").await;
        let ask = victim
            .get(&logout_url(other_session["id_token"].as_str().unwrap()))
            .await;
        assert_eq!(ask.status, 200, "{}", ask.body);
        assert!(ask.body.contains("Sign out?"));
        assert!(
            signed_in(&victim).await,
            "another session's hint signed her out"
        );

        // Confirming that page does sign her out, and goes where the hint's client asked.
        let form = flow::inputs(&ask.body);
        let out = victim.post("/oauth/logout", &form).await;
        assert_eq!(out.status, 302, "{}", out.body);
        assert!(out.location.as_deref().unwrap().starts_with(AFTER));
        assert!(!signed_in(&victim).await);

        // The hint of this very session still signs out at once.
        let page = victim.authorize(&auth_url(&client.id, &[]), "alice").await;
        let code = page.redirect_param("code").unwrap();
        let body: serde_json::Value = flow::token(
            &app,
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", flow::REDIRECT),
            ],
        )
        .await
        .json()
        .await
        .unwrap();
        let out = victim
            .get(&logout_url(body["id_token"].as_str().unwrap()))
            .await;
        assert_eq!(out.status, 302, "{}", out.body);
        assert!(!signed_in(&victim).await);
    }
);
