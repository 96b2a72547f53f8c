//! Second factors over HTTP. Refusals first: a wrong code, a replayed code, another user's
//! code, skipping the second step, an expired one, throttled guessing, a recovery code used
//! twice, forms without their CSRF token, removal without the password, a reset by a
//! non-admin, a password alone at `/api/token/`. Then what works: the authorization-code
//! flow through the second step ending in an ID token with `amr` ["pwd","otp","mfa"], the
//! policy sending a user to set up an authenticator, and `acr_values` stepping a password
//! session up. Codes are computed with totp-rs from the secret the enrolment page shows.
use base64::Engine;
use serde_json::Value;
use totp_rs::{Algorithm, Secret, Totp};

use crate::admin::{Console, audit_actions, create_admin};
use crate::flow::{self, Browser, Page, input};
use crate::helpers::TestApp;
use crate::on_both_backends;

const STEP: &str = "/login/second-factor";

fn totp(secret: &str) -> Totp {
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(Secret::try_from_base32(secret).expect("a base32 secret"))
        .with_account_name("test")
        .build()
        .unwrap()
}

/// The code `secret` shows at the server's current time.
pub(crate) fn code(app: &TestApp, secret: &str) -> String {
    totp(secret).generate(app.clock.unix() as u64).to_string()
}

/// A six-digit code that is not the right one now (nor one step either side).
fn wrong_code(app: &TestApp, secret: &str) -> String {
    let t = totp(secret);
    let now = app.clock.unix() as u64;
    let right: Vec<String> = [now - 30, now, now + 30]
        .iter()
        .map(|s| t.generate(*s).to_string())
        .collect();
    (0..1000)
        .map(|n| format!("{:06}", 123_457 + n))
        .find(|c| !right.contains(c))
        .unwrap()
}

/// The text of `<code ... id="totp-secret">`.
fn shown_secret(body: &str) -> String {
    let start = body
        .find("id=\"totp-secret\">")
        .expect("the secret on the page")
        + "id=\"totp-secret\">".len();
    body[start..start + body[start..].find('<').unwrap()].to_owned()
}

/// The recovery codes a page shows once.
fn shown_codes(body: &str) -> Vec<String> {
    let list = &body[body.find("id=\"recovery-codes\"").expect("recovery codes")..];
    let list = &list[..list.find("</ul>").unwrap()];
    list.split("<code>")
        .skip(1)
        .map(|c| c[..c.find('<').unwrap()].to_owned())
        .collect()
}

/// A browser signed in as `username` (password only), with the session's CSRF token.
async fn signed_in(app: &TestApp, username: &str) -> (Browser, String) {
    let browser = Browser::new(app);
    browser.sign_in(username).await;
    let page = browser.get("/account").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = input(&page.body, "csrf_token").unwrap();
    (browser, csrf)
}

