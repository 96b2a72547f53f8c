//! UserInfo: the three ways to present the token, and every kind of bad token.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use tessera::clock::{Clock, SystemClock};

use crate::flow::{self, tokens_for};
use crate::helpers::{Backend, TestApp, spawn, spawn_with};
use crate::on_both_backends;

async fn assert_invalid_token(res: reqwest::Response, why: &str) {
    assert_eq!(res.status(), 401, "{why}");
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Bearer "), "{why}: {challenge}");
    assert!(
        challenge.contains("error=\"invalid_token\""),
        "{why}: {challenge}"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token", "{why}");
}

on_both_backends!(
    userinfo_by_get_post_header_and_post_body,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let body = tokens_for(&app, &client, "alice", "openid email").await;
        let token = body["access_token"].as_str().unwrap();
        let by_get: Value = app
            .http
            .get(app.url("/oauth/userinfo"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let by_post_header: Value = app
            .http
            .post(app.url("/oauth/userinfo"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let by_post_body: Value = app
            .http
            .post(app.url("/oauth/userinfo"))
            .form(&[("access_token", token)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(by_get, by_post_header);
        assert_eq!(by_get, by_post_body);
        assert_eq!(by_get["email"], "alice@example.com");
        assert!(by_get["sub"].is_string());
        assert!(by_get.get("name").is_none(), "profile was not granted");

        let both = app
            .http
            .post(app.url("/oauth/userinfo"))
            .bearer_auth(token)
            .form(&[("access_token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(both.status(), 400);
        let none = app
            .http
            .get(app.url("/oauth/userinfo"))
            .send()
            .await
            .unwrap();
        assert_invalid_token(none, "no token").await;
    }
);

#[actix_web::test]
async fn forged_and_tampered_tokens_are_refused() {
    let app = spawn(Backend::Sqlite).await;
    flow::create_user(&app, "alice");
    let client = flow::confidential(&app);
    let body = tokens_for(&app, &client, "alice", "openid").await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    let parts: Vec<&str> = token.split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let kid = header["kid"].as_str().unwrap().to_owned();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["scope"] = "openid profile email".into();
    let forged_payload = URL_SAFE_NO_PAD.encode(claims.to_string());

    // The payload changed under the original signature.
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    // alg: none
    let none_header =
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "at+jwt", "kid": kid}).to_string());
    let alg_none = format!("{none_header}.{forged_payload}.");
    // HS256 keyed with the public key, the classic algorithm-confusion attack.
    let jwks: Value = app.get_json("/.well-known/jwks.json").await;
    let n = jwks["keys"][0]["n"].as_str().unwrap();
    let mut hs_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs_header.kid = Some(kid.clone());
    let hs256 = jsonwebtoken::encode(
        &hs_header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(n.as_bytes()),
    )
    .unwrap();
    let jwks_json = jwks.to_string();
    let hs256_jwks = jsonwebtoken::encode(
        &hs_header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(jwks_json.as_bytes()),
    )
    .unwrap();
    // Signed by a key Tessera never published, claiming Tessera's kid.
    let other = tempfile::tempdir().unwrap();
    let foreign_key = tessera::signing::KeyDir::new(other.path())
        .generate(SystemClock.now())
        .unwrap();
    let pem = std::fs::read(foreign_key.path.as_ref().unwrap()).unwrap();
    let mut rs_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    rs_header.kid = Some(kid);
    let foreign = jsonwebtoken::encode(
        &rs_header,
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap(),
    )
    .unwrap();

    for (bad, why) in [
        (tampered.as_str(), "tampered"),
        (alg_none.as_str(), "alg none"),
        (hs256.as_str(), "HS256 with n"),
        (hs256_jwks.as_str(), "HS256 with the JWKS"),
        (foreign.as_str(), "foreign key"),
        ("not-a-jwt", "garbage"),
    ] {
        let res = app
            .http
            .get(app.url("/oauth/userinfo"))
            .bearer_auth(bad)
            .send()
            .await
            .unwrap();
        assert_invalid_token(res, why).await;
    }
}

#[actix_web::test]
async fn expired_and_revoked_tokens_are_refused() {
    let app = spawn_with(Backend::Sqlite, &[("TESSERA_ACCESS_TOKEN_TTL", "1")]).await;
    flow::create_user(&app, "alice");
    let client = flow::confidential(&app);
    let body = tokens_for(&app, &client, "alice", "openid").await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    actix_web::rt::time::sleep(std::time::Duration::from_millis(2100)).await;
    let res = app
        .http
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_invalid_token(res, "expired").await;

    let app = spawn(Backend::Sqlite).await;
    flow::create_user(&app, "alice");
    let client = flow::confidential(&app);
    let body = tokens_for(&app, &client, "alice", "openid").await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    let res = app
        .http
        .post(app.url("/oauth/revoke"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[
            ("token", token.as_str()),
            ("token_type_hint", "access_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .http
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_invalid_token(res, "revoked").await;
}

on_both_backends!(
    the_claims_parameter_reaches_id_token_and_userinfo,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let browser = flow::Browser::new(&app);
        // Only `openid` is granted; the claims request asks for `email` in the ID token
        // and `name` (essential) from UserInfo by name.
        let claims = r#"{"id_token":{"email":null},"userinfo":{"name":{"essential":true}}}"#;
        let url = flow::auth_url(&client.id, &[("scope", "openid"), ("claims", claims)]);
        let page = browser.authorize(&url, "alice").await;
        let code = page.redirect_param("code").expect("a code");
        let res = flow::token(
            &app,
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", flow::REDIRECT),
            ],
        )
        .await;
        assert_eq!(res.status(), 200);
        let tokens: Value = res.json().await.unwrap();
        let id_token = crate::jwt::claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id_token["email"], "alice@example.com");
        assert!(id_token.get("name").is_none(), "{id_token:?}");

        let userinfo = |token: String| {
            let req = app.http.get(app.url("/oauth/userinfo")).bearer_auth(token);
            async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
        };
        let first = userinfo(tokens["access_token"].as_str().unwrap().to_owned()).await;
        assert_eq!(first["name"], "alice Example");
        assert!(first.get("email").is_none(), "{first}");

        // Access tokens from refreshing the same grant still carry the request.
        let refreshed: Value = flow::token(
            &app,
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await
        .json()
        .await
        .unwrap();
        let again = userinfo(refreshed["access_token"].as_str().unwrap().to_owned()).await;
        assert_eq!(again["name"], "alice Example");

        // Without a claims request, `openid` alone releases only `sub`.
        let plain = tokens_for(&app, &client, "alice", "openid").await;
        let bare = userinfo(plain["access_token"].as_str().unwrap().to_owned()).await;
        assert!(bare.get("name").is_none(), "{bare}");
        assert!(bare["sub"].is_string());
    }
);
