//! The admin console over HTTP: who may see it (anonymous -> login, non-admin -> 403), CSRF
//! on every form, users (create, edit, password, disable, admin flag, delete), the
//! last-admin rule, and that bad input gets a readable 400 page. Helpers for the other
//! admin test files live here too.
use serde_json::Value;
use tessera::clock::SystemClock;
use tessera::domain::{Password, Username};
use tessera::users::{self, NewUser};

use crate::flow::{self, Browser, Page, input};
use crate::helpers::TestApp;
use crate::on_both_backends;

pub const ROOT: &str = "root";

/// An administrator with the test password (beside the bootstrap `admin`).
pub fn create_admin(app: &TestApp, username: &str) -> i64 {
    let mut conn = app.store.conn().unwrap();
    users::create(
        &mut conn,
        &SystemClock,
        &NewUser {
            username: Username::parse(username).unwrap(),
            password: Password::parse(flow::PASSWORD).unwrap(),
            email: None,
            name: Some("Root Admin".into()),
            is_admin: true,
        },
    )
    .unwrap()
    .id
}

/// A signed-in browser and the CSRF token of its session.
pub struct Console {
    pub browser: Browser,
    pub csrf: String,
}

impl Console {
    /// Sign in as `username` and read the session's CSRF token from a console page.
    pub async fn sign_in(app: &TestApp, username: &str) -> Console {
        let browser = Browser::new(app);
        browser.sign_in(username).await;
        let page = browser.get("/admin/").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let csrf = input(&page.body, "csrf_token").expect("csrf token on the console");
        Console { browser, csrf }
    }

    /// Create `root` and sign in as it.
    pub async fn root(app: &TestApp) -> Console {
        create_admin(app, ROOT);
        Self::sign_in(app, ROOT).await
    }

    pub async fn get(&self, path: &str) -> Page {
        self.browser.get(path).await
    }

    /// POST `fields` plus this session's CSRF token.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut form: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        form.push(("csrf_token".into(), self.csrf.clone()));
        self.browser.post(path, &form).await
    }

    /// POST a destructive action as its confirmation page does.
    pub async fn confirm(&self, path: &str) -> Page {
        let page = self.get(path).await;
        assert_eq!(page.status, 200, "confirmation page {path}: {}", page.body);
        assert!(page.body.contains("name=\"confirm\""), "{}", page.body);
        self.post(path, &[("confirm", "yes")]).await
    }
}

/// The id at the end of a `/admin/users/{id}?done=...` redirect.
pub fn id_from_location(page: &Page) -> String {
    let location = page.location.as_deref().expect("a redirect");
    let path = location.split('?').next().unwrap();
    path.rsplit('/').next().unwrap().to_owned()
}

/// Audit actions, newest first, as the database holds them.
pub async fn audit_actions(app: &TestApp) -> Vec<(String, Option<String>, Option<String>)> {
    app.store
        .run(|conn| tessera::store::audit::page(conn, None, 0, 500))
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.action, r.actor, r.target))
        .collect()
}

fn assert_readable(page: &Page, status: u16, words: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{:?}",
        page.headers
    );
    assert!(
        page.body.contains(words),
        "expected {words:?} in {}",
        page.body
    );
}

