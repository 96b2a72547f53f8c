//! Passkeys over HTTP, with a software authenticator (`soft_passkey`): refusals first (a
//! ceremony replayed, another user's ceremony, an expired one, a removed passkey, a cloned
//! one by its signature counter, a disabled user, no user verification, missing or wrong
//! CSRF tokens, throttling), then registering, listing, renaming and signing in with a
//! passkey alone, into the authorization-code flow. Servers here are named `localhost`:
//! WebAuthn needs a domain name; one at an IP address has no passkeys, and says so.
use serde_json::Value;
use tessera::store::audit::AuditRow;

use crate::flow::{self, Browser, Page, input};
use crate::helpers::TestApp;
use crate::on_both_backends;
use crate::soft_passkey::SoftPasskey;

/// Passkey tests run on a server whose issuer is `http://localhost:PORT`.
macro_rules! on_both_backends_named {
    ($name:ident, manual_clock, $body:expr) => {
        on_both_backends!(@spawn $name, $crate::helpers::spawn_on_localhost_manual_clock, $body);
    };
    ($name:ident, $body:expr) => {
        on_both_backends!(@spawn $name, $crate::helpers::spawn_on_localhost, $body);
    };
}

pub(crate) fn form(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn readable(page: &Page, status: u16, words: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    assert!(
        page.body.contains(words),
        "expected {words:?} in {}",
        page.body
    );
}

/// A browser signed in as `username` (by password), with its session's CSRF token.
pub(crate) async fn signed_in(app: &TestApp, username: &str) -> (Browser, String) {
    let browser = Browser::new(app);
    browser.sign_in(username).await;
    let page = browser.get("/account").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = input(&page.body, "csrf_token").expect("csrf token on the account page");
    (browser, csrf)
}

/// Ask for registration options: (ceremony, options).
async fn register_options(browser: &Browser, csrf: &str) -> (String, Value) {
    let page = browser
        .post("/account/passkeys/options", &form(&[("csrf_token", csrf)]))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.headers["cache-control"], "no-store");
    let v: Value = serde_json::from_str(&page.body).unwrap();
    (
        v["ceremony"].as_str().unwrap().to_owned(),
        v["options"].clone(),
    )
}

async fn finish_registration(
    browser: &Browser,
    csrf: &str,
    ceremony: &str,
    name: &str,
    answer: &str,
) -> Page {
    browser
        .post(
            "/account/passkeys",
            &form(&[
                ("csrf_token", csrf),
                ("ceremony", ceremony),
                ("name", name),
                ("credential", answer),
            ]),
        )
        .await
}

/// Register a new software passkey for the signed-in user.
pub(crate) async fn register(
    app: &TestApp,
    browser: &Browser,
    csrf: &str,
    name: &str,
) -> SoftPasskey {
    let mut key = SoftPasskey::new(&app.settings.issuer);
    let (ceremony, options) = register_options(browser, csrf).await;
    let answer = key.create(&options);
    let done = finish_registration(browser, csrf, &ceremony, name, &answer).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some("/account?done=passkey-added")
    );
    key
}

/// A signed-out browser on the login page: (browser, the form's fields).
pub(crate) async fn at_login(app: &TestApp, path: &str) -> (Browser, Vec<(String, String)>) {
    let browser = Browser::new(app);
    let page = browser.get(path).await;
    assert!(page.is_login(), "{}", page.body);
    (browser, flow::inputs(&page.body))
}

