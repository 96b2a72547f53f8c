//! The JWKS: what it publishes, caching, rotation and retirement seen by a running server.
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both_backends;

async fn fetch_jwks(app: &TestApp) -> Value {
    app.get_json("/.well-known/jwks.json").await
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Poll the JWKS until `pred` holds (the server reloads the folder every 50 ms in tests).
async fn wait_for_jwks(app: &TestApp, pred: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let jwks = fetch_jwks(app).await;
        if pred(&jwks) {
            return jwks;
        }
        actix_web::rt::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "JWKS never reached the expected state: {}",
        fetch_jwks(app).await
    );
}

on_both_backends!(
    jwks_publishes_public_members_only,
    |app: TestApp| async move {
        let jwks = fetch_jwks(&app).await;
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        let key = keys[0].as_object().unwrap();
        let mut members: Vec<&str> = key.keys().map(String::as_str).collect();
        members.sort_unstable();
        assert_eq!(members, ["alg", "e", "kid", "kty", "n", "use"]);
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["alg"], "RS256");
        assert_eq!(key["use"], "sig");
        // 2048-bit modulus: 256 bytes, 342 base64url characters.
        assert_eq!(key["n"].as_str().unwrap().len(), 342);
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            assert!(
                !key.contains_key(private),
                "private member {private} published"
            );
        }
    }
);

#[actix_web::test]
async fn jwks_is_cacheable_with_an_etag() {
    let app = crate::helpers::spawn(crate::helpers::Backend::Sqlite).await;
    let res = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(
        res.headers()["cache-control"].to_str().unwrap(),
        "public, max-age=300"
    );
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let again = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let other = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .header("If-None-Match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
}

on_both_backends!(
    jwks_key_verifies_a_server_signed_token,
    |app: TestApp| async move {
        let now = app.clock.unix();
        let claims = json!({
            "iss": app.settings.issuer, "sub": "someone", "aud": "resource",
            "iat": now, "exp": now + 300,
        });
        let token = app.keys.current().sign("at+jwt", &claims).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        let jwks: JwkSet = app.get_json("/.well-known/jwks.json").await;
        let jwk = jwks
            .find(header.kid.as_deref().unwrap())
            .expect("kid published");
        let key = DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&["resource"]);
        validation.set_issuer(&[app.settings.issuer.as_str()]);
        let data = jsonwebtoken::decode::<Value>(&token, &key, &validation).unwrap();
        assert_eq!(data.claims["sub"], "someone");

        // A tampered payload no longer verifies.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = parts[1].chars().rev().collect();
        assert!(jsonwebtoken::decode::<Value>(&parts.join("."), &key, &validation).is_err());
    }
);

