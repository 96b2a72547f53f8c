//! One-time password reset links over HTTP and from the CLI: forged, reused and expired
//! links get a readable page; the token is never stored in clear; a used link ends the
//! user's sessions and is audited; a new link replaces the old; only administrators issue.
use diesel::prelude::*;
use tessera::store::schema::password_resets;

use crate::admin::{Console, audit_actions, create_admin};
use crate::flow::{self, Browser, Page, input};
use crate::helpers::TestApp;
use crate::on_both_backends;

const NEW_PASSWORD: &str = "reset to something new";

fn readable(page: &Page, status: u16, words: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    assert!(
        page.body.contains(words),
        "expected {words:?} in {}",
        page.body
    );
}

/// The path of the link the console's reset-link page shows.
fn link_path(app: &TestApp, page: &Page) -> String {
    assert_eq!(page.status, 200, "{}", page.body);
    let start = page
        .body
        .find("id=\"reset_link\" value=\"")
        .expect("the link")
        + 23;
    let url = &page.body[start..];
    let url = flow::unescape(&url[..url.find('"').unwrap()]);
    assert!(url.starts_with(&app.base), "{url}");
    url[app.base.len()..].to_owned()
}

async fn reset(browser: &Browser, path: &str, new: &str, again: &str) -> Page {
    browser
        .post(
            path,
            &[
                ("new_password".to_owned(), new.to_owned()),
                ("new_password2".to_owned(), again.to_owned()),
            ],
        )
        .await
}

async fn signs_in(app: &TestApp, username: &str, password: &str) -> u16 {
    let b = Browser::new(app);
    let page = b.get("/login").await;
    b.login(&page, username, password).await.status
}

fn stored_hashes(app: &TestApp) -> Vec<String> {
    let mut conn = app.store.conn().unwrap();
    password_resets::table
        .select(password_resets::token_hash)
        .load::<String>(&mut **conn)
        .unwrap()
}

on_both_backends!(
    reset_links_refuse_forgery_reuse_and_expiry,
    manual_clock,
    |app: TestApp| async move {
        let alice = flow::create_user(&app, "alice");
        create_admin(&app, "root");
        let console = Console::sign_in(&app, "root").await;
        let signed_in = Browser::new(&app);
        signed_in.sign_in("alice").await;

        let page = console
            .post(
                &format!("/admin/users/{alice}/reset-link"),
                &[("ttl", "600")],
            )
            .await;
        let path = link_path(&app, &page);
        let token = path.strip_prefix("/reset/").unwrap().to_owned();
        assert!(token.len() >= 43, "256 bits: {token}");
        // Only a digest is stored.
        let hashes = stored_hashes(&app);
        assert_eq!(hashes, vec![tessera::secrets::digest(&token)]);
        assert!(!hashes.contains(&token));

        // Forged or mangled links.
        let b = Browser::new(&app);
        for forged in [
            "/reset/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
            format!("{path}x"),
            format!("/reset/{}", tessera::secrets::digest(&token)),
            "/reset/%00%0a%3Cscript%3E".to_owned(),
            format!("/reset/{}", "a".repeat(5000)),
        ] {
            readable(&b.get(&forged).await, 404, "This reset link does not work");
            readable(
                &reset(&b, &forged, NEW_PASSWORD, NEW_PASSWORD).await,
                404,
                "This reset link does not work",
            );
        }

        // The real one: the form names the user; a bad password keeps the link usable.
        let form = b.get(&path).await;
        readable(&form, 200, "alice");
        assert_eq!(form.headers["x-frame-options"], "DENY");
        assert_eq!(form.headers["referrer-policy"], "no-referrer");
        readable(&reset(&b, &path, "short", "short").await, 400, "at least 8");
        readable(
            &reset(&b, &path, NEW_PASSWORD, "other").await,
            400,
            "differ",
        );
        let done = reset(&b, &path, NEW_PASSWORD, NEW_PASSWORD).await;
        readable(&done, 200, "Password changed");
        // Every session of alice ended; the new password works, the old does not.
        assert_eq!(signed_in.get("/account").await.status, 303);
        assert_eq!(signs_in(&app, "alice", flow::PASSWORD).await, 401);
        assert_eq!(signs_in(&app, "alice", NEW_PASSWORD).await, 303);

        // Reused.
        readable(&b.get(&path).await, 410, "already used");
        readable(
            &reset(&b, &path, "yet another password", "yet another password").await,
            410,
            "already used",
        );
        assert_eq!(signs_in(&app, "alice", NEW_PASSWORD).await, 303);

        // Expired: valid until its lifetime ends, not a second longer.
        let page = console
            .post(
                &format!("/admin/users/{alice}/reset-link"),
                &[("ttl", "600")],
            )
            .await;
        let second = link_path(&app, &page);
        app.advance(599);
        assert_eq!(b.get(&second).await.status, 200);
        app.advance(1);
        readable(&b.get(&second).await, 410, "expired");
        readable(
            &reset(&b, &second, "yet another password", "yet another password").await,
            410,
            "expired",
        );
        assert_eq!(signs_in(&app, "alice", NEW_PASSWORD).await, 303);

        let actions = audit_actions(&app).await;
        let created = actions
            .iter()
            .filter(|a| a.0 == "user.reset-link-created" && a.1.as_deref() == Some("root"))
            .count();
        assert_eq!(created, 2, "{actions:?}");
        let used = actions
            .iter()
            .filter(|a| a.0 == "account.password-reset" && a.2.as_deref() == Some("alice"))
            .count();
        assert_eq!(used, 1, "{actions:?}");
    }
);

