//! The acceptance test of the admin console, in headless Chromium: an admin signs in,
//! registers a client and creates a user; the user signs in to that client on a phone and
//! consents; the admin finds the consent and revokes it; the user's refresh token stops
//! working. Every admin page is photographed at desktop and phone width into
//! `target/screenshots/admin/` (the test prints the folder).
use std::path::PathBuf;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::admin::{ROOT, create_admin};
use crate::browser::{
    CHROMIUM, Driver, callback_server, fits_the_screen, start_driver, wait_for_url,
};
use crate::flow;
use crate::helpers::{Backend, spawn};

/// A Chromium session `width` CSS pixels wide; a phone (touch, DPR 2) when `phone`.
pub async fn session(driver: &Driver, profile: &tempfile::TempDir, phone: bool) -> Client {
    let mut options = json!({
        "binary": CHROMIUM,
        "args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--hide-scrollbars",
            if phone { "--window-size=390,844" } else { "--window-size=1280,900" },
            format!("--user-data-dir={}", profile.path().display()),
        ],
    });
    if phone {
        options["mobileEmulation"] =
            json!({ "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 2.0 } });
    }
    let Value::Object(caps) = json!({ "goog:chromeOptions": options }) else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("start a Chromium session")
}

fn screenshots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/admin");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shoot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshots_dir().join(format!("{name}.png")), png).unwrap();
}

/// Whether a WebDriver error is "the page changed under us": the element was found on the
/// page a click was still leaving. Looking it up again finds it on the new page. Chromium
/// says so either as a stale element reference or, when the navigation lands between its
/// lookup and its read, as an inspector error about a node outside the document.
fn is_stale(e: &fantoccini::error::CmdError) -> bool {
    let e = format!("{e:?}");
    e.contains("StaleElementReference") || e.contains("does not belong to the document")
}

pub async fn text(c: &Client, css: &str) -> String {
    for _ in 0..50 {
        let element = c
            .wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"));
        match element.text().await {
            Ok(t) => return t,
            Err(e) if is_stale(&e) => {
                actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await
            }
            Err(e) => panic!("text of {css}: {e}"),
        }
    }
    panic!("{css} kept going stale")
}

