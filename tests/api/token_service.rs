//! The token path's shared rules, seen from outside: a revoked access token stays refused
//! until its own expiry (however long its client's lifetime), and every endpoint that
//! accepts Tessera's access tokens gives the same verdict in the same second.
use serde_json::Value;

use crate::flow::{self, Browser, REDIRECT, auth_url, pkce, token};
use crate::helpers::TestApp;
use crate::on_both_backends;

/// An access-token lifetime far past the hour a revocation used to be remembered.
const DAY: i64 = 86_400;
/// The default `TESSERA_REFRESH_GRACE`: a repeat within it is not a reuse.
const REFRESH_GRACE: i64 = 5;

fn set_access_ttl(app: &TestApp, client_id: &str, ttl: i64) {
    use diesel::prelude::*;
    use tessera::store::schema::clients;
    let mut conn = app.store.conn().unwrap();
    diesel::update(clients::table.find(client_id))
        .set(clients::access_token_ttl.eq(Some(ttl)))
        .execute(&mut **conn)
        .unwrap();
}

/// What the server's pruner does every ten minutes, run now at the server's time.
fn prune(app: &TestApp) {
    let mut conn = app.store.conn().unwrap();
    tessera::store::maintenance::prune(&mut conn, app.clock.unix(), tessera::family::RETENTION)
        .unwrap();
}

async fn code_for(client: &flow::Client, browser: &Browser) -> (String, String) {
    let (verifier, challenge) = pkce();
    let url = auth_url(
        &client.id,
        &[
            ("scope", "openid profile email offline_access"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let page = browser.authorize(&url, "alice").await;
    (page.redirect_param("code").expect("code"), verifier)
}

async fn redeem(app: &TestApp, client: &flow::Client, code: &str, verifier: &str) -> Value {
    let res = token(
        app,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// The verdict of each endpoint that accepts access tokens: userinfo, introspection (as
/// the client the token was issued to), `/hello/`, and SimpleJWT's verify.
async fn verdicts(app: &TestApp, client: &flow::Client, access: &str) -> [bool; 4] {
    let userinfo = app
        .http
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status();
    let introspected: Value = app
        .http
        .post(app.url("/oauth/introspect"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("token", access)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hello = app
        .http
        .get(app.url("/hello/"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status();
    let verify = app
        .http
        .post(app.url("/api/token/verify/"))
        .json(&serde_json::json!({ "token": access }))
        .send()
        .await
        .unwrap()
        .status();
    [
        userinfo == 200,
        introspected["active"] == true,
        hello == 200,
        verify == 200,
    ]
}

/// Past the hour revocations used to be remembered, past a prune, and up to a minute
/// before the token's own expiry, a day after it was issued: still refused everywhere.
async fn stays_revoked_for_a_day(app: &TestApp, client: &flow::Client, access: &str) {
    app.advance(3_600 + 60);
    prune(app);
    assert_eq!(
        verdicts(app, client, access).await,
        [false; 4],
        "after an hour"
    );
    app.advance(DAY - 3_600 - 120);
    prune(app);
    assert_eq!(
        verdicts(app, client, access).await,
        [false; 4],
        "one minute before its own expiry the token is still revoked"
    );
}

on_both_backends!(
    a_replayed_code_keeps_a_day_long_token_revoked_until_its_expiry,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        set_access_ttl(&app, &client.id, DAY);
        let browser = Browser::new(&app);
        let (code, verifier) = code_for(&client, &browser).await;
        let first = redeem(&app, &client, &code, &verifier).await;
        let access = first["access_token"].as_str().unwrap().to_owned();
        assert_eq!(first["expires_in"], DAY);
        assert_eq!(verdicts(&app, &client, &access).await, [true; 4]);

        let replay = token(
            &app,
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ],
        )
        .await;
        assert_eq!(replay.status(), 400);
        assert_eq!(verdicts(&app, &client, &access).await, [false; 4]);
        stays_revoked_for_a_day(&app, &client, &access).await;
    }
);

on_both_backends!(
    a_reused_refresh_token_keeps_a_day_long_token_revoked_until_its_expiry,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        set_access_ttl(&app, &client.id, DAY);
        let browser = Browser::new(&app);
        let (code, verifier) = code_for(&client, &browser).await;
        let first = redeem(&app, &client, &code, &verifier).await;
        let r1 = first["refresh_token"].as_str().unwrap();
        let refreshed = token(
            &app,
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", r1)],
        )
        .await;
        assert_eq!(refreshed.status(), 200);
        let refreshed: Value = refreshed.json().await.unwrap();
        let a2 = refreshed["access_token"].as_str().unwrap().to_owned();
        assert_eq!(verdicts(&app, &client, &a2).await, [true; 4]);

        // r1 was rotated: presenting it again, past the refresh grace, revokes the
        // family, a2 included.
        app.advance(REFRESH_GRACE);
        let reuse = token(
            &app,
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", r1)],
        )
        .await;
        assert_eq!(reuse.status(), 400);
        stays_revoked_for_a_day(&app, &client, &a2).await;
    }
);

on_both_backends!(
    every_endpoint_gives_the_same_verdict_in_the_same_second,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let browser = Browser::new(&app);
        let (code, verifier) = code_for(&client, &browser).await;
        let body = redeem(&app, &client, &code, &verifier).await;
        let access = body["access_token"].as_str().unwrap().to_owned();
        let ttl = body["expires_in"].as_i64().unwrap();

        assert_eq!(verdicts(&app, &client, &access).await, [true; 4]);
        app.advance(ttl - 1);
        assert_eq!(
            verdicts(&app, &client, &access).await,
            [true; 4],
            "one second before exp"
        );
        app.advance(1);
        assert_eq!(
            verdicts(&app, &client, &access).await,
            [false; 4],
            "exp == now is expired everywhere"
        );
    }
);

on_both_backends!(
    claims_from_the_future_and_crit_headers_are_refused_everywhere,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let browser = Browser::new(&app);
        let (code, verifier) = code_for(&client, &browser).await;
        let body = redeem(&app, &client, &code, &verifier).await;
        let access = body["access_token"].as_str().unwrap();
        let now = app.clock.unix();
        for claim in ["iat", "nbf"] {
            let forged = crate::jwt::edit(&app, access, |c| {
                c.insert(claim.into(), (now + 3_600).into());
            });
            assert_eq!(
                verdicts(&app, &client, &forged).await,
                [false; 4],
                "{claim} an hour ahead"
            );
        }
        // RFC 7515 §4.1.11: an extension the verifier does not understand must be refused.
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(app.keys.current().active_kid().to_owned());
        header.crit = Some(vec!["exp-ext".into()]);
        let key =
            jsonwebtoken::EncodingKey::from_rsa_pem(&crate::jwt::active_key_pem(&app)).unwrap();
        let critical = jsonwebtoken::encode(&header, &crate::jwt::claims(access), &key).unwrap();
        assert_eq!(verdicts(&app, &client, &critical).await, [false; 4]);
    }
);
