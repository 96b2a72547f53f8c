//! Second factors in headless Chromium: a user sets up an authenticator app from the
//! account page (the QR code is an image the page shows; the key is read off the page and
//! the code computed from it), saves the recovery codes, signs out, and signs in again with
//! the password and then a code. Screenshots land in `target/screenshots/second-factor/`.
use std::path::PathBuf;

use fantoccini::{Client, Locator};
use totp_rs::{Algorithm, Secret};

use crate::admin_browser::{click, fill, session, text, wait_text};
use crate::browser::{fits_the_screen, start_driver, wait_for_url};
use crate::flow;
use crate::helpers::{Backend, TestApp, spawn_on_manual_clock};

async fn shoot(c: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/second-factor");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

fn code(app: &TestApp, secret: &str) -> String {
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_secret(Secret::try_from_base32(secret).unwrap())
        .with_account_name("test")
        .build()
        .unwrap()
        .generate(app.clock.unix() as u64)
        .to_string()
}

async fn sign_in(c: &Client, username: &str) {
    wait_text(c, "h1", |t| t == "Sign in").await;
    fill(c, "username", username).await;
    fill(c, "password", flow::PASSWORD).await;
    click(c, "form[action='/login'] button[type=submit]").await;
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_browser),
    ignore = "chromium or chromium-driver not installed: pages not tested in a browser"
)]
async fn a_user_sets_up_totp_and_signs_in_with_it_in_chromium() {
    let driver = start_driver();
    let app = spawn_on_manual_clock(Backend::Sqlite).await;
    flow::create_user(&app, "alice");
    let profile = tempfile::tempdir().unwrap();
    let c = session(&driver, &profile, true).await;

    c.goto(&format!("{}/account", app.base)).await.unwrap();
    sign_in(&c, "alice").await;
    wait_text(&c, "h1", |t| t == "Your account").await;
    click(&c, "#set-up-totp").await;
    wait_text(&c, "h1", |t| t == "Set up an authenticator").await;
    // The QR code is drawn: an image the browser decoded, not a broken one.
    let qr = c.find(Locator::Css(".qr img")).await.unwrap();
    let width = c
        .execute(
            "return arguments[0].naturalWidth",
            vec![serde_json::to_value(&qr).unwrap()],
        )
        .await
        .unwrap();
    assert!(width.as_u64().unwrap_or(0) > 0, "QR image did not load");
    assert!(fits_the_screen(&c).await, "the enrolment page fits a phone");
    shoot(&c, "enrol-phone").await;
    let secret = text(&c, "#totp-secret").await;
    fill(&c, "code", &code(&app, &secret)).await;
    click(&c, "form button[type=submit]").await;
    wait_text(&c, "h1", |t| t == "Your recovery codes").await;
    let codes = text(&c, "#recovery-codes").await;
    assert_eq!(codes.split_whitespace().count(), 10, "{codes}");
    shoot(&c, "recovery-codes-phone").await;
    click(&c, "#continue").await;
    wait_text(&c, ".notice", |t| t.starts_with("Authenticator on")).await;

    click(&c, "form[action='/logout'] button[type=submit]").await;
    wait_text(&c, "h1", |t| t == "You are signed out").await;
    app.advance(30);
    c.goto(&format!("{}/account", app.base)).await.unwrap();
    sign_in(&c, "alice").await;
    wait_text(&c, "h1", |t| t == "Second step").await;
    shoot(&c, "second-step-phone").await;
    // Nothing opens with the password alone.
    c.goto(&format!("{}/account", app.base)).await.unwrap();
    wait_text(&c, "h1", |t| t == "Sign in").await;
    c.goto(&format!("{}/login/second-factor", app.base))
        .await
        .unwrap();
    wait_text(&c, "h1", |t| t == "Second step").await;
    fill(&c, "code", "000000").await;
    click(&c, "form button[type=submit]").await;
    wait_text(&c, ".alert", |t| t.contains("not right")).await;
    fill(&c, "code", &code(&app, &secret)).await;
    click(&c, "form button[type=submit]").await;
    // Back to the page the sign-in started from.
    wait_for_url(&c, &format!("{}/account", app.base)).await;
    wait_text(&c, "h1", |t| t == "Your account").await;
    wait_text(&c, "#second-factors p", |t| t.starts_with("On")).await;
    c.close().await.unwrap();
}