on_both_backends!(
    an_anonymous_visitor_is_sent_to_the_login_page_and_back,
    |app: TestApp| async move {
        create_admin(&app, ROOT);
        let browser = Browser::new(&app);
        let page = browser.get("/admin/users?q=ro").await;
        assert_eq!(page.status, 303);
        let location = page.location.clone().unwrap();
        assert_eq!(location, "/login?return_to=%2Fadmin%2Fusers%3Fq%3Dro");
        let login = browser.get(&location).await;
        assert!(login.is_login());
        let done = browser.login(&login, ROOT, flow::PASSWORD).await;
        assert_eq!(done.status, 303);
        assert_eq!(done.location.as_deref(), Some("/admin/users?q=ro"));
        let users = browser.get("/admin/users?q=ro").await;
        assert_eq!(users.status, 200);
        assert!(users.body.contains("<h1>Users</h1>"));
        assert!(users.body.contains(">root</a>"));

        // A POST without a session goes to the login page too, and changes nothing.
        let anon = Browser::new(&app);
        let page = anon
            .post("/admin/users/new", &[("username".into(), "mallory".into())])
            .await;
        assert_eq!(page.status, 303);
        assert!(page.location.unwrap().starts_with("/login?return_to="));
        // `/admin` without the slash finds the console; a wrong method is 405.
        assert_eq!(anon.get("/admin").await.status, 308);
        let res = app
            .http
            .delete(app.url("/admin/users"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405);
        // return_to cannot leave the site.
        let page = anon.get("/login?return_to=//evil.example/admin/").await;
        assert!(!page.body.contains("evil.example"));
    }
);

on_both_backends!(
    a_signed_in_user_who_is_not_an_admin_gets_403,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let browser = Browser::new(&app);
        browser.sign_in("alice").await;
        for path in [
            "/admin/",
            "/admin/users",
            "/admin/clients",
            "/admin/keys",
            "/admin/audit",
        ] {
            let page = browser.get(path).await;
            assert_readable(&page, 403, "Administrators only");
        }
        // Her own session's CSRF token (from the signed-in page) does not help.
        let signed_in = browser.get("/login").await;
        let csrf = input(&signed_in.body, "csrf_token").unwrap();
        let page = browser
            .post(
                "/admin/users/new",
                &[
                    ("csrf_token".into(), csrf.clone()),
                    ("username".into(), "mallory".into()),
                    ("password".into(), "long enough pw".into()),
                    ("is_admin".into(), "yes".into()),
                ],
            )
            .await;
        assert_readable(&page, 403, "Administrators only");
        let page = browser
            .post("/admin/keys/rotate", &[("csrf_token".into(), csrf.clone())])
            .await;
        assert_eq!(page.status, 403);
        let mut conn = app.store.conn().unwrap();
        assert!(
            tessera::store::users::by_username(&mut conn, "mallory")
                .unwrap()
                .is_none()
        );
        assert_eq!(app.keys.source().list(app.clock.now()).unwrap().len(), 1);
    }
);

on_both_backends!(
    forms_without_the_sessions_csrf_token_are_refused,
    |app: TestApp| async move {
        let console = Console::root(&app).await;
        let fields = [
            ("username".to_owned(), "mallory".to_owned()),
            ("password".to_owned(), "long enough pw".to_owned()),
        ];
        let page = console.browser.post("/admin/users/new", &fields).await;
        assert_readable(&page, 403, "This form has expired");
        let mut forged = fields.to_vec();
        forged.push(("csrf_token".into(), "not-the-token".into()));
        let page = console.browser.post("/admin/users/new", &forged).await;
        assert_readable(&page, 403, "This form has expired");
        // Another admin's token is not this session's token.
        create_admin(&app, "other");
        let other = Console::sign_in(&app, "other").await;
        let mut crossed = fields.to_vec();
        crossed.push(("csrf_token".into(), other.csrf.clone()));
        let page = console.browser.post("/admin/users/new", &crossed).await;
        assert_eq!(page.status, 403);
        let mut conn = app.store.conn().unwrap();
        assert!(
            tessera::store::users::by_username(&mut conn, "mallory")
                .unwrap()
                .is_none()
        );
        // A destructive action needs its confirmation page's `confirm=yes`.
        let root_id = tessera::store::users::by_username(&mut conn, ROOT)
            .unwrap()
            .unwrap()
            .id;
        let page = console
            .post(&format!("/admin/users/{root_id}/delete"), &[])
            .await;
        assert_readable(&page, 400, "must be confirmed");
    }
);