/// Wait (up to 10 s) until the text at `css` satisfies `ok`: after a click the old page
/// can still be showing for a moment.
pub async fn wait_text(c: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        last = text(c, css).await;
        if ok(&last) {
            return last;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{css} still says {last:?}")
}

pub async fn fill(c: &Client, id: &str, value: &str) {
    let field = c.find(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

pub async fn click(c: &Client, css: &str) {
    for _ in 0..50 {
        let element = c
            .wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"));
        match element.click().await {
            Ok(_) => return,
            Err(e) if is_stale(&e) => {
                actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await
            }
            Err(e) => panic!("click {css}: {e}"),
        }
    }
    panic!("{css} kept going stale")
}

async fn value_of(c: &Client, id: &str) -> String {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Photograph the current admin page at desktop width, then at phone width (checking it
/// does not scroll sideways there), and return to desktop width.
async fn shoot_both(c: &Client, name: &str) {
    shoot(c, &format!("{name}-desktop")).await;
    c.set_window_size(390, 844).await.unwrap();
    // Resizing loses the scroll position: go back to the fragment, if the shot had one.
    let url = c.current_url().await.unwrap();
    if url.fragment().is_some() {
        c.goto(url.as_str()).await.unwrap();
    }
    assert!(
        fits_the_screen(c).await,
        "{name} scrolls sideways on a phone"
    );
    shoot(c, &format!("{name}-phone")).await;
    c.set_window_size(1280, 900).await.unwrap();
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_browser),
    ignore = "chromium or chromium-driver not installed: pages not tested in a browser"
)]
async fn an_admin_revokes_a_users_consent_in_chromium() {
    let driver = start_driver();
    let app = spawn(Backend::Sqlite).await;
    create_admin(&app, ROOT);
    let callback = format!("http://127.0.0.1:{}/callback", callback_server());
    let admin_profile = tempfile::tempdir().unwrap();
    let phone_profile = tempfile::tempdir().unwrap();
    let admin = session(&driver, &admin_profile, false).await;

    // Anonymous: the console sends the admin to the login page, then back.
    admin.goto(&format!("{}/admin/", app.base)).await.unwrap();
    wait_text(&admin, "h1", |t| t == "Sign in").await;
    fill(&admin, "username", ROOT).await;
    fill(&admin, "password", flow::PASSWORD).await;
    click(&admin, "button[type=submit]").await;
    wait_for_url(&admin, &format!("{}/admin/", app.base)).await;
    wait_text(&admin, "main h1", |t| t == "Overview").await;
    shoot_both(&admin, "overview").await;

    // Register a confidential client for the callback.
    click(&admin, "nav.tabs a[href='/admin/clients']").await;
    wait_text(&admin, "main h1", |t| t == "Clients").await;
    click(&admin, "a[href='/admin/clients/new']").await;
    fill(&admin, "name", "Photo Book").await;
    fill(&admin, "redirect_uris", &callback).await;
    shoot_both(&admin, "client-new").await;
    click(
        &admin,
        "form[action='/admin/clients/new'] button[type=submit]",
    )
    .await;
    wait_text(&admin, "main h1", |t| t == "Client registered").await;
    let client_id = value_of(&admin, "client_id").await;
    let client_secret = value_of(&admin, "client_secret").await;
    assert!(client_secret.len() >= 40);
    shoot_both(&admin, "client-secret").await;
    click(&admin, "nav.tabs a[href='/admin/clients']").await;
    assert!(admin.source().await.unwrap().contains(&client_id));
    shoot_both(&admin, "clients").await;

    // Create the user.
    click(&admin, "nav.tabs a[href='/admin/users']").await;
    click(&admin, "a[href='/admin/users/new']").await;
    fill(&admin, "username", "alice").await;
    fill(&admin, "name", "Alice Liddell").await;
    fill(&admin, "email", "alice@example.com").await;
    fill(&admin, "password", flow::PASSWORD).await;
    click(
        &admin,
        "form[action='/admin/users/new'] button[type=submit]",
    )
    .await;
    wait_text(&admin, "main h1", |t| t == "alice").await;
    wait_text(&admin, ".notice", |t| t == "User created.").await;
    let mut user_url = admin.current_url().await.unwrap();
    user_url.set_query(None);
    let user_url = user_url.to_string();
    click(&admin, "nav.tabs a[href='/admin/users']").await;
    shoot_both(&admin, "users").await;

    // The user signs in to the app on a phone and allows it.
    let phone = session(&driver, &phone_profile, true).await;
    let auth = format!(
        "{}/oauth/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid%20profile%20email%20offline_access&state=s1",
        app.base,
        url::form_urlencoded::byte_serialize(callback.as_bytes()).collect::<String>()
    );
    phone.goto(&auth).await.unwrap();
    fill(&phone, "username", "alice").await;
    fill(&phone, "password", flow::PASSWORD).await;
    click(&phone, "button[type=submit]").await;
    click(&phone, "button[value=allow]").await;
    let landed = wait_for_url(&phone, &callback).await;
    let code = landed
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    phone.close().await.unwrap();
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&client_id, Some(&client_secret))
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
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let refresh_with = |token: String| {
        let app = &app;
        let (id, secret) = (client_id.clone(), client_secret.clone());
        async move {
            app.http
                .post(app.url("/oauth/token"))
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", &token)])
                .send()
                .await
                .unwrap()
        }
    };
    let res = refresh_with(refresh).await;
    assert_eq!(res.status(), 200);
    let refresh = res.json::<Value>().await.unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // The admin sees the consent on the user's page and revokes it.
    admin.goto(&user_url).await.unwrap();
    let page = admin.source().await.unwrap();
    assert!(page.contains("Photo Book"), "{page}");
    assert!(page.contains("offline_access"));
    shoot_both(&admin, "user").await;
    admin
        .goto(&format!("{user_url}#applications"))
        .await
        .unwrap();
    shoot_both(&admin, "user-applications").await;
    click(&admin, "a[href*='/consents/']").await;
    wait_text(&admin, "main h1", |t| {
        t == "Revoke Photo Book's access to alice?"
    })
    .await;
    shoot_both(&admin, "confirm-revoke").await;
    click(&admin, "main form button.danger").await;
    wait_text(&admin, ".notice", |t| t.starts_with("Consent revoked")).await;
    assert!(
        admin
            .source()
            .await
            .unwrap()
            .contains("has not allowed any application")
    );

    // The user's refresh token no longer works.
    let res = refresh_with(refresh).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");

    // Keys: rotate from the page.
    click(&admin, "nav.tabs a[href='/admin/keys']").await;
    click(&admin, "form[action='/admin/keys/rotate'] button").await;
    wait_text(&admin, ".notice", |t| t.starts_with("New signing key")).await;
    shoot_both(&admin, "keys").await;

    // The audit log tells the story.
    click(&admin, "nav.tabs a[href='/admin/audit']").await;
    wait_text(&admin, "main h1", |t| t == "Audit log").await;
    let page = admin.source().await.unwrap();
    for action in [
        "login",
        "client.created",
        "user.created",
        "consent.granted",
        "consent.revoked",
        "key.rotated",
    ] {
        assert!(
            page.contains(&format!(">{action}<")),
            "{action} in the audit log"
        );
    }
    // At 1280 px a short name never breaks inside the "who" column ("admi/n"): its text
    // lays out as one line box.
    let lines = admin
        .execute(
            "return [...document.querySelectorAll('td[data-label=Who]')].map(td => { \
             const r = document.createRange(); r.selectNodeContents(td); \
             return r.getClientRects().length; });",
            vec![],
        )
        .await
        .unwrap();
    let lines = lines.as_array().expect("who cells");
    assert!(!lines.is_empty());
    assert!(
        lines.iter().all(|n| n.as_u64() == Some(1)),
        "a who cell wraps: {lines:?}"
    );
    let who_style = admin
        .execute(
            "return getComputedStyle(document.querySelector('td[data-label=Who]')).whiteSpace;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(who_style, "nowrap");
    shoot_both(&admin, "audit").await;
    admin.close().await.unwrap();
    println!("admin screenshots: {}", screenshots_dir().display());
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_browser),
    ignore = "chromium or chromium-driver not installed: pages not tested in a browser"
)]
async fn an_admin_unlocks_a_locked_account_in_chromium() {
    use crate::security_login::{ATTACKER, sign_in_from, spawn_behind_proxy};
    let driver = start_driver();
    let app = spawn_behind_proxy(Backend::Sqlite).await;
    create_admin(&app, ROOT);
    let client = crate::admin_locked::lock_alice_and_a_client(&app).await;
    let profile = tempfile::tempdir().unwrap();
    let admin = session(&driver, &profile, false).await;
    admin.goto(&format!("{}/admin/", app.base)).await.unwrap();
    wait_text(&admin, "h1", |t| t == "Sign in").await;
    fill(&admin, "username", ROOT).await;
    fill(&admin, "password", flow::PASSWORD).await;
    click(&admin, "button[type=submit]").await;
    wait_text(&admin, "main h1", |t| t == "Overview").await;

    click(&admin, "nav.tabs a[href='/admin/locked']").await;
    wait_text(&admin, "main h1", |t| t == "Locked").await;
    let table = text(&admin, "table.locked").await;
    assert!(
        table.contains("alice") && table.contains(&client.id),
        "{table}"
    );
    assert!(table.contains(ATTACKER), "{table}");
    shoot_both(&admin, "locked").await;

    // Alice's row's Unlock button: the notice, and her row is gone.
    let row = "//tr[.//code[text()='alice']]//button[text()='Unlock']";
    admin
        .find(Locator::XPath(row))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&admin, ".notice", |t| t.starts_with("Unlocked")).await;
    let table = text(&admin, "table.locked").await;
    assert!(
        !table.contains("alice") && table.contains(&client.id),
        "{table}"
    );
    admin.close().await.unwrap();

    // The right password signs in straight away from the address that was locked.
    assert_eq!(
        sign_in_from(&app, ATTACKER, "alice", flow::PASSWORD)
            .await
            .0,
        303
    );
}