/// Set up an authenticator from the account page; its secret and recovery codes.
pub(crate) async fn enrol(app: &TestApp, username: &str) -> (String, Vec<String>) {
    let (browser, csrf) = signed_in(app, username).await;
    let page = browser.get("/account/totp").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("src=\"data:image/svg+xml;base64,"));
    let secret = shown_secret(&page.body);
    let done = browser
        .post(
            "/account/totp",
            &form(&[("csrf_token", &csrf), ("code", &code(app, &secret))]),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let codes = shown_codes(&done.body);
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

fn form(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A fresh browser past the password: it is sent to the second step.
async fn past_password(app: &TestApp, username: &str) -> Browser {
    let browser = Browser::new(app);
    let page = browser.get("/login").await;
    let after = browser.login(&page, username, flow::PASSWORD).await;
    assert_eq!(after.status, 303, "{}", after.body);
    assert_eq!(after.location.as_deref(), Some(STEP));
    browser
}

/// Type `code` at the second step.
async fn second_step(browser: &Browser, code: &str) -> Page {
    let page = browser.get(STEP).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = input(&page.body, "csrf_token").unwrap();
    browser
        .post(STEP, &form(&[("csrf_token", &csrf), ("code", code)]))
        .await
}

/// Whether the browser is signed in (the account page opens).
async fn is_signed_in(browser: &Browser) -> bool {
    browser.get("/account").await.status == 200
}

async fn actions(app: &TestApp) -> Vec<String> {
    audit_actions(app).await.into_iter().map(|a| a.0).collect()
}

on_both_backends!(
    a_wrong_code_signs_nobody_in,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let (secret, _) = enrol(&app, "alice").await;
        app.advance(30);
        let browser = past_password(&app, "alice").await;
        assert!(!is_signed_in(&browser).await);
        let refused = second_step(&browser, &wrong_code(&app, &secret)).await;
        assert_eq!(refused.status, 401, "{}", refused.body);
        assert!(refused.body.contains("not right"), "{}", refused.body);
        assert!(!is_signed_in(&browser).await);
        // A recovery-code-shaped guess is refused too.
        let refused = second_step(&browser, "AAAA-BBBB-CCCC-DDDD").await;
        assert_eq!(refused.status, 401);
        assert!(
            actions(&app)
                .await
                .contains(&"login.second-factor-failed".to_owned())
        );
        // The right code still works afterwards.
        let ok = second_step(&browser, &code(&app, &secret)).await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        assert!(is_signed_in(&browser).await);
    }
);

on_both_backends!(
    a_code_is_accepted_once,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let (secret, _) = enrol(&app, "alice").await;
        // The code that confirmed the enrolment is spent.
        let browser = past_password(&app, "alice").await;
        let replayed = second_step(&browser, &code(&app, &secret)).await;
        assert_eq!(replayed.status, 401, "{}", replayed.body);
        app.advance(30);
        let fresh = code(&app, &secret);
        let ok = second_step(&browser, &fresh).await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        // The same code in another browser, within its 30 s: refused.
        let other = past_password(&app, "alice").await;
        let again = second_step(&other, &fresh).await;
        assert_eq!(again.status, 401, "{}", again.body);
        assert!(!is_signed_in(&other).await);
    }
);

on_both_backends!(
    another_users_codes_are_refused,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        flow::create_user(&app, "bob");
        let (alice_secret, _) = enrol(&app, "alice").await;
        let (bob_secret, bob_codes) = enrol(&app, "bob").await;
        app.advance(30);
        while code(&app, &alice_secret) == code(&app, &bob_secret) {
            app.advance(30);
        }
        let browser = past_password(&app, "alice").await;
        let refused = second_step(&browser, &code(&app, &bob_secret)).await;
        assert_eq!(refused.status, 401);
        let refused = second_step(&browser, &bob_codes[0]).await;
        assert_eq!(refused.status, 401);
        assert!(!is_signed_in(&browser).await);
        // Bob's recovery code was not spent by the attempt.
        let bob = past_password(&app, "bob").await;
        assert_eq!(second_step(&bob, &bob_codes[0]).await.status, 303);
    }
);

on_both_backends!(
    the_second_step_cannot_be_skipped,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        create_admin(&app, "root");
        enrol(&app, "alice").await;
        enrol(&app, "root").await;
        let client = flow::confidential(&app);
        for user in ["alice", "root"] {
            let browser = past_password(&app, user).await;
            let account = browser.get("/account").await;
            assert_eq!(account.status, 303);
            assert!(account.location.unwrap().starts_with("/login"));
            let authorize = browser.get(&flow::auth_url(&client.id, &[])).await;
            assert!(authorize.is_login(), "{}", authorize.body);
            let console = browser.get("/admin/").await;
            assert_eq!(console.status, 303);
            assert!(console.location.unwrap().starts_with("/login"));
            let front = browser.get("/login").await;
            assert!(front.is_login());
        }
        // A browser without the pending cookie has nothing to complete.
        let stranger = Browser::new(&app);
        let page = stranger
            .post(STEP, &form(&[("csrf_token", "x"), ("code", "123456")]))
            .await;
        assert_eq!(page.status, 401);
        assert!(page.is_login());
    }
);

on_both_backends!(
    an_expired_second_step_starts_over,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let (secret, _) = enrol(&app, "alice").await;
        let browser = past_password(&app, "alice").await;
        let page = browser.get(STEP).await;
        let csrf = input(&page.body, "csrf_token").unwrap();
        app.advance(301);
        let late = browser
            .post(
                STEP,
                &form(&[("csrf_token", &csrf), ("code", &code(&app, &secret))]),
            )
            .await;
        assert_eq!(late.status, 401, "{}", late.body);
        assert!(late.body.contains("took too long"), "{}", late.body);
        assert!(!is_signed_in(&browser).await);
    }
);

