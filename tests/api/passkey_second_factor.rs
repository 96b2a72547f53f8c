//! A passkey as the second step after a password, over HTTP with the software
//! authenticator. Refusals first: no pending sign-in, another user's pending sign-in or
//! credential, a ceremony replayed or of another kind, an expired pending sign-in, wrong
//! form tokens, and refused passkeys filling the throttle that wrong codes fill. Then what
//! works: the policy met by a passkey without an authenticator app, a user with both
//! offered both, and the authorization-code flow ending in `amr` ["pwd","hwk","mfa"].
use serde_json::Value;
use tessera::second_factor::policy::{self, Policy};

use crate::flow::{self, Browser, Page, input};
use crate::helpers::TestApp;
use crate::on_both_backends;
use crate::passkeys::{
    at_login, audit, finish_sign_in, form, is_signed_in_as, register, sign_in_options, signed_in,
};
use crate::second_factor::{code, enrol, id_token};
use crate::soft_passkey::SoftPasskey;

const STEP: &str = "/login/second-factor";
const OPTIONS: &str = "/login/second-factor/passkey/options";
const ANSWER: &str = "/login/second-factor/passkey";

/// These tests run on a server whose issuer is `http://localhost:PORT`.
macro_rules! on_both_backends_named {
    ($name:ident, manual_clock, $body:expr) => {
        on_both_backends!(@spawn $name, $crate::helpers::spawn_on_localhost_manual_clock, $body);
    };
    ($name:ident, $body:expr) => {
        on_both_backends!(@spawn $name, $crate::helpers::spawn_on_localhost, $body);
    };
}

/// A user with one registered passkey (registered while no second step was asked for).
async fn with_passkey(app: &TestApp, username: &str) -> SoftPasskey {
    flow::create_user(app, username);
    let (browser, csrf) = signed_in(app, username).await;
    register(app, &browser, &csrf, "Key").await
}

async fn require_everyone(app: &TestApp) {
    app.store
        .run(|conn| policy::set(conn, Policy::Everyone, 0, "test"))
        .await
        .unwrap();
}

/// A fresh browser past the password, sent to the second step; its form token.
async fn past_password(app: &TestApp, username: &str) -> (Browser, String) {
    let browser = Browser::new(app);
    let page = browser.get("/login").await;
    let after = browser.login(&page, username, flow::PASSWORD).await;
    assert_eq!(after.status, 303, "{}", after.body);
    assert_eq!(after.location.as_deref(), Some(STEP));
    let csrf = step_csrf(&browser).await;
    (browser, csrf)
}

async fn step_csrf(browser: &Browser) -> String {
    let page = browser.get(STEP).await;
    assert_eq!(page.status, 200, "{}", page.body);
    input(&page.body, "csrf_token").expect("a form token on the second step")
}

async fn options_page(browser: &Browser, csrf: &str) -> Page {
    browser.post(OPTIONS, &form(&[("csrf_token", csrf)])).await
}

/// Begin the ceremony: (ceremony, options).
async fn begin(browser: &Browser, csrf: &str) -> (String, Value) {
    let page = options_page(browser, csrf).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.headers["cache-control"], "no-store");
    let v: Value = serde_json::from_str(&page.body).unwrap();
    (
        v["ceremony"].as_str().unwrap().to_owned(),
        v["options"].clone(),
    )
}

async fn sign_in_options_page(browser: &Browser, csrf: &str) -> Page {
    browser
        .post("/login/passkey/options", &form(&[("csrf_token", csrf)]))
        .await
}

fn challenge(options: &Value) -> &str {
    options["publicKey"]["challenge"].as_str().unwrap()
}

/// The credential ids the options allow.
fn allowed(options: &Value) -> Vec<String> {
    options["publicKey"]["allowCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

fn credential_id(key: &SoftPasskey) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&key.credential_id)
}

