//! The user's own account over HTTP: refusals first (no or a wrong CSRF token, a wrong
//! current password counted like a failed sign-in, another user's application or session),
//! then what a user can do (profile, password, revoking an application, ending a session),
//! each audited; the first administrator's forced password change; the front door; the
//! consent page's headings.
use tessera::store::admin as admin_store;

use crate::admin::{Console, ROOT, audit_actions, create_admin};
use crate::flow::{self, Browser, Page, input};
use crate::helpers::TestApp;
use crate::on_both_backends;

const NEW_PASSWORD: &str = "a much better passphrase";

/// A browser signed in as `username`, with its session's CSRF token from the account page.
async fn account(app: &TestApp, username: &str) -> (Browser, String) {
    let browser = Browser::new(app);
    browser.sign_in(username).await;
    let page = browser.get("/account").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = input(&page.body, "csrf_token").expect("csrf token on the account page");
    (browser, csrf)
}

fn form(fields: &[(&str, &str)]) -> Vec<(String, String)> {
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
    assert!(page.body.contains("<h1>"), "an HTML page: {}", page.body);
}

/// Whether `password` signs `username` in (a fresh browser, so no session helps).
async fn signs_in(app: &TestApp, username: &str, password: &str) -> u16 {
    let b = Browser::new(app);
    let page = b.get("/login").await;
    b.login(&page, username, password).await.status
}

fn session_keys(app: &TestApp, user_id: i64) -> Vec<String> {
    let mut conn = app.store.conn().unwrap();
    admin_store::sessions_of(&mut conn, user_id, 0)
        .unwrap()
        .into_iter()
        .map(|s| s.id_hash)
        .collect()
}

/// The key of the session the account page marks as this browser's.
fn this_session(body: &str) -> String {
    let after = &body[body.find("(this browser)").expect("this browser marked")..];
    let start = after.find("/account/sessions/").unwrap() + "/account/sessions/".len();
    after[start..].split('/').next().unwrap().to_owned()
}

fn consented_clients(app: &TestApp, user_id: i64) -> Vec<String> {
    let mut conn = app.store.conn().unwrap();
    admin_store::consents_of(&mut conn, user_id)
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect()
}

on_both_backends!(
    account_forms_refuse_a_missing_or_wrong_csrf_token,
    |app: TestApp| async move {
        let alice = flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        flow::tokens_for(&app, &client, "alice", "openid offline_access").await;
        let (browser, csrf) = account(&app, "alice").await;
        let session = session_keys(&app, alice)[0].clone();
        let posts = [
            ("/account/profile".to_owned(), form(&[("name", "Mallory")])),
            (
                "/account/password".to_owned(),
                form(&[
                    ("current_password", flow::PASSWORD),
                    ("new_password", NEW_PASSWORD),
                    ("new_password2", NEW_PASSWORD),
                ]),
            ),
            (
                format!("/account/applications/{}/revoke", client.id),
                Vec::new(),
            ),
            (format!("/account/sessions/{session}/sign-out"), Vec::new()),
        ];
        for (path, fields) in &posts {
            let missing = browser.post(path, fields).await;
            readable(&missing, 403, "This form has expired");
            let mut wrong = fields.clone();
            wrong.push(("csrf_token".into(), format!("{csrf}x")));
            readable(
                &browser.post(path, &wrong).await,
                403,
                "This form has expired",
            );
            // Another session's token is as wrong as a made-up one.
            let (_, other_csrf) = account(&app, "alice").await;
            let mut foreign = fields.clone();
            foreign.push(("csrf_token".into(), other_csrf));
            readable(
                &browser.post(path, &foreign).await,
                403,
                "This form has expired",
            );
        }
        // Nothing changed.
        let page = browser.get("/account").await;
        assert!(!page.body.contains("Mallory"));
        assert_eq!(signs_in(&app, "alice", flow::PASSWORD).await, 303);
        assert_eq!(consented_clients(&app, alice), vec![client.id.clone()]);
        assert!(session_keys(&app, alice).contains(&session));
        let actions: Vec<String> = audit_actions(&app).await.into_iter().map(|a| a.0).collect();
        assert!(
            !actions.iter().any(|a| a.starts_with("account.")),
            "{actions:?}"
        );
    }
);

