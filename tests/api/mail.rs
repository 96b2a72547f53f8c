//! Password reset by email (`TESSERA_SMTP_URL`): "Forgot password?" and the console's
//! "Email reset link", delivered to a local SMTP sink. The emailed link works once; an
//! unknown, disabled or mail-less account gets the same answer and no mail; requests are
//! throttled per address and per account; CR/LF in what a user typed or what is stored adds
//! no header; a mail server that is down or silent gives a readable answer in time.
use std::time::{Duration, Instant};

use diesel::prelude::*;
use tessera::store::schema::users;

use crate::admin::{Console, audit_actions, create_admin};
use crate::flow::{self, Browser, Page, input};
use crate::helpers::{Backend, TestApp, spawn, spawn_with};
use crate::mail_sink::{FROM, Sink};

const NEW_PASSWORD: &str = "chosen after an email";

async fn with_sink(backend: Backend, extra: &[(&str, &str)]) -> (Sink, TestApp) {
    let sink = Sink::start();
    let settings = sink.settings();
    let mut env: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend_from_slice(extra);
    let app = spawn_with(backend, &env).await;
    (sink, app)
}

/// Ask for a reset link as someone who forgot their password.
async fn forgot(app: &TestApp, identifier: &str) -> Page {
    let b = Browser::new(app);
    let form = b.get("/reset").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = input(&form.body, "csrf_token").expect("the form's CSRF token");
    b.post(
        "/reset",
        &[
            ("csrf_token".to_owned(), csrf),
            ("identifier".to_owned(), identifier.to_owned()),
        ],
    )
    .await
}

async fn set_password(path: &str, app: &TestApp) -> Page {
    Browser::new(app)
        .post(
            path,
            &[
                ("new_password".to_owned(), NEW_PASSWORD.to_owned()),
                ("new_password2".to_owned(), NEW_PASSWORD.to_owned()),
            ],
        )
        .await
}

async fn signs_in(app: &TestApp, username: &str, password: &str) -> u16 {
    let b = Browser::new(app);
    let page = b.get("/login").await;
    b.login(&page, username, password).await.status
}

fn sent_page(page: &Page) {
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Check your email"), "{}", page.body);
}

/// Give tasks that might still send a message time to do so.
async fn settle() {
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
}

async fn an_emailed_link_works_once(backend: Backend) {
    let (sink, app) = with_sink(backend, &[]).await;
    flow::create_user(&app, "alice");
    let login = Browser::new(&app).get("/login").await;
    assert!(
        login.body.contains("href=\"/reset\""),
        "Forgot password? on the login page: {}",
        login.body
    );

    sent_page(&forgot(&app, "alice").await);
    let mails = sink.wait_for(1).await;
    let mail = &mails[0];
    assert_eq!(mail.rcpt_tos, vec!["alice@example.com"]);
    assert_eq!(mail.mail_from, "noreply@example.com");
    assert_eq!(mail.header("from"), vec![FROM]);
    assert_eq!(mail.header("subject"), vec!["Reset your password"]);
    let path = mail.link_path(&app.base);
    let token = path.strip_prefix("/reset/").unwrap();
    assert!(token.len() >= 43, "256 bits: {token}");
    assert!(mail.body().contains("alice Example"), "{}", mail.body());

    // The link is an ordinary one-time link: the form names the user; it works once.
    let form = Browser::new(&app).get(&path).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("alice"));
    let done = set_password(&path, &app).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Password changed"));
    assert_eq!(set_password(&path, &app).await.status, 410);
    assert_eq!(signs_in(&app, "alice", NEW_PASSWORD).await, 303);

    // By email address too, whatever its case; a new link, to the same mailbox.
    sent_page(&forgot(&app, "ALICE@Example.com").await);
    let mails = sink.wait_for(2).await;
    assert_eq!(mails[1].rcpt_tos, vec!["alice@example.com"]);
    assert_ne!(mails[1].link_path(&app.base), path);

    // Only a digest of the emailed token is stored.
    let stored: Vec<String> = {
        use tessera::store::schema::password_resets;
        let mut conn = app.store.conn().unwrap();
        password_resets::table
            .select(password_resets::token_hash)
            .load(&mut **conn)
            .unwrap()
    };
    assert!(stored.contains(&tessera::secrets::digest(token)));
    assert!(!stored.iter().any(|h| h == token));

    let actions = audit_actions(&app).await;
    let sent = actions
        .iter()
        .filter(|a| a.0 == "account.reset-mail-sent" && a.2.as_deref() == Some("alice"))
        .count();
    assert_eq!(sent, 2, "{actions:?}");
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_smtp),
    ignore = "TESSERA_TEST_SMTP_PYTHON not set (aiosmtpd): email not tested"
)]
async fn an_emailed_link_works_once_sqlite() {
    an_emailed_link_works_once(Backend::Sqlite).await;
}

