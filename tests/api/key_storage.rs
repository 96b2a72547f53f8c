//! Signing keys in the database: the key-encryption key (KEK) rules at start, a damaged row,
//! the one-time import of PEM files, and several instances sharing one database's keys.
//! Refusals first.
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::{Value, json};
use tessera::store::schema::signing_keys;
use tessera::store::signing_keys::{SigningKeyRow, all};

use crate::helpers::{CliOutput, TestApp, run_cli, spawn_beside};
use crate::on_both_backends;

const KEK_A: &str = "0000000000000000000000000000000000000000000000000000000000000001";
const KEK_B: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAI=";

fn rows(app: &TestApp) -> Vec<SigningKeyRow> {
    let mut conn = app.store.conn().unwrap();
    let mut rows = all(&mut conn).unwrap();
    rows.sort_by_key(|r| r.created_at_ms);
    rows
}

fn with(env: &HashMap<String, String>, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env = env.clone();
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    env
}

/// `tessera serve` expected to refuse: its output, or a failed test (and the process
/// stopped) if it is still running after 30 s.
fn serve_refused(env: &HashMap<String, String>, cwd: &Path) -> CliOutput {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("serve")
        .env_clear()
        .envs(env)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tessera");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait tessera").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tessera serve started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    CliOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn assert_one_line_error(out: &CliOutput, needle: &str) {
    assert_ne!(out.code, 0, "accepted: {}", out.stdout);
    let err = out.stderr.trim();
    // Only the last line is ours: the log lines before it go to stderr too.
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{err}");
    assert!(last.contains(needle), "{needle:?} not in {err}");
}

#[test]
fn a_malformed_kek_is_refused_in_one_line_and_never_echoed() {
    for bad in [
        "secret",
        &KEK_A[..62],
        "zz00000000000000000000000000000000000000000000000000000000000001",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
    ] {
        for args in [
            &["serve"][..],
            &["keys", "list"][..],
            &["keys", "rotate"][..],
        ] {
            let dir = tempfile::tempdir().unwrap();
            let db = crate::helpers::TestDb::create(crate::helpers::Backend::Sqlite, dir.path());
            let env = with(
                &crate::helpers::test_env(&db, &dir.path().join("keys")),
                &[("TESSERA_KEY_ENCRYPTION_KEY", bad)],
            );
            let out = run_cli(&env, args, None, dir.path());
            assert_ne!(out.code, 0, "{bad} accepted by {args:?}");
            let err = out.stderr.trim();
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(
                err.starts_with("error: invalid TESSERA_KEY_ENCRYPTION_KEY: expected 32 bytes"),
                "{err}"
            );
            assert!(!err.contains(bad), "the value is echoed: {err}");
            assert!(!dir.path().join("tessera.db").exists(), "{args:?} wrote");
            assert!(!dir.path().join("keys").exists(), "{args:?} wrote");
        }
    }
}

on_both_backends!(
    a_wrong_kek_stops_start_and_no_key_is_generated,
    |app: TestApp| async move {
        let before = rows(&app);
        assert_eq!(before.len(), 1);
        // The generated KEK is in the keys folder; another one given in the environment
        // is not the one the database's key is sealed with.
        let wrong = with(&app.env, &[("TESSERA_KEY_ENCRYPTION_KEY", KEK_B)]);
        let out = serve_refused(&wrong, app.dir.path());
        assert_one_line_error(
            &out,
            "is not the one the database's signing keys are sealed with",
        );
        assert!(!out.stderr.contains(KEK_B), "{}", out.stderr);
        for args in [&["keys", "list"][..], &["keys", "rotate"][..]] {
            let out = run_cli(&wrong, args, None, app.dir.path());
            assert_one_line_error(&out, "is not the one");
        }
        // A different KEK file is refused the same way.
        std::fs::write(app.keys_dir.join("kek"), format!("{KEK_A}\n")).unwrap();
        let out = serve_refused(&app.env, app.dir.path());
        assert_one_line_error(&out, "is not the one");
        let after = rows(&app);
        assert_eq!(
            after.iter().map(|r| &r.kid).collect::<Vec<_>>(),
            before.iter().map(|r| &r.kid).collect::<Vec<_>>(),
            "no key was added"
        );
    }
);

on_both_backends!(
    a_missing_kek_with_keys_in_the_database_stops_start,
    |app: TestApp| async move {
        std::fs::remove_file(app.keys_dir.join("kek")).unwrap();
        let out = serve_refused(&app.env, app.dir.path());
        assert_one_line_error(&out, "no key-encryption key was given");
        let out = app.cli(&["keys", "rotate"], None);
        assert_one_line_error(&out, "no key-encryption key was given");
        assert!(
            !app.keys_dir.join("kek").exists(),
            "a KEK is generated only for a database without keys"
        );
        assert_eq!(rows(&app).len(), 1, "no key was added");
    }
);