async fn answer(browser: &Browser, csrf: &str, ceremony: &str, credential: &str) -> Page {
    browser
        .post(
            ANSWER,
            &form(&[
                ("csrf_token", csrf),
                ("ceremony", ceremony),
                ("credential", credential),
            ]),
        )
        .await
}

/// The whole passkey second step in `browser`, answered by `key`.
async fn use_passkey(browser: &Browser, csrf: &str, key: &SoftPasskey) -> Page {
    let (ceremony, options) = begin(browser, csrf).await;
    answer(
        browser,
        csrf,
        &ceremony,
        &key.assert_challenge(challenge(&options)),
    )
    .await
}

fn refused(page: &Page, status: u16, words: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    assert!(page.body.contains(words), "{words:?} in {}", page.body);
    assert!(
        !page
            .headers
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("tessera_session=")),
        "no session for a refused passkey"
    );
}

async fn failures(app: &TestApp) -> Vec<String> {
    audit(app)
        .await
        .into_iter()
        .filter(|r| r.action == "login.second-factor-failed")
        .filter_map(|r| r.detail)
        .collect()
}

on_both_backends_named!(
    passkey_second_step_needs_a_pending_sign_in,
    |app: TestApp| async move {
        let key = with_passkey(&app, "alice").await;
        flow::create_user(&app, "carol");
        let (carol, carol_csrf) = signed_in(&app, "carol").await;
        require_everyone(&app).await;
        // A browser that never typed a password has nothing to finish.
        let stranger = Browser::new(&app);
        let page = options_page(&stranger, "x").await;
        assert_eq!(page.status, 401, "{}", page.body);
        let v: Value = serde_json::from_str(&page.body).expect("JSON for the script");
        assert!(v["message"].as_str().unwrap().contains("sign in again"));
        // Even with a ceremony started in a real pending sign-in, and its right answer.
        let (alice, csrf) = past_password(&app, "alice").await;
        let (ceremony, options) = begin(&alice, &csrf).await;
        let credential = key.assert_challenge(challenge(&options));
        let page = answer(&stranger, &csrf, &ceremony, &credential).await;
        refused(&page, 401, "took too long or has ended");
        assert!(page.is_login());
        assert!(!is_signed_in_as(&stranger, "alice").await);
        // A signed-in session is no pending sign-in either.
        assert_eq!(options_page(&carol, &carol_csrf).await.status, 401);
        // The ceremony the stranger could not use is still Alice's.
        let ok = answer(&alice, &csrf, &ceremony, &credential).await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        assert!(is_signed_in_as(&alice, "alice").await);
    }
);

on_both_backends_named!(
    passkey_second_step_refuses_another_users_credential_or_ceremony,
    |app: TestApp| async move {
        let alice_key = with_passkey(&app, "alice").await;
        let bob_key = with_passkey(&app, "bob").await;
        require_everyone(&app).await;

        // Bob's options name Bob's passkey and nobody else's.
        let (bob, bob_csrf) = past_password(&app, "bob").await;
        let (ceremony, options) = begin(&bob, &bob_csrf).await;
        assert_eq!(allowed(&options), vec![credential_id(&bob_key)]);
        // Alice's passkey answering Bob's challenge does not finish Bob's sign-in.
        let page = answer(
            &bob,
            &bob_csrf,
            &ceremony,
            &alice_key.assert_challenge(challenge(&options)),
        )
        .await;
        refused(&page, 401, "That passkey was not accepted");
        assert!(!is_signed_in_as(&bob, "alice").await);
        assert!(!is_signed_in_as(&bob, "bob").await);
        assert!(
            failures(&app)
                .await
                .iter()
                .any(|d| d.contains("not registered to this account")),
            "{:?}",
            failures(&app).await
        );

        // A ceremony of Alice's pending sign-in, posted in Bob's, with Alice's right answer.
        let (alice, alice_csrf) = past_password(&app, "alice").await;
        let (alices, options) = begin(&alice, &alice_csrf).await;
        let credential = alice_key.assert_challenge(challenge(&options));
        let page = answer(&bob, &bob_csrf, &alices, &credential).await;
        refused(&page, 400, "expired or was already used");
        assert!(!is_signed_in_as(&bob, "alice").await);
        assert!(!is_signed_in_as(&bob, "bob").await);
        // Alice starts again and finishes her own.
        let ok = use_passkey(&alice, &alice_csrf, &alice_key).await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        assert!(is_signed_in_as(&alice, "alice").await);
        // Bob, with his own passkey, still can.
        let ok = use_passkey(&bob, &bob_csrf, &bob_key).await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        assert!(is_signed_in_as(&bob, "bob").await);
    }
);

