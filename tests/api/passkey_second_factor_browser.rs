//! A passkey as the second step, in headless Chromium with a WebDriver virtual
//! authenticator: a user registers a passkey on the account page and signs out; the policy
//! then requires a second factor of everyone; an application's authorization-code flow
//! sends the user through the password and then the second step, answered with the passkey
//! (no authenticator app is set up), and the ID token says `amr` ["pwd","hwk","mfa"], `acr`
//! `mfa`. Screenshots land in `target/screenshots/passkeys/`.
use std::path::PathBuf;

use base64::Engine;
use fantoccini::Client;
use serde_json::Value;
use tessera::clients::{self, NewClient};
use tessera::clock::SystemClock;
use tessera::domain::{ClientKind, GrantType, RedirectUri, ScopeSet};
use tessera::second_factor::policy::{self, Policy};

use crate::admin_browser::{click, fill, session, wait_text};
use crate::browser::{callback_server, fits_the_screen, start_driver, wait_for_url};
use crate::flow;
use crate::helpers::{Backend, spawn_on_localhost};
use crate::passkeys_browser::{add_authenticator, credentials};

async fn shoot(c: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/passkeys");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_browser),
    ignore = "chromium or chromium-driver not installed: pages not tested in a browser"
)]
async fn passkey_second_step_in_chromium_through_the_code_flow() {
    let driver = start_driver();
    let app = spawn_on_localhost(Backend::Sqlite).await;
    let issuer = app.settings.issuer.clone();
    flow::create_user(&app, "alice");
    let callback = format!("http://127.0.0.1:{}/callback", callback_server());
    let registered = {
        let mut conn = app.store.conn().unwrap();
        clients::register(
            &mut conn,
            &SystemClock,
            &NewClient {
                name: "Photo Book".into(),
                kind: ClientKind::Confidential,
                redirect_uris: vec![RedirectUri::parse(&callback).unwrap()],
                post_logout_redirect_uris: vec![],
                grant_types: vec![GrantType::AuthorizationCode],
                scopes: ScopeSet::parse(clients::DEFAULT_SCOPES).unwrap(),
                algs: Default::default(),
                resources: vec![],
                dpop_bound_access_tokens: false,
                profile: Default::default(),
            },
        )
        .unwrap()
    };
    let profile = tempfile::tempdir().unwrap();
    let c = session(&driver, &profile, true).await;
    let authenticator = add_authenticator(&c).await;

    // Register a passkey on the account page, then sign out.
    c.goto(&format!("{issuer}/login")).await.unwrap();
    wait_text(&c, "h1", |t| t == "Sign in").await;
    fill(&c, "username", "alice").await;
    fill(&c, "password", flow::PASSWORD).await;
    click(&c, "form[action='/login'] button[type=submit]").await;
    wait_text(&c, "h1", |t| t == "You are signed in").await;
    c.goto(&format!("{issuer}/account")).await.unwrap();
    wait_text(&c, "#passkeys h2", |t| t == "Passkeys").await;
    fill(&c, "passkey-name", "This phone").await;
    click(&c, "#add-passkey").await;
    wait_for_url(&c, &format!("{issuer}/account?done=passkey-added")).await;
    assert_eq!(credentials(&c, &authenticator).await.len(), 1);
    click(&c, "form[action='/logout'] button[type=submit]").await;
    wait_text(&c, "h1", |t| t == "You are signed out").await;

    // Everyone must now sign in with a second factor.
    app.store
        .run(|conn| policy::set(conn, Policy::Everyone, 0, "test"))
        .await
        .unwrap();

    // The application's flow: the password, then the passkey at the second step.
    let url = format!(
        "{issuer}/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid%20profile&state=s-pk2&nonce=n-pk2",
        registered.client_id,
        url::form_urlencoded::byte_serialize(callback.as_bytes()).collect::<String>()
    );
    c.goto(&url).await.unwrap();
    wait_text(&c, "h1", |t| t == "Sign in").await;
    fill(&c, "username", "alice").await;
    fill(&c, "password", flow::PASSWORD).await;
    click(&c, "form[action='/login'] button[type=submit]").await;
    wait_text(&c, "h1", |t| t == "Second step").await;
    wait_text(&c, "#passkey-second-step", |t| t == "Use a passkey").await;
    assert!(
        c.find(fantoccini::Locator::Id("code")).await.is_err(),
        "no code is asked of a user without an authenticator app"
    );
    assert!(fits_the_screen(&c).await, "the second step fits a phone");
    shoot(&c, "second-step-passkey-phone").await;
    // The button is enabled once the page's script can use it.
    click(&c, "#passkey-second-step:enabled").await;
    let allow = match c
        .wait()
        .for_element(fantoccini::Locator::Css("button[value=allow]"))
        .await
    {
        Ok(allow) => allow,
        Err(e) => panic!(
            "{e:?} at {:?}: {}",
            c.current_url().await,
            c.source().await.unwrap_or_default()
        ),
    };
    allow.click().await.unwrap();
    let landed = wait_for_url(&c, &callback).await;
    let code = landed
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(
            &registered.client_id,
            registered.client_secret.as_ref().map(|s| s.expose()),
        )
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", callback.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    let payload = tokens["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "hwk", "mfa"]));
    assert_eq!(claims["acr"], "mfa");
    assert_eq!(claims["nonce"], "n-pk2");

    let rows = app
        .store
        .run(|conn| tessera::store::audit::page(conn, None, 0, 100))
        .await
        .unwrap();
    assert!(
        rows.iter()
            .any(|r| r.action == "login" && r.detail.as_deref() == Some("pwd hwk mfa")),
        "the sign-in is audited with its methods"
    );
    assert!(
        !rows.iter().any(|r| r.action == "account.totp-enrolled"),
        "no authenticator app was set up"
    );
    c.close().await.unwrap();
}
