//! RFC 8725 §2.1 and §3.1 (algorithm verification) with several algorithms: a key verifies
//! only the algorithm it is published for, so a token cannot choose how it is checked. A
//! header naming another algorithm than its key's, `none`, HS256 keyed with a public key,
//! EdDSA over an EC key, a P-256 key presented as EdDSA, another curve: all refused, by
//! Tessera's own endpoints and by a resource server on `tessera::resource`.
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair,
    KeyPair, RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use tessera::resource::{Expectations, JwksCache, TokenProblem, Verifier};
use tessera::signing::SigningAlg;

use crate::algorithms::{add_key, client_credentials_token, client_signing_with};
use crate::helpers::TestApp;
use crate::jwt;
use crate::on_both_backends;
use crate::resource_verifier::stub_jwks;
use crate::security_rfc8725::accepted;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A JWS with this header and these claims, the signing input signed by `sign`.
fn jws(header: Value, claims: &Map<String, Value>, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(Value::Object(claims.clone()).to_string().as_bytes())
    );
    let signature = sign(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

fn hs256(secret: &[u8]) -> impl FnOnce(&[u8]) -> Vec<u8> {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    move |msg| aws_lc_rs::hmac::sign(&key, msg).as_ref().to_vec()
}

fn es256(pkcs8: &[u8]) -> impl FnOnce(&[u8]) -> Vec<u8> {
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8).unwrap();
    move |msg| {
        pair.sign(&SystemRandom::new(), msg)
            .unwrap()
            .as_ref()
            .to_vec()
    }
}

fn eddsa(pkcs8: &[u8]) -> impl FnOnce(&[u8]) -> Vec<u8> {
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8).unwrap();
    move |msg| pair.sign(msg).as_ref().to_vec()
}

fn rsa(pkcs8: &[u8], pss: bool) -> impl FnOnce(&[u8]) -> Vec<u8> {
    let pair = RsaKeyPair::from_pkcs8(pkcs8).unwrap();
    move |msg| {
        let mut sig = vec![0; pair.public_modulus_len()];
        let padding = if pss {
            &RSA_PSS_SHA256
        } else {
            &RSA_PKCS1_SHA256
        };
        pair.sign(padding, &SystemRandom::new(), msg, &mut sig)
            .unwrap();
        sig
    }
}

fn header(alg: &str, kid: &str) -> Value {
    json!({ "alg": alg, "kid": kid, "typ": "at+jwt" })
}

/// Userinfo, `/hello/`, SimpleJWT's verify and a resource server over the JWKS: which accept?
async fn everywhere(app: &TestApp, verifier: &Verifier, token: &str) -> [bool; 4] {
    let [userinfo, hello, verify] = accepted(app, token).await;
    [
        userinfo,
        hello,
        verify,
        verifier.verify(token).await.is_ok(),
    ]
}

