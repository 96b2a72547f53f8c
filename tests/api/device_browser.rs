//! The `/device` page in headless Chromium, on a phone: the user opens the link a TV shows
//! (`verification_uri_complete`), signs in, finds the code filled in, continues, sees the
//! application and what it asks for, allows; the TV's next poll gets tokens. Screenshots
//! land in `target/screenshots/device/`.
use std::path::PathBuf;

use fantoccini::{Client, Locator};
use tessera::domain::ClientKind;

use crate::admin_browser::{click, fill, session, wait_text};
use crate::browser::{fits_the_screen, start_driver};
use crate::device::{device_client, poll, start};
use crate::flow;
use crate::helpers::{Backend, spawn};

async fn shoot(c: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/device");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_browser),
    ignore = "chromium or chromium-driver not installed: pages not tested in a browser"
)]
async fn a_user_connects_a_tv_from_a_phone_in_chromium() {
    let driver = start_driver();
    let app = spawn(Backend::Sqlite).await;
    flow::create_user(&app, "alice");
    let tv = device_client(&app, ClientKind::Public);
    let (status, device) = start(&app, &tv, "openid profile").await;
    assert_eq!(status, 200, "{device}");
    let user_code = device["user_code"].as_str().unwrap();
    let profile = tempfile::tempdir().unwrap();
    let c = session(&driver, &profile, true).await;

    c.goto(device["verification_uri_complete"].as_str().unwrap())
        .await
        .unwrap();
    wait_text(&c, "h1", |t| t == "Sign in").await;
    fill(&c, "username", "alice").await;
    fill(&c, "password", flow::PASSWORD).await;
    click(&c, "form[action='/login'] button[type=submit]").await;
    wait_text(&c, "h1", |t| t == "Connect a device").await;
    let field = c.find(Locator::Id("user_code")).await.unwrap();
    assert_eq!(
        field.prop("value").await.unwrap().as_deref(),
        Some(user_code)
    );
    assert!(fits_the_screen(&c).await, "the device page fits a phone");
    shoot(&c, "code-phone").await;
    click(&c, "form[action='/device'] button[type=submit]").await;
    wait_text(&c, "h1", |t| t == "Allow Photo Book?").await;
    wait_text(&c, ".lead", |t| t.contains(user_code)).await;
    assert!(fits_the_screen(&c).await, "the confirmation fits a phone");
    shoot(&c, "confirm-phone").await;
    click(&c, "button[value=allow]").await;
    wait_text(&c, "h1", |t| t == "Device connected").await;
    shoot(&c, "done-phone").await;
    c.close().await.unwrap();

    let device_code = device["device_code"].as_str().unwrap();
    let (status, tokens) = poll(&app, &tv, device_code).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["id_token"].is_string());
}
