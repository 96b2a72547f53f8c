//! Threats of RFC 8725 (JSON Web Token Best Current Practices) that Tessera defends, one
//! test per section, named after it: every endpoint that takes a token refuses these.
use serde_json::{Value, json};

use crate::flow::{self, tokens_for};
use crate::helpers::TestApp;
use crate::jwt;
use crate::on_both_backends;

/// userinfo, `/hello/` and SimpleJWT's verify accept `token`?
async fn accepted(app: &TestApp, token: &str) -> [bool; 3] {
    let userinfo = app
        .http
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status();
    let hello = app
        .http
        .get(app.url("/hello/"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status();
    let verify = app
        .http
        .post(app.url("/api/token/verify/"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap()
        .status();
    [userinfo == 200, hello == 200, verify == 200]
}

async fn access_token(app: &TestApp) -> (String, Value) {
    flow::create_user(app, "alice");
    let client = flow::confidential(app);
    let body = tokens_for(app, &client, "alice", "openid profile").await;
    (body["access_token"].as_str().unwrap().to_owned(), body)
}

on_both_backends!(
    rfc8725_2_1_and_3_1_alg_none_is_refused,
    |app: TestApp| async move {
        let (access, _) = access_token(&app).await;
        assert_eq!(accepted(&app, &access).await, [true; 3]);
        assert_eq!(accepted(&app, &jwt::alg_none(&access)).await, [false; 3]);
    }
);

on_both_backends!(
    rfc8725_2_2_and_3_1_hs256_keyed_with_the_public_key_is_refused,
    |app: TestApp| async move {
        let (access, _) = access_token(&app).await;
        let forged = jwt::hs256_with_public_key(&app, &access);
        assert_eq!(accepted(&app, &forged).await, [false; 3]);
    }
);

on_both_backends!(
    rfc8725_3_9_another_audience_is_refused,
    |app: TestApp| async move {
        let (access, _) = access_token(&app).await;
        let forged = jwt::edit(&app, &access, |c| {
            c.insert("aud".into(), json!("https://other-api.example"));
        });
        assert_eq!(accepted(&app, &forged).await, [false; 3]);
    }
);

on_both_backends!(
    rfc8725_3_10_another_issuer_is_refused,
    |app: TestApp| async move {
        let (access, _) = access_token(&app).await;
        let forged = jwt::edit(&app, &access, |c| {
            c.insert("iss".into(), json!("https://evil.example"));
        });
        assert_eq!(accepted(&app, &forged).await, [false; 3]);
    }
);

on_both_backends!(
    rfc8725_3_11_an_id_token_is_not_an_access_token,
    |app: TestApp| async move {
        let (_, body) = access_token(&app).await;
        let id_token = body["id_token"].as_str().unwrap();
        let [userinfo, hello, _] = accepted(&app, id_token).await;
        assert!(!userinfo, "userinfo took an ID token as a bearer token");
        assert!(!hello, "/hello/ took an ID token as a bearer token");
    }
);