pub(crate) fn field(fields: &[(String, String)], name: &str) -> String {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

pub(crate) async fn sign_in_options(
    browser: &Browser,
    fields: &[(String, String)],
) -> (String, Value) {
    let page = browser
        .post(
            "/login/passkey/options",
            &form(&[("csrf_token", &field(fields, "csrf_token"))]),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let v: Value = serde_json::from_str(&page.body).unwrap();
    (
        v["ceremony"].as_str().unwrap().to_owned(),
        v["options"].clone(),
    )
}

pub(crate) async fn finish_sign_in(
    browser: &Browser,
    fields: &[(String, String)],
    ceremony: &str,
    answer: &str,
) -> Page {
    browser
        .post(
            "/login/passkey",
            &form(&[
                ("csrf_token", &field(fields, "csrf_token")),
                ("return_to", &field(fields, "return_to")),
                ("ceremony", ceremony),
                ("credential", answer),
            ]),
        )
        .await
}

/// Sign in with `key` alone in a fresh browser; the final answer and the browser.
pub(crate) async fn passkey_sign_in(app: &TestApp, key: &SoftPasskey) -> (Browser, Page) {
    let (browser, fields) = at_login(app, "/login").await;
    let (ceremony, options) = sign_in_options(&browser, &fields).await;
    let page = finish_sign_in(&browser, &fields, &ceremony, &key.get(&options)).await;
    (browser, page)
}

fn refused_sign_in(page: &Page) {
    assert_eq!(page.status, 401, "{}", page.body);
    assert!(page.body.contains("That passkey did not sign you in"));
    assert!(page.is_login(), "the login page again: {}", page.body);
    assert!(
        !page
            .headers
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("tessera_session=")),
        "no session for a refused passkey"
    );
}

pub(crate) async fn audit(app: &TestApp) -> Vec<AuditRow> {
    app.store
        .run(|conn| tessera::store::audit::page(conn, None, 0, 500))
        .await
        .unwrap()
}

/// The id of the passkey named `name` on the account page `body`.
fn passkey_id(body: &str, name: &str) -> String {
    let at = body
        .find(&format!("<strong>{name}</strong>"))
        .unwrap_or_else(|| panic!("{name} listed: {body}"));
    let rest = &body[at..];
    let start = rest.find("/account/passkeys/").unwrap() + "/account/passkeys/".len();
    rest[start..].split('/').next().unwrap().to_owned()
}

pub(crate) async fn is_signed_in_as(browser: &Browser, username: &str) -> bool {
    let page = browser.get("/account").await;
    page.status == 200 && page.body.contains(&format!("<strong>{username}</strong>"))
}

on_both_backends_named!(
    a_ceremony_works_once_and_only_for_the_session_that_started_it,
    |app: TestApp| async move {
        let alice_id = flow::create_user(&app, "alice");
        flow::create_user(&app, "bob");
        let (alice, alice_csrf) = signed_in(&app, "alice").await;
        let (bob, bob_csrf) = signed_in(&app, "bob").await;

        // Bob's registration ceremony, finished by Alice with an answer to Bob's options.
        let (bobs, bob_options) = register_options(&bob, &bob_csrf).await;
        let mut stolen = SoftPasskey::new(&app.settings.issuer);
        let answer = stolen.create(&bob_options);
        let page = finish_registration(&alice, &alice_csrf, &bobs, "stolen", &answer).await;
        readable(&page, 400, "This passkey request is not valid");
        // A made-up ceremony id.
        let page = finish_registration(&alice, &alice_csrf, "made-up", "x", &answer).await;
        readable(&page, 400, "This passkey request is not valid");

        // Alice's own ceremony works once; replayed, the same answer is refused.
        let mut key = SoftPasskey::new(&app.settings.issuer);
        let (ceremony, options) = register_options(&alice, &alice_csrf).await;
        let answer = key.create(&options);
        let first = finish_registration(&alice, &alice_csrf, &ceremony, "Laptop", &answer).await;
        assert_eq!(first.status, 303, "{}", first.body);
        let again = finish_registration(&alice, &alice_csrf, &ceremony, "Laptop", &answer).await;
        readable(&again, 400, "This passkey request is not valid");
        // The same authenticator again, through a new ceremony: registered already.
        let (ceremony, options) = register_options(&alice, &alice_csrf).await;
        let excluded = options["publicKey"]["excludeCredentials"]
            .as_array()
            .unwrap();
        assert_eq!(
            excluded.len(),
            1,
            "the existing passkey is excluded: {options}"
        );
        let page = finish_registration(
            &alice,
            &alice_csrf,
            &ceremony,
            "Laptop again",
            &key.create(&options),
        )
        .await;
        readable(&page, 409, "registered already");
        // Another session of Alice's cannot finish this session's ceremony either.
        let (other, other_csrf) = signed_in(&app, "alice").await;
        let (ceremony, options) = register_options(&alice, &alice_csrf).await;
        let answer = SoftPasskey::new(&app.settings.issuer).create(&options);
        let page = finish_registration(&other, &other_csrf, &ceremony, "Other", &answer).await;
        readable(&page, 400, "This passkey request is not valid");

        // A sign-in ceremony works once: the replayed answer opens no second session.
        let (browser, fields) = at_login(&app, "/login").await;
        let (ceremony, options) = sign_in_options(&browser, &fields).await;
        let answer = key.get(&options);
        let ok = finish_sign_in(&browser, &fields, &ceremony, &answer).await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        let (thief, thief_fields) = at_login(&app, "/login").await;
        let replay = finish_sign_in(&thief, &thief_fields, &ceremony, &answer).await;
        assert_eq!(replay.status, 400, "{}", replay.body);
        assert!(replay.body.contains("expired or was already used"));
        assert!(!is_signed_in_as(&thief, "alice").await);
        // An answer to one challenge, posted with another ceremony, does not verify. (Each
        // login page shown sets a new form token, so the thief reads the page again.)
        let (thief, thief_fields) = at_login(&app, "/login").await;
        let (_, options) = sign_in_options(&thief, &thief_fields).await;
        let (other_ceremony, _) = sign_in_options(&thief, &thief_fields).await;
        let page = finish_sign_in(&thief, &thief_fields, &other_ceremony, &key.get(&options)).await;
        refused_sign_in(&page);
        // A registration ceremony is no sign-in ceremony.
        let (thief, thief_fields) = at_login(&app, "/login").await;
        let (registration, _) = register_options(&alice, &alice_csrf).await;
        let (_, options) = sign_in_options(&thief, &thief_fields).await;
        let page = finish_sign_in(&thief, &thief_fields, &registration, &key.get(&options)).await;
        assert_eq!(page.status, 400, "{}", page.body);
        assert!(!is_signed_in_as(&thief, "alice").await);

        let rows = audit(&app).await;
        let registered = rows
            .iter()
            .filter(|r| r.action == "account.passkey-registered")
            .count();
        assert_eq!(registered, 1);
        let names: Vec<String> = app
            .store
            .run(move |conn| {
                tessera::store::passkeys::of_user(conn, alice_id)
                    .map(|v| v.into_iter().map(|p| p.name).collect::<Vec<_>>())
            })
            .await
            .unwrap();
        assert_eq!(names, vec!["Laptop".to_owned()], "alice has one passkey");
    }
);

on_both_backends_named!(
    an_expired_ceremony_is_refused,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let (alice, csrf) = signed_in(&app, "alice").await;
        let mut key = SoftPasskey::new(&app.settings.issuer);
        let (ceremony, options) = register_options(&alice, &csrf).await;
        let answer = key.create(&options);
        app.advance(tessera::passkeys::CEREMONY_TTL);
        let page = finish_registration(&alice, &csrf, &ceremony, "Late", &answer).await;
        readable(&page, 400, "This passkey request has expired");

        // Registered in time, then a sign-in answered too late.
        let (ceremony, options) = register_options(&alice, &csrf).await;
        let answer = key.create(&options);
        app.advance(tessera::passkeys::CEREMONY_TTL - 1);
        let page = finish_registration(&alice, &csrf, &ceremony, "In time", &answer).await;
        assert_eq!(page.status, 303, "{}", page.body);
        let (browser, fields) = at_login(&app, "/login").await;
        let (ceremony, options) = sign_in_options(&browser, &fields).await;
        let answer = key.get(&options);
        app.advance(tessera::passkeys::CEREMONY_TTL);
        let page = finish_sign_in(&browser, &fields, &ceremony, &answer).await;
        assert_eq!(page.status, 400, "{}", page.body);
        assert!(page.body.contains("expired or was already used"));
        assert!(!is_signed_in_as(&browser, "alice").await);
    }
);

