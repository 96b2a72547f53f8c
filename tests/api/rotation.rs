//! A full key rotation under continuous load, seen by a separate resource server that
//! trusts Tessera through its JWKS alone (`tessera::resource` over HTTP): rotate, the new
//! key activates, the old one is retired once its tokens expired, and no valid token is
//! ever refused.
use std::time::{Duration, Instant};

use tessera::domain::{ClientKind, GrantType};
use tessera::resource::{Expectations, JwksCache, Verifier};
use tessera::signing::{KeyState, SigningAlg};

use crate::flow;
use crate::helpers::{Backend, spawn_with};

#[actix_web::test]
async fn rotate_activate_retire_under_load_refuses_no_valid_token() {
    // Seconds instead of minutes: the JWKS may be cached for 1 s, a new key signs 2 s after
    // it is published, tokens live 2 s.
    let app = spawn_with(
        Backend::Sqlite,
        &[
            ("TESSERA_JWKS_MAX_AGE", "1"),
            ("TESSERA_KEY_ACTIVATION_DELAY", "2"),
            ("TESSERA_ACCESS_TOKEN_TTL", "2"),
            ("TESSERA_REFRESH_TOKEN_TTL", "2"),
        ],
    )
    .await;
    let machine = flow::register(
        &app,
        ClientKind::Confidential,
        &[GrantType::ClientCredentials],
        &[],
    );
    // The verifier honours the JWKS max-age (its refetch floor is lowered to match; it is
    // 10 s by default).
    let jwks = JwksCache::new(&app.url("/.well-known/jwks.json"))
        .unwrap()
        .min_refetch_interval(Duration::from_secs(1));
    let verifier = Verifier::new(jwks, Expectations::access(&app.settings.issuer));
    let old_kid = app.keys.current().active_kid().to_owned();

    let started = Instant::now();
    let (mut verified, mut refused) = (0, Vec::new());
    let mut kids_seen = std::collections::BTreeSet::new();
    let (mut rotated, mut retired) = (false, false);
    while started.elapsed() < Duration::from_secs(12) && !(retired && kids_seen.len() == 2) {
        let res = flow::token(&app, &machine, &[("grant_type", "client_credentials")]).await;
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        let token = body["access_token"].as_str().unwrap().to_owned();
        let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
        match verifier.verify(&token).await {
            Ok(_) => verified += 1,
            Err(problem) => refused.push((started.elapsed(), kid.clone(), problem)),
        }
        kids_seen.insert(kid);
        if !rotated && started.elapsed() > Duration::from_millis(500) {
            let out = app.cli(&["keys", "rotate"], None);
            assert_eq!(out.code, 0, "{}", out.stderr);
            rotated = true;
        }
        // Once the new key signs and the old one's tokens have expired, retire it: the
        // guard agrees then, and not before.
        if rotated && !retired && app.keys.current().active_kid() != old_kid {
            let out = app.cli(&["keys", "retire", &old_kid], None);
            if out.code == 0 {
                retired = true;
            } else {
                assert!(out.stderr.contains("may be valid until"), "{}", out.stderr);
            }
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(rotated && retired, "the cycle completed within the time");
    assert_eq!(kids_seen.len(), 2, "tokens from both keys were verified");
    assert!(verified > 50, "{verified} tokens verified");
    assert!(refused.is_empty(), "refused valid tokens: {refused:?}");
}

/// The same cycle for an ES256 client's tokens: its algorithm's keys rotate on their own,
/// beside the RS256 key, and the resource server refuses none of its tokens.
#[actix_web::test]
async fn an_es256_rotation_under_load_refuses_no_valid_token() {
    let app = spawn_with(
        Backend::Sqlite,
        &[
            ("TESSERA_JWKS_MAX_AGE", "1"),
            ("TESSERA_KEY_ACTIVATION_DELAY", "2"),
            ("TESSERA_ACCESS_TOKEN_TTL", "2"),
            ("TESSERA_REFRESH_TOKEN_TTL", "2"),
        ],
    )
    .await;
    // A first ES256 key waits out the delay too, then the client may be set to it.
    let out = app.cli(&["keys", "rotate", "--alg", "ES256"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut waited = 0;
    while !app.keys.current().signs(SigningAlg::Es256) {
        assert!(waited < 100, "the first ES256 key never started signing");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    let machine = crate::algorithms::client_signing_with(
        &app,
        SigningAlg::Es256,
        &[GrantType::ClientCredentials],
    );
    let jwks = JwksCache::new(&app.url("/.well-known/jwks.json"))
        .unwrap()
        .min_refetch_interval(Duration::from_secs(1));
    let verifier = Verifier::new(jwks, Expectations::access(&app.settings.issuer));
    let es_kid = |app: &crate::helpers::TestApp| {
        app.keys
            .source()
            .list(app.clock.now())
            .unwrap()
            .into_iter()
            .find(|k| k.alg == SigningAlg::Es256 && k.state == KeyState::Active)
            .map(|k| k.kid)
            .unwrap()
    };
    let old_kid = es_kid(&app);
    let rs256_kid = app.keys.current().active_kid().to_owned();

    let started = Instant::now();
    let (mut verified, mut refused) = (0, Vec::new());
    let mut kids_seen = std::collections::BTreeSet::new();
    let (mut rotated, mut retired) = (false, false);
    while started.elapsed() < Duration::from_secs(12) && !(retired && kids_seen.len() == 2) {
        let token = crate::algorithms::client_credentials_token(&app, &machine).await;
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
        let kid = header.kid.unwrap();
        match verifier.verify(&token).await {
            Ok(_) => verified += 1,
            Err(problem) => refused.push((started.elapsed(), kid.clone(), problem)),
        }
        kids_seen.insert(kid);
        if !rotated && started.elapsed() > Duration::from_millis(500) {
            let out = app.cli(&["keys", "rotate", "--alg", "ES256"], None);
            assert_eq!(out.code, 0, "{}", out.stderr);
            rotated = true;
        }
        if rotated && !retired && es_kid(&app) != old_kid {
            let out = app.cli(&["keys", "retire", &old_kid], None);
            if out.code == 0 {
                retired = true;
            } else {
                assert!(out.stderr.contains("may be valid until"), "{}", out.stderr);
            }
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(rotated && retired, "the cycle completed within the time");
    assert_eq!(
        kids_seen.len(),
        2,
        "tokens from both ES256 keys were verified"
    );
    assert!(verified > 50, "{verified} tokens verified");
    assert!(refused.is_empty(), "refused valid tokens: {refused:?}");
    assert_eq!(
        app.keys.current().active_kid(),
        rs256_kid,
        "the RS256 key was not touched"
    );
}
