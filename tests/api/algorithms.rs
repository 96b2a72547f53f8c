//! Signing algorithms beside RS256 (PS256, ES256, EdDSA): keys published like RSA keys,
//! clients set to an algorithm (refused while no key of it signs), ID tokens accepted by a
//! real relying party (the `openidconnect` crate), and access tokens verified by a
//! resource server on `tessera::resource` over the JWKS alone.
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use serde_json::{Value, json};
use tessera::clients::TokenAlgs;
use tessera::domain::{ClientKind, GrantType};
use tessera::resource::{Expectations, JwksCache, Verifier};
use tessera::signing::SigningAlg;

use crate::flow::{self, Browser, REDIRECT};
use crate::helpers::{Backend, TestApp, spawn};
use crate::jwt;
use crate::on_both_backends;

/// Publish a key of `alg` on the app's database and reload the server's key set, as the
/// console's rotate does; returns its kid.
pub fn add_key(app: &TestApp, alg: SigningAlg) -> String {
    let info = app
        .keys
        .source()
        .generate(alg, app.clock.now())
        .expect("generate key");
    app.keys.reload_if_changed().expect("reload");
    info.kid
}

/// A client whose ID and access tokens are signed with `alg`.
pub fn client_signing_with(app: &TestApp, alg: SigningAlg, grants: &[GrantType]) -> flow::Client {
    flow::register_signed(
        app,
        ClientKind::Confidential,
        grants,
        &[],
        TokenAlgs {
            id_token: alg,
            access_token: alg,
        },
    )
}

pub async fn client_credentials_token(app: &TestApp, client: &flow::Client) -> String {
    let res = flow::token(app, client, &[("grant_type", "client_credentials")]).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

fn jwks_keys(doc: &Value) -> Vec<Value> {
    doc["keys"].as_array().unwrap().clone()
}

on_both_backends!(
    every_algorithm_is_published_like_the_rsa_key,
    |app: TestApp| async move {
        // A fresh start publishes its RS256 key and nothing else.
        let fresh: Value = app.get_json("/.well-known/jwks.json").await;
        let keys = jwks_keys(&fresh);
        assert_eq!(keys.len(), 1, "{fresh}");
        assert_eq!(
            (keys[0]["kty"].as_str(), keys[0]["alg"].as_str()),
            (Some("RSA"), Some("RS256"))
        );

        let kids: Vec<(SigningAlg, String)> =
            [SigningAlg::Ps256, SigningAlg::Es256, SigningAlg::EdDsa]
                .into_iter()
                .map(|alg| (alg, add_key(&app, alg)))
                .collect();
        let doc: Value = app.get_json("/.well-known/jwks.json").await;
        let keys = jwks_keys(&doc);
        assert_eq!(keys.len(), 4, "{doc}");
        for (alg, kid) in &kids {
            let key = keys
                .iter()
                .find(|k| k["kid"] == kid.as_str())
                .expect("published");
            let (kty, crv) = match alg {
                SigningAlg::Ps256 | SigningAlg::Rs256 => ("RSA", None),
                SigningAlg::Es256 => ("EC", Some("P-256")),
                SigningAlg::EdDsa => ("OKP", Some("Ed25519")),
            };
            assert_eq!(key["kty"], kty, "{key}");
            assert_eq!(key["crv"].as_str(), crv, "{key}");
            assert_eq!(key["alg"], alg.as_str(), "{key}");
            assert_eq!(key["use"], "sig", "{key}");
            // Public members only: no d, p, q, dp, dq, qi, k.
            for private in ["d", "p", "q", "dp", "dq", "qi", "k", "oth"] {
                assert!(key.get(private).is_none(), "{private} published: {key}");
            }
        }
        // The kid is the RFC 7638 thumbprint, as for RSA keys.
        let ec = keys.iter().find(|k| k["kty"] == "EC").unwrap();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            ec["x"].as_str().unwrap(),
            ec["y"].as_str().unwrap()
        );
        use base64::Engine;
        use sha2::Digest;
        let thumbprint = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(canonical.as_bytes()));
        assert_eq!(ec["kid"], thumbprint);

        // The CLI lists each key with its algorithm; every one of them signs.
        let out = app.cli(&["keys", "list", "--json"], None);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let list: Value = serde_json::from_str(&out.stdout).unwrap();
        for alg in SigningAlg::ALL {
            let of_alg: Vec<&Value> = list
                .as_array()
                .unwrap()
                .iter()
                .filter(|k| k["alg"] == alg.as_str())
                .collect();
            assert_eq!(of_alg.len(), 1, "{alg}: {list}");
            assert_eq!(of_alg[0]["state"], "active", "{alg}: {list}");
        }
        // SimpleJWT tokens and default clients stay RS256.
        assert_eq!(app.keys.current().algorithms(), SigningAlg::ALL.to_vec());
        let client = flow::register(
            &app,
            ClientKind::Confidential,
            &[GrantType::ClientCredentials],
            &[],
        );
        let token = client_credentials_token(&app, &client).await;
        assert_eq!(jwt::header(&token)["alg"], "RS256");
    }
);