on_both_backends!(
    rotation_keeps_old_keys_until_retired,
    |app: TestApp| async move {
        let first = kids(&fetch_jwks(&app).await);
        assert_eq!(first.len(), 1);
        let old_kid = first[0].clone();
        let now = app.clock.unix();
        let claims = json!({"sub": "x", "iat": now, "exp": now + 300});
        let old_token = app.keys.current().sign("JWT", &claims).unwrap();

        let out = app.cli(&["keys", "rotate"], None);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let new_kid = out
            .stdout
            .trim()
            .strip_prefix("new active key ")
            .unwrap()
            .to_owned();

        // The running server picks the new key up without a restart; the old one stays.
        let jwks = wait_for_jwks(&app, |j| kids(j).len() == 2).await;
        assert_eq!(kids(&jwks), vec![new_kid.clone(), old_kid.clone()]);
        assert_eq!(app.keys.current().active_kid(), new_kid);
        let new_token = app.keys.current().sign("JWT", &claims).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&new_token)
                .unwrap()
                .kid
                .as_deref(),
            Some(new_kid.as_str())
        );
        // Tokens from before the rotation still verify.
        let validation = {
            let mut v = Validation::new(jsonwebtoken::Algorithm::RS256);
            v.validate_aud = false;
            v
        };
        assert!(
            app.keys
                .current()
                .verify::<Value>(&old_token, &validation)
                .is_ok()
        );

        let list = app.cli(&["keys", "list", "--json"], None);
        let listed: Value = serde_json::from_str(&list.stdout).unwrap();
        assert_eq!(listed[0]["kid"], new_kid.as_str());
        assert_eq!(listed[0]["state"], "active");
        assert_eq!(listed[1]["state"], "retiring");

        // Tokens the old key signed may still be valid (a day, the SimpleJWT refresh
        // lifetime): retiring it now is refused, unless forced (a leaked key).
        let out = app.cli(&["keys", "retire", &old_kid], None);
        assert_ne!(out.code, 0);
        assert!(out.stderr.contains("may be valid until"), "{}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
        let out = app.cli(&["keys", "retire", "--force", &old_kid], None);
        assert_eq!(out.code, 0, "{}", out.stderr);
        // Both changes are in the audit log, made by the command line.
        let audit = app
            .store
            .run(|conn| tessera::store::audit::page(conn, Some("key."), 0, 10))
            .await
            .unwrap();
        let seen: Vec<(&str, &str)> = audit
            .iter()
            .map(|r| (r.action.as_str(), r.target.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("key.retired", old_kid.as_str()),
                ("key.rotated", new_kid.as_str())
            ]
        );
        assert!(
            audit
                .iter()
                .all(|r| r.actor.as_deref().is_some_and(|a| a.starts_with("cli")))
        );
        let jwks = wait_for_jwks(&app, |j| kids(j).len() == 1).await;
        assert_eq!(kids(&jwks), vec![new_kid.clone()]);
        // A token signed by a retired key no longer verifies.
        assert!(
            app.keys
                .current()
                .verify::<Value>(&old_token, &validation)
                .is_err()
        );

        let listed: Value =
            serde_json::from_str(&app.cli(&["keys", "list", "--json"], None).stdout).unwrap();
        assert_eq!(listed[1]["kid"], old_kid.as_str());
        assert_eq!(listed[1]["state"], "retired");
    }
);

#[actix_web::test]
async fn the_last_key_cannot_be_retired_and_unknown_kids_are_refused() {
    let app = crate::helpers::spawn(crate::helpers::Backend::Sqlite).await;
    let kid = app.keys.current().active_kid().to_owned();
    let out = app.cli(&["keys", "retire", &kid], None);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("only published key"), "{}", out.stderr);
    assert_eq!(out.stderr.trim().lines().count(), 1);
    let out = app.cli(&["keys", "retire", "no-such-kid"], None);
    assert_ne!(out.code, 0);
    assert_eq!(out.stderr.trim(), "error: no key with kid 'no-such-kid'");
    assert_eq!(kids(&fetch_jwks(&app).await), vec![kid]);
}

// A damaged key (readiness 503, the last good set kept, `keys list` broken): see
// key_storage.rs, where keys live now.

