//! `tessera user import-django` and Django's password hashes: refusals first (bad rows, taken
//! ids, unusable and wrong passwords on each hasher), then a real Django app's users, made by
//! Django's own hashers, imported and signing in, and that app's own views (stock
//! `JWTAuthentication`, users looked up in its database) accepting Tessera's tokens.
use std::collections::HashMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::django::{self, DjangoDb};
use crate::flow::PASSWORD;
use crate::helpers::{Backend, run_cli, spawn, spawn_after, spawn_on_manual_clock};
use crate::simplejwt::post_json;

/// Hashes Django 5.2.19 made for PASSWORD (low costs, fixed salts).
const PBKDF2: &str = "pbkdf2_sha256$1000$seasalt1$0UvS6l9UWQG4zEMeKWDwJFnUyGmC4VWfwUskGdk54Es=";
const SCRYPT: &str = "scrypt$1024$seasalt1$8$2$bh6wiFnjb3h+TOwiuA17I4IpmrVka8wasQJ8RS8wGfHHQPR54Yl7aGRdqxuluYVATT9GeZq3NtS86CjPoRS1Cg==";

fn user(pk: i64, username: &str, password: &str) -> Value {
    json!({"model": "auth.user", "pk": pk, "fields": {
        "password": password, "last_login": null, "is_superuser": pk == 1,
        "username": username, "first_name": "", "last_name": "",
        "email": format!("{username}@example.com"), "is_staff": false, "is_active": true,
        "date_joined": "2024-05-01T10:00:00Z", "groups": [], "user_permissions": []
    }})
}

fn write_dump(dir: &Path, entries: &Value) -> String {
    let path = dir.join("users.json");
    std::fs::write(&path, entries.to_string()).unwrap();
    path.display().to_string()
}

fn import(env: &HashMap<String, String>, dir: &Path, args: &[&str]) -> crate::helpers::CliOutput {
    let mut all = vec!["user", "import-django"];
    all.extend_from_slice(args);
    run_cli(env, &all, None, dir)
}

async fn sign_in(app: &crate::helpers::TestApp, username: &str, password: &str) -> (u16, Value) {
    post_json(
        app,
        "/api/token/",
        json!({"username": username, "password": password}),
    )
    .await
}

fn stored_hash(app: &crate::helpers::TestApp, username: &str) -> String {
    let mut conn = app.store.conn().unwrap();
    tessera::store::users::by_username(&mut conn, username)
        .unwrap()
        .unwrap()
        .password_hash
}

macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[actix_web::test]
            async fn sqlite() {
                ($body)(Backend::Sqlite).await;
            }

            #[actix_web::test]
            #[cfg_attr(
                not(tessera_test_postgres),
                ignore = "TESSERA_TEST_POSTGRES_URL not set: PostgreSQL not tested"
            )]
            async fn postgres() {
                ($body)(Backend::Postgres).await;
            }
        }
    };
}