on_both_backends_named!(
    passkey_second_step_ceremony_works_once_and_only_for_its_kind,
    |app: TestApp| async move {
        let mut key = with_passkey(&app, "alice").await;
        require_everyone(&app).await;

        // The same answer posted twice: the second time there is nothing left to finish,
        // and in a new pending sign-in the old ceremony is unknown.
        let (first, csrf) = past_password(&app, "alice").await;
        let (ceremony, options) = begin(&first, &csrf).await;
        key.counter = 1;
        let credential = key.assert_challenge(challenge(&options));
        let ok = answer(&first, &csrf, &ceremony, &credential).await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        let (second, csrf2) = past_password(&app, "alice").await;
        let replay = answer(&second, &csrf2, &ceremony, &credential).await;
        refused(&replay, 400, "expired or was already used");
        assert!(!is_signed_in_as(&second, "alice").await);

        // A refused answer spends the ceremony: the right answer to it comes too late.
        let (ceremony, options) = begin(&second, &csrf2).await;
        key.counter = 2;
        let wrong = key.assert_challenge("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        refused(
            &answer(&second, &csrf2, &ceremony, &wrong).await,
            401,
            "not accepted",
        );
        let right = key.assert_challenge(challenge(&options));
        refused(
            &answer(&second, &csrf2, &ceremony, &right).await,
            400,
            "expired or was already used",
        );

        // A cloned authenticator (its counter going back) is refused.
        key.counter = 1;
        refused(
            &use_passkey(&second, &csrf2, &key).await,
            401,
            "not accepted",
        );
        assert!(failures(&app).await.iter().any(|d| d.contains("cloned")));

        // A first-factor sign-in ceremony is no second step, and the other way round.
        key.counter = 3;
        let (login, fields) = at_login(&app, "/login").await;
        let (sign_in, sign_in_options) = sign_in_options(&login, &fields).await;
        let page = answer(
            &second,
            &csrf2,
            &sign_in,
            &key.assert_challenge(challenge(&sign_in_options)),
        )
        .await;
        refused(&page, 400, "expired or was already used");
        let (step_ceremony, step_options) = begin(&second, &csrf2).await;
        let page = finish_sign_in(
            &login,
            &fields,
            &step_ceremony,
            &key.assert_challenge(challenge(&step_options)),
        )
        .await;
        assert_eq!(page.status, 400, "{}", page.body);
        assert!(!is_signed_in_as(&login, "alice").await);
        assert!(!is_signed_in_as(&second, "alice").await);

        // After all that, a fresh ceremony with the key's next counter still works.
        key.counter = 4;
        let ok = use_passkey(&second, &csrf2, &key).await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        assert!(is_signed_in_as(&second, "alice").await);
    }
);

on_both_backends_named!(
    passkey_second_step_refuses_an_expired_pending_sign_in,
    manual_clock,
    |app: TestApp| async move {
        let key = with_passkey(&app, "alice").await;
        require_everyone(&app).await;
        let (browser, csrf) = past_password(&app, "alice").await;
        let (ceremony, options) = begin(&browser, &csrf).await;
        let credential = key.assert_challenge(challenge(&options));
        app.advance(tessera::second_factor::step::TTL);
        let late = answer(&browser, &csrf, &ceremony, &credential).await;
        refused(&late, 401, "took too long");
        assert!(late.is_login());
        assert!(!is_signed_in_as(&browser, "alice").await);
        // Nor can new options be had for it.
        assert_eq!(options_page(&browser, &csrf).await.status, 401);
    }
);