on_both_backends!(
    a_new_link_replaces_the_old_and_only_admins_issue_them,
    |app: TestApp| async move {
        let alice = flow::create_user(&app, "alice");
        flow::create_user(&app, "bob");
        create_admin(&app, "root");
        let console = Console::sign_in(&app, "root").await;
        let first = link_path(
            &app,
            &console
                .post(&format!("/admin/users/{alice}/reset-link"), &[])
                .await,
        );
        let second = link_path(
            &app,
            &console
                .post(&format!("/admin/users/{alice}/reset-link"), &[])
                .await,
        );
        let b = Browser::new(&app);
        assert_ne!(first, second);
        assert_eq!(b.get(&first).await.status, 410);
        assert_eq!(b.get(&second).await.status, 200);

        // Bad lifetimes are refused readably.
        for ttl in ["5", "99999999", "soon"] {
            let page = console
                .post(&format!("/admin/users/{alice}/reset-link"), &[("ttl", ttl)])
                .await;
            readable(&page, 400, "Link lifetime");
        }
        // Without the CSRF token, or as a plain user: refused, nothing issued.
        let before = stored_hashes(&app).len();
        let no_csrf = console
            .browser
            .post(&format!("/admin/users/{alice}/reset-link"), &[])
            .await;
        assert_eq!(no_csrf.status, 403);
        let bob = Browser::new(&app);
        bob.sign_in("bob").await;
        let csrf = input(&bob.get("/account").await.body, "csrf_token").unwrap();
        let as_user = bob
            .post(
                &format!("/admin/users/{alice}/reset-link"),
                &[("csrf_token".to_owned(), csrf)],
            )
            .await;
        assert_eq!(as_user.status, 403);
        assert_eq!(stored_hashes(&app).len(), before);
    }
);

on_both_backends!(the_cli_prints_a_reset_link, |app: TestApp| async move {
    flow::create_user(&app, "alice");
    let out = app.cli(&["user", "reset-link", "alice", "--ttl", "900"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let url = out.stdout.trim();
    assert!(url.starts_with(&format!("{}/reset/", app.base)), "{url}");
    assert_eq!(out.stdout.lines().count(), 1, "the link alone on stdout");
    let path = &url[app.base.len()..];
    let b = Browser::new(&app);
    readable(&b.get(path).await, 200, "alice");
    let done = reset(&b, path, NEW_PASSWORD, NEW_PASSWORD).await;
    readable(&done, 200, "Password changed");
    assert_eq!(signs_in(&app, "alice", NEW_PASSWORD).await, 303);

    for (args, words) in [
        (vec!["user", "reset-link", "nobody"], "no user 'nobody'"),
        (vec!["user", "reset-link", "alice", "--ttl", "1"], "--ttl"),
        (vec!["user", "reset-link", "alice", "--ttl", "x"], "--ttl"),
    ] {
        let out = app.cli(&args, None);
        assert_ne!(out.code, 0, "{args:?}");
        assert!(out.stderr.contains(words), "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
        assert!(out.stdout.is_empty());
    }
    let actions = audit_actions(&app).await;
    assert!(
        actions.iter().any(|a| a.0 == "user.reset-link-created"
            && a.1.as_deref().is_some_and(|c| c.starts_with("cli"))),
        "{actions:?}"
    );
});
