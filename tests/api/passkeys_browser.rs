//! Passkeys in headless Chromium with a WebDriver virtual authenticator (the W3C WebAuthn
//! WebDriver extension chromedriver implements: a CTAP2 platform authenticator with resident
//! keys and user verification): a user registers a passkey on the account page, signs out,
//! signs in with the passkey alone, then goes through an application's authorization-code
//! flow with it. The server is named `localhost`: WebAuthn refuses an IP address as a
//! relying party. Screenshots land in `target/screenshots/passkeys/`.
use std::path::PathBuf;

use fantoccini::Client;
use fantoccini::wd::WebDriverCompatibleCommand;
use serde_json::{Value, json};
use tessera::clients::{self, NewClient};
use tessera::clock::SystemClock;
use tessera::domain::{ClientKind, GrantType, RedirectUri, ScopeSet};

use crate::admin_browser::{click, fill, session, wait_text};
use crate::browser::{callback_server, fits_the_screen, start_driver, wait_for_url};
use crate::flow;
use crate::helpers::{Backend, spawn_on_localhost};

/// A raw WebDriver command of the WebAuthn extension, on the current session.
#[derive(Debug)]
struct WebAuthnCommand {
    /// The path under `/session/{id}/webauthn/`.
    path: String,
    body: Option<Value>,
}

impl WebDriverCompatibleCommand for WebAuthnCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/webauthn/{}", self.path))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        match &self.body {
            Some(body) => (http::Method::POST, Some(body.to_string())),
            None => (http::Method::GET, None),
        }
    }
}

/// Add a virtual platform authenticator that holds discoverable credentials and verifies
/// its user (as a phone's or laptop's built-in one does); returns its id.
pub(crate) async fn add_authenticator(c: &Client) -> String {
    let answer = c
        .issue_cmd(WebAuthnCommand {
            path: "authenticator".into(),
            body: Some(json!({
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": true,
                "hasUserVerification": true,
                "isUserVerified": true,
            })),
        })
        .await
        .expect("chromedriver adds a virtual authenticator");
    answer.as_str().expect("an authenticator id").to_owned()
}

pub(crate) async fn credentials(c: &Client, authenticator: &str) -> Vec<Value> {
    let answer = c
        .issue_cmd(WebAuthnCommand {
            path: format!("authenticator/{authenticator}/credentials"),
            body: None,
        })
        .await
        .unwrap();
    answer.as_array().cloned().unwrap_or_default()
}

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
async fn a_user_signs_in_with_a_passkey_alone_in_chromium() {
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
                grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
                scopes: ScopeSet::parse(clients::DEFAULT_SCOPES).unwrap(),
                algs: Default::default(),
                resources: Vec::new(),
                dpop_bound_access_tokens: false,
                profile: Default::default(),
            },
        )
        .unwrap()
    };
    let profile = tempfile::tempdir().unwrap();
    let c = session(&driver, &profile, true).await;
    let authenticator = add_authenticator(&c).await;

    // Sign in with the password once, and register a passkey on the account page.
    c.goto(&format!("{issuer}/login")).await.unwrap();
    wait_text(&c, "h1", |t| t == "Sign in").await;
    shoot(&c, "login-phone").await;
    fill(&c, "username", "alice").await;
    fill(&c, "password", flow::PASSWORD).await;
    click(&c, "form[action='/login'] button[type=submit]").await;
    wait_text(&c, "h1", |t| t == "You are signed in").await;
    c.goto(&format!("{issuer}/account")).await.unwrap();
    wait_text(&c, "#passkeys h2", |t| t == "Passkeys").await;
    fill(&c, "passkey-name", "This phone").await;
    click(&c, "#add-passkey").await;
    wait_for_url(&c, &format!("{issuer}/account?done=passkey-added")).await;
    wait_text(&c, ".notice", |t| t.starts_with("Passkey added")).await;
    wait_text(&c, "#passkeys ul.items strong", |t| t == "This phone").await;
    assert!(fits_the_screen(&c).await, "the passkey list fits a phone");
    shoot(&c, "account-passkeys-phone").await;
    let stored = credentials(&c, &authenticator).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        stored[0]["isResidentCredential"], true,
        "a discoverable credential"
    );

    // Signed out, the passkey alone signs in: no username typed.
    click(&c, "form[action='/logout'] button[type=submit]").await;
    wait_text(&c, "h1", |t| t == "You are signed out").await;
    c.goto(&format!("{issuer}/login")).await.unwrap();
    wait_text(&c, "h1", |t| t == "Sign in").await;
    click(&c, "#passkey-sign-in").await;
    wait_text(&c, "h1", |t| t == "You are signed in").await;
    c.goto(&format!("{issuer}/account")).await.unwrap();
    wait_text(&c, "#passkeys ul.items .note", |t| t.contains("last used")).await;
    click(&c, "form[action='/logout'] button[type=submit]").await;
    wait_text(&c, "h1", |t| t == "You are signed out").await;

    // An application's authorization-code flow, signed in with the passkey.
    let url = format!(
        "{issuer}/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid%20profile&state=s-pk&nonce=n-pk",
        registered.client_id,
        url::form_urlencoded::byte_serialize(callback.as_bytes()).collect::<String>()
    );
    c.goto(&url).await.unwrap();
    wait_text(&c, "h1", |t| t == "Sign in").await;
    click(&c, "#passkey-sign-in").await;
    let allow = c
        .wait()
        .for_element(fantoccini::Locator::Css("button[value=allow]"))
        .await
        .unwrap();
    shoot(&c, "consent-after-passkey").await;
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
    assert!(tokens["id_token"].is_string());
    let userinfo: Value = app
        .http
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["name"], "alice Example");

    let rows = app
        .store
        .run(|conn| tessera::store::audit::page(conn, None, 0, 100))
        .await
        .unwrap();
    let passkey_logins = rows
        .iter()
        .filter(|r| r.action == "login" && r.detail.as_deref() == Some("passkey \"This phone\""))
        .count();
    assert_eq!(passkey_logins, 2, "two sign-ins with the passkey, audited");
    c.close().await.unwrap();
}
