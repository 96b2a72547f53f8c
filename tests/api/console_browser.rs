//! The console details people noticed, each checked in headless Chromium at 1280 px: the
//! client secret's copy button (the one page that runs a script, Tessera's own file), the
//! audit log's "who" column on one line, breadcrumbs that end in the page's name, no
//! Retire button on the active key, a non-admin's 403 without the way back into the
//! console, consent headings in words with the raw scope in small print, and a name shown
//! once. Screenshots of the console land in `target/screenshots/console/`; with
//! TESSERA_DOC_SCREENSHOTS set they also replace the admin guide's images in `docs/images/`.
use std::path::PathBuf;

use fantoccini::{Client, Locator};
use serde_json::Value;

use crate::admin::{ROOT, create_admin};
use crate::admin_browser::{click, fill, session, text, wait_text};
use crate::browser::{callback_server, fits_the_screen, start_driver, wait_for_url};
use crate::flow;
use crate::helpers::{Backend, spawn};

/// Where a screenshot goes: always under target/, and into docs/images/ when asked.
fn shoot_dirs() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![root.join("target/screenshots/console")];
    if std::env::var_os("TESSERA_DOC_SCREENSHOTS").is_some_and(|v| !v.is_empty()) {
        dirs.push(root.join("docs/images"));
    }
    dirs
}

async fn shoot(c: &Client, name: &str) {
    // The page settles (fonts, the copy button's script) before the picture.
    actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
    let png = c.screenshot().await.unwrap();
    for dir in shoot_dirs() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
    }
}

/// The same page at phone width (no sideways scrolling), then back to 1280 px.
async fn shoot_phone(c: &Client, name: &str) {
    c.set_window_size(390, 844).await.unwrap();
    assert!(
        fits_the_screen(c).await,
        "{name} scrolls sideways on a phone"
    );
    shoot(c, name).await;
    c.set_window_size(1280, 900).await.unwrap();
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap()
}