on_both_backends!(
    an_admin_creates_edits_and_deletes_a_user,
    |app: TestApp| async move {
        let console = Console::root(&app).await;
        let form = console.get("/admin/users/new").await;
        assert_eq!(form.status, 200);
        let created = console
            .post(
                "/admin/users/new",
                &[
                    ("username", "bob"),
                    ("name", "Bob Builder"),
                    ("email", "bob@example.com"),
                    ("email_verified", "yes"),
                    ("password", flow::PASSWORD),
                ],
            )
            .await;
        assert_eq!(created.status, 303, "{}", created.body);
        let id = id_from_location(&created);
        let page = console.get(created.location.as_deref().unwrap()).await;
        assert!(page.body.contains("User created."));
        assert!(page.body.contains("Bob Builder"));
        assert!(page.body.contains("bob@example.com"));

        // Bad input: a readable 400 with the form refilled, never a 500.
        for (fields, words) in [
            (
                vec![("username", "bad name"), ("password", flow::PASSWORD)],
                "username may contain only",
            ),
            (
                vec![("username", "carol"), ("password", "short")],
                "at least 8 characters",
            ),
            (
                vec![
                    ("username", "carol"),
                    ("password", flow::PASSWORD),
                    ("email", "nope"),
                ],
                "not an email address",
            ),
            (
                vec![("username", "bob"), ("password", flow::PASSWORD)],
                "already taken",
            ),
            (
                vec![("password", flow::PASSWORD)],
                "username must not be empty",
            ),
        ] {
            let page = console.post("/admin/users/new", &fields).await;
            assert_readable(&page, 400, words);
            assert!(page.body.contains("action=\"/admin/users/new\""));
        }
        let page = console
            .post(&format!("/admin/users/{id}/profile"), &[("email", "x@")])
            .await;
        assert_readable(&page, 400, "not an email address");
        assert_readable(&console.get("/admin/users/999999").await, 404, "Not found");
        assert_readable(&console.get("/admin/users/abc").await, 404, "Not found");
        assert_readable(
            &console.get("/admin/users/1/consents/nope/revoke").await,
            404,
            "Not found",
        );

        // Edit the profile claims.
        let page = console
            .post(
                &format!("/admin/users/{id}/profile"),
                &[("name", "Robert Builder"), ("email", "rob@example.com")],
            )
            .await;
        assert_eq!(page.status, 303);
        let mut conn = app.store.conn().unwrap();
        let bob = tessera::store::users::by_username(&mut conn, "bob")
            .unwrap()
            .unwrap();
        assert_eq!(bob.name.as_deref(), Some("Robert Builder"));
        assert_eq!(bob.email.as_deref(), Some("rob@example.com"));
        assert!(!bob.email_verified);

        // Search and paging.
        let page = console.get("/admin/users?q=ROB").await;
        assert!(page.body.contains(">bob</a>"));
        assert!(!page.body.contains(">root</a>"));
        let page = console.get("/admin/users?q=%25").await;
        assert!(page.body.contains("No users match."));
        let page = console.get("/admin/users?page=99").await;
        assert_eq!(page.status, 200);

        // A new password: bob signs in with it, not the old one.
        let page = console
            .post(
                &format!("/admin/users/{id}/password"),
                &[("password", "a brand new password")],
            )
            .await;
        assert_eq!(page.status, 303);
        let b = Browser::new(&app);
        let login = b.get("/login").await;
        assert_eq!(b.login(&login, "bob", flow::PASSWORD).await.status, 401);
        let login = b.get("/login").await;
        assert_eq!(
            b.login(&login, "bob", "a brand new password").await.status,
            303
        );

        // Grant and remove the admin flag.
        let page = console
            .post(&format!("/admin/users/{id}/grant-admin"), &[])
            .await;
        assert_eq!(page.status, 303);
        assert_eq!(b.get("/admin/").await.status, 200);
        let page = console
            .confirm(&format!("/admin/users/{id}/revoke-admin"))
            .await;
        assert_eq!(page.status, 303);
        assert_eq!(b.get("/admin/").await.status, 403);

        // Delete.
        let page = console.confirm(&format!("/admin/users/{id}/delete")).await;
        assert_eq!(page.status, 303);
        assert!(
            tessera::store::users::by_username(&mut conn, "bob")
                .unwrap()
                .is_none()
        );
        let actions: Vec<String> = audit_actions(&app).await.into_iter().map(|a| a.0).collect();
        for expected in [
            "user.created",
            "user.updated",
            "user.password-set",
            "user.admin-granted",
            "user.admin-revoked",
            "user.deleted",
        ] {
            assert!(
                actions.iter().any(|a| a == expected),
                "{expected} in {actions:?}"
            );
        }
    }
);

