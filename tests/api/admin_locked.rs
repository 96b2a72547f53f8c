//! The console's Locked view over HTTP: what the throttle locked (accounts, clients), who
//! may see it and unlock (admins, with the session's CSRF token), and that an unlock lets
//! the right password or secret in straight after, audited.
use crate::admin::{Console, ROOT};
use crate::flow::{self, Browser, input};
use crate::helpers::TestApp;
use crate::metrics::{scrape, value};
use crate::on_both_backends;
use crate::security_client_auth::{audit, is_throttled, machine, token_from};
use crate::security_login::{ATTACKER, VICTIM, sign_in_from};

/// Lock alice (from the attacker's address) and a client (likewise); returns the client.
pub async fn lock_alice_and_a_client(app: &TestApp) -> flow::Client {
    flow::create_user(app, "alice");
    for _ in 0..6 {
        assert_eq!(sign_in_from(app, ATTACKER, "alice", "guess").await.0, 401);
    }
    assert_eq!(
        sign_in_from(app, ATTACKER, "alice", flow::PASSWORD).await.0,
        429
    );
    let client = machine(app);
    for _ in 0..6 {
        assert_eq!(token_from(app, ATTACKER, &client.id, "guess").await.0, 401);
    }
    let secret = client.secret.clone().unwrap();
    assert!(is_throttled(
        &token_from(app, ATTACKER, &client.id, &secret).await.2
    ));
    client
}

on_both_backends!(
    @spawn an_admin_sees_what_is_locked_and_unlocks_it,
    crate::security_login::spawn_behind_proxy,
    |app: TestApp| async move {
        let client = lock_alice_and_a_client(&app).await;
        let secret = client.secret.clone().unwrap();
        // Each lock is in the audit log with what it names and the address.
        let locks = audit(&app, "throttle.locked");
        assert!(
            locks.contains(&(
                "account alice".to_owned(),
                "account and address locked for 1 s".to_owned(),
                ATTACKER.to_owned()
            )),
            "{locks:?}"
        );
        assert!(locks.iter().any(|(t, _, ip)| *t == format!("client {}", client.id) && ip == ATTACKER));

        let console = Console::root(&app).await;
        let page = console.get("/admin/locked").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("<h1>Locked</h1>"), "{}", page.body);
        assert!(page.body.contains("<code>alice</code>"), "{}", page.body);
        assert!(page.body.contains(&format!("<code>{}</code>", client.id)), "{}", page.body);
        assert!(page.body.contains(&format!("from {ATTACKER}")), "{}", page.body);
        assert!(page.body.contains("1 s left"), "{}", page.body);

        // Unlocking needs the session's CSRF token.
        let forged = console
            .browser
            .post(
                "/admin/locked/unlock",
                &[
                    ("kind".into(), "account".into()),
                    ("name".into(), "alice".into()),
                    ("csrf_token".into(), "not-the-token".into()),
                ],
            )
            .await;
        assert_eq!(forged.status, 403, "{}", forged.body);
        assert!(forged.body.contains("This form has expired"));
        assert_eq!(sign_in_from(&app, ATTACKER, "alice", flow::PASSWORD).await.0, 429);

        // Nonsense is refused readably.
        let bad = console
            .post("/admin/locked/unlock", &[("kind", "planet"), ("name", "mars")])
            .await;
        assert_eq!(bad.status, 400, "{}", bad.body);
        assert!(bad.body.contains("can be unlocked"), "{}", bad.body);
        let bad = console.post("/admin/locked/unlock", &[("kind", "account")]).await;
        assert_eq!(bad.status, 400, "{}", bad.body);

        // Unlocked: the right password signs in at once, from the address that was locked.
        let done = console
            .post("/admin/locked/unlock", &[("kind", "account"), ("name", "alice")])
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(done.location.as_deref(), Some("/admin/locked?done=unlocked"));
        let page = console.get("/admin/locked?done=unlocked").await;
        assert!(page.body.contains("Unlocked; its failed attempts are forgiven."));
        assert!(!page.body.contains("<code>alice</code>"), "{}", page.body);
        assert!(page.body.contains(&format!("<code>{}</code>", client.id)));
        assert_eq!(sign_in_from(&app, ATTACKER, "alice", flow::PASSWORD).await.0, 303);

        // The client likewise.
        let done = console
            .post("/admin/locked/unlock", &[("kind", "client"), ("name", &client.id)])
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        let (status, _, body) = token_from(&app, ATTACKER, &client.id, &secret).await;
        assert_eq!(status, 200, "{body}");
        let page = console.get("/admin/locked").await;
        assert!(page.body.contains("Nothing is locked."), "{}", page.body);

        // Both unlocks are audited, by the admin.
        let unlocks = crate::admin::audit_actions(&app)
            .await
            .into_iter()
            .filter(|(action, _, _)| action == "throttle.unlocked")
            .map(|(_, actor, target)| (actor.unwrap(), target.unwrap()))
            .collect::<Vec<_>>();
        assert_eq!(
            unlocks,
            [
                (ROOT.to_owned(), format!("client {}", client.id)),
                (ROOT.to_owned(), "account alice".to_owned()),
            ]
        );

        // /metrics counted the throttled attempts: two at the login form, one client.
        let s = scrape(&app, &app.url("/metrics")).await;
        let throttled = |via| value(&s, "tessera_throttled_total", &[("via", via)]);
        assert_eq!(throttled("login_page"), Some(2.0));
        assert_eq!(throttled("client_auth"), Some(1.0));
    }
);

on_both_backends!(
    @spawn only_admins_see_or_unlock_locks,
    crate::security_login::spawn_behind_proxy,
    |app: TestApp| async move {
        lock_alice_and_a_client(&app).await;
        flow::create_user(&app, "bob");
        let browser = Browser::new(&app);
        browser.sign_in("bob").await;
        let page = browser.get("/admin/locked").await;
        assert_eq!(page.status, 403, "{}", page.body);
        assert!(page.body.contains("Administrators only"));
        // His own session's CSRF token does not help.
        let signed_in = browser.get("/login").await;
        let csrf = input(&signed_in.body, "csrf_token").unwrap();
        let page = browser
            .post(
                "/admin/locked/unlock",
                &[
                    ("csrf_token".into(), csrf),
                    ("kind".into(), "account".into()),
                    ("name".into(), "alice".into()),
                ],
            )
            .await;
        assert_eq!(page.status, 403, "{}", page.body);
        // Anonymous: sent to sign in, nothing unlocked.
        let anon = Browser::new(&app);
        let page = anon
            .post(
                "/admin/locked/unlock",
                &[("kind".into(), "account".into()), ("name".into(), "alice".into())],
            )
            .await;
        assert_eq!(page.status, 303);
        assert!(page.location.unwrap().starts_with("/login?return_to="));
        assert_eq!(sign_in_from(&app, ATTACKER, "alice", flow::PASSWORD).await.0, 429);
        // Alice from her own address was never locked out.
        assert_eq!(sign_in_from(&app, VICTIM, "alice", flow::PASSWORD).await.0, 303);
    }
);