on_both_backends_named!(
    passkey_second_step_needs_its_form_token,
    |app: TestApp| async move {
        let key = with_passkey(&app, "alice").await;
        require_everyone(&app).await;
        let (browser, csrf) = past_password(&app, "alice").await;
        // The options: refused without the step's token, or with another's.
        let (_, other_csrf) = past_password(&app, "alice").await;
        for token in ["", "forged", other_csrf.as_str()] {
            let page = options_page(&browser, token).await;
            assert_eq!(page.status, 403, "{token:?}: {}", page.body);
            let v: Value = serde_json::from_str(&page.body).unwrap();
            assert!(v["message"].is_string());
        }
        // The answer: the page again, and no session.
        let (ceremony, options) = begin(&browser, &csrf).await;
        let credential = key.assert_challenge(challenge(&options));
        for token in ["", other_csrf.as_str()] {
            let page = answer(&browser, token, &ceremony, &credential).await;
            refused(&page, 400, "This form expired");
            assert!(!is_signed_in_as(&browser, "alice").await);
        }
        // One pending sign-in holds a bounded number of unfinished ceremonies.
        let cap = tessera::passkeys::second_step::OPEN_PER_PENDING;
        for _ in 1..cap {
            begin(&browser, &csrf).await;
        }
        let over = options_page(&browser, &csrf).await;
        assert_eq!(over.status, 429, "{}", over.body);
        assert!(over.headers.contains_key("retry-after"));
        // The ceremony was not spent by the forged posts.
        let ok = answer(&browser, &csrf, &ceremony, &credential).await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        assert!(is_signed_in_as(&browser, "alice").await);
    }
);

on_both_backends_named!(
    passkey_second_step_failures_fill_the_code_throttle,
    manual_clock,
    |app: TestApp| async move {
        let mut key = with_passkey(&app, "alice").await;
        let (secret, _) = enrol(&app, "alice").await;
        app.advance(30);
        let (browser, csrf) = past_password(&app, "alice").await;
        // Answers with no user verification (a second step still asks for it).
        key.user_verified = false;
        let mut statuses = Vec::new();
        for _ in 0..8 {
            statuses.push(use_passkey(&browser, &csrf, &key).await.status);
        }
        assert!(statuses.contains(&429), "{statuses:?}");
        assert!(
            statuses.iter().all(|s| [401, 429].contains(s)),
            "{statuses:?}"
        );
        // Locked: neither the right passkey nor the right code gets in, in any browser.
        key.user_verified = true;
        key.counter = 1;
        let (again, again_csrf) = past_password(&app, "alice").await;
        let locked = use_passkey(&again, &again_csrf, &key).await;
        refused(&locked, 429, "Too many failed attempts");
        assert!(locked.headers.contains_key("retry-after"));
        let by_code = again
            .post(
                STEP,
                &form(&[("csrf_token", &again_csrf), ("code", &code(&app, &secret))]),
            )
            .await;
        assert_eq!(by_code.status, 429, "{}", by_code.body);
        assert!(!is_signed_in_as(&again, "alice").await);
        let reasons = failures(&app).await;
        assert!(
            reasons.iter().any(|d| d.contains("locked for")),
            "{reasons:?}"
        );
        assert!(
            reasons.iter().any(|d| d.contains("passkey: throttled")),
            "{reasons:?}"
        );
        // Once the lock runs out, the passkey finishes the step.
        app.advance(900);
        let (later, later_csrf) = past_password(&app, "alice").await;
        key.counter = 2;
        let ok = use_passkey(&later, &later_csrf, &key).await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        assert!(is_signed_in_as(&later, "alice").await);
    }
);