on_both_backends!(
    rfc8725_3_1_a_token_cannot_choose_its_keys_algorithm,
    |app: TestApp| async move {
        crate::flow::create_user(&app, "alice");
        let es_kid = add_key(&app, SigningAlg::Es256);
        let ed_kid = add_key(&app, SigningAlg::EdDsa);
        let rs_kid = app.keys.current().active_kid().to_owned();
        let verifier = Verifier::new(
            JwksCache::new(&app.url("/.well-known/jwks.json")).unwrap(),
            Expectations::access(&app.settings.issuer),
        );
        // The genuine article is accepted everywhere: the refusals below are the forgery's.
        let user_client = crate::flow::register_signed(
            &app,
            tessera::domain::ClientKind::Confidential,
            &[tessera::domain::GrantType::AuthorizationCode],
            &[],
            tessera::clients::TokenAlgs {
                id_token: SigningAlg::Es256,
                access_token: SigningAlg::Es256,
            },
        );
        let body = crate::flow::tokens_for(&app, &user_client, "alice", "openid").await;
        let genuine = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(jwt::header(&genuine)["kid"], es_kid.as_str());
        assert_eq!(everywhere(&app, &verifier, &genuine).await, [true; 4]);
        let claims = jwt::claims(&genuine);
        let es_der = jwt::key_pkcs8(&app, &es_kid);
        let ed_der = jwt::key_pkcs8(&app, &ed_kid);
        let rs_der = jwt::key_pkcs8(&app, &rs_kid);
        // Re-signed honestly with the right algorithm, a forged token would pass: the
        // forgeries differ from it only in what the test says.
        let control = jws(header("ES256", &es_kid), &claims, es256(&es_der));
        assert_eq!(everywhere(&app, &verifier, &control).await, [true; 4]);

        let es_point = {
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &es_der).unwrap();
            pair.public_key().as_ref().to_vec()
        };
        let ed_public = Ed25519KeyPair::from_pkcs8(&ed_der)
            .unwrap()
            .public_key()
            .as_ref()
            .to_vec();
        let jwks: Value = app.get_json("/.well-known/jwks.json").await;
        let es_jwk = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == es_kid.as_str())
            .unwrap()
            .to_string();
        let es_pem = {
            let mut conn = app.store.conn().unwrap();
            tessera::store::signing_keys::all(&mut conn)
                .unwrap()
                .into_iter()
                .find(|r| r.kid == es_kid)
                .unwrap()
                .public_key
        };
        let es_signature = genuine.rsplit('.').next().unwrap().to_owned();
        let relabelled = |alg: &str, kid: &str| {
            let parts: Vec<&str> = genuine.split('.').collect();
            format!(
                "{}.{}.{}",
                b64(header(alg, kid).to_string().as_bytes()),
                parts[1],
                es_signature
            )
        };

        let forgeries: Vec<(&str, String)> = vec![
            // A true RSASSA-PSS signature by the RS256 key: the key is for RS256 only.
            (
                "PS256 over the RS256 key",
                jws(header("PS256", &rs_kid), &claims, rsa(&rs_der, true)),
            ),
            (
                "ES256 signature relabelled RS256",
                relabelled("RS256", &es_kid),
            ),
            (
                "ES256 signature relabelled PS256",
                relabelled("PS256", &es_kid),
            ),
            ("EdDSA header over the EC key", relabelled("EdDSA", &es_kid)),
            (
                "EdDSA header over the EC key, Ed25519 signature",
                jws(header("EdDSA", &es_kid), &claims, eddsa(&ed_der)),
            ),
            (
                "ES256 header naming the Ed25519 key",
                jws(header("ES256", &ed_kid), &claims, es256(&es_der)),
            ),
            (
                "RS256 header naming the EC key, RSA signature",
                jws(header("RS256", &es_kid), &claims, rsa(&rs_der, false)),
            ),
            ("ES384 header over the EC key", relabelled("ES384", &es_kid)),
            (
                "none with the EC key's kid",
                format!(
                    "{}.{}.",
                    b64(header("none", &es_kid).to_string().as_bytes()),
                    genuine.split('.').nth(1).unwrap()
                ),
            ),
            (
                "none with the Ed25519 key's kid",
                format!(
                    "{}.{}.",
                    b64(header("none", &ed_kid).to_string().as_bytes()),
                    genuine.split('.').nth(1).unwrap()
                ),
            ),
            (
                "HS256 keyed with the EC key's SPKI PEM",
                jws(header("HS256", &es_kid), &claims, hs256(es_pem.as_bytes())),
            ),
            (
                "HS256 keyed with the EC point",
                jws(header("HS256", &es_kid), &claims, hs256(&es_point)),
            ),
            (
                "HS256 keyed with the EC JWK",
                jws(header("HS256", &es_kid), &claims, hs256(es_jwk.as_bytes())),
            ),
            (
                "HS256 keyed with the Ed25519 key",
                jws(header("HS256", &ed_kid), &claims, hs256(&ed_public)),
            ),
            (
                "crit over a genuine ES256 signature",
                jws(
                    json!({"alg": "ES256", "kid": es_kid, "crit": ["exp"], "exp": 1}),
                    &claims,
                    es256(&es_der),
                ),
            ),
        ];
        for (what, token) in forgeries {
            assert_eq!(
                everywhere(&app, &verifier, &token).await,
                [false; 4],
                "{what}"
            );
        }
        // The ID token signed ES256 is an ES256 token too: offered back as a hint it is
        // taken; relabelled, it is not.
        let id_token = body["id_token"].as_str().unwrap();
        assert_eq!(jwt::header(id_token)["alg"], "ES256");
    }
);

