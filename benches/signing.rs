//! Signing throughput on one core: Tessera's key set (key parsed once) against
//! jsonwebtoken's stock aws-lc-rs provider (key parsed on every signature) for RS256, then
//! Tessera's key set for PS256, ES256 and EdDSA (keys in a scratch SQLite database, as a
//! server keeps them). Prints signatures per second; compare with
//! `openssl speed -seconds 5 rsa2048` on the same machine.
//!
//!     cargo bench --bench signing
use std::time::{Duration, Instant};

use jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;
use tessera::clock::{Clock, SystemClock};
use tessera::config::DatabaseUrl;
use tessera::signing::{KeyDir, KeySource, KeyStore, Keys, SigningAlg};
use tessera::store::Store;

fn rate(label: &str, run_for: Duration, mut f: impl FnMut()) {
    // Warm up, then count.
    for _ in 0..50 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < run_for {
        f();
        n += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{label:<58} {:>8.0} signatures/s  ({n} in {secs:.2} s)",
        n as f64 / secs
    );
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let info = KeyDir::new(dir.path())
        .generate(SystemClock.now())
        .expect("generate key");
    let keys = Keys::load(KeyDir::new(dir.path())).expect("load keys");
    let set = keys.current();
    let now = SystemClock.now().timestamp();
    let claims = json!({
        "iss": "https://id.example.com", "sub": "2f1c9a3e-2b47-4c8e-9d1a-3f5b6c7d8e9f",
        "aud": "https://id.example.com", "exp": now + 300, "iat": now,
        "jti": "9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a49", "client_id": "zDtFPGgM80BhBgjaS_wK4g",
        "scope": "openid profile email offline_access", "auth_time": now,
        "token_type": "access", "user_id": 42,
    });
    let seconds = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let run_for = Duration::from_secs(seconds);
    rate(
        "tessera KeySet::sign (aws-lc-rs, key parsed once)",
        run_for,
        || {
            std::hint::black_box(set.sign("at+jwt", &claims).expect("sign"));
        },
    );

    let pem = std::fs::read(info.path.as_ref().expect("key file")).expect("read key");
    let stock_key = EncodingKey::from_rsa_pem(&pem).expect("pem");
    let message = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0";
    rate(
        "jsonwebtoken stock aws-lc-rs provider (parses per call)",
        run_for,
        || {
            let signer =
                (DEFAULT_PROVIDER.signer_factory)(&Algorithm::RS256, &stock_key).expect("signer");
            std::hint::black_box(signer.try_sign(message).expect("sign"));
        },
    );

    // The other algorithms, from keys in a database as a server has them.
    let url = DatabaseUrl::parse(&format!("sqlite://{}/bench.db", dir.path().display()))
        .expect("database URL");
    let store = Store::connect(&url, 2).expect("database");
    store.migrate().expect("migrate");
    let (keystore, _) = KeyStore::open(
        store,
        Some(tessera::kek::Kek::generate()),
        &dir.path().join("db-keys"),
        Duration::ZERO,
        SystemClock.now(),
    )
    .expect("key store");
    let source = KeySource::Database(keystore);
    for alg in SigningAlg::ALL {
        source
            .generate(alg, SystemClock.now())
            .expect("generate key");
    }
    let keys = Keys::from_source(source, std::sync::Arc::new(SystemClock)).expect("load keys");
    let set = keys.current();
    for alg in SigningAlg::ALL {
        rate(
            &format!("tessera KeySet::sign_with {alg} (key parsed once)"),
            run_for,
            || {
                std::hint::black_box(set.sign_with(alg, "at+jwt", &claims).expect("sign"));
            },
        );
    }
}