#[actix_web::test]
#[cfg_attr(
    any(not(tessera_test_smtp), not(tessera_test_postgres)),
    ignore = "TESSERA_TEST_SMTP_PYTHON (aiosmtpd) or TESSERA_TEST_POSTGRES_URL not set: email on PostgreSQL not tested"
)]
async fn an_emailed_link_works_once_postgres() {
    an_emailed_link_works_once(Backend::Postgres).await;
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_smtp),
    ignore = "TESSERA_TEST_SMTP_PYTHON not set (aiosmtpd): email not tested"
)]
async fn who_gets_mail_is_not_told() {
    let (sink, app) = with_sink(Backend::Sqlite, &[]).await;
    flow::create_user(&app, "alice");
    flow::create_user(&app, "carol");
    let dave = flow::create_user(&app, "dave");
    {
        let mut conn = app.store.conn().unwrap();
        diesel::update(users::table.find(dave))
            .set(users::email.eq(None::<String>))
            .execute(&mut **conn)
            .unwrap();
    }
    assert_eq!(app.cli(&["user", "disable", "carol"], None).code, 0);

    // Unknown names, an unknown address, a disabled account, one without an address: the
    // same page as for alice, byte for byte, and no mail.
    let known = forgot(&app, "alice").await;
    sent_page(&known);
    for identifier in [
        "nobody",
        "nobody@example.com",
        "carol",
        "carol@example.com",
        "dave",
        &"x".repeat(5000),
    ] {
        let page = forgot(&app, identifier).await;
        assert_eq!(page.status, known.status, "{identifier}");
        assert_eq!(page.body, known.body, "{identifier}");
    }
    sink.wait_for(1).await;
    settle().await;
    let mails = sink.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].rcpt_tos, vec!["alice@example.com"]);

    // A form without its CSRF token, or empty: the form again, nothing sent.
    let b = Browser::new(&app);
    let page = b
        .post("/reset", &[("identifier".to_owned(), "alice".to_owned())])
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("expired"), "{}", page.body);
    assert_eq!(forgot(&app, "  ").await.status, 400);
    settle().await;
    assert_eq!(sink.mails().len(), 1);
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_smtp),
    ignore = "TESSERA_TEST_SMTP_PYTHON not set (aiosmtpd): email not tested"
)]
async fn reset_requests_are_throttled_per_account_and_per_address() {
    let (sink, app) = with_sink(Backend::Sqlite, &[]).await;
    flow::create_user(&app, "alice");
    // Per account, however it is named: three emails an hour, then the same page and no
    // more mail.
    for identifier in ["alice", "alice@example.com", "alice", "ALICE@example.com"] {
        sent_page(&forgot(&app, identifier).await);
    }
    sink.wait_for(3).await;
    settle().await;
    assert_eq!(sink.mails().len(), 3);
    let actions = audit_actions(&app).await;
    assert!(
        actions
            .iter()
            .any(|a| a.0 == "account.reset-mail-throttled" && a.2.as_deref() == Some("alice")),
        "{actions:?}"
    );
    // Per address, whatever is named: ten requests an hour, then a readable 429.
    for n in 5..=10 {
        sent_page(&forgot(&app, &format!("nobody{n}")).await);
    }
    let page = forgot(&app, "nobody11").await;
    assert_eq!(page.status, 429, "{}", page.body);
    assert!(
        page.body.contains("Too many reset requests"),
        "{}",
        page.body
    );
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_smtp),
    ignore = "TESSERA_TEST_SMTP_PYTHON not set (aiosmtpd): email not tested"
)]
async fn an_emailed_link_is_refused_once_its_user_is_disabled() {
    let (sink, app) = with_sink(Backend::Sqlite, &[]).await;
    flow::create_user(&app, "alice");
    sent_page(&forgot(&app, "alice").await);
    let path = sink.wait_for(1).await[0].link_path(&app.base);
    assert_eq!(Browser::new(&app).get(&path).await.status, 200);
    assert_eq!(app.cli(&["user", "disable", "alice"], None).code, 0);
    let page = Browser::new(&app).get(&path).await;
    assert_eq!(page.status, 404, "{}", page.body);
    assert!(page.body.contains("This reset link does not work"));
    let page = set_password(&path, &app).await;
    assert_eq!(page.status, 404, "{}", page.body);
    assert_eq!(app.cli(&["user", "enable", "alice"], None).code, 0);
    assert_eq!(signs_in(&app, "alice", NEW_PASSWORD).await, 401);
    assert_eq!(signs_in(&app, "alice", flow::PASSWORD).await, 303);
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_smtp),
    ignore = "TESSERA_TEST_SMTP_PYTHON not set (aiosmtpd): email not tested"
)]
async fn cr_lf_adds_no_header_and_no_recipient() {
    let (sink, app) = with_sink(Backend::Sqlite, &[]).await;
    let alice = flow::create_user(&app, "alice");
    let bob = flow::create_user(&app, "bob");
    {
        // Stored values no form would accept, as an import or a database edit could leave.
        let mut conn = app.store.conn().unwrap();
        diesel::update(users::table.find(alice))
            .set(users::name.eq(Some("Alice\r\nBcc: evil@example.org\r\nX-Injected: yes")))
            .execute(&mut **conn)
            .unwrap();
        diesel::update(users::table.find(bob))
            .set(users::email.eq(Some("bob@example.com\r\nBcc: evil@example.org")))
            .execute(&mut **conn)
            .unwrap();
    }
    for identifier in [
        "alice\r\nBcc: evil@example.org",
        "alice@example.com\r\nBcc: evil@example.org",
        "evil@example.org\r\nTo: alice@example.com",
    ] {
        sent_page(&forgot(&app, identifier).await);
    }
    sent_page(&forgot(&app, "bob").await);
    sent_page(&forgot(&app, "alice").await);
    sink.wait_for(1).await;
    settle().await;
    let mails = sink.mails();
    assert_eq!(
        mails.len(),
        1,
        "only alice's own request is mailed: {mails:?}"
    );
    let mail = &mails[0];
    assert_eq!(mail.rcpt_tos, vec!["alice@example.com"]);
    for line in mail.head().split("\r\n") {
        let lower = line.to_ascii_lowercase();
        assert!(
            !lower.starts_with("bcc:") && !lower.starts_with("x-injected:"),
            "an injected header: {}",
            mail.head()
        );
    }
    assert_eq!(mail.header("to").len(), 1, "{}", mail.head());
    // Bob's stored address is not one mail can go to: nothing sent, the failure audited.
    let actions = audit_actions(&app).await;
    assert!(
        actions
            .iter()
            .any(|a| a.0 == "account.reset-mail-failed" && a.2.as_deref() == Some("bob")),
        "{actions:?}"
    );
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_smtp),
    ignore = "TESSERA_TEST_SMTP_PYTHON not set (aiosmtpd): email not tested"
)]
async fn the_console_emails_a_reset_link() {
    let (sink, app) = with_sink(Backend::Sqlite, &[]).await;
    let alice = flow::create_user(&app, "alice");
    let dave = flow::create_user(&app, "dave");
    {
        let mut conn = app.store.conn().unwrap();
        diesel::update(users::table.find(dave))
            .set(users::email.eq(None::<String>))
            .execute(&mut **conn)
            .unwrap();
    }
    let console = Console::root(&app).await;
    let page = console.get(&format!("/admin/users/{alice}")).await;
    assert!(page.body.contains("Email reset link"), "{}", page.body);
    let page = console
        .post(
            &format!("/admin/users/{alice}/reset-link"),
            &[("send", "email")],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("Reset link emailed to alice@example.com"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("/reset/"), "the admin does not see it");
    let mails = sink.wait_for(1).await;
    assert_eq!(mails[0].rcpt_tos, vec!["alice@example.com"]);
    let path = mails[0].link_path(&app.base);
    assert_eq!(set_password(&path, &app).await.status, 200);
    assert_eq!(signs_in(&app, "alice", NEW_PASSWORD).await, 303);

    // A user without an address: refused readably, no link issued.
    let page = console
        .post(
            &format!("/admin/users/{dave}/reset-link"),
            &[("send", "email")],
        )
        .await;
    assert_eq!(page.status, 409, "{}", page.body);
    assert!(page.body.contains("no email address"), "{}", page.body);
    let actions = audit_actions(&app).await;
    assert!(
        actions
            .iter()
            .any(|a| a.0 == "account.reset-mail-sent" && a.1.as_deref() == Some("root")),
        "{actions:?}"
    );
    assert!(
        !actions
            .iter()
            .any(|a| a.0 == "user.reset-link-created" && a.2.as_deref() == Some("dave")),
        "{actions:?}"
    );
}

/// A "mail server" that accepts connections and never says a word.
fn silent_server() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

#[actix_web::test]
async fn a_mail_server_that_is_down_or_silent_gives_a_readable_answer_in_time() {
    let (held, silent) = silent_server();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for (port, words) in [(closed, "was not sent"), (silent, "did not answer in time")] {
        let url = format!("smtp://127.0.0.1:{port}");
        let app = spawn_with(
            Backend::Sqlite,
            &[
                ("TESSERA_SMTP_URL", url.as_str()),
                ("TESSERA_SMTP_FROM", FROM),
                ("TESSERA_SMTP_TIMEOUT", "1"),
            ],
        )
        .await;
        let alice = flow::create_user(&app, "alice");
        let console = Console::root(&app).await;
        let started = Instant::now();
        let page = console
            .post(
                &format!("/admin/users/{alice}/reset-link"),
                &[("send", "email")],
            )
            .await;
        let took = started.elapsed();
        assert!(took < Duration::from_secs(5), "{port}: took {took:?}");
        assert_eq!(page.status, 502, "{}", page.body);
        assert!(page.body.contains(words), "{words}: {}", page.body);
        // The link to hand over instead, and it works.
        let start = page
            .body
            .find("id=\"reset_link\" value=\"")
            .expect("the link")
            + 23;
        let link = &page.body[start..];
        let link = &link[..link.find('"').unwrap()];
        let path = &link[app.base.len()..];
        assert_eq!(Browser::new(&app).get(path).await.status, 200);
        // Forgot password?: the same page as ever, at once; the failure is audited.
        let started = Instant::now();
        sent_page(&forgot(&app, "alice").await);
        assert!(started.elapsed() < Duration::from_millis(900));
        let mut failed = 0;
        for _ in 0..50 {
            failed = audit_actions(&app)
                .await
                .iter()
                .filter(|a| a.0 == "account.reset-mail-failed")
                .count();
            if failed == 2 {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(failed, 2, "both failures audited");
    }
    drop(held);
}

#[actix_web::test]
async fn without_a_mail_server_nothing_offers_email() {
    let app = spawn(Backend::Sqlite).await;
    let alice = flow::create_user(&app, "alice");
    let login = Browser::new(&app).get("/login").await;
    assert!(!login.body.contains("href=\"/reset\""), "{}", login.body);
    let page = Browser::new(&app).get("/reset").await;
    assert_eq!(page.status, 404, "{}", page.body);
    assert!(page.body.contains("not set up"), "{}", page.body);
    let page = Browser::new(&app)
        .post("/reset", &[("identifier".to_owned(), "alice".to_owned())])
        .await;
    assert_eq!(page.status, 404);
    create_admin(&app, "root");
    let console = Console::sign_in(&app, "root").await;
    let user = console.get(&format!("/admin/users/{alice}")).await;
    assert!(!user.body.contains("Email reset link"), "{}", user.body);
    let page = console
        .post(
            &format!("/admin/users/{alice}/reset-link"),
            &[("send", "email")],
        )
        .await;
    assert_eq!(page.status, 409, "{}", page.body);
    assert!(page.body.contains("No mail server"), "{}", page.body);
}