/// An issuer's JWKS as a resource server reads it: each key verifies the algorithm it is
/// for, and keys that do not fit (P-256 labelled EdDSA, another curve) are not used at all.
#[actix_web::test]
async fn a_jwks_key_verifies_only_its_own_algorithm_and_curve() {
    let issuer = "https://id.example";
    let now = jwt::now();
    let claims: Map<String, Value> = serde_json::from_value(json!({
        "iss": issuer, "aud": issuer, "sub": "u1", "exp": now + 300, "iat": now,
        "jti": "j1", "token_type": "access",
    }))
    .unwrap();
    let rng = SystemRandom::new();
    let p256 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let p256_point = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, p256.as_ref())
        .unwrap()
        .public_key()
        .as_ref()
        .to_vec();
    let p384 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &rng).unwrap();
    let p384_pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, p384.as_ref()).unwrap();
    let p384_point = p384_pair.public_key().as_ref().to_vec();
    let ed = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let ed_public = Ed25519KeyPair::from_pkcs8(ed.as_ref())
        .unwrap()
        .public_key()
        .as_ref()
        .to_vec();
    let ec_jwk = |kid: &str, crv: &str, alg: &str, point: &[u8]| {
        let half = (point.len() - 1) / 2;
        json!({"kty": "EC", "crv": crv, "alg": alg, "use": "sig", "kid": kid,
               "x": b64(&point[1..1 + half]), "y": b64(&point[1 + half..])})
    };
    let stub = stub_jwks("public, max-age=3600");
    *stub.body.lock().unwrap() = json!({ "keys": [
        ec_jwk("p256", "P-256", "ES256", &p256_point),
        ec_jwk("p256-as-eddsa", "P-256", "EdDSA", &p256_point),
        {"kty": "OKP", "crv": "P-256", "use": "sig", "kid": "p256-as-okp", "x": b64(&p256_point)},
        ec_jwk("p384-as-es256", "P-384", "ES256", &p384_point),
        ec_jwk("p384-claiming-p256", "P-256", "ES256", &p384_point),
        {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": "ed", "x": b64(&ed_public)},
        {"kty": "OKP", "crv": "Ed25519", "alg": "ES256", "use": "sig", "kid": "ed-as-es256", "x": b64(&ed_public)},
        {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "enc", "kid": "ed-for-encryption", "x": b64(&ed_public)},
        {"kty": "oct", "alg": "HS256", "kid": "shared", "k": b64(b"a shared secret")},
        // A key this verifier does not understand does not hide the others.
        {"kty": "EC", "crv": "secp256k1", "kid": "k1", "x": "AA", "y": "AA"},
    ]})
    .to_string();
    let verifier = Verifier::new(
        JwksCache::new(&stub.url).unwrap(),
        Expectations::access(issuer),
    );
    let p384_sign = |msg: &[u8]| {
        p384_pair
            .sign(&SystemRandom::new(), msg)
            .unwrap()
            .as_ref()
            .to_vec()
    };

    // Genuine tokens for the keys that are what they say are accepted.
    for (what, token) in [
        (
            "ES256 by the P-256 key",
            jws(header("ES256", "p256"), &claims, es256(p256.as_ref())),
        ),
        (
            "EdDSA by the Ed25519 key",
            jws(header("EdDSA", "ed"), &claims, eddsa(ed.as_ref())),
        ),
    ] {
        assert!(verifier.verify(&token).await.is_ok(), "{what}");
    }
    let refused: Vec<(&str, String)> = vec![
        (
            "a P-256 key presented as EdDSA, EdDSA header",
            jws(
                header("EdDSA", "p256-as-eddsa"),
                &claims,
                es256(p256.as_ref()),
            ),
        ),
        (
            "a P-256 key presented as EdDSA, ES256 header",
            jws(
                header("ES256", "p256-as-eddsa"),
                &claims,
                es256(p256.as_ref()),
            ),
        ),
        (
            "a P-256 point as an OKP key",
            jws(
                header("EdDSA", "p256-as-okp"),
                &claims,
                es256(p256.as_ref()),
            ),
        ),
        (
            "EdDSA header over the P-256 key",
            jws(header("EdDSA", "p256"), &claims, es256(p256.as_ref())),
        ),
        (
            "a P-384 key labelled ES256, ES256 header",
            jws(header("ES256", "p384-as-es256"), &claims, p384_sign),
        ),
        (
            "a P-384 key labelled ES256, ES384 header",
            jws(header("ES384", "p384-as-es256"), &claims, p384_sign),
        ),
        (
            "a P-384 point claiming P-256",
            jws(header("ES256", "p384-claiming-p256"), &claims, p384_sign),
        ),
        (
            "an Ed25519 key labelled ES256",
            jws(header("ES256", "ed-as-es256"), &claims, eddsa(ed.as_ref())),
        ),
        (
            "an Ed25519 key labelled ES256, EdDSA header",
            jws(header("EdDSA", "ed-as-es256"), &claims, eddsa(ed.as_ref())),
        ),
        (
            "an encryption key",
            jws(
                header("EdDSA", "ed-for-encryption"),
                &claims,
                eddsa(ed.as_ref()),
            ),
        ),
        (
            "a symmetric key from the JWKS",
            jws(
                header("HS256", "shared"),
                &claims,
                hs256(b"a shared secret"),
            ),
        ),
        (
            "HS256 keyed with the Ed25519 key",
            jws(header("HS256", "ed"), &claims, hs256(&ed_public)),
        ),
        (
            "HS256 keyed with the P-256 point",
            jws(header("HS256", "p256"), &claims, hs256(&p256_point)),
        ),
        (
            "none over the P-256 key",
            format!(
                "{}.{}.",
                b64(header("none", "p256").to_string().as_bytes()),
                b64(Value::Object(claims.clone()).to_string().as_bytes())
            ),
        ),
        (
            "ES256 header naming the Ed25519 key",
            jws(header("ES256", "ed"), &claims, es256(p256.as_ref())),
        ),
    ];
    for (what, token) in refused {
        assert_eq!(
            verifier.verify(&token).await,
            Err(TokenProblem::Invalid),
            "{what}"
        );
    }
}

