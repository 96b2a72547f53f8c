//! The account pages in headless Chromium: a user signs in, opens the account page,
//! changes the password, signs out and signs in with the new one; the first administrator
//! is made to choose a new password before the console opens. Screenshots land in
//! `target/screenshots/account/`.
use std::path::PathBuf;

use fantoccini::Client;

use crate::admin_browser::{click, fill, session, wait_text};
use crate::browser::{fits_the_screen, start_driver, wait_for_url};
use crate::flow;
use crate::helpers::{Backend, spawn};

const NEW_PASSWORD: &str = "a much better passphrase";

async fn shoot(c: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/account");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

async fn sign_in(c: &Client, username: &str, password: &str) {
    wait_text(c, "h1", |t| t == "Sign in").await;
    fill(c, "username", username).await;
    fill(c, "password", password).await;
    click(c, "form[action='/login'] button[type=submit]").await;
}

async fn change_password(c: &Client, current: &str) {
    fill(c, "current_password", current).await;
    fill(c, "new_password", NEW_PASSWORD).await;
    fill(c, "new_password2", NEW_PASSWORD).await;
    click(c, "form[action='/account/password'] button[type=submit]").await;
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_browser),
    ignore = "chromium or chromium-driver not installed: pages not tested in a browser"
)]
async fn a_user_changes_their_password_in_chromium() {
    let driver = start_driver();
    let app = spawn(Backend::Sqlite).await;
    flow::create_user(&app, "alice");
    let profile = tempfile::tempdir().unwrap();
    let c = session(&driver, &profile, true).await;

    c.goto(&app.base).await.unwrap();
    wait_text(&c, "h1", |t| t == "Welcome").await;
    click(&c, "a[href='/login']").await;
    sign_in(&c, "alice", flow::PASSWORD).await;
    wait_text(&c, "h1", |t| t == "You are signed in").await;

    c.goto(&format!("{}/account", app.base)).await.unwrap();
    wait_text(&c, "h1", |t| t == "Your account").await;
    assert!(fits_the_screen(&c).await, "the account page fits a phone");
    shoot(&c, "account-phone").await;
    click(&c, "a[href='/account/password']").await;
    wait_text(&c, "h1", |t| t == "Change your password").await;
    shoot(&c, "password-phone").await;
    change_password(&c, flow::PASSWORD).await;
    wait_for_url(&c, &format!("{}/account?done=password-changed", app.base)).await;
    wait_text(&c, ".notice", |t| t.starts_with("Password changed")).await;

    click(&c, "form[action='/logout'] button[type=submit]").await;
    wait_text(&c, "h1", |t| t == "You are signed out").await;
    c.goto(&format!("{}/login", app.base)).await.unwrap();
    sign_in(&c, "alice", flow::PASSWORD).await;
    wait_text(&c, ".alert", |t| t.contains("Invalid username or password")).await;
    sign_in(&c, "alice", NEW_PASSWORD).await;
    wait_text(&c, "h1", |t| t == "You are signed in").await;
    c.close().await.unwrap();
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_browser),
    ignore = "chromium or chromium-driver not installed: pages not tested in a browser"
)]
async fn the_first_admin_chooses_a_password_in_chromium() {
    let driver = start_driver();
    let app = spawn(Backend::Sqlite).await;
    {
        let mut conn = app.store.conn().unwrap();
        let admin = tessera::store::users::by_username(&mut conn, "admin")
            .unwrap()
            .unwrap();
        let hash =
            tessera::secrets::hash_secret(&tessera::secrets::SecretString::new(flow::PASSWORD))
                .unwrap();
        tessera::store::users::set_password_hash(&mut conn, admin.id, &hash).unwrap();
    }
    let profile = tempfile::tempdir().unwrap();
    let c = session(&driver, &profile, false).await;

    c.goto(&format!("{}/admin/", app.base)).await.unwrap();
    sign_in(&c, "admin", flow::PASSWORD).await;
    wait_for_url(&c, &format!("{}/account/password", app.base)).await;
    wait_text(&c, "h1", |t| t == "Choose a new password").await;
    shoot(&c, "forced-desktop").await;
    // Nothing else opens meanwhile.
    c.goto(&format!("{}/admin/users", app.base)).await.unwrap();
    wait_for_url(&c, &format!("{}/account/password", app.base)).await;
    change_password(&c, flow::PASSWORD).await;
    // Back to the page asked for, the console, which now opens.
    wait_for_url(&c, &format!("{}/admin/users", app.base)).await;
    wait_text(&c, "main h1", |t| t == "Users").await;
    c.goto(&app.base).await.unwrap();
    click(&c, "a[href='/admin/']").await;
    wait_text(&c, "main h1", |t| t == "Overview").await;
    c.close().await.unwrap();
}