on_both_backends_named!(
    a_removed_cloned_or_disabled_users_passkey_signs_nobody_in,
    |app: TestApp| async move {
        let alice_id = flow::create_user(&app, "alice");
        flow::create_user(&app, "bob");
        let (alice, csrf) = signed_in(&app, "alice").await;
        let mut phone = register(&app, &alice, &csrf, "Phone").await;
        let mut laptop = register(&app, &alice, &csrf, "Laptop").await;

        // No user verification: refused (the passkey stands for both factors).
        laptop.user_verified = false;
        let (_, page) = passkey_sign_in(&app, &laptop).await;
        refused_sign_in(&page);
        laptop.user_verified = true;

        // The signature counter: forward is fine, backward means a cloned authenticator.
        laptop.counter = 5;
        let (b, page) = passkey_sign_in(&app, &laptop).await;
        assert_eq!(page.status, 303, "{}", page.body);
        assert!(is_signed_in_as(&b, "alice").await);
        laptop.counter = 3;
        let (b, page) = passkey_sign_in(&app, &laptop).await;
        refused_sign_in(&page);
        assert!(!is_signed_in_as(&b, "alice").await);

        // Bob cannot rename or remove Alice's passkey: his own are the only ones he sees.
        let phone_id = passkey_id(&alice.get("/account").await.body, "Phone");
        let (bob, bob_csrf) = signed_in(&app, "bob").await;
        let page = bob
            .post(
                &format!("/account/passkeys/{phone_id}/remove"),
                &form(&[("csrf_token", &bob_csrf)]),
            )
            .await;
        readable(&page, 404, "no such passkey");
        let page = bob
            .post(
                &format!("/account/passkeys/{phone_id}/rename"),
                &form(&[("csrf_token", &bob_csrf), ("name", "Mine")]),
            )
            .await;
        readable(&page, 404, "no such passkey");

        // Alice removes the phone's passkey: it no longer signs in; the laptop's still does.
        let page = alice
            .post(
                &format!("/account/passkeys/{phone_id}/remove"),
                &form(&[("csrf_token", &csrf)]),
            )
            .await;
        assert_eq!(
            page.location.as_deref(),
            Some("/account?done=passkey-removed")
        );
        phone.counter = 1;
        let (_, page) = passkey_sign_in(&app, &phone).await;
        refused_sign_in(&page);
        laptop.counter = 10;
        let (_, page) = passkey_sign_in(&app, &laptop).await;
        assert_eq!(page.status, 303, "{}", page.body);

        // A disabled user's passkey is refused.
        app.store
            .run(move |conn| tessera::store::admin::set_active(conn, alice_id, false, 0))
            .await
            .unwrap();
        laptop.counter = 11;
        let (_, page) = passkey_sign_in(&app, &laptop).await;
        refused_sign_in(&page);

        let rows = audit(&app).await;
        let failed: Vec<&str> = rows
            .iter()
            .filter(|r| r.action == "login.failed")
            .filter_map(|r| r.detail.as_deref())
            .collect();
        for reason in [
            "user verified bit is not set",
            "cloned",
            "not registered to this account",
            "account disabled",
        ] {
            assert!(
                failed.iter().any(|d| d.to_lowercase().contains(reason)),
                "{reason} in {failed:?}"
            );
        }
        assert!(
            rows.iter()
                .any(|r| r.action == "account.passkey-removed"
                    && r.detail.as_deref() == Some("Phone"))
        );
        assert!(
            rows.iter()
                .any(|r| r.action == "login" && r.detail.as_deref() == Some("passkey \"Laptop\""))
        );
    }
);