both!(
    bad_rows_are_reported_one_line_each_and_the_rest_import,
    |backend| async move {
        let app = spawn_after(backend, &[], &|env, dir| {
            let dump = write_dump(
                dir,
                &json!([
                    user(1, "ada", PBKDF2),
                    user(2, "md5user", "md5$salt$5f4dcc3b5aa765d61d8327deb882cf99"),
                    user(3, "broken", "pbkdf2_sha256$many$salt$hash"),
                    user(4, "bad name!", PBKDF2),
                    user(5, "grace", SCRYPT),
                    user(6, "ghost", "!unusableXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"),
                    {"model": "auth.user", "pk": 7},
                    "not an object",
                ]),
            );
            // A dry run checks everything and writes nothing, audit entry included.
            let mut env = env.clone();
            env.insert("USER".to_owned(), "ops".to_owned());
            let env = &env;
            let dry = import(env, dir, &["--dumpdata", &dump, "--dry-run"]);
            assert_eq!(dry.code, 1, "{}", dry.stderr);
            assert!(
                dry.stdout.contains(
                    "3 created, 0 updated, 5 failed; 1 without a usable password (dry run"
                ),
                "{}",
                dry.stdout
            );
            let run = import(env, dir, &["--dumpdata", &dump]);
            assert_eq!(run.code, 1);
            let errors: Vec<&str> = run.stderr.lines().collect();
            assert_eq!(errors.len(), 6, "{}", run.stderr);
            assert!(
                errors[0]
                    .starts_with("error: entry 2 (pk 2): password hasher 'md5' is not supported")
            );
            assert!(errors[1].starts_with("error: entry 3 (pk 3): malformed pbkdf2_sha256"));
            assert!(errors[2].starts_with("error: entry 4 (pk 4): username may contain only"));
            assert_eq!(errors[3], "error: entry 7 (pk 7): no \"fields\" object");
            assert_eq!(
                errors[4],
                "error: entry 8: not a dumpdata object (no \"model\")"
            );
            assert!(errors[5].starts_with("error: 5 row(s) not imported"));
            // Re-running updates, never duplicates.
            let again = import(env, dir, &["--dumpdata", &dump]);
            assert!(
                again.stdout.contains("0 created, 3 updated, 5 failed"),
                "{}",
                again.stdout
            );
            // Not a dumpdata file at all: one line, nothing done.
            let path = dir.join("bad.json");
            std::fs::write(&path, "{\"model\": \"auth.user\"}").unwrap();
            let bad = import(env, dir, &["--dumpdata", path.to_str().unwrap()]);
            assert_eq!(bad.code, 1);
            assert_eq!(bad.stderr.lines().count(), 1, "{}", bad.stderr);
            let missing = import(env, dir, &["--database-url", "sqlite://no/such/django.db"]);
            assert_eq!(missing.code, 1);
            assert_eq!(missing.stderr.lines().count(), 1, "{}", missing.stderr);
            assert!(!dir.join("no").exists());
        })
        .await;

        // Each real run is audited (the dry run is not), as the shell user, with its counts;
        // the refused runs (a bad file, a missing database) did not run.
        let mut conn = app.store.conn().unwrap();
        let runs = tessera::store::audit::page(&mut conn, Some("user.imported"), 0, 10).unwrap();
        let runs: Vec<_> = runs
            .iter()
            .map(|r| (r.actor.as_deref(), r.target.as_deref(), r.detail.as_deref()))
            .collect();
        let target = format!(
            "django dumpdata {}",
            app.dir.path().join("users.json").display()
        );
        assert_eq!(
            runs,
            [
                (
                    Some("cli:ops"),
                    Some(target.as_str()),
                    Some("0 created, 3 updated, 5 failed")
                ),
                (
                    Some("cli:ops"),
                    Some(target.as_str()),
                    Some("3 created, 0 updated, 5 failed")
                ),
            ]
        );
        drop(conn);

        // No bootstrap admin: the import filled the user table. The Django pk is the id.
        let mut conn = app.store.conn().unwrap();
        let ada = tessera::store::users::by_username(&mut conn, "ada")
            .unwrap()
            .unwrap();
        assert_eq!((ada.id, ada.is_admin), (1, true));
        assert_eq!(ada.imported_from.as_deref(), Some("django"));
        assert!(
            tessera::store::users::by_username(&mut conn, "admin")
                .unwrap()
                .is_none()
        );
        drop(conn);

        // Wrong passwords on each hasher, and the unusable one, are refused.
        for name in ["ada", "grace"] {
            let (status, _) = sign_in(&app, name, "correct horse batter").await;
            assert_eq!(status, 401);
            assert!(!stored_hash(&app, name).starts_with("$argon2id$"));
        }
        for password in [PASSWORD, "", "!"] {
            let (status, _) = sign_in(&app, "ghost", password).await;
            assert!(status == 401 || status == 400);
        }
        // The right one signs in, and the hash becomes Argon2id.
        for name in ["ada", "grace"] {
            let (status, body) = sign_in(&app, name, PASSWORD).await;
            assert_eq!(status, 200, "{body}");
            assert!(stored_hash(&app, name).starts_with("$argon2id$"));
            let (status, _) = sign_in(&app, name, PASSWORD).await;
            assert_eq!(status, 200);
        }
        // A new Tessera user gets an id past the imported ones (PostgreSQL's identity moved).
        let id = crate::flow::create_user(&app, "newcomer");
        assert!(id > 6, "{id}");

        // The import runs are in the console's audit log, under "User changes" (ada, a
        // Django superuser, is an admin).
        let console = crate::admin::Console::sign_in(&app, "ada").await;
        let page = console.browser.get("/admin/audit?action=user.").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("user.imported"), "{}", page.body);
        assert!(page.body.contains("3 created, 0 updated, 5 failed"));
        assert!(page.body.contains("cli:ops"));
    }
);

