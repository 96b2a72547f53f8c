//! Sign-in hardening: where `return_to` may send a signed-in browser, and how failed
//! sign-ins are throttled.
use tessera::clock::{Clock, ManualClock, SystemClock};

use crate::flow::{self, Browser};
use crate::helpers::{Backend, TestApp, spawn_with_clock};
use crate::on_both_backends;

on_both_backends!(
    a_control_character_in_return_to_falls_back_to_the_default,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let browser = Browser::new(&app);
        browser.sign_in("alice").await;
        // Before: only CR and LF were refused, so any other control character reached the
        // Location header and the answer was a 500.
        for bad in ["%01", "%00", "%09", "%1F", "%7F", "%0D", "%0A"] {
            for base in ["/admin/", "/oauth/authorize?client_id="] {
                let page = browser.get(&format!("/login?return_to={base}{bad}x")).await;
                assert_eq!(page.status, 200, "{base}{bad}: {}", page.body);
                assert!(page.location.is_none(), "{base}{bad}");
                assert!(page.body.contains("You are signed in"), "{base}{bad}");
            }
        }
        // A clean target still redirects.
        let ok = browser.get("/login?return_to=/admin/users").await;
        assert_eq!(ok.status, 303);
        assert_eq!(ok.location.as_deref(), Some("/admin/users"));

        // At sign-in too: the form's return_to falls back to /login.
        let fresh = Browser::new(&app);
        let page = fresh.get("/login?return_to=/admin/%01x").await;
        assert!(page.is_login());
        let mut form = flow::inputs(&page.body);
        form.retain(|(k, _)| k != "return_to" && k != "username");
        form.push(("return_to".into(), "/admin/\u{1}x".into()));
        form.push(("username".into(), "alice".into()));
        form.push(("password".into(), flow::PASSWORD.into()));
        let done = fresh.post("/login", &form).await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(done.location.as_deref(), Some("/login"));
    }
);

/// A server on a manual clock that believes the loopback proxy's X-Forwarded-For, so a test
/// can sign in from several addresses.
pub async fn spawn_behind_proxy(backend: Backend) -> TestApp {
    spawn_with_clock(
        backend,
        &[("TESSERA_TRUSTED_PROXIES", "127.0.0.1")],
        ManualClock::at(SystemClock.unix()),
    )
    .await
}

/// One try at the login form from `ip`: the status and the Retry-After header.
pub async fn sign_in_from(
    app: &TestApp,
    ip: &str,
    username: &str,
    password: &str,
) -> (u16, Option<i64>) {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http
        .get(app.url("/login"))
        .header("X-Forwarded-For", ip)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = flow::input(&page, "csrf_token").unwrap();
    let res = http
        .post(app.url("/login"))
        .header("X-Forwarded-For", ip)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    let retry = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (res.status().as_u16(), retry)
}

pub const ATTACKER: &str = "198.51.100.7";
pub const VICTIM: &str = "203.0.113.5";

on_both_backends!(
    @spawn failed_sign_ins_are_throttled_per_account_and_address,
    crate::security_login::spawn_behind_proxy,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        // Five free failures, then growing locks.
        for _ in 0..5 {
            assert_eq!(sign_in_from(&app, ATTACKER, "alice", "guess").await, (401, None));
        }
        assert_eq!(sign_in_from(&app, ATTACKER, "alice", "guess").await.0, 401);
        // Locked for a second: even the right password is refused unchecked.
        assert_eq!(
            sign_in_from(&app, ATTACKER, "alice", flow::PASSWORD).await,
            (429, Some(1))
        );
        // Alice, from her own address, is not locked out by the attacker's guesses.
        assert_eq!(sign_in_from(&app, VICTIM, "alice", flow::PASSWORD).await.0, 303);
        app.advance(1);
        assert_eq!(sign_in_from(&app, ATTACKER, "alice", "guess").await.0, 401);
        assert_eq!(
            sign_in_from(&app, ATTACKER, "alice", "guess").await,
            (429, Some(2)),
            "the lock doubles"
        );
        app.advance(2);
        // The lock is temporary: once it ends the right password works and starts afresh.
        assert_eq!(sign_in_from(&app, ATTACKER, "alice", flow::PASSWORD).await.0, 303);
        assert_eq!(sign_in_from(&app, ATTACKER, "alice", "guess").await, (401, None));

        // The audit log shows the throttling.
        let details = audit_details(&app);
        assert!(
            details.iter().any(|d| d.contains("throttled (account and address)")),
            "{details:?}"
        );
        assert!(details.iter().any(|d| d.contains("locked for 1 s")), "{details:?}");
    }
);

on_both_backends!(
    @spawn one_address_guessing_many_accounts_is_throttled,
    crate::security_login::spawn_behind_proxy,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        // Twenty free failures per address, spread over accounts.
        for i in 0..20 {
            let (status, _) = sign_in_from(&app, ATTACKER, &format!("user{i}"), "guess").await;
            assert_eq!(status, 401, "attempt {i}");
        }
        assert_eq!(sign_in_from(&app, ATTACKER, "user20", "guess").await.0, 401);
        assert_eq!(sign_in_from(&app, ATTACKER, "user21", "guess").await.0, 429);
        assert_eq!(sign_in_from(&app, VICTIM, "alice", flow::PASSWORD).await.0, 303);
    }
);

on_both_backends!(
    @spawn the_token_api_is_throttled_like_the_form,
    crate::security_login::spawn_behind_proxy,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let obtain = |password: &'static str| {
            let app = &app;
            async move {
                let res = app
                    .http
                    .post(app.url("/api/token/"))
                    .header("X-Forwarded-For", ATTACKER)
                    .json(&serde_json::json!({"username": "alice", "password": password}))
                    .send()
                    .await
                    .unwrap();
                let retry = res
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                let status = res.status().as_u16();
                let body: serde_json::Value = res.json().await.unwrap();
                (status, retry, body)
            }
        };
        for _ in 0..6 {
            assert_eq!(obtain("guess").await.0, 401);
        }
        let (status, retry, body) = obtain(flow::PASSWORD).await;
        assert_eq!((status, retry.as_deref()), (429, Some("1")));
        assert_eq!(
            body,
            serde_json::json!({"detail": "Request was throttled. Expected available in 1 seconds."})
        );
        let s = crate::metrics::scrape(&app, &app.url("/metrics")).await;
        assert_eq!(
            crate::metrics::value(&s, "tessera_throttled_total", &[("via", "api_token")]),
            Some(1.0)
        );
        app.advance(1);
        assert_eq!(obtain(flow::PASSWORD).await.0, 200);
    }
);

fn audit_details(app: &TestApp) -> Vec<String> {
    use diesel::prelude::*;
    use tessera::store::schema::audit_log;
    let mut conn = app.store.conn().unwrap();
    audit_log::table
        .filter(audit_log::action.eq("login.failed"))
        .select(audit_log::detail.assume_not_null())
        .load(&mut **conn)
        .unwrap()
}