/// An RSA key named PS256 verifies PS256 only, and one named RS256 (or nothing, as older
/// JWKS have it) RS256 only: the same key material under two names is two keys.
#[actix_web::test]
async fn an_rsa_key_verifies_only_the_rsa_algorithm_it_is_named_for() {
    let issuer = "https://id.example";
    let now = jwt::now();
    let claims: Map<String, Value> = serde_json::from_value(json!({
        "iss": issuer, "aud": issuer, "sub": "u1", "exp": now + 300, "iat": now,
        "jti": "j1", "token_type": "access",
    }))
    .unwrap();
    let (pem, _) = jwt::attacker_key();
    let der = {
        use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
        rsa::RsaPrivateKey::from_pkcs8_pem(std::str::from_utf8(pem).unwrap())
            .unwrap()
            .to_pkcs8_der()
            .unwrap()
            .as_bytes()
            .to_vec()
    };
    let base = jwt::attacker_jwk();
    let named = |kid: &str, alg: Option<&str>| {
        let mut k = base.clone();
        k["kid"] = json!(kid);
        match alg {
            Some(a) => k["alg"] = json!(a),
            None => {
                k.as_object_mut().unwrap().remove("alg");
            }
        }
        k
    };
    let stub = stub_jwks("public, max-age=3600");
    *stub.body.lock().unwrap() = json!({ "keys": [
        named("rs", Some("RS256")), named("ps", Some("PS256")), named("plain", None),
    ]})
    .to_string();
    let verifier = Verifier::new(
        JwksCache::new(&stub.url).unwrap(),
        Expectations::access(issuer),
    );
    let cases = [
        ("RS256", "rs", false, true),
        ("PS256", "ps", true, true),
        ("RS256", "plain", false, true),
        ("PS256", "rs", true, false),
        ("RS256", "ps", false, false),
        ("PS256", "plain", true, false),
        // PKCS#1 v1.5 bytes under a PS256 header, and the reverse.
        ("PS256", "ps", false, false),
        ("RS256", "rs", true, false),
    ];
    for (alg, kid, pss, ok) in cases {
        let token = jws(header(alg, kid), &claims, rsa(&der, pss));
        assert_eq!(
            verifier.verify(&token).await.is_ok(),
            ok,
            "{alg} with {kid} (pss {pss})"
        );
    }
}

#[actix_web::test]
async fn a_client_set_to_es256_gets_no_rs256_token() {
    let app = crate::helpers::spawn(crate::helpers::Backend::Sqlite).await;
    add_key(&app, SigningAlg::Es256);
    let client = client_signing_with(
        &app,
        SigningAlg::Es256,
        &[tessera::domain::GrantType::ClientCredentials],
    );
    for _ in 0..3 {
        let token = client_credentials_token(&app, &client).await;
        assert_eq!(jwt::header(&token)["alg"], "ES256");
    }
}