/// A console page's breadcrumb, if it has one, ends in the page's own name (a span marked
/// as the current page), never in a bare separator.
async fn crumbs_end_in_the_page(c: &Client) {
    let crumbs = js(
        c,
        "const c = document.querySelector('.crumbs'); if (!c) return null; \
         const last = c.lastElementChild; \
         return { text: c.textContent.trim(), \
                  current: last && last.matches('span[aria-current=page]') ? last.textContent.trim() : '' };",
    )
    .await;
    if crumbs.is_null() {
        return;
    }
    let shown = crumbs["text"].as_str().unwrap();
    assert!(!shown.ends_with('/'), "a breadcrumb ends in '/': {shown}");
    let current = crumbs["current"].as_str().unwrap();
    assert!(
        !current.is_empty() && shown.ends_with(current),
        "the breadcrumb does not end in the page's name: {shown}"
    );
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

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_browser),
    ignore = "chromium or chromium-driver not installed: pages not tested in a browser"
)]
async fn the_console_details_hold_in_chromium() {
    let driver = start_driver();
    let app = spawn(Backend::Sqlite).await;
    create_admin(&app, ROOT);
    flow::create_user(&app, "alice");
    let callback = format!("http://127.0.0.1:{}/callback", callback_server());
    let profile = tempfile::tempdir().unwrap();
    let admin = session(&driver, &profile, false).await;

    admin.goto(&format!("{}/admin/", app.base)).await.unwrap();
    wait_text(&admin, "h1", |t| t == "Sign in").await;
    fill(&admin, "username", ROOT).await;
    fill(&admin, "password", flow::PASSWORD).await;
    click(&admin, "button[type=submit]").await;
    wait_text(&admin, "main h1", |t| t == "Overview").await;
    // The administrator's name in the top bar, once.
    assert_eq!(text(&admin, ".signout .me").await, "Root Admin");
    shoot(&admin, "admin-overview-desktop").await;

    // A client secret, shown once, with a copy button that works.
    click(&admin, "nav.tabs a[href='/admin/clients']").await;
    click(&admin, "a[href='/admin/clients/new']").await;
    wait_text(&admin, "main h1", |t| !t.is_empty()).await;
    crumbs_end_in_the_page(&admin).await;
    fill(&admin, "name", "Photo Book").await;
    fill(&admin, "redirect_uris", &callback).await;
    click(
        &admin,
        "form[action='/admin/clients/new'] button[type=submit]",
    )
    .await;
    wait_text(&admin, "main h1", |t| t == "Client registered").await;
    crumbs_end_in_the_page(&admin).await;
    let client_id = value_of(&admin, "client_id").await;
    let secret = value_of(&admin, "client_secret").await;
    assert!(secret.len() >= 40);
    let copy = admin
        .find(Locator::Css("button[data-copy=client_secret]"))
        .await
        .unwrap();
    assert!(
        copy.is_displayed().await.unwrap(),
        "the copy button's script did not run (CSP?)"
    );
    shoot(&admin, "admin-client-secret-desktop").await;
    copy.click().await.unwrap();
    let said = wait_text(&admin, "button[data-copy=client_secret]", |t| {
        t == "Copied" || t.starts_with("Press")
    })
    .await;
    assert_eq!(said, "Copied", "the clipboard refused the secret");
    // What the clipboard holds is the secret: paste it into a field of its own.
    js(
        &admin,
        "const t = document.createElement('textarea'); t.id = 'pasted'; \
         document.body.appendChild(t); t.focus();",
    )
    .await;
    admin
        .find(Locator::Id("pasted"))
        .await
        .unwrap()
        .send_keys(&format!(
            "{}v{}",
            char::from(fantoccini::key::Key::Control),
            char::from(fantoccini::key::Key::Null)
        ))
        .await
        .unwrap();
    assert_eq!(value_of(&admin, "pasted").await, secret);
    // Only this page runs a script: everywhere else the policy forbids any.
    let login = app.http.get(app.url("/login")).send().await.unwrap();
    let csp = login.headers()["content-security-policy"].to_str().unwrap();
    assert!(!csp.contains("script-src"), "{csp}");
    assert!(csp.contains("default-src 'none'"), "{csp}");

    // Alice signs in to the client and consents: headings in words, raw scopes in small
    // print, her name once.
    let user_profile = tempfile::tempdir().unwrap();
    let alice = session(&driver, &user_profile, true).await;
    let auth = format!(
        "{}/oauth/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid%20profile%20email%20offline_access&state=s1",
        app.base,
        url::form_urlencoded::byte_serialize(callback.as_bytes()).collect::<String>()
    );
    alice.goto(&auth).await.unwrap();
    fill(&alice, "username", "alice").await;
    fill(&alice, "password", flow::PASSWORD).await;
    click(&alice, "button[type=submit]").await;
    wait_text(&alice, "h1", |t| t == "Allow Photo Book?").await;
    let scopes = js(
        &alice,
        "return [...document.querySelectorAll('ul.scopes li')].map(li => { \
           const name = li.querySelector('.scope-name'), raw = li.querySelector('.scope-raw'); \
           return { name: name.textContent, raw: raw.textContent, \
                    nameSize: parseFloat(getComputedStyle(name).fontSize), \
                    rawSize: parseFloat(getComputedStyle(raw).fontSize), \
                    nameWeight: getComputedStyle(name).fontWeight }; });",
    )
    .await;
    let scopes = scopes.as_array().unwrap();
    assert_eq!(scopes.len(), 4, "{scopes:?}");
    for s in scopes {
        let (name, raw) = (s["name"].as_str().unwrap(), s["raw"].as_str().unwrap());
        assert!(
            ["openid", "profile", "email", "offline_access"].contains(&raw),
            "{s}"
        );
        assert_ne!(name, raw, "a raw scope as the heading: {s}");
        assert!(name.contains(' '), "the heading is words: {s}");
        assert!(
            s["rawSize"].as_f64().unwrap() < s["nameSize"].as_f64().unwrap(),
            "the raw scope is not in small print: {s}"
        );
    }
    let who = text(&alice, "p.who").await;
    assert!(
        who.starts_with("Signed in as alice Example (alice)."),
        "{who}"
    );
    shoot(&alice, "consent-phone").await;
    click(&alice, "button[value=allow]").await;
    wait_for_url(&alice, &callback).await;

    // A user whose name is the username: shown once.
    alice.goto(&format!("{}/login", app.base)).await.unwrap();
    wait_text(&alice, "h1", |t| t == "You are signed in").await;
    assert_eq!(text(&alice, "p.lead").await, "as alice Example (alice).");
    {
        let mut conn = app.store.conn().unwrap();
        use diesel::prelude::*;
        use tessera::store::schema::users;
        diesel::update(users::table.filter(users::username.eq("alice")))
            .set(users::name.eq(None::<String>))
            .execute(&mut **conn)
            .unwrap();
    }
    alice.refresh().await.unwrap();
    wait_text(&alice, "p.lead", |t| t == "as alice.").await;

    // Alice is not an administrator: the 403 offers no way back into the console.
    alice.goto(&format!("{}/admin/", app.base)).await.unwrap();
    wait_text(&alice, "h1", |t| !t.is_empty()).await;
    let links = js(
        &alice,
        "return [...document.querySelectorAll('a')].map(a => a.getAttribute('href'));",
    )
    .await;
    let links: Vec<&str> = links
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        !links.iter().any(|h| h.starts_with("/admin")),
        "the 403 leads back to the console: {links:?}"
    );
    assert!(links.contains(&"/"), "{links:?}");
    alice.close().await.unwrap();

    // Users and a user's page: breadcrumbs end in the user's name.
    click(&admin, "nav.tabs a[href='/admin/users']").await;
    wait_text(&admin, "main h1", |t| t == "Users").await;
    shoot(&admin, "admin-users-desktop").await;
    admin
        .find(Locator::XPath("//main//a[text()='alice']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&admin, "main h1", |t| t == "alice").await;
    crumbs_end_in_the_page(&admin).await;
    assert!(text(&admin, ".crumbs").await.ends_with("alice"));
    shoot(&admin, "admin-user-desktop").await;
    let user_url = admin.current_url().await.unwrap();
    admin
        .goto(&format!("{user_url}#applications"))
        .await
        .unwrap();
    shoot(&admin, "admin-user-applications-desktop").await;
    click(&admin, "a[href*='/consents/']").await;
    wait_text(&admin, "main h1", |t| t.starts_with("Revoke Photo Book")).await;
    crumbs_end_in_the_page(&admin).await;
    shoot_phone(&admin, "admin-confirm-revoke-phone").await;
    admin.goto(user_url.as_str()).await.unwrap();
    click(&admin, "form[action$='/reset-link'] button[type=submit]").await;
    wait_text(&admin, "main h1", |t| t == "Reset link for alice").await;
    crumbs_end_in_the_page(&admin).await;
    shoot(&admin, "admin-reset-link-desktop").await;

    // Keys: the active key offers no Retire button (the server would refuse); others do.
    click(&admin, "nav.tabs a[href='/admin/keys']").await;
    click(&admin, "form[action='/admin/keys/rotate'] button").await;
    wait_text(&admin, ".notice", |t| t.starts_with("New signing key")).await;
    let rows = js(
        &admin,
        "return [...document.querySelectorAll('table.list tbody tr')].map(tr => ({ \
           state: tr.querySelector('td[data-label=State]').textContent.trim(), \
           retire: !!tr.querySelector('a[href$=\"/retire\"]') }));",
    )
    .await;
    let rows = rows.as_array().unwrap();
    assert!(rows.len() >= 2, "{rows:?}");
    let active = rows
        .iter()
        .find(|r| r["state"] == "active")
        .expect("an active key");
    assert_eq!(active["retire"], false, "{rows:?}");
    assert!(
        rows.iter()
            .any(|r| r["state"] != "active" && r["retire"] == true),
        "{rows:?}"
    );
    shoot(&admin, "admin-keys-desktop").await;

    // The audit log: "who" on one line at 1280 px.
    click(&admin, "nav.tabs a[href='/admin/audit']").await;
    wait_text(&admin, "main h1", |t| t == "Audit log").await;
    let lines = js(
        &admin,
        "return [...document.querySelectorAll('td[data-label=Who]')].map(td => { \
           const r = document.createRange(); r.selectNodeContents(td); \
           return r.getClientRects().length; });",
    )
    .await;
    let lines = lines.as_array().unwrap();
    assert!(!lines.is_empty());
    assert!(
        lines.iter().all(|n| n.as_u64() == Some(1)),
        "a who cell wraps: {lines:?}"
    );
    shoot(&admin, "admin-audit-desktop").await;
    shoot_phone(&admin, "admin-audit-phone").await;
    admin.close().await.unwrap();
    println!("console screenshots: {:?}", shoot_dirs());
}