on_both_backends!(
    wrong_codes_are_throttled_even_after_a_right_password,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let (secret, _) = enrol(&app, "alice").await;
        app.advance(30);
        let browser = past_password(&app, "alice").await;
        let wrong = wrong_code(&app, &secret);
        let mut statuses = Vec::new();
        for _ in 0..8 {
            statuses.push(second_step(&browser, &wrong).await.status);
        }
        assert!(statuses.contains(&429), "{statuses:?}");
        // A right password does not forgive the wrong codes, and a locked step refuses
        // even the right code.
        let again = past_password(&app, "alice").await;
        let locked = second_step(&again, &code(&app, &secret)).await;
        assert_eq!(locked.status, 429, "{}", locked.body);
        assert!(locked.headers.contains_key("retry-after"));
        assert!(!is_signed_in(&again).await);
        // Once the lock runs out, the right code signs in.
        app.advance(900);
        let later = past_password(&app, "alice").await;
        assert_eq!(second_step(&later, &code(&app, &secret)).await.status, 303);
    }
);

on_both_backends!(
    a_recovery_code_works_once,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let (_, codes) = enrol(&app, "alice").await;
        let browser = past_password(&app, "alice").await;
        // Typed loosely: lower case, no dashes.
        let typed = codes[0].replace('-', "").to_lowercase();
        let ok = second_step(&browser, &typed).await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        assert!(is_signed_in(&browser).await);
        assert!(
            actions(&app)
                .await
                .contains(&"account.recovery-code-used".to_owned())
        );
        let other = past_password(&app, "alice").await;
        let again = second_step(&other, &codes[0]).await;
        assert_eq!(again.status, 401, "{}", again.body);
        assert!(!is_signed_in(&other).await);
        assert_eq!(second_step(&other, &codes[1]).await.status, 303);
    }
);

on_both_backends!(
    second_factor_forms_need_their_csrf_token,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let (browser, csrf) = signed_in(&app, "alice").await;
        let page = browser.get("/account/totp").await;
        let secret = shown_secret(&page.body);
        let c = code(&app, &secret);
        for token in ["", "wrong"] {
            let refused = browser
                .post(
                    "/account/totp",
                    &form(&[("csrf_token", token), ("code", &c)]),
                )
                .await;
            assert_eq!(refused.status, 403, "{}", refused.body);
        }
        let ok = browser
            .post(
                "/account/totp",
                &form(&[("csrf_token", &csrf), ("code", &c)]),
            )
            .await;
        assert_eq!(ok.status, 200, "{}", ok.body);
        for path in ["/account/totp/remove", "/account/recovery-codes"] {
            let refused = browser
                .post(path, &form(&[("current_password", flow::PASSWORD)]))
                .await;
            assert_eq!(refused.status, 403, "{path}: {}", refused.body);
        }
        // The second step's own token.
        app.advance(30);
        let pending = past_password(&app, "alice").await;
        let refused = pending
            .post(
                STEP,
                &form(&[("csrf_token", "forged"), ("code", &code(&app, &secret))]),
            )
            .await;
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert!(!is_signed_in(&pending).await);
    }
);

on_both_backends!(
    removing_the_authenticator_needs_the_password,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let (secret, codes) = enrol(&app, "alice").await;
        app.advance(30);
        let browser = past_password(&app, "alice").await;
        assert_eq!(
            second_step(&browser, &code(&app, &secret)).await.status,
            303
        );
        let csrf = input(&browser.get("/account").await.body, "csrf_token").unwrap();
        let refused = browser
            .post(
                "/account/totp/remove",
                &form(&[
                    ("csrf_token", &csrf),
                    ("current_password", "wrong password"),
                ]),
            )
            .await;
        assert_eq!(refused.status, 401, "{}", refused.body);
        assert!(
            browser
                .get("/account")
                .await
                .body
                .contains("Authenticator app</h3>\n<p>On")
        );
        let new_codes = browser
            .post(
                "/account/recovery-codes",
                &form(&[("csrf_token", &csrf), ("current_password", flow::PASSWORD)]),
            )
            .await;
        assert_eq!(new_codes.status, 200, "{}", new_codes.body);
        let fresh = shown_codes(&new_codes.body);
        assert!(fresh.iter().all(|c| !codes.contains(c)));
        let removed = browser
            .post(
                "/account/totp/remove",
                &form(&[("csrf_token", &csrf), ("current_password", flow::PASSWORD)]),
            )
            .await;
        assert_eq!(removed.status, 303, "{}", removed.body);
        let a = actions(&app).await;
        for action in [
            "account.totp-enrolled",
            "account.recovery-codes-issued",
            "account.totp-removed",
        ] {
            assert!(a.contains(&action.to_owned()), "{action} in {a:?}");
        }
        // A password alone signs in again.
        let b = Browser::new(&app);
        let page = b.get("/login").await;
        let done = b.login(&page, "alice", flow::PASSWORD).await;
        assert_eq!(done.location.as_deref(), Some("/login"));
    }
);