on_both_backends_named!(
    passkey_second_step_meets_the_policy_without_an_authenticator_app,
    |app: TestApp| async move {
        let key = with_passkey(&app, "alice").await;
        // Without the policy a passkey adds no step after a password.
        let browser = Browser::new(&app);
        browser.sign_in("alice").await;
        assert!(is_signed_in_as(&browser, "alice").await);
        require_everyone(&app).await;
        // Under it: the step asks for the passkey, and no authenticator app is set up.
        let browser = Browser::new(&app);
        let login = browser.get("/login").await;
        let after = browser.login(&login, "alice", flow::PASSWORD).await;
        assert_eq!(after.location.as_deref(), Some(STEP));
        let page = browser.get(STEP).await;
        assert!(page.body.contains("Use a passkey"), "{}", page.body);
        assert!(!page.body.contains("id=\"code\""), "{}", page.body);
        assert!(!page.body.contains("Set up an authenticator"));
        let csrf = input(&page.body, "csrf_token").unwrap();
        // No code can be right for a user without an authenticator app.
        let typed = browser
            .post(STEP, &form(&[("csrf_token", &csrf), ("code", "123456")]))
            .await;
        refused(&typed, 401, "not right");
        let ok = use_passkey(&browser, &csrf, &key).await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        assert!(is_signed_in_as(&browser, "alice").await);
        let login = audit(&app)
            .await
            .into_iter()
            .find(|r| r.action == "login" && r.detail.as_deref() == Some("pwd hwk mfa"));
        assert!(login.is_some(), "the sign-in is audited with its methods");
        // A user without a passkey is still sent to set up an authenticator app.
        flow::create_user(&app, "bob");
        let bob = Browser::new(&app);
        let login = bob.get("/login").await;
        bob.login(&login, "bob", flow::PASSWORD).await;
        let page = bob.get(STEP).await;
        assert!(
            page.body.contains("Set up an authenticator"),
            "{}",
            page.body
        );
        assert!(!page.body.contains("Use a passkey"));
    }
);

on_both_backends_named!(
    passkey_second_step_in_the_code_flow_says_pwd_hwk_mfa,
    manual_clock,
    |app: TestApp| async move {
        let key = with_passkey(&app, "alice").await;
        enrol(&app, "alice").await;
        let client = flow::confidential(&app);
        let (verifier, challenge_s256) = flow::pkce();
        let url = flow::auth_url(
            &client.id,
            &[
                ("code_challenge", &challenge_s256),
                ("code_challenge_method", "S256"),
                ("nonce", "n-pk2"),
            ],
        );
        let browser = Browser::new(&app);
        let login = browser.get(&url).await;
        let after = browser.login(&login, "alice", flow::PASSWORD).await;
        assert_eq!(after.location.as_deref(), Some(STEP));
        // A user with an authenticator app and a passkey is offered both.
        let page = browser.get(STEP).await;
        assert!(page.body.contains("id=\"code\""), "{}", page.body);
        assert!(page.body.contains("Use a passkey"), "{}", page.body);
        let csrf = input(&page.body, "csrf_token").unwrap();
        let done = use_passkey(&browser, &csrf, &key).await;
        assert_eq!(done.status, 303, "{}", done.body);
        let back = done.location.clone().unwrap();
        assert!(back.starts_with("/oauth/authorize?"), "{back}");
        let consent = browser.get(&back).await;
        let redirect = browser.consent(&consent, true).await;
        let claims = id_token(&app, &client, &redirect, &verifier).await;
        assert_eq!(claims["amr"], serde_json::json!(["pwd", "hwk", "mfa"]));
        assert_eq!(claims["acr"], "mfa");
        assert_eq!(claims["nonce"], "n-pk2");
    }
);