both!(
    an_import_never_takes_over_a_tessera_user,
    |backend| async move {
        // The running server created `admin` (id 1) itself.
        let app = spawn(backend).await;
        let dump = write_dump(
            app.dir.path(),
            &json!([
                user(1, "ada", PBKDF2),
                user(2, "admin", PBKDF2),
                user(3, "grace", PBKDF2)
            ]),
        );
        let out = app.cli(&["user", "import-django", "--dumpdata", &dump], None);
        assert_eq!(out.code, 1);
        assert!(
            out.stderr
                .contains("pk 1 ('ada'): id 1 belongs to Tessera user 'admin'"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains("pk 2 ('admin'): username 'admin' is taken by Tessera user 1"),
            "{}",
            out.stderr
        );
        assert!(
            out.stdout.contains("1 created, 0 updated, 2 failed"),
            "{}",
            out.stdout
        );
        let (status, _) = sign_in(&app, "admin", PASSWORD).await;
        assert_eq!(status, 401, "the admin's password is not the Django one");
    }
);

both!(
    an_imported_django_password_is_throttled_like_any_other,
    |backend| async move {
        let app = spawn_on_manual_clock(backend).await;
        let dump = write_dump(app.dir.path(), &json!([user(2, "dj", PBKDF2)]));
        let out = app.cli(&["user", "import-django", "--dumpdata", &dump], None);
        assert_eq!(out.code, 0, "{}", out.stderr);
        // Five free failures, the sixth locks (the clock stands still, so the lock holds).
        for _ in 0..6 {
            assert_eq!(sign_in(&app, "dj", "guess").await.0, 401);
        }
        let (status, body) = sign_in(&app, "dj", PASSWORD).await;
        assert_eq!(status, 429, "{body}");
        assert!(
            stored_hash(&app, "dj").starts_with("pbkdf2_sha256$"),
            "a throttled attempt checks nothing, so upgrades nothing"
        );
        app.advance(1);
        assert_eq!(sign_in(&app, "dj", PASSWORD).await.0, 200);
        assert!(stored_hash(&app, "dj").starts_with("$argon2id$"));
    }
);

/// Users made by Django itself: the default hasher and each other one Tessera verifies.
const DJANGO_USERS: [&str; 8] = [
    "alice:correct horse battery:superuser",
    "bob:correct horse battery:hasher=pbkdf2_sha1",
    "carol:correct horse battery:hasher=argon2",
    "dave:correct horse battery:hasher=bcrypt_sha256",
    "erin:correct horse battery:hasher=bcrypt",
    "frank:correct horse battery:hasher=scrypt",
    "gina:correct horse battery:unusable",
    "hank:correct horse battery:inactive",
];

/// Where Tessera reads the Django app's users from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    /// `--database-url` at the app's database, on this backend.
    Database(Backend),
    /// `--dumpdata` of `manage.py dumpdata auth.user`.
    Dumpdata,
}