on_both_backends_named!(
    passkey_forms_refuse_a_missing_or_wrong_csrf_token,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let (alice, csrf) = signed_in(&app, "alice").await;
        let key = register(&app, &alice, &csrf, "Phone").await;
        let id = passkey_id(&alice.get("/account").await.body, "Phone");
        let posts = [
            ("/account/passkeys/options".to_owned(), form(&[])),
            (
                "/account/passkeys".to_owned(),
                form(&[("name", "x"), ("ceremony", "x"), ("credential", "{}")]),
            ),
            (
                format!("/account/passkeys/{id}/rename"),
                form(&[("name", "Mallory")]),
            ),
            (format!("/account/passkeys/{id}/remove"), form(&[])),
        ];
        for (path, fields) in &posts {
            let missing = alice.post(path, fields).await;
            assert_eq!(missing.status, 403, "{path}: {}", missing.body);
            let mut wrong = fields.clone();
            wrong.push(("csrf_token".into(), format!("{csrf}x")));
            let page = alice.post(path, &wrong).await;
            assert_eq!(page.status, 403, "{path}: {}", page.body);
            assert!(page.body.contains("This form has expired"), "{}", page.body);
        }
        // The options request answers the page's script in JSON.
        let page = alice.post("/account/passkeys/options", &form(&[])).await;
        let v: Value = serde_json::from_str(&page.body).unwrap();
        assert_eq!(v["error"], "This form has expired");
        // Signed out, the account's passkey requests lead to sign-in.
        let stranger = Browser::new(&app);
        let page = stranger
            .post(
                &format!("/account/passkeys/{id}/remove"),
                &form(&[("csrf_token", &csrf)]),
            )
            .await;
        assert_eq!(page.status, 303);
        assert_eq!(
            page.location.as_deref(),
            Some("/login?return_to=%2Faccount")
        );
        // The login page's passkey requests check the login form's cookie and token.
        let (browser, fields) = at_login(&app, "/login").await;
        let page = browser
            .post("/login/passkey/options", &form(&[("csrf_token", "forged")]))
            .await;
        assert_eq!(page.status, 403, "{}", page.body);
        let (ceremony, options) = sign_in_options(&browser, &fields).await;
        let mut forged = fields.clone();
        forged.retain(|(k, _)| k != "csrf_token");
        forged.push(("csrf_token".into(), "forged".into()));
        let page = finish_sign_in(&browser, &forged, &ceremony, &key.get(&options)).await;
        assert_eq!(page.status, 400, "{}", page.body);
        assert!(page.body.contains("Your sign-in form expired"));
        assert!(!is_signed_in_as(&browser, "alice").await);
        // Nothing changed.
        let page = alice.get("/account").await;
        assert!(
            page.body.contains("<strong>Phone</strong>"),
            "{}",
            page.body
        );
        assert!(!page.body.contains("Mallory"));
    }
);