on_both_backends!(
    only_admins_reset_second_factors,
    manual_clock,
    |app: TestApp| async move {
        let alice = flow::create_user(&app, "alice");
        flow::create_user(&app, "mallory");
        enrol(&app, "alice").await;
        let path = format!("/admin/users/{alice}/second-factors/reset");
        let (mallory, csrf) = signed_in(&app, "mallory").await;
        let refused = mallory.post(&path, &form(&[("csrf_token", &csrf)])).await;
        assert_eq!(refused.status, 403, "{}", refused.body);
        let console = Console::root(&app).await;
        let forged = console
            .browser
            .post(&path, &form(&[("csrf_token", "forged")]))
            .await;
        assert_eq!(forged.status, 403);
        assert!(past_password(&app, "alice").await.get(STEP).await.status == 200);
        let done = console.post(&path, &[]).await;
        assert_eq!(done.status, 303, "{}", done.body);
        let entries = audit_actions(&app).await;
        assert!(entries.iter().any(|(action, actor, target)| action
            == "user.second-factors-reset"
            && actor.as_deref() == Some("root")
            && target.as_deref() == Some("alice")));
        let b = Browser::new(&app);
        let page = b.get("/login").await;
        assert_eq!(
            b.login(&page, "alice", flow::PASSWORD)
                .await
                .location
                .as_deref(),
            Some("/login")
        );
    }
);