on_both_backends_named!(
    passkey_sign_in_options_are_capped_per_address,
    manual_clock,
    |app: TestApp| async move {
        let key = with_passkey(&app, "alice").await;
        let (browser, fields) = at_login(&app, "/login").await;
        let csrf = crate::passkeys::field(&fields, "csrf_token");
        // Up to the cap, every request stores a ceremony; past it, none is stored.
        let cap = tessera::passkeys::sign_in::OPEN_PER_ADDRESS;
        let mut ceremonies = Vec::new();
        for _ in 0..cap {
            let page = sign_in_options_page(&browser, &csrf).await;
            assert_eq!(page.status, 200, "{}", page.body);
            let v: Value = serde_json::from_str(&page.body).unwrap();
            ceremonies.push((
                v["ceremony"].as_str().unwrap().to_owned(),
                v["options"].clone(),
            ));
        }
        let refused = sign_in_options_page(&browser, &csrf).await;
        assert_eq!(refused.status, 429, "{}", refused.body);
        assert_eq!(
            refused.headers["retry-after"],
            tessera::passkeys::CEREMONY_TTL.to_string()
        );
        let v: Value = serde_json::from_str(&refused.body).unwrap();
        assert!(v["message"].as_str().unwrap().contains("wait"));
        let now = app.clock.unix();
        let stored: i64 = app
            .store
            .run(move |conn| {
                tessera::store::passkeys::unowned_live(conn, None, now).map(|(_, all, _)| all)
            })
            .await
            .unwrap();
        assert_eq!(stored, cap, "the refused request stored nothing");
        // The ceremonies already handed out still work, and finishing one frees its place.
        let (ceremony, options) = ceremonies.pop().unwrap();
        let ok = finish_sign_in(&browser, &fields, &ceremony, &key.get(&options)).await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        let (again, again_fields) = at_login(&app, "/login").await;
        sign_in_options(&again, &again_fields).await;
        let again_csrf = crate::passkeys::field(&again_fields, "csrf_token");
        assert_eq!(sign_in_options_page(&again, &again_csrf).await.status, 429);
        // Signed-in registrations and second steps are not counted against the address.
        let (alice, alice_csrf) = signed_in(&app, "alice").await;
        let page = alice
            .post(
                "/account/passkeys/options",
                &form(&[("csrf_token", &alice_csrf)]),
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        // Once the ceremonies expire, the address may ask again.
        app.advance(tessera::passkeys::CEREMONY_TTL);
        assert_eq!(sign_in_options_page(&again, &again_csrf).await.status, 200);
    }
);

on_both_backends_named!(
    passkey_second_factors_reset_by_an_admin_include_passkeys,
    |app: TestApp| async move {
        let key = with_passkey(&app, "alice").await;
        let alice_id = app
            .store
            .run(|conn| tessera::store::users::by_username(conn, "alice"))
            .await
            .unwrap()
            .unwrap()
            .id;
        let (before, _) = crate::passkeys::passkey_sign_in(&app, &key).await;
        assert!(is_signed_in_as(&before, "alice").await);
        let console = crate::admin::Console::root(&app).await;
        let done = console
            .post(
                &format!("/admin/users/{alice_id}/second-factors/reset"),
                &[],
            )
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        let reset = audit(&app)
            .await
            .into_iter()
            .find(|r| r.action == "user.second-factors-reset")
            .expect("the reset is audited");
        assert_eq!(reset.detail.as_deref(), Some("1 passkey(s) removed"));
        // The lost passkey signs nobody in, and answers no second step.
        let (after, page) = crate::passkeys::passkey_sign_in(&app, &key).await;
        assert_eq!(page.status, 401, "{}", page.body);
        assert!(!is_signed_in_as(&after, "alice").await);
        require_everyone(&app).await;
        let (browser, _) = past_password(&app, "alice").await;
        let step = browser.get(STEP).await;
        assert!(
            step.body.contains("Set up an authenticator"),
            "{}",
            step.body
        );
        assert!(!step.body.contains("Use a passkey"));
    }
);