on_both_backends_named!(
    failed_passkey_sign_ins_are_throttled_like_wrong_passwords,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let (alice, csrf) = signed_in(&app, "alice").await;
        let mut key = register(&app, &alice, &csrf, "Phone").await;
        // Six refusals (no user verification) from this address: the account and address
        // are locked, for passkeys and passwords alike.
        key.user_verified = false;
        for _ in 0..6 {
            let (_, page) = passkey_sign_in(&app, &key).await;
            refused_sign_in(&page);
        }
        key.user_verified = true;
        let (_, page) = passkey_sign_in(&app, &key).await;
        assert_eq!(page.status, 429, "{}", page.body);
        assert!(page.body.contains("Too many failed sign-ins"));
        assert!(page.headers.contains_key("retry-after"));
        let b = Browser::new(&app);
        let login = b.get("/login").await;
        assert_eq!(b.login(&login, "alice", flow::PASSWORD).await.status, 429);
        app.advance(
            page.headers["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap(),
        );
        let (b, page) = passkey_sign_in(&app, &key).await;
        assert_eq!(page.status, 303, "{}", page.body);
        assert!(is_signed_in_as(&b, "alice").await);
    }
);

on_both_backends_named!(
    a_user_registers_passkeys_and_signs_in_with_one_alone,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let (alice, csrf) = signed_in(&app, "alice").await;
        // The account page runs Tessera's own script and no other.
        let page = alice.get("/account").await;
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(
            page.body
                .contains("<script src=\"/static/passkeys.js\" defer></script>")
        );
        assert!(page.body.contains("No passkey yet"));
        let js = app
            .http
            .get(app.url("/static/passkeys.js"))
            .send()
            .await
            .unwrap();
        assert_eq!(js.status(), 200);
        assert!(
            js.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
        assert!(
            js.text()
                .await
                .unwrap()
                .contains("navigator.credentials.create")
        );

        let (ceremony, options) = register_options(&alice, &csrf).await;
        let pk = &options["publicKey"];
        assert_eq!(pk["authenticatorSelection"]["residentKey"], "required");
        assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
        assert_eq!(pk["rp"]["id"], "localhost");
        let mut key = SoftPasskey::new(&app.settings.issuer);
        let answer = key.create(&options);
        // A name is required, and kept short.
        let page = finish_registration(&alice, &csrf, &ceremony, "  ", &answer).await;
        readable(&page, 400, "Give the passkey a name");
        // (The refused name did not spend the ceremony.)
        let done = finish_registration(&alice, &csrf, &ceremony, "Phone", &answer).await;
        assert_eq!(done.status, 303, "{}", done.body);
        let second = register(&app, &alice, &csrf, "Laptop").await;
        let page = alice.get("/account?done=passkey-added").await;
        assert!(page.body.contains("Passkey added"));
        assert!(page.body.contains("<strong>Phone</strong>"));
        assert!(page.body.contains("<strong>Laptop</strong>"));
        assert!(page.body.contains("not used yet"));
        // Rename the second.
        let id = passkey_id(&page.body, "Laptop");
        let renamed = alice
            .post(
                &format!("/account/passkeys/{id}/rename"),
                &form(&[("csrf_token", &csrf), ("name", "Work laptop")]),
            )
            .await;
        assert_eq!(
            renamed.location.as_deref(),
            Some("/account?done=passkey-renamed")
        );
        assert!(
            alice
                .get("/account")
                .await
                .body
                .contains("<strong>Work laptop</strong>")
        );

        // Signed out, the phone's passkey alone signs Alice in: no username typed.
        key.counter = 1;
        let (b, page) = passkey_sign_in(&app, &key).await;
        assert_eq!(page.status, 303, "{}", page.body);
        assert_eq!(page.location.as_deref(), Some("/login"));
        assert!(is_signed_in_as(&b, "alice").await);
        let page = b.get("/account").await;
        assert!(page.body.contains("last used"), "{}", page.body);
        assert!(page.body.contains("not used yet"), "the laptop's is unused");
        drop(second);

        // Within the authorization-code flow: login -> passkey -> consent -> code -> tokens.
        let (verifier, challenge) = flow::pkce();
        let url = flow::auth_url(
            &client.id,
            &[
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("nonce", "n-pk"),
            ],
        );
        let (browser, fields) = at_login(&app, &url).await;
        assert!(field(&fields, "return_to").starts_with("/oauth/authorize?"));
        let (ceremony, options) = sign_in_options(&browser, &fields).await;
        key.counter = 2;
        let page = finish_sign_in(&browser, &fields, &ceremony, &key.get(&options)).await;
        assert_eq!(page.status, 303, "{}", page.body);
        let consent = browser.get(page.location.as_deref().unwrap()).await;
        let back = browser.consent(&consent, true).await;
        let code = back.redirect_param("code").expect("a code");
        let res = flow::token(
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
        assert_eq!(res.status(), 200);
        let tokens: Value = res.json().await.unwrap();
        // A device-bound passkey with user verification: two factors in one (RFC 8176).
        let id_token = tokens["id_token"].as_str().expect("an ID token");
        let payload = id_token.split('.').nth(1).unwrap();
        let claims: Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["amr"], serde_json::json!(["hwk", "user", "mfa"]));
        assert_eq!(claims["acr"], "mfa");

        let rows = audit(&app).await;
        for action in ["account.passkey-registered", "account.passkey-renamed"] {
            assert!(
                rows.iter()
                    .any(|r| r.action == action && r.actor.as_deref() == Some("alice")),
                "{action}"
            );
        }
        let passkey_logins = rows
            .iter()
            .filter(|r| r.action == "login" && r.detail.as_deref() == Some("passkey \"Phone\""))
            .count();
        assert_eq!(passkey_logins, 2);
    }
);

on_both_backends!(
    passkeys_are_off_when_the_issuer_is_an_ip_address,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let (alice, csrf) = signed_in(&app, "alice").await;
        let page = alice.get("/account").await;
        assert!(
            page.body.contains("Passkeys cannot be used on this server"),
            "{}",
            page.body
        );
        assert!(page.body.contains("domain name"));
        assert!(!page.body.contains("passkeys.js"));
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(
            !csp.contains("script-src"),
            "no script where passkeys are off: {csp}"
        );
        let page = alice
            .post("/account/passkeys/options", &form(&[("csrf_token", &csrf)]))
            .await;
        assert_eq!(page.status, 404, "{}", page.body);
        let v: Value = serde_json::from_str(&page.body).unwrap();
        assert_eq!(v["error"], "Passkeys are not available");
        // The login page offers no passkey and runs no script.
        let b = Browser::new(&app);
        let login = b.get("/login").await;
        assert!(!login.body.contains("passkeys.js"));
        let csp = login.headers["content-security-policy"].to_str().unwrap();
        assert!(!csp.contains("script-src"), "{csp}");
    }
);