on_both_backends!(
    a_password_alone_gets_no_simplejwt_tokens_past_a_second_factor,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let body = serde_json::json!({"username": "alice", "password": flow::PASSWORD});
        let before = app
            .http
            .post(app.url("/api/token/"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(before.status(), 200);
        enrol(&app, "alice").await;
        let after = app
            .http
            .post(app.url("/api/token/"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(after.status(), 401);
    }
);

/// The claims of a JWT, unverified (the tests elsewhere check signatures).
pub(crate) fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// Exchange the code of `page`'s redirect; the ID token's claims.
pub(crate) async fn id_token(
    app: &TestApp,
    client: &flow::Client,
    page: &Page,
    verifier: &str,
) -> Value {
    let code = page.redirect_param("code").expect("a code");
    let res = flow::token(
        app,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", flow::REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    jwt_claims(body["id_token"].as_str().unwrap())
}

on_both_backends!(
    the_code_flow_through_the_second_step_says_pwd_otp_mfa,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let (secret, _) = enrol(&app, "alice").await;
        app.advance(30);
        let client = flow::confidential(&app);
        let (verifier, challenge) = flow::pkce();
        let url = flow::auth_url(
            &client.id,
            &[
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("nonce", "n-2fa"),
            ],
        );
        let browser = Browser::new(&app);
        let login = browser.get(&url).await;
        let after = browser.login(&login, "alice", flow::PASSWORD).await;
        assert_eq!(after.location.as_deref(), Some(STEP));
        let done = second_step(&browser, &code(&app, &secret)).await;
        assert_eq!(done.status, 303, "{}", done.body);
        let back = done.location.unwrap();
        assert!(back.starts_with("/oauth/authorize?"), "{back}");
        let consent = browser.get(&back).await;
        let redirect = browser.consent(&consent, true).await;
        let claims = id_token(&app, &client, &redirect, &verifier).await;
        assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
        assert_eq!(claims["acr"], "mfa");
        assert_eq!(claims["nonce"], "n-2fa");
        // Without a second factor an ID token says so.
        flow::create_user(&app, "bob");
        let plain = flow::tokens_for(&app, &client, "bob", "openid").await;
        let plain = jwt_claims(plain["id_token"].as_str().unwrap());
        assert_eq!(plain["amr"], serde_json::json!(["pwd"]));
        assert_eq!(plain["acr"], "pwd");
    }
);

on_both_backends!(
    acr_values_mfa_steps_a_password_session_up,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "bob");
        let client = flow::confidential(&app);
        let (browser, _) = signed_in(&app, "bob").await;
        // prompt=none cannot step up: the client hears so.
        let silent = browser
            .get(&flow::auth_url(
                &client.id,
                &[("acr_values", "mfa"), ("prompt", "none")],
            ))
            .await;
        assert_eq!(silent.status, 302, "{}", silent.body);
        assert_eq!(
            silent.redirect_param("error").as_deref(),
            Some("interaction_required")
        );
        let (verifier, challenge) = flow::pkce();
        let url = flow::auth_url(
            &client.id,
            &[
                ("acr_values", "mfa"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        );
        let step_up = browser.get(&url).await;
        assert_eq!(step_up.status, 303, "{}", step_up.body);
        assert_eq!(step_up.location.as_deref(), Some(STEP));
        // Bob has no authenticator: he sets one up here.
        let page = browser.get(STEP).await;
        let secret = shown_secret(&page.body);
        let csrf = input(&page.body, "csrf_token").unwrap();
        let enrolled = browser
            .post(
                STEP,
                &form(&[("csrf_token", &csrf), ("code", &code(&app, &secret))]),
            )
            .await;
        assert_eq!(enrolled.status, 200, "{}", enrolled.body);
        assert_eq!(shown_codes(&enrolled.body).len(), 10);
        let next = enrolled.body[enrolled.body.find("href=\"/oauth/authorize?").unwrap() + 6..]
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        let consent = browser.get(&flow::unescape(&next)).await;
        let redirect = browser.consent(&consent, true).await;
        let claims = id_token(&app, &client, &redirect, &verifier).await;
        assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
        assert_eq!(claims["acr"], "mfa");
        let discovery: Value = app.get_json("/.well-known/openid-configuration").await;
        assert_eq!(
            discovery["acr_values_supported"],
            serde_json::json!(["pwd", "mfa"])
        );
    }
);

on_both_backends!(
    the_policy_sends_users_without_a_factor_to_set_one_up,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "bob");
        let console = Console::root(&app).await;
        let bad = console
            .post("/admin/second-factor-policy", &[("policy", "sometimes")])
            .await;
        assert_eq!(bad.status, 400, "{}", bad.body);
        let saved = console
            .post("/admin/second-factor-policy", &[("policy", "everyone")])
            .await;
        assert_eq!(saved.status, 303, "{}", saved.body);
        assert!(
            actions(&app)
                .await
                .contains(&"settings.second-factor-policy".to_owned())
        );
        // The admin's own password session is stepped up before the console opens again.
        let console_again = console.get("/admin/users").await;
        assert_eq!(console_again.status, 303);
        assert!(
            console_again
                .location
                .unwrap()
                .starts_with("/login/second-factor/start")
        );
        let browser = past_password(&app, "bob").await;
        let page = browser.get(STEP).await;
        assert!(
            page.body.contains("Set up an authenticator"),
            "{}",
            page.body
        );
        let secret = shown_secret(&page.body);
        let csrf = input(&page.body, "csrf_token").unwrap();
        let wrong = browser
            .post(
                STEP,
                &form(&[("csrf_token", &csrf), ("code", &wrong_code(&app, &secret))]),
            )
            .await;
        assert_eq!(wrong.status, 401);
        assert!(!is_signed_in(&browser).await);
        let done = browser
            .post(
                STEP,
                &form(&[("csrf_token", &csrf), ("code", &code(&app, &secret))]),
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.body);
        assert!(is_signed_in(&browser).await);
        // And /api/token/ with the password alone is refused under the policy.
        flow::create_user(&app, "carol");
        let body = serde_json::json!({"username": "carol", "password": flow::PASSWORD});
        let res = app
            .http
            .post(app.url("/api/token/"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
);