#[actix_web::test]
async fn keys_rotate_takes_an_algorithm_and_refuses_others() {
    let app = spawn(Backend::Sqlite).await;
    for bad in ["HS256", "none", "es256", "ES384", ""] {
        let out = app.cli(&["keys", "rotate", "--alg", bad], None);
        assert_ne!(out.code, 0, "{bad} accepted");
        assert!(
            out.stderr.contains("signing algorithm") || out.stderr.contains("RS256"),
            "{bad}: {}",
            out.stderr
        );
    }
    let out = app.cli(&["keys", "rotate", "--alg", "EdDSA"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("EdDSA key"), "{}", out.stdout);
    let kid = out.stdout.split_whitespace().last().unwrap().to_owned();
    // The only key of its algorithm cannot be retired, like the only RS256 key.
    let out = app.cli(&["keys", "retire", &kid, "--force"], None);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("only published key for EdDSA"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("tessera keys rotate --alg EdDSA"),
        "{}",
        out.stderr
    );
    // A second one lets the first go; the server picks the change up by itself.
    let out = app.cli(&["keys", "rotate", "--alg", "EdDSA"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = app.cli(&["keys", "retire", &kid, "--force"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut published = Vec::new();
    for _ in 0..100 {
        let doc: Value = app.get_json("/.well-known/jwks.json").await;
        published = jwks_keys(&doc);
        if published.len() == 2 && published.iter().all(|k| k["kid"] != kid.as_str()) {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let algs: Vec<&str> = published
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert_eq!(algs.len(), 2, "{published:?}");
    assert!(
        algs.contains(&"RS256") && algs.contains(&"EdDSA"),
        "{algs:?}"
    );
}

#[actix_web::test]
async fn a_client_cannot_be_set_to_an_algorithm_no_key_signs_with() {
    let app = spawn(Backend::Sqlite).await;
    let create = |alg_flag: &str, alg: &str| {
        app.cli(
            &[
                "client",
                "create",
                "--name",
                "Bank",
                "--grant-type",
                "client_credentials",
                alg_flag,
                alg,
                "--json",
            ],
            None,
        )
    };
    let count = || {
        let out = app.cli(&["client", "list", "--json"], None);
        serde_json::from_str::<Value>(&out.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len()
    };
    let before = count();
    for flag in ["--id-token-alg", "--access-token-alg"] {
        let out = create(flag, "ES256");
        assert_ne!(out.code, 0);
        assert!(
            out.stderr.contains("no ES256 signing key")
                && out.stderr.contains("tessera keys rotate --alg ES256"),
            "{}",
            out.stderr
        );
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
        for bad in ["HS256", "none", "RS512"] {
            let out = create(flag, bad);
            assert_ne!(out.code, 0, "{bad}");
            assert!(
                out.stderr.contains("not a supported signing algorithm"),
                "{}",
                out.stderr
            );
        }
    }
    assert_eq!(count(), before, "nothing written");

    let out = app.cli(&["keys", "rotate", "--alg", "ES256"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = create("--access-token-alg", "ES256");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let created: Value = serde_json::from_str(&out.stdout).unwrap();
    let client = flow::Client {
        id: created["client_id"].as_str().unwrap().to_owned(),
        secret: created["client_secret"].as_str().map(str::to_owned),
    };
    // The server reloads the new key on its own (poll), then signs the client's tokens ES256.
    let mut alg = Value::Null;
    for _ in 0..100 {
        let res = flow::token(&app, &client, &[("grant_type", "client_credentials")]).await;
        if res.status() == 200 {
            let body: Value = res.json().await.unwrap();
            alg = jwt::header(body["access_token"].as_str().unwrap())["alg"].clone();
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(alg, "ES256");
}

#[actix_web::test]
async fn a_first_key_of_an_algorithm_waits_out_the_activation_delay() {
    let app =
        crate::helpers::spawn_with(Backend::Sqlite, &[("TESSERA_KEY_ACTIVATION_DELAY", "3600")])
            .await;
    let out = app.cli(&["keys", "rotate", "--alg", "ES256"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("published; it signs from"),
        "{}",
        out.stdout
    );
    // Published (resource servers fetch it), but nothing may be signed with it yet.
    let out = app.cli(
        &[
            "client",
            "create",
            "--name",
            "Bank",
            "--grant-type",
            "client_credentials",
            "--id-token-alg",
            "ES256",
        ],
        None,
    );
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("cannot be signed with ES256 yet"),
        "{}",
        out.stderr
    );
    let mut published = false;
    for _ in 0..100 {
        let doc: Value = app.get_json("/.well-known/jwks.json").await;
        if jwks_keys(&doc).iter().any(|k| k["alg"] == "ES256") {
            published = true;
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(published, "the waiting key is in the JWKS");
    assert!(!app.keys.current().signs(SigningAlg::Es256));
}

/// The authorization-code flow through the `openidconnect` crate for a client set to `alg`:
/// the library accepts the ID token (signature against the JWKS, at_hash with `alg`'s
/// hash), and Tessera's own endpoints (userinfo, refresh) take the access token.
async fn relying_party_accepts(app: &TestApp, alg: SigningAlg, expected: CoreJwsSigningAlgorithm) {
    add_key(app, alg);
    flow::create_user(app, "alice");
    let client = client_signing_with(
        app,
        alg,
        &[GrantType::AuthorizationCode, GrantType::RefreshToken],
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let issuer = IssuerUrl::new(app.settings.issuer.clone()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .unwrap();
    assert!(
        metadata
            .id_token_signing_alg_values_supported()
            .contains(&expected),
        "discovery lists {alg}"
    );
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.id.clone()),
        client.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _state, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let page = Browser::new(app).authorize(url.as_str(), "alice").await;
    assert_eq!(page.status, 302, "{}", page.body);
    let code = page.redirect_param("code").unwrap();
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    assert_eq!(id_token.signing_alg().unwrap(), &expected);
    // Only the registered algorithm is allowed, as a relying party registered with it does.
    let id_verifier = rp
        .id_token_verifier()
        .set_allowed_algs(vec![expected.clone()]);
    let claims = id_token
        .claims(&id_verifier, &nonce)
        .expect("ID token verifies");
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("alice@example.com")
    );
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));
    // An RS256-only relying party refuses it: the algorithm really is `alg`.
    let rs256_only = rp
        .id_token_verifier()
        .set_allowed_algs(vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]);
    assert!(id_token.claims(&rs256_only, &nonce).is_err());

    // The access token is signed with `alg` too, and Tessera's own endpoints take it.
    assert_eq!(
        jwt::header(tokens.access_token().secret())["alg"],
        alg.as_str()
    );
    let userinfo: CoreUserInfoClaims = rp
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(
        userinfo.email().map(|e| e.as_str()),
        Some("alice@example.com")
    );
    let refreshed = rp
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert!(
        refreshed
            .id_token()
            .unwrap()
            .claims(&id_verifier, |_: Option<&Nonce>| Ok(()))
            .is_ok()
    );
}

on_both_backends!(
    relying_party_accepts_an_es256_id_token,
    |app: TestApp| async move {
        relying_party_accepts(
            &app,
            SigningAlg::Es256,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        )
        .await;
    }
);

#[actix_web::test]
async fn relying_party_accepts_an_eddsa_id_token() {
    let app = spawn(Backend::Sqlite).await;
    relying_party_accepts(&app, SigningAlg::EdDsa, CoreJwsSigningAlgorithm::EdDsa).await;
}

#[actix_web::test]
async fn relying_party_accepts_a_ps256_id_token() {
    let app = spawn(Backend::Sqlite).await;
    relying_party_accepts(
        &app,
        SigningAlg::Ps256,
        CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    )
    .await;
}

on_both_backends!(
    a_resource_server_verifies_es256_and_eddsa_access_tokens,
    |app: TestApp| async move {
        let jwks = JwksCache::new(&app.url("/.well-known/jwks.json")).unwrap();
        let verifier = Verifier::new(jwks, Expectations::access(&app.settings.issuer));
        // All keys first: the verifier refetches the JWKS for an unknown kid at most every
        // 10 s, and each algorithm's first token names a new one.
        let algs = [SigningAlg::Es256, SigningAlg::EdDsa, SigningAlg::Ps256];
        let kids: Vec<String> = algs.iter().map(|&alg| add_key(&app, alg)).collect();
        for (alg, kid) in algs.into_iter().zip(kids) {
            let client = client_signing_with(&app, alg, &[GrantType::ClientCredentials]);
            let token = client_credentials_token(&app, &client).await;
            let header = jwt::header(&token);
            assert_eq!(
                (header["alg"].as_str(), header["kid"].as_str()),
                (Some(alg.as_str()), Some(kid.as_str()))
            );
            assert_eq!(header["typ"], "at+jwt");
            let claims = verifier
                .verify(&token)
                .await
                .expect("verified over the JWKS");
            assert_eq!(claims.str("client_id"), Some(client.id.as_str()));
            // Tessera's own endpoints go through the same verifier (`/hello/` wants a
            // user's token: `security_algorithms` takes it there).
            let introspected: Value = app
                .http
                .post(app.url("/oauth/introspect"))
                .basic_auth(&client.id, client.secret.as_deref())
                .form(&[("token", token.as_str())])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(introspected["active"], json!(true), "{alg}: {introspected}");
            // A signature byte flipped is refused, whatever the algorithm.
            let mut forged = token.clone().into_bytes();
            let at = forged.len() - 6;
            forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
            let forged = String::from_utf8(forged).unwrap();
            assert!(verifier.verify(&forged).await.is_err(), "{alg}");
        }
    }
);