#[actix_web::test]
async fn sighup_reloads_at_once() {
    // Polling effectively off: only the signal can trigger the reload.
    let app = crate::helpers::spawn_with(
        crate::helpers::Backend::Sqlite,
        &[("TESSERA_KEYS_RELOAD_INTERVAL", "3600")],
    )
    .await;
    let out = app.cli(&["keys", "rotate"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        kids(&fetch_jwks(&app).await).len(),
        1,
        "reloaded without a trigger"
    );
    // The test process is the server process: signal ourselves.
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    wait_for_jwks(&app, |j| kids(j).len() == 2).await;
}

#[actix_web::test]
async fn tokens_are_signed_with_the_parsed_key_cache() {
    let _app = crate::helpers::spawn(crate::helpers::Backend::Sqlite).await;
    // jsonwebtoken keeps the first provider anything asks for; Tessera's (which parses the
    // signing key once instead of per token) must be the one in use once a server runs.
    assert!(tessera::signing::install_crypto_provider());
}

/// Zero-downtime rotation: a new key is published at once and signs only after the
/// activation delay, so a resource server that cached the JWKS has it before it sees a
/// token it signed.
#[actix_web::test]
async fn a_rotated_key_is_published_first_and_signs_after_the_activation_delay() {
    use tessera::clock::{Clock, ManualClock, SystemClock};
    let clock = ManualClock::at(SystemClock.unix());
    let app = crate::helpers::spawn_with_clock(
        crate::helpers::Backend::Sqlite,
        &[("TESSERA_KEY_ACTIVATION_DELAY", "120")],
        clock,
    )
    .await;
    let old_kid = app.keys.current().active_kid().to_owned();

    let out = app.cli(&["keys", "rotate"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("published; it signs from"),
        "{}",
        out.stdout
    );
    let jwks = wait_for_jwks(&app, |j| kids(j).len() == 2).await;
    let new_kid = kids(&jwks)
        .into_iter()
        .find(|k| *k != old_kid)
        .expect("the new key is published at once");
    assert_eq!(app.keys.current().active_kid(), old_kid, "not signing yet");
    let out = app.cli(&["keys", "list", "--json"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let listed: Value = serde_json::from_str(&out.stdout).unwrap();
    let row_of = |kid: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .cloned()
            .unwrap()
    };
    assert_eq!(row_of(&new_kid)["state"], "published");
    assert_eq!(row_of(&old_kid)["state"], "active");
    let activates =
        chrono::DateTime::parse_from_rfc3339(row_of(&new_kid)["activates"].as_str().unwrap())
            .unwrap()
            .timestamp();
    let created =
        chrono::DateTime::parse_from_rfc3339(row_of(&new_kid)["created"].as_str().unwrap())
            .unwrap()
            .timestamp();
    assert!((119..=121).contains(&(activates - created)));

    // A second short of its activation: still the old key.
    app.advance(activates - 1 - app.clock.unix());
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.keys.current().active_kid(), old_kid);
    // Then the new one signs, without a restart; the old one stays published.
    app.advance(2);
    for _ in 0..100 {
        if app.keys.current().active_kid() == new_kid {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.keys.current().active_kid(), new_kid);
    let claims = json!({"sub": "x", "iat": app.clock.unix(), "exp": app.clock.unix() + 60});
    let token = app.keys.current().sign("JWT", &claims).unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(&token).unwrap().kid.as_deref(),
        Some(new_kid.as_str())
    );
    assert_eq!(kids(&fetch_jwks(&app).await).len(), 2);
}

/// TESSERA_KEY_ROTATION_INTERVAL publishes a new key on schedule, which then waits out the
/// activation delay like a rotation by hand.
#[actix_web::test]
async fn keys_rotate_on_schedule() {
    use tessera::clock::{Clock, ManualClock, SystemClock};
    let app = crate::helpers::spawn_with_clock(
        crate::helpers::Backend::Sqlite,
        &[
            ("TESSERA_KEY_ROTATION_INTERVAL", "86400"),
            ("TESSERA_KEY_ACTIVATION_DELAY", "60"),
        ],
        ManualClock::at(SystemClock.unix()),
    )
    .await;
    let old_kid = app.keys.current().active_kid().to_owned();
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(kids(&fetch_jwks(&app).await).len(), 1, "not due yet");
    app.advance(86_400 + 1);
    let jwks = wait_for_jwks(&app, |j| kids(j).len() == 2).await;
    assert!(kids(&jwks).contains(&old_kid));
    assert_eq!(
        app.keys.current().active_kid(),
        old_kid,
        "published, not signing yet"
    );
    app.advance(61);
    for _ in 0..100 {
        if app.keys.current().active_kid() != old_kid {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert_ne!(app.keys.current().active_kid(), old_kid);
    assert_eq!(
        kids(&fetch_jwks(&app).await).len(),
        2,
        "one rotation, not one per poll"
    );
}