/// The KEK from the environment: the first start seals under it and writes no KEK file;
/// hex and base64 of the same bytes are the same KEK.
#[actix_web::test]
async fn a_kek_from_the_environment_seals_the_keys_and_no_file_is_written() {
    let app = crate::helpers::spawn_with(
        crate::helpers::Backend::Sqlite,
        &[("TESSERA_KEY_ENCRYPTION_KEY", KEK_A)],
    )
    .await;
    assert!(!app.keys_dir.join("kek").exists());
    let base64_of_a = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE=";
    let out = run_cli(
        &with(&app.env, &[("TESSERA_KEY_ENCRYPTION_KEY", base64_of_a)]),
        &["keys", "rotate"],
        None,
        app.dir.path(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = run_cli(
        &with(&app.env, &[("TESSERA_KEY_ENCRYPTION_KEY", "")]),
        &["keys", "list"],
        None,
        app.dir.path(),
    );
    assert_one_line_error(&out, "no key-encryption key was given");
}

/// Poll `/readyz` until it answers `wanted` (at most five seconds); the last status.
async fn readiness_becomes(app: &TestApp, wanted: u16) -> u16 {
    let mut status = 0;
    for _ in 0..250 {
        status = app
            .http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status == wanted {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    status
}

fn set_sealed(app: &TestApp, kid: &str, private_key: &str, nonce: &str) {
    let mut conn = app.store.conn().unwrap();
    diesel::update(signing_keys::table.find(kid))
        .set((
            signing_keys::private_key.eq(private_key),
            signing_keys::nonce.eq(nonce),
        ))
        .execute(&mut **conn)
        .unwrap();
}

fn listed(app: &TestApp) -> (CliOutput, Vec<Value>) {
    let out = app.cli(&["keys", "list", "--json"], None);
    let rows: Value = serde_json::from_str(&out.stdout).expect("keys list --json");
    (out, rows.as_array().unwrap().clone())
}

on_both_backends!(
    a_tampered_key_in_the_database_is_broken_not_a_crash,
    |app: TestApp| async move {
        let out = app.cli(&["keys", "rotate"], None);
        assert_eq!(out.code, 0, "{}", out.stderr);
        jwks_becomes(&app, Duration::from_secs(5), |j| kids(j).len() == 2).await;
        let keys = rows(&app);
        let (old, new) = (&keys[0], &keys[1]);
        // A sealed key moved to another row does not open: the kid is bound in.
        set_sealed(&app, &old.kid, &new.private_key, &new.nonce);
        assert_eq!(readiness_becomes(&app, 503).await, 503);
        let (out, list) = listed(&app);
        assert_ne!(out.code, 0, "a broken key is an error");
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
        let row = list.iter().find(|k| k["kid"] == old.kid.as_str()).unwrap();
        assert_eq!(row["state"], "broken");
        assert!(
            row["problem"].as_str().unwrap().contains("does not open"),
            "{row}"
        );
        let out = app.cli(&["keys", "rotate"], None);
        assert_one_line_error(&out, "before rotating");
        // Still serving with the last good set.
        let jwks: Value = app.get_json("/.well-known/jwks.json").await;
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);

        // Mended: ready again.
        set_sealed(&app, &old.kid, &old.private_key, &old.nonce);
        assert_eq!(readiness_becomes(&app, 200).await, 200);

        // One flipped bit of the ciphertext: broken too, and a leaked or damaged key can
        // still be retired at once.
        let mut flipped = old.private_key.clone().into_bytes();
        flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
        set_sealed(
            &app,
            &old.kid,
            &String::from_utf8(flipped).unwrap(),
            &old.nonce,
        );
        assert_eq!(readiness_becomes(&app, 503).await, 503);
        let out = app.cli(&["keys", "retire", &old.kid, "--force"], None);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(readiness_becomes(&app, 200).await, 200);
        let (out, _) = listed(&app);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
);

on_both_backends!(pem_files_are_imported_once, |app: TestApp| async move {
    // The seed key the test harness put in the folder is now in the database, sealed.
    let imported = rows(&app);
    assert_eq!(imported.len(), 1);
    let kid = imported[0].kid.clone();
    assert_eq!(app.keys.current().active_kid(), kid);
    assert_eq!(imported[0].state, "published");
    assert!(!imported[0].private_key.contains("PRIVATE KEY"));
    let pem = std::fs::read_dir(&app.keys_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.ends_with(".pem"))
        .expect("the PEM file is left in place");
    assert!(pem.ends_with(&format!("_{kid}.pem")));
    let kek = app.keys_dir.join("kek");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&kek).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Another start (the CLI opens the keys the same way) imports nothing again.
    let out = app.cli(&["keys", "list"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(rows(&app).len(), 1);

    // Retired in the database, the key stays retired although its file is still there.
    let out = app.cli(&["keys", "rotate"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = app.cli(&["keys", "retire", &kid, "--force"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = app.cli(&["keys", "list", "--json"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let list: Value = serde_json::from_str(&out.stdout).unwrap();
    let old = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap();
    assert_eq!(old["state"], "retired");
    assert_eq!(rows(&app).len(), 2);
});

/// A key file in `retired/` is imported as retired: never published again.
#[actix_web::test]
async fn a_retired_key_file_is_imported_as_retired() {
    let app = crate::helpers::spawn(crate::helpers::Backend::Sqlite).await;
    let other = tempfile::tempdir().unwrap();
    let file = tessera::signing::KeyDir::new(other.path())
        .generate(tessera::clock::Clock::now(&tessera::clock::SystemClock))
        .unwrap();
    let path = file.path.unwrap();
    let retired = app.keys_dir.join("retired");
    std::fs::create_dir_all(&retired).unwrap();
    std::fs::copy(&path, retired.join(path.file_name().unwrap())).unwrap();
    let out = app.cli(&["keys", "list", "--json"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let list: Value = serde_json::from_str(&out.stdout).unwrap();
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == file.kid.as_str())
        .expect("imported");
    assert_eq!(row["state"], "retired");
    let jwks: Value = app.get_json("/.well-known/jwks.json").await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
}

fn kids(jwks: &Value) -> Vec<String> {
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    kids.sort();
    kids
}

/// Poll `app`'s JWKS until `ok`, for at most `within`; how long it took.
async fn jwks_becomes(app: &TestApp, within: Duration, ok: impl Fn(&Value) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        let jwks: Value = app.get_json("/.well-known/jwks.json").await;
        if ok(&jwks) {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "JWKS still {jwks}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two instances on one database, each with its own keys folder, given the same KEK: one
/// JWKS, tokens of one accepted by the other, and a rotation or retirement through one
/// instance's CLI seen by the other within 5 s on the default reload interval.
async fn two_instances_share_the_keys(first: TestApp) {
    // The first instance generated the KEK; the second is given it as an operator would.
    let kek = std::fs::read_to_string(first.keys_dir.join("kek")).unwrap();
    let second = spawn_beside(
        &first,
        &[
            ("TESSERA_KEY_ENCRYPTION_KEY", kek.trim()),
            // The default poll interval: what production gets.
            ("TESSERA_KEYS_RELOAD_INTERVAL", ""),
        ],
    )
    .await;
    assert_eq!(second.settings.keys_reload_interval, Duration::from_secs(2));
    assert!(
        !second.keys_dir.join("kek").exists(),
        "no KEK generated beside a database that holds keys"
    );
    let one: Value = first.get_json("/.well-known/jwks.json").await;
    let two: Value = second.get_json("/.well-known/jwks.json").await;
    assert_eq!(one, two);

    crate::flow::create_user(&first, "alice");
    let res = first
        .http
        .post(first.url("/api/token/"))
        .json(&json!({ "username": "alice", "password": crate::flow::PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let pair: Value = res.json().await.unwrap();
    let access = pair["access"].as_str().unwrap();
    let hello = second
        .http
        .get(second.url("/hello/"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        hello.status(),
        200,
        "a token of the first verifies at the second"
    );

    let before = kids(&two);
    // Off the test's runtime, which also runs both servers: their polls keep their pace
    // while the CLI runs, so the time measured is the poll's.
    let (env, cwd) = (first.env.clone(), first.dir.path().to_owned());
    let out =
        actix_web::rt::task::spawn_blocking(move || run_cli(&env, &["keys", "rotate"], None, &cwd))
            .await
            .unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let took = jwks_becomes(&second, Duration::from_secs(5), |j| kids(j).len() == 2).await;
    eprintln!("rotation seen by the other instance after {took:?}");
    let out = first.cli(&["keys", "retire", &before[0], "--force"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    jwks_becomes(&second, Duration::from_secs(5), |j| {
        kids(j).len() == 1 && kids(j) != before
    })
    .await;
    let one: Value = first.get_json("/.well-known/jwks.json").await;
    let two: Value = second.get_json("/.well-known/jwks.json").await;
    assert_eq!(one, two);
}

on_both_backends!(two_instances_publish_one_jwks, two_instances_share_the_keys);
