//! JWT fixtures: read a token's parts without verifying, and forge tokens signed with a
//! test server's own key (expired, untyped, ...) to drive the refusal paths.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value};
use tessera::clock::{Clock, SystemClock};

use crate::helpers::TestApp;

fn part(token: &str, index: usize) -> Map<String, Value> {
    let segment = token.split('.').nth(index).expect("JWT segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).expect("base64url")).expect("JSON")
}

pub fn header(token: &str) -> Map<String, Value> {
    part(token, 0)
}

pub fn claims(token: &str) -> Map<String, Value> {
    part(token, 1)
}

/// The claim names of a token, sorted.
pub fn claim_names(token: &str) -> Vec<String> {
    let mut names: Vec<String> = claims(token).keys().cloned().collect();
    names.sort();
    names
}

/// The private key `kid` names (PKCS#8 DER), opened from the database with the server's
/// key-encryption key.
pub fn key_pkcs8(app: &TestApp, kid: &str) -> Vec<u8> {
    let kek = match app.env.get("TESSERA_KEY_ENCRYPTION_KEY") {
        Some(text) => tessera::kek::Kek::parse(text).expect("test KEK"),
        None => tessera::kek::Kek::read_file(&app.keys_dir)
            .expect("KEK file")
            .expect("a KEK file in the keys folder"),
    };
    let mut conn = app.store.conn().expect("connection");
    let row = tessera::store::signing_keys::all(&mut conn)
        .expect("signing keys")
        .into_iter()
        .find(|r| r.kid == kid)
        .expect("the key's row");
    kek.open(
        kid,
        &tessera::kek::Sealed {
            nonce: row.nonce,
            ciphertext: row.private_key,
        },
    )
    .expect("the sealed key opens")
    .to_vec()
}

/// The PEM of the test server's active signing key, opened from the database with the
/// server's key-encryption key.
pub fn active_key_pem(app: &TestApp) -> Vec<u8> {
    use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
    let kid = app.keys.current().active_kid().to_owned();
    let der = key_pkcs8(app, &kid);
    rsa::RsaPrivateKey::from_pkcs8_der(&der)
        .expect("PKCS#8")
        .to_pkcs8_pem(LineEnding::LF)
        .expect("PEM")
        .as_bytes()
        .to_vec()
}

/// Sign `claims` RS256 with the server's active key and `kid`.
pub fn sign(app: &TestApp, claims: &Map<String, Value>) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(app.keys.current().active_kid().to_owned());
    let key = EncodingKey::from_rsa_pem(&active_key_pem(app)).expect("test key");
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

/// A copy of `token` with its claims edited, re-signed with the server's key.
pub fn edit(app: &TestApp, token: &str, f: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut c = claims(token);
    f(&mut c);
    sign(app, &c)
}

/// `token` with the header replaced by `{"alg":"none"}` and no signature.
pub fn alg_none(token: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = token.split('.').nth(1).expect("payload");
    format!("{header}.{payload}.")
}

/// `token`'s claims signed HS256 with the server's *public* key (PEM) as the secret: the
/// algorithm-confusion attack.
pub fn hs256_with_public_key(app: &TestApp, token: &str) -> String {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
    let pem = String::from_utf8(active_key_pem(app)).expect("pem text");
    let private = rsa::RsaPrivateKey::from_pkcs1_pem(&pem)
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs8_pem(&pem))
        .expect("private key");
    let public_pem = rsa::RsaPublicKey::from(&private)
        .to_public_key_pem(LineEnding::LF)
        .expect("public pem");
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(app.keys.current().active_kid().to_owned());
    jsonwebtoken::encode(
        &header,
        &claims(token),
        &EncodingKey::from_secret(public_pem.as_bytes()),
    )
    .expect("sign HS256")
}

pub fn now() -> i64 {
    SystemClock.unix()
}

/// An attacker's RSA key (PKCS#8 PEM) and its kid: generated once per test process, never
/// published by any test server.
pub fn attacker_key() -> &'static (Vec<u8>, String) {
    static KEY: std::sync::OnceLock<(Vec<u8>, String)> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let info = tessera::signing::KeyDir::new(dir.path())
            .generate(SystemClock.now())
            .expect("attacker key");
        let pem = std::fs::read(info.path.expect("a folder key has a file")).expect("read key");
        (pem, info.kid)
    })
}

/// The attacker key's public half as a JWK (RFC 7517), `kid` included.
pub fn attacker_jwk() -> Value {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let (pem, kid) = attacker_key();
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(std::str::from_utf8(pem).expect("pem text"))
        .expect("attacker key");
    serde_json::json!({
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
    })
}

/// `claims` signed RS256 with the attacker's key under `header` (RFC 7515 §4.1 fields
/// such as `jwk`, `jku`, `x5u`, `x5c`, `kid`, given as JSON so any value can be tried).
pub fn sign_as_attacker(header: Value, claims: &Map<String, Value>) -> String {
    let mut h = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    for (k, v) in header.as_object().expect("header object") {
        h[k] = v.clone();
    }
    let header: Header = serde_json::from_value(h).expect("a JOSE header");
    let key = EncodingKey::from_rsa_pem(&attacker_key().0).expect("attacker key");
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

/// `claims` signed HS256 with `secret` under `header`.
pub fn sign_hs256(header: Value, claims: &Map<String, Value>, secret: &[u8]) -> String {
    let mut h = serde_json::json!({"alg": "HS256", "typ": "JWT"});
    for (k, v) in header.as_object().expect("header object") {
        h[k] = v.clone();
    }
    let header: Header = serde_json::from_value(h).expect("a JOSE header");
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("sign")
}
