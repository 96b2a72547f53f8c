//! Introspection (RFC 7662) and revocation (RFC 7009).
use serde_json::Value;

use crate::flow::{self, token, tokens_for};
use crate::helpers::TestApp;
use crate::on_both_backends;

pub async fn introspect(app: &TestApp, client: &flow::Client, tok: &str) -> Value {
    let res = app
        .http
        .post(app.url("/oauth/introspect"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("token", tok)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn revoke(app: &TestApp, client: &flow::Client, tok: &str) {
    let res = app
        .http
        .post(app.url("/oauth/revoke"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("token", tok)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

on_both_backends!(introspection_and_revocation, |app: TestApp| async move {
    flow::create_user(&app, "alice");
    let client = flow::confidential(&app);
    let other = flow::confidential(&app);
    let body = tokens_for(&app, &client, "alice", "openid email offline_access").await;
    let access = body["access_token"].as_str().unwrap();
    let refresh = body["refresh_token"].as_str().unwrap();

    let info = introspect(&app, &client, access).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["client_id"], client.id.as_str());
    assert_eq!(info["scope"], "openid email offline_access");
    assert_eq!(info["username"], "alice");
    assert!(info["exp"].is_number() && info["sub"].is_string());
    let info = introspect(&app, &client, refresh).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["token_type"], "refresh_token");

    // Another client learns nothing about these tokens, and cannot revoke them.
    assert_eq!(
        introspect(&app, &other, access).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(introspect(&app, &other, refresh).await["active"], false);
    revoke(&app, &other, refresh).await;
    assert_eq!(introspect(&app, &client, refresh).await["active"], true);
    assert_eq!(introspect(&app, &client, "junk").await["active"], false);

    // Revoking the refresh token kills its family, and the access token issued with it.
    revoke(&app, &client, refresh).await;
    assert_eq!(introspect(&app, &client, refresh).await["active"], false);
    assert_eq!(introspect(&app, &client, access).await["active"], false);
    let res = token(
        &app,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(res.status(), 400);
    // Revoking again, or an unknown token, is still 200.
    revoke(&app, &client, refresh).await;
    revoke(&app, &client, "never-issued").await;

    // Without client authentication: 401 invalid_client.
    let res = app
        .http
        .post(app.url("/oauth/introspect"))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let wrong = flow::Client {
        id: client.id.clone(),
        secret: Some("wrong".into()),
    };
    let res = app
        .http
        .post(app.url("/oauth/revoke"))
        .basic_auth(&wrong.id, wrong.secret.as_deref())
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .http
        .post(app.url("/oauth/introspect"))
        .basic_auth(&client.id, client.secret.as_deref())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "token is required");
});