on_both_backends!(
    the_last_admin_can_be_neither_demoted_disabled_nor_deleted,
    |app: TestApp| async move {
        let console = Console::root(&app).await;
        let mut conn = app.store.conn().unwrap();
        let id_of = |conn: &mut _, name: &str| {
            tessera::store::users::by_username(conn, name)
                .unwrap()
                .unwrap()
                .id
        };
        // The bootstrap `admin` can go: root remains.
        let bootstrap = id_of(&mut conn, "admin");
        let page = console
            .confirm(&format!("/admin/users/{bootstrap}/revoke-admin"))
            .await;
        assert_eq!(page.status, 303, "{}", page.body);
        let root = id_of(&mut conn, ROOT);
        for path in ["revoke-admin", "disable", "delete"] {
            let page = console
                .confirm(&format!("/admin/users/{root}/{path}"))
                .await;
            assert_readable(&page, 409, "last active administrator");
        }
        let me = tessera::store::users::by_id(&mut conn, root)
            .unwrap()
            .unwrap();
        assert!(me.is_admin && me.is_active);
        // A disabled admin does not count: with `admin` re-promoted but disabled, root
        // is still the last one who can sign in.
        console
            .post(&format!("/admin/users/{bootstrap}/grant-admin"), &[])
            .await;
        let page = console
            .confirm(&format!("/admin/users/{bootstrap}/disable"))
            .await;
        assert_eq!(page.status, 303);
        let page = console
            .confirm(&format!("/admin/users/{root}/disable"))
            .await;
        assert_eq!(page.status, 409);
    }
);

on_both_backends!(
    a_disabled_user_can_neither_sign_in_nor_refresh,
    |app: TestApp| async move {
        let alice = flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let tokens = flow::tokens_for(&app, &client, "alice", "openid offline_access").await;
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let session = Browser::new(&app);
        session.sign_in("alice").await;

        let console = Console::root(&app).await;
        let page = console
            .confirm(&format!("/admin/users/{alice}/disable"))
            .await;
        assert_eq!(page.status, 303);

        let b = Browser::new(&app);
        let login = b.get("/login").await;
        let refused = b.login(&login, "alice", flow::PASSWORD).await;
        assert_eq!(refused.status, 401);
        assert!(refused.body.contains("Invalid username or password"));
        // Her open session ended.
        assert!(session.get("/login").await.is_login());
        let res = flow::token(
            &app,
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
        assert_eq!(res.status(), 400);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant");

        // Enabled again: she can sign in.
        let page = console
            .post(&format!("/admin/users/{alice}/enable"), &[])
            .await;
        assert_eq!(page.status, 303);
        let login = b.get("/login").await;
        assert_eq!(b.login(&login, "alice", flow::PASSWORD).await.status, 303);

        let audit = audit_actions(&app).await;
        assert!(audit.iter().any(|(a, actor, target)| a == "user.disabled"
            && actor.as_deref() == Some(ROOT)
            && target.as_deref() == Some("alice")));
        assert!(
            audit
                .iter()
                .any(|(a, actor, _)| a == "login.failed" && actor.as_deref() == Some("alice"))
        );
    }
);