on_both_backends!(
    anonymous_visitors_are_sent_to_sign_in,
    |app: TestApp| async move {
        // The front door: a page with the way in, not a redirect or a 404.
        let home = app.http.get(app.url("/")).send().await.unwrap();
        assert_eq!(home.status(), 200);
        assert_eq!(home.headers()["x-frame-options"], "DENY");
        let body = home.text().await.unwrap();
        assert!(body.contains("href=\"/login\""), "{body}");
        for path in ["/account", "/account/password"] {
            let res = app.http.get(app.url(path)).send().await.unwrap();
            assert_eq!(res.status(), 303, "{path}");
            assert_eq!(res.headers()["location"], "/login?return_to=%2Faccount");
        }
        let res = app
            .http
            .post(app.url("/account/profile"))
            .form(&[("name", "x"), ("csrf_token", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        // Signing in from there comes back to the account page.
        flow::create_user(&app, "alice");
        let b = Browser::new(&app);
        let page = b.get("/login?return_to=%2Faccount").await;
        let done = b.login(&page, "alice", flow::PASSWORD).await;
        assert_eq!(done.location.as_deref(), Some("/account"));
    }
);

on_both_backends!(
    a_wrong_current_password_is_refused_and_throttled_like_a_sign_in,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let (browser, csrf) = account(&app, "alice").await;
        let change = |current: &str| {
            form(&[
                ("csrf_token", &csrf),
                ("current_password", current),
                ("new_password", NEW_PASSWORD),
                ("new_password2", NEW_PASSWORD),
            ])
        };
        // The sign-in policy: five free failures, then growing locks.
        for _ in 0..6 {
            let page = browser
                .post("/account/password", &change("not my password"))
                .await;
            readable(&page, 401, "Current password is wrong");
        }
        let locked = browser
            .post("/account/password", &change(flow::PASSWORD))
            .await;
        readable(&locked, 429, "Too many attempts");
        assert_eq!(locked.headers["retry-after"], "1");
        // The same lock guards the sign-in form: guessing here is no cheaper than there.
        assert_eq!(signs_in(&app, "alice", flow::PASSWORD).await, 429);
        app.advance(1);
        let done = browser
            .post("/account/password", &change(flow::PASSWORD))
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(signs_in(&app, "alice", NEW_PASSWORD).await, 303);
        let actions = audit_actions(&app).await;
        let refused = actions
            .iter()
            .filter(|a| a.0 == "account.password.failed" && a.1.as_deref() == Some("alice"))
            .count();
        assert_eq!(refused, 7, "{actions:?}");
        assert!(actions.iter().any(|a| a.0 == "account.password-changed"));
    }
);

on_both_backends!(
    bad_new_passwords_are_refused_readably,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let (browser, csrf) = account(&app, "alice").await;
        for (new, again, words) in [
            ("short", "short", "at least 8 characters"),
            (NEW_PASSWORD, "something else", "differ"),
            (
                flow::PASSWORD,
                flow::PASSWORD,
                "must differ from the current one",
            ),
        ] {
            let page = browser
                .post(
                    "/account/password",
                    &form(&[
                        ("csrf_token", &csrf),
                        ("current_password", flow::PASSWORD),
                        ("new_password", new),
                        ("new_password2", again),
                    ]),
                )
                .await;
            readable(&page, 400, words);
        }
        let huge = "x".repeat(5000);
        let page = browser
            .post(
                "/account/profile",
                &form(&[("csrf_token", &csrf), ("name", &huge)]),
            )
            .await;
        readable(&page, 400, "at most 200 characters");
        let page = browser
            .post(
                "/account/profile",
                &form(&[("csrf_token", &csrf), ("email", "not-an-email")]),
            )
            .await;
        readable(&page, 400, "is not an email address");
        assert_eq!(signs_in(&app, "alice", flow::PASSWORD).await, 303);
    }
);

on_both_backends!(
    another_users_application_or_session_is_refused_and_not_revealed,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let bob = flow::create_user(&app, "bob");
        let client = flow::confidential(&app);
        let tokens = flow::tokens_for(&app, &client, "bob", "openid offline_access").await;
        let bob_browser = Browser::new(&app);
        bob_browser.sign_in("bob").await;
        let (alice_browser, csrf) = account(&app, "alice").await;
        let token = form(&[("csrf_token", &csrf)]);

        let theirs = alice_browser
            .post(
                &format!("/account/applications/{}/revoke", client.id),
                &token,
            )
            .await;
        let never = alice_browser
            .post("/account/applications/no-such-client/revoke", &token)
            .await;
        readable(&theirs, 404, "no such application or session");
        // Bob's consent looks exactly like one that never existed.
        assert_eq!(theirs.body, never.body);
        assert_eq!(consented_clients(&app, bob), vec![client.id.clone()]);
        let refreshed = flow::token(
            &app,
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
        assert_eq!(refreshed.status(), 200, "bob's refresh token still works");

        for key in session_keys(&app, bob) {
            let theirs = alice_browser
                .post(&format!("/account/sessions/{key}/sign-out"), &token)
                .await;
            readable(&theirs, 404, "no such application or session");
        }
        let never = alice_browser
            .post(
                &format!("/account/sessions/{}/sign-out", "0".repeat(64)),
                &token,
            )
            .await;
        readable(&never, 404, "no such application or session");
        assert_eq!(
            bob_browser.get("/account").await.status,
            200,
            "bob still signed in"
        );
        // Alice's page never shows bob's things.
        let page = alice_browser.get("/account").await;
        assert!(!page.body.contains(&client.id), "{}", page.body);
        for key in session_keys(&app, bob) {
            assert!(!page.body.contains(&key));
        }
    }
);

on_both_backends!(
    the_account_page_changes_what_is_yours_and_audits_it,
    |app: TestApp| async move {
        let alice = flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let tokens = flow::tokens_for(&app, &client, "alice", "openid email offline_access").await;
        let other = Browser::new(&app);
        other.sign_in("alice").await;
        let (browser, csrf) = account(&app, "alice").await;
        let token = form(&[("csrf_token", &csrf)]);

        let page = browser.get("/account").await;
        assert_eq!(page.headers["x-frame-options"], "DENY");
        assert_eq!(page.headers["cache-control"], "no-store");
        assert!(
            page.headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
        // The application, its scopes in words with the raw name in small print.
        assert!(page.body.contains("Photo Book"), "{}", page.body);
        assert!(
            page.body.contains(
                "<span class=\"scope-name\">See your email address</span><span class=\"scope-raw\">email</span>"
            ),
            "{}",
            page.body
        );
        assert!(page.body.contains("(this browser)"));
        assert!(page.body.contains("Second factors"));
        assert!(page.body.contains("Off: your password alone signs you in."));
        assert!(page.body.contains("href=\"/account/totp\""));
        assert!(
            page.body.contains("<span>signed in</span>"),
            "recent sign-ins: {}",
            page.body
        );
        assert!(!page.body.contains("/admin/"), "no console link for a user");

        // Profile.
        let saved = browser
            .post(
                "/account/profile",
                &form(&[
                    ("csrf_token", &csrf),
                    ("name", "Alice Liddell"),
                    ("email", "alice@wonderland.example"),
                ]),
            )
            .await;
        assert_eq!(
            saved.location.as_deref(),
            Some("/account?done=profile-saved")
        );
        let page = browser.get("/account?done=profile-saved").await;
        assert!(page.body.contains("Profile saved."));
        assert!(page.body.contains("value=\"Alice Liddell\""));
        assert!(page.body.contains("alice@wonderland.example"));

        // Revoking the application kills its refresh token.
        let revoked = browser
            .post(
                &format!("/account/applications/{}/revoke", client.id),
                &token,
            )
            .await;
        assert_eq!(
            revoked.location.as_deref(),
            Some("/account?done=app-revoked")
        );
        assert!(consented_clients(&app, alice).is_empty());
        let refreshed = flow::token(
            &app,
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
        assert_eq!(refreshed.status(), 400);
        let body: serde_json::Value = refreshed.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant");

        // Ending the other browser's session signs it out, not this one.
        let mine = browser.get("/account").await;
        let keys = session_keys(&app, alice);
        assert_eq!(keys.len(), 3, "tokens_for, other, this");
        for k in &keys {
            assert!(
                mine.body
                    .contains(&format!("/account/sessions/{k}/sign-out"))
            );
        }
        let this = this_session(&mine.body);
        let elsewhere = keys.iter().find(|k| **k != this).unwrap();
        let ended = browser
            .post(&format!("/account/sessions/{elsewhere}/sign-out"), &token)
            .await;
        assert_eq!(ended.location.as_deref(), Some("/account?done=signed-out"));
        assert_eq!(session_keys(&app, alice).len(), 2);
        assert!(session_keys(&app, alice).contains(&this));

        // The password: the other sessions end, this one stays.
        let changed = browser
            .post(
                "/account/password",
                &form(&[
                    ("csrf_token", &csrf),
                    ("current_password", flow::PASSWORD),
                    ("new_password", NEW_PASSWORD),
                    ("new_password2", NEW_PASSWORD),
                ]),
            )
            .await;
        assert_eq!(
            changed.location.as_deref(),
            Some("/account?done=password-changed")
        );
        assert_eq!(session_keys(&app, alice).len(), 1);
        assert!(
            other.get("/account").await.location.is_some(),
            "other browser signed out"
        );
        assert_eq!(browser.get("/account").await.status, 200);
        assert_eq!(signs_in(&app, "alice", flow::PASSWORD).await, 401);
        assert_eq!(signs_in(&app, "alice", NEW_PASSWORD).await, 303);

        let actions = audit_actions(&app).await;
        for expected in [
            "account.profile-updated",
            "consent.revoked",
            "session.signed-out",
            "account.password-changed",
        ] {
            assert!(
                actions
                    .iter()
                    .any(|a| a.0 == expected && a.1.as_deref() == Some("alice")),
                "{expected} by alice in {actions:?}"
            );
        }

        // Ending this browser's own session signs it out.
        let mine = this_session(&browser.get("/account").await.body);
        let out = browser
            .post(&format!("/account/sessions/{mine}/sign-out"), &token)
            .await;
        assert_eq!(out.location.as_deref(), Some("/login"));
        assert_eq!(browser.get("/account").await.status, 303);
    }
);

/// The bootstrap administrator with a password the test knows (first start printed a
/// random one): the forced-change flag stays as first start set it.
fn known_bootstrap_password(app: &TestApp) -> i64 {
    let mut conn = app.store.conn().unwrap();
    let admin = tessera::store::users::by_username(&mut conn, "admin")
        .unwrap()
        .unwrap();
    assert!(
        admin.must_change_password,
        "first start flags the first admin"
    );
    let hash = tessera::secrets::hash_secret(&tessera::secrets::SecretString::new(flow::PASSWORD))
        .unwrap();
    tessera::store::users::set_password_hash(&mut conn, admin.id, &hash).unwrap();
    admin.id
}

on_both_backends!(
    the_first_admin_must_choose_a_new_password_before_anything_else,
    |app: TestApp| async move {
        known_bootstrap_password(&app);
        let client = flow::confidential(&app);
        let b = Browser::new(&app);
        b.sign_in("admin").await;
        for (path, to) in [
            ("/", "/account/password"),
            ("/login", "/account/password"),
            ("/account", "/account/password"),
            // The console comes back to the page asked for.
            ("/admin/", "/account/password?return_to=%2Fadmin%2F"),
            (
                "/admin/users?q=a",
                "/account/password?return_to=%2Fadmin%2Fusers%3Fq%3Da",
            ),
        ] {
            let page = b.get(path).await;
            assert_eq!(page.status, 303, "{path}: {}", page.body);
            assert_eq!(page.location.as_deref(), Some(to), "{path}");
        }
        // Console forms too, even with the right CSRF token.
        let form_page = b.get("/account/password").await;
        readable(&form_page, 200, "Choose a new password");
        let csrf = input(&form_page.body, "csrf_token").unwrap();
        let post = b
            .post(
                "/admin/users/new",
                &form(&[
                    ("csrf_token", &csrf),
                    ("username", "eve"),
                    ("password", NEW_PASSWORD),
                ]),
            )
            .await;
        assert_eq!(
            post.location.as_deref(),
            Some("/account/password?return_to=%2Fadmin%2F")
        );
        let post = b
            .post(
                "/account/profile",
                &form(&[("csrf_token", &csrf), ("name", "x")]),
            )
            .await;
        assert_eq!(post.location.as_deref(), Some("/account/password"));

        // The OAuth flow stops before consent and a code, and continues after the change.
        let (_, challenge) = flow::pkce();
        let url = flow::auth_url(
            &client.id,
            &[
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        );
        let stopped = b.get(&url).await;
        assert_eq!(stopped.status, 303);
        let location = stopped.location.clone().unwrap();
        assert!(
            location.starts_with("/account/password?return_to=%2Foauth%2Fauthorize%3F"),
            "{location}"
        );
        let form_page = b.get(&location).await;
        let return_to = input(&form_page.body, "return_to").unwrap();
        assert!(return_to.starts_with("/oauth/authorize?"), "{return_to}");
        let changed = b
            .post(
                "/account/password",
                &form(&[
                    ("csrf_token", &csrf),
                    ("return_to", &return_to),
                    ("current_password", flow::PASSWORD),
                    ("new_password", NEW_PASSWORD),
                    ("new_password2", NEW_PASSWORD),
                ]),
            )
            .await;
        assert_eq!(changed.status, 303, "{}", changed.body);
        let back = changed.location.clone().unwrap();
        assert!(back.starts_with("/oauth/authorize?"), "{back}");
        let consent = b.get(&back).await;
        assert!(consent.is_consent(), "{}", consent.body);
        let done = b.consent(&consent, true).await;
        assert!(done.redirect_param("code").is_some());

        // Free now: the console and the account page open.
        assert_eq!(b.get("/admin/").await.status, 200);
        let home = b.get("/").await;
        assert_eq!(home.status, 200);
        assert!(
            home.body.contains("Open the admin console"),
            "{}",
            home.body
        );
        let mut conn = app.store.conn().unwrap();
        let admin = tessera::store::users::by_username(&mut conn, "admin")
            .unwrap()
            .unwrap();
        assert!(!admin.must_change_password);
    }
);

on_both_backends!(
    the_first_admin_gets_no_simplejwt_tokens_before_the_change,
    |app: TestApp| async move {
        known_bootstrap_password(&app);
        let credentials =
            |password: &str| serde_json::json!({"username": "admin", "password": password});
        let (status, body) =
            crate::simplejwt::post_json(&app, "/api/token/", credentials(flow::PASSWORD)).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(
            body["detail"],
            "No active account found with the given credentials"
        );
        let actions = audit_actions(&app).await;
        assert_eq!(actions[0].0, "login.failed", "{actions:?}");

        let b = Browser::new(&app);
        b.sign_in("admin").await;
        let page = b.get("/account/password").await;
        let csrf = input(&page.body, "csrf_token").unwrap();
        let changed = b
            .post(
                "/account/password",
                &form(&[
                    ("csrf_token", &csrf),
                    ("current_password", flow::PASSWORD),
                    ("new_password", NEW_PASSWORD),
                    ("new_password2", NEW_PASSWORD),
                ]),
            )
            .await;
        assert_eq!(changed.status, 303, "{}", changed.body);
        let (status, body) =
            crate::simplejwt::post_json(&app, "/api/token/", credentials(NEW_PASSWORD)).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["access"].is_string());
    }
);

on_both_backends!(
    other_users_are_not_forced_and_admins_see_the_console_link,
    |app: TestApp| async move {
        create_admin(&app, ROOT);
        let console = Console::sign_in(&app, ROOT).await;
        let home = console.get("/").await;
        assert_eq!(home.status, 200);
        assert!(home.body.contains("Your account"));
        assert!(home.body.contains("href=\"/admin/\""));
    }
);

on_both_backends!(
    the_consent_page_heads_each_scope_with_its_meaning,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let b = Browser::new(&app);
        let url = flow::auth_url(&client.id, &[("scope", "openid profile email")]);
        let page = b.get(&url).await;
        let after = b.login(&page, "alice", flow::PASSWORD).await;
        let consent = b.get(after.location.as_deref().unwrap()).await;
        assert!(consent.is_consent());
        for (words, raw) in [
            ("Sign you in with your Tessera account", "openid"),
            ("See your name and basic profile", "profile"),
            ("See your email address", "email"),
        ] {
            let item = format!(
                "<li><span class=\"scope-name\">{words}</span><span class=\"scope-raw\">{raw}</span></li>"
            );
            assert!(consent.body.contains(&item), "{item} in {}", consent.body);
        }
    }
);
