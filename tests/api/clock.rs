//! The server reads time only from its clock: on a manual clock, tokens expire when the test
//! moves it, to the second, without sleeping.
use serde_json::{Value, json};

use crate::flow::{self, tokens_for};
use crate::helpers::TestApp;
use crate::introspection::introspect;
use crate::on_both_backends;
use crate::simplejwt::{hello, post_json};

async fn verify(app: &TestApp, token: &str) -> u16 {
    post_json(app, "/api/token/verify/", json!({ "token": token }))
        .await
        .0
}

on_both_backends!(
    tokens_expire_when_the_clock_moves,
    manual_clock,
    |app: TestApp| async move {
        let access_ttl = app.settings.access_token_ttl.as_secs() as i64;
        let refresh_ttl = app.settings.refresh_token_ttl.as_secs() as i64;
        assert!(access_ttl < refresh_ttl);
        flow::create_user(&app, "alice");
        let (access, refresh) = crate::simplejwt::obtain(&app, "alice").await;
        let bearer = format!("Bearer {access}");
        let client = flow::confidential(&app);
        let body = tokens_for(&app, &client, "alice", "openid offline_access").await;
        let oauth_refresh = body["refresh_token"].as_str().unwrap().to_owned();
        let oauth_access = body["access_token"].as_str().unwrap().to_owned();

        app.advance(access_ttl - 1);
        assert_eq!(hello(&app, Some(&bearer)).await.0, 200);

        assert_eq!(
            introspect(&app, &client, &oauth_access).await["active"],
            true
        );

        app.advance(1);
        assert_eq!(hello(&app, Some(&bearer)).await.0, 401);
        assert_eq!(
            introspect(&app, &client, &oauth_access).await,
            json!({ "active": false })
        );
        assert_eq!(verify(&app, &access).await, 401);
        assert_eq!(verify(&app, &refresh).await, 200);
        let info: Value = introspect(&app, &client, &oauth_refresh).await;
        assert_eq!(info["active"], true);

        app.advance(refresh_ttl - access_ttl);
        assert_eq!(verify(&app, &refresh).await, 401);
        assert_eq!(
            introspect(&app, &client, &oauth_refresh).await,
            json!({ "active": false })
        );
    }
);