async fn django_app_moves_to_tessera(backend: Backend, source: Source) {
    let python = django::python();
    let django_backend = match source {
        Source::Database(b) => b,
        Source::Dumpdata => Backend::Sqlite,
    };
    let db = DjangoDb::setup_on(
        django_backend,
        &python,
        &[
            ("DJANGO_SETTINGS_MODULE", "refsite.settings_users"),
            ("REF_MODE", "jwk"),
            ("REF_JWK_URL", "http://127.0.0.1:9/unused"),
            ("REF_ISSUER", "unused"),
            ("REF_AUDIENCE", "unused"),
        ],
        &DJANGO_USERS,
    );
    let dump = db.manage(&["dumpdata", "auth.user"]);
    let database_url = db.database_url();
    let app = spawn_after(backend, &[], &|env, dir| {
        let args = if source == Source::Dumpdata {
            let path = dir.join("dump.json");
            std::fs::write(&path, &dump).unwrap();
            vec!["--dumpdata".to_owned(), path.display().to_string()]
        } else {
            vec!["--database-url".to_owned(), database_url.clone()]
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = import(env, dir, &args);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(
            out.stdout.trim(),
            "imported from Django: 8 created, 0 updated, 0 failed; 1 without a usable password"
        );
    })
    .await;
    // What Django holds arrived: the pk as id, email, flags, date_joined (to the second).
    let entries: Vec<Value> = serde_json::from_str(&dump).unwrap();
    let mut conn = app.store.conn().unwrap();
    for entry in &entries {
        let fields = &entry["fields"];
        let name = fields["username"].as_str().unwrap();
        let row = tessera::store::users::by_username(&mut conn, name)
            .unwrap()
            .unwrap();
        let joined = chrono::DateTime::parse_from_rfc3339(fields["date_joined"].as_str().unwrap())
            .unwrap()
            .timestamp();
        assert_eq!(
            (
                json!(row.id),
                row.email.as_deref(),
                row.is_admin,
                row.is_active,
                row.created_at,
                row.last_login_at
            ),
            (
                entry["pk"].clone(),
                fields["email"].as_str(),
                fields["is_superuser"].as_bool().unwrap(),
                fields["is_active"].as_bool().unwrap(),
                joined,
                None
            ),
            "{name}"
        );
    }
    drop(conn);
    let resource = db.serve(&[
        ("REF_JWK_URL", &app.url("/.well-known/jwks.json")),
        ("REF_ISSUER", &app.settings.issuer),
        ("REF_AUDIENCE", app.settings.audience()),
    ]);
    let http = reqwest::Client::new();
    for (pk, spec) in DJANGO_USERS.iter().enumerate() {
        let name = spec.split(':').next().unwrap();
        let (status, body) = sign_in(&app, name, "correct horse batterx").await;
        assert_eq!(status, 401, "{name} with a wrong password: {body}");
        let (status, body) = sign_in(&app, name, PASSWORD).await;
        if matches!(name, "gina" | "hank") {
            assert_eq!(status, 401, "{name}: {body}");
            continue;
        }
        assert_eq!(status, 200, "{name}: {body}");
        assert!(stored_hash(&app, name).starts_with("$argon2id$"), "{name}");
        let access = body["access"].as_str().unwrap();
        let res = http
            .get(resource.url("/whoami/"))
            .header("Authorization", format!("Bearer {access}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{name}");
        let me: Value = res.json().await.unwrap();
        assert_eq!(me, json!({"id": pk + 1, "username": name}));
    }
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_django),
    ignore = "TESSERA_TEST_DJANGO_PYTHON not set: not compared with Django SimpleJWT"
)]
async fn a_django_apps_users_move_to_tessera_from_its_database() {
    django_app_moves_to_tessera(Backend::Sqlite, Source::Database(Backend::Sqlite)).await;
}

#[actix_web::test]
#[cfg_attr(
    not(all(tessera_test_django, tessera_test_postgres)),
    ignore = "TESSERA_TEST_DJANGO_PYTHON or TESSERA_TEST_POSTGRES_URL not set"
)]
async fn a_django_apps_users_move_to_tessera_from_its_postgres_database() {
    // Django migrated onto a fresh PostgreSQL database, its users made there by Django,
    // read by `--database-url postgres://...`, and its views served from that database.
    django_app_moves_to_tessera(Backend::Sqlite, Source::Database(Backend::Postgres)).await;
}

#[actix_web::test]
#[cfg_attr(
    not(all(tessera_test_django, tessera_test_postgres)),
    ignore = "TESSERA_TEST_DJANGO_PYTHON or TESSERA_TEST_POSTGRES_URL not set"
)]
async fn a_django_apps_users_move_to_tessera_postgres_from_dumpdata() {
    django_app_moves_to_tessera(Backend::Postgres, Source::Dumpdata).await;
}

both!(
    an_argon2_hash_with_earlier_settings_is_replaced_at_sign_in,
    |backend| async move {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let app = spawn(backend).await;
        let id = crate::flow::create_user(&app, "olga");
        assert!(stored_hash(&app, "olga").starts_with("$argon2id$v=19$m=9216,t=4,p=1$"));
        // A hash as the previous version made them: 12 MiB, 3 passes.
        let params = argon2::Params::new(12 * 1024, 3, 1, None).unwrap();
        let salt = SaltString::encode_b64(b"olga-salt-16byte").unwrap();
        let old = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password(PASSWORD.as_bytes(), &salt)
            .unwrap()
            .to_string();
        {
            let mut conn = app.store.conn().unwrap();
            tessera::store::users::set_password_hash(&mut conn, id, &old).unwrap();
        }
        // A wrong password changes nothing.
        assert_eq!(sign_in(&app, "olga", "wrong password").await.0, 401);
        assert_eq!(stored_hash(&app, "olga"), old);
        let (status, body) = sign_in(&app, "olga", PASSWORD).await;
        assert_eq!(status, 200, "{body}");
        let new = stored_hash(&app, "olga");
        assert!(new.starts_with("$argon2id$v=19$m=9216,t=4,p=1$"), "{new}");
        // The new hash signs in as the old one did, and is current: it stays.
        assert_eq!(sign_in(&app, "olga", PASSWORD).await.0, 200);
        assert_eq!(stored_hash(&app, "olga"), new);
    }
);
