//! The CLI end to end: the real binary against a real database.
use diesel::prelude::*;
use serde_json::Value;
use tessera::store::schema::{clients, users};

use crate::helpers::TestApp;
use crate::on_both_backends;

fn count_users(app: &TestApp) -> i64 {
    let mut conn = app.store.conn().unwrap();
    users::table.count().get_result(&mut **conn).unwrap()
}

fn count_clients(app: &TestApp) -> i64 {
    let mut conn = app.store.conn().unwrap();
    clients::table.count().get_result(&mut **conn).unwrap()
}

fn assert_one_line_error(out: &crate::helpers::CliOutput, needle: &str) {
    assert_ne!(out.code, 0, "expected failure, got success: {}", out.stdout);
    let err = out.stderr.trim();
    assert_eq!(err.lines().count(), 1, "error should be one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(needle), "expected '{needle}' in: {err}");
}

on_both_backends!(user_create_end_to_end, |app: TestApp| async move {
    let before = count_users(&app);
    let out = app.cli(
        &[
            "user",
            "create",
            "--username",
            "alice",
            "--email",
            "alice@example.com",
            "--name",
            "Alice Liddell",
            "--password-stdin",
        ],
        Some("wonderland-42\n"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("created user 'alice'"),
        "{}",
        out.stdout
    );
    assert_eq!(count_users(&app), before + 1);

    let mut conn = app.store.conn().unwrap();
    let row = tessera::store::users::by_username(&mut conn, "alice")
        .unwrap()
        .unwrap();
    assert_eq!(row.email.as_deref(), Some("alice@example.com"));
    assert_eq!(row.name.as_deref(), Some("Alice Liddell"));
    assert!(!row.is_admin);
    assert!(row.is_active);
    assert!(row.password_hash.starts_with("$argon2id$"));
    assert!(!row.password_hash.contains("wonderland"));
    let secret = tessera::secrets::SecretString::new("wonderland-42");
    assert!(tessera::secrets::verify_secret(&secret, &row.password_hash));

    let out = app.cli(
        &[
            "user",
            "create",
            "--username",
            "root2",
            "--admin",
            "--password-stdin",
        ],
        Some("another-password"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let row = tessera::store::users::by_username(&mut conn, "root2")
        .unwrap()
        .unwrap();
    assert!(row.is_admin);
});

on_both_backends!(
    user_create_rejects_bad_input_and_writes_nothing,
    |app: TestApp| async move {
        let before = count_users(&app);
        let cases: &[(&[&str], Option<&str>, &str)] = &[
            (
                &["user", "create", "--username", "bob", "--password-stdin"],
                Some("short\n"),
                "at least 8",
            ),
            (
                &[
                    "user",
                    "create",
                    "--username",
                    "bad name",
                    "--password-stdin",
                ],
                Some("long enough pw\n"),
                "username",
            ),
            (
                &[
                    "user",
                    "create",
                    "--username",
                    "bob",
                    "--email",
                    "nope",
                    "--password-stdin",
                ],
                Some("long enough pw\n"),
                "not an email",
            ),
            (
                &["user", "create", "--username", "bob"],
                Some("long enough pw\n"),
                "--password-stdin",
            ),
            (
                &["user", "create", "--username", "bob", "--password-stdin"],
                Some(""),
                "at least 8",
            ),
            (
                &["user", "create", "--username", "admin", "--password-stdin"],
                Some("long enough pw\n"),
                "already exists",
            ),
        ];
        for (args, stdin, needle) in cases {
            let out = app.cli(args, *stdin);
            assert_one_line_error(&out, needle);
        }
        assert_eq!(count_users(&app), before);
    }
);

on_both_backends!(client_create_end_to_end, |app: TestApp| async move {
    let out = app.cli(
        &[
            "client",
            "create",
            "--name",
            "Photo Book",
            "--redirect-uri",
            "https://photos.example/cb",
            "--redirect-uri",
            "http://127.0.0.1:9999/cb",
            "--scope",
            "openid email",
            "--json",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let created: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let client_id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    assert!(secret.len() >= 43, "secret has at least 256 bits");

    let mut conn = app.store.conn().unwrap();
    let row = tessera::store::clients::by_id(&mut conn, client_id)
        .unwrap()
        .unwrap();
    assert_eq!(row.name, "Photo Book");
    assert!(!row.is_public);
    assert_eq!(
        row.redirect_uris,
        "https://photos.example/cb http://127.0.0.1:9999/cb"
    );
    assert_eq!(row.grant_types, "authorization_code refresh_token");
    assert_eq!(row.scopes, "openid email");
    let hash = row.secret_hash.unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains(secret));
    assert!(tessera::secrets::verify_secret(
        &tessera::secrets::SecretString::new(secret),
        &hash
    ));

    let out = app.cli(
        &[
            "client",
            "create",
            "--name",
            "SPA",
            "--public",
            "--redirect-uri",
            "https://spa.example/cb",
            "--json",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let created: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert!(created["client_secret"].is_null());
    let row = tessera::store::clients::by_id(&mut conn, created["client_id"].as_str().unwrap())
        .unwrap()
        .unwrap();
    assert!(row.is_public && row.secret_hash.is_none());

    let out = app.cli(
        &[
            "client",
            "create",
            "--name",
            "Batch job",
            "--grant-type",
            "client_credentials",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("client_id: ") && out.stdout.contains("client_secret: "));
});

on_both_backends!(
    client_create_rejects_bad_input_and_writes_nothing,
    |app: TestApp| async move {
        let before = count_clients(&app);
        let cases: &[(&[&str], &str)] = &[
            (
                &[
                    "client",
                    "create",
                    "--name",
                    "X",
                    "--redirect-uri",
                    "not a uri",
                ],
                "not an absolute URI",
            ),
            (
                &[
                    "client",
                    "create",
                    "--name",
                    "X",
                    "--redirect-uri",
                    "https://a.example/cb#x",
                ],
                "fragment",
            ),
            (
                &[
                    "client",
                    "create",
                    "--name",
                    "X",
                    "--redirect-uri",
                    "javascript:alert(1)",
                ],
                "not allowed",
            ),
            (&["client", "create", "--name", "X"], "redirect URI"),
            (
                &[
                    "client",
                    "create",
                    "--name",
                    "  ",
                    "--redirect-uri",
                    "https://a.example/cb",
                ],
                "name",
            ),
            (
                &[
                    "client",
                    "create",
                    "--name",
                    "X",
                    "--redirect-uri",
                    "https://a.example/cb",
                    "--grant-type",
                    "password",
                ],
                "unknown grant type",
            ),
            (
                &[
                    "client",
                    "create",
                    "--name",
                    "X",
                    "--public",
                    "--grant-type",
                    "client_credentials",
                ],
                "public client",
            ),
            (
                &[
                    "client",
                    "create",
                    "--name",
                    "X",
                    "--redirect-uri",
                    "https://a.example/cb",
                    "--scope",
                    "bad\"scope",
                ],
                "scope",
            ),
        ];
        for (args, needle) in cases {
            let out = app.cli(args, None);
            assert_one_line_error(&out, needle);
        }
        assert_eq!(count_clients(&app), before);
    }
);

on_both_backends!(migrate_is_idempotent, |app: TestApp| async move {
    let out = app.cli(&["migrate"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "database is up to date");
});

#[test]
fn bad_input_never_creates_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::helpers::TestDb::create(crate::helpers::Backend::Sqlite, dir.path());
    let env = crate::helpers::test_env(&db, &dir.path().join("keys"));
    let out = crate::helpers::run_cli(
        &env,
        &["user", "create", "--username", "x y", "--password-stdin"],
        Some("long enough pw"),
        dir.path(),
    );
    assert_one_line_error(&out, "username");
    assert!(!dir.path().join("tessera.db").exists());
}

#[test]
fn unknown_commands_and_flags_fail_with_usage() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::helpers::TestDb::create(crate::helpers::Backend::Sqlite, dir.path());
    let env = crate::helpers::test_env(&db, &dir.path().join("keys"));
    let out = crate::helpers::run_cli(&env, &["frobnicate"], None, dir.path());
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("unrecognized subcommand"),
        "{}",
        out.stderr
    );
    let out = crate::helpers::run_cli(&env, &["keys", "list", "--bogus"], None, dir.path());
    assert_ne!(out.code, 0);
}

on_both_backends!(
    users_are_managed_from_the_shell,
    |app: TestApp| async move {
        // Refusals first: an unknown user, a password not on stdin, a weak one.
        let out = app.cli(&["user", "disable", "nobody"], None);
        assert_one_line_error(&out, "no user 'nobody'");
        let out = app.cli(&["user", "set-password", "admin"], None);
        assert_one_line_error(&out, "--password-stdin");
        let out = app.cli(
            &["user", "set-password", "admin", "--password-stdin"],
            Some("short\n"),
        );
        assert_ne!(out.code, 0);

        crate::flow::create_user(&app, "alice");
        let out = app.cli(&["user", "list", "--json"], None);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let listed: Value = serde_json::from_str(&out.stdout).unwrap();
        let alice = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == "alice")
            .expect("alice listed")
            .clone();
        assert_eq!(alice["active"], true);
        assert_eq!(alice["admin"], false);

        // A new password works and the old one does not.
        let out = app.cli(
            &["user", "set-password", "alice", "--password-stdin"],
            Some("a brand new passphrase\n"),
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        let login = |password: &'static str| {
            let app = &app;
            async move {
                crate::simplejwt::post_json(
                    app,
                    "/api/token/",
                    serde_json::json!({"username": "alice", "password": password}),
                )
                .await
                .0
            }
        };
        assert_eq!(login("a brand new passphrase").await, 200);
        assert_eq!(login(crate::flow::PASSWORD).await, 401);

        let out = app.cli(&["user", "disable", "alice"], None);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(login("a brand new passphrase").await, 401);
        let out = app.cli(&["user", "enable", "alice"], None);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(login("a brand new passphrase").await, 200);

        let actions = crate::admin::audit_actions(&app).await;
        for action in ["user.password-set", "user.disabled", "user.enabled"] {
            assert!(
                actions.iter().any(|(a, actor, _)| a == action
                    && actor.as_deref().is_some_and(|x| x.starts_with("cli"))),
                "{action} by the shell in {actions:?}"
            );
        }
    }
);

on_both_backends!(
    clients_are_managed_from_the_shell,
    |app: TestApp| async move {
        let out = app.cli(&["client", "delete", "no-such-client"], None);
        assert_one_line_error(&out, "no client 'no-such-client'");
        let public = crate::flow::public(&app);
        let out = app.cli(&["client", "rotate-secret", &public.id], None);
        assert_one_line_error(&out, "no secret to rotate");

        let machine = crate::flow::register(
            &app,
            tessera::domain::ClientKind::Confidential,
            &[tessera::domain::GrantType::ClientCredentials],
            &[],
        );
        let out = app.cli(&["client", "list", "--json"], None);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let listed: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(listed.as_array().unwrap().len(), 2);

        let token = |client: crate::flow::Client| {
            let app = &app;
            async move {
                crate::flow::token(app, &client, &[("grant_type", "client_credentials")])
                    .await
                    .status()
            }
        };
        assert_eq!(
            token(crate::flow::Client {
                id: machine.id.clone(),
                secret: machine.secret.clone()
            })
            .await,
            200
        );
        let out = app.cli(&["client", "rotate-secret", &machine.id, "--json"], None);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let rotated: Value = serde_json::from_str(&out.stdout).unwrap();
        let new_secret = rotated["client_secret"].as_str().unwrap().to_owned();
        assert_eq!(
            token(crate::flow::Client {
                id: machine.id.clone(),
                secret: machine.secret.clone()
            })
            .await,
            401,
            "the old secret stops working"
        );
        assert_eq!(
            token(crate::flow::Client {
                id: machine.id.clone(),
                secret: Some(new_secret.clone())
            })
            .await,
            200
        );

        let out = app.cli(&["client", "delete", &machine.id], None);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(
            token(crate::flow::Client {
                id: machine.id.clone(),
                secret: Some(new_secret)
            })
            .await,
            401
        );
        assert_eq!(count_clients(&app), 1);
    }
);
