//! The refresh grace (`TESSERA_REFRESH_GRACE`): a client whose answer was lost, or whose
//! tabs refreshed at once, presents a just-rotated refresh token again and gets the same
//! successor pair instead of losing its sign-in. Past the window, or once the successor
//! itself was used, a reuse still revokes the whole family.
use std::sync::Arc;

use diesel::prelude::*;
use serde_json::{Value, json};
use tessera::clock::{Clock, ManualClock, SystemClock};
use tessera::store::schema::{grants, refresh_tokens};

use crate::flow::{self, token, tokens_for};
use crate::helpers::{Backend, TestApp, spawn_with_clock};
use crate::on_both_backends;
use crate::simplejwt::{obtain, post_json};

/// The default `TESSERA_REFRESH_GRACE`, in seconds.
const GRACE: i64 = 5;
const PARALLEL: usize = 20;

pub async fn spawn_without_grace(backend: Backend) -> TestApp {
    spawn_with_clock(
        backend,
        &[("TESSERA_REFRESH_GRACE", "0")],
        ManualClock::at(SystemClock.unix()),
    )
    .await
}

async fn refresh(app: &TestApp, client: &flow::Client, refresh_token: &str) -> (u16, Value) {
    let res = token(
        app,
        client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await;
    (res.status().as_u16(), res.json().await.unwrap())
}

/// The family of a refresh token (by the token as issued): how many of its refresh tokens
/// are live, and whether the family itself was revoked.
fn family_of(app: &TestApp, presented: &str) -> (i64, bool) {
    let mut conn = app.store.conn().unwrap();
    let grant_id: String = refresh_tokens::table
        .find(tessera::secrets::digest(presented))
        .select(refresh_tokens::grant_id)
        .get_result(&mut **conn)
        .unwrap();
    let live: i64 = refresh_tokens::table
        .filter(refresh_tokens::grant_id.eq(&grant_id))
        .filter(refresh_tokens::rotated_at.is_null())
        .filter(refresh_tokens::revoked_at.is_null())
        .count()
        .get_result(&mut **conn)
        .unwrap();
    let revoked: Option<i64> = grants::table
        .find(&grant_id)
        .select(grants::revoked_at)
        .get_result(&mut **conn)
        .unwrap();
    (live, revoked.is_some())
}

async fn first_refresh_token(app: &TestApp) -> (flow::Client, String) {
    flow::create_user(app, "alice");
    let client = flow::confidential(app);
    let first = tokens_for(app, &client, "alice", "openid profile offline_access").await;
    (client, first["refresh_token"].as_str().unwrap().to_owned())
}

on_both_backends!(
    oauth_a_replay_within_the_grace_gets_the_same_pair,
    manual_clock,
    |app: TestApp| async move {
        let (client, r1) = first_refresh_token(&app).await;
        let (status, pair) = refresh(&app, &client, &r1).await;
        assert_eq!(status, 200, "{pair}");
        assert_ne!(pair["refresh_token"], r1.as_str());
        assert_eq!(refresh(&app, &client, &r1).await, (200, pair.clone()));
        app.advance(GRACE - 1);
        assert_eq!(refresh(&app, &client, &r1).await, (200, pair.clone()));
        assert_eq!(family_of(&app, &r1), (1, false));

        // The successor works; once it is used, the old token is a reuse even in the window.
        let r2 = pair["refresh_token"].as_str().unwrap();
        let (status, third) = refresh(&app, &client, r2).await;
        assert_eq!(status, 200, "{third}");
        let (status, body) = refresh(&app, &client, &r1).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        assert_eq!(family_of(&app, &r1), (0, true));
        let r3 = third["refresh_token"].as_str().unwrap();
        assert_eq!(refresh(&app, &client, r3).await.0, 400);
    }
);

on_both_backends!(
    oauth_a_replay_after_the_grace_revokes_the_family,
    manual_clock,
    |app: TestApp| async move {
        let (client, r1) = first_refresh_token(&app).await;
        let (status, pair) = refresh(&app, &client, &r1).await;
        assert_eq!(status, 200, "{pair}");
        app.advance(GRACE);
        let (status, body) = refresh(&app, &client, &r1).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        assert_eq!(family_of(&app, &r1), (0, true));
        let r2 = pair["refresh_token"].as_str().unwrap();
        assert_eq!(refresh(&app, &client, r2).await.0, 400);
    }
);

on_both_backends!(
    @spawn oauth_a_zero_grace_revokes_at_once,
    crate::security_refresh_grace::spawn_without_grace,
    |app: TestApp| async move {
        let (client, r1) = first_refresh_token(&app).await;
        assert_eq!(refresh(&app, &client, &r1).await.0, 200);
        assert_eq!(refresh(&app, &client, &r1).await.0, 400);
        assert_eq!(family_of(&app, &r1), (0, true));
    }
);

on_both_backends!(
    oauth_parallel_refreshes_leave_one_successor_and_no_logout,
    manual_clock,
    |app: TestApp| async move {
        let (client, r1) = first_refresh_token(&app).await;
        let app = Arc::new(app);
        let client = Arc::new(client);
        let mut tasks = Vec::new();
        for _ in 0..PARALLEL {
            let (app, client, r1) = (app.clone(), client.clone(), r1.clone());
            tasks.push(actix_web::rt::spawn(async move {
                refresh(&app, &client, &r1).await
            }));
        }
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        let first = answers[0].clone();
        assert_eq!(first.0, 200, "{}", first.1);
        for answer in &answers {
            assert_eq!(answer, &first, "every caller gets the one successor pair");
        }
        assert_eq!(family_of(&app, &r1), (1, false));
        let r2 = first.1["refresh_token"].as_str().unwrap();
        assert_eq!(refresh(&app, &client, r2).await.0, 200);
    }
);

async fn simplejwt_refresh(app: &TestApp, refresh: &str) -> (u16, Value) {
    post_json(app, "/api/token/refresh/", json!({ "refresh": refresh })).await
}

on_both_backends!(
    simplejwt_a_replay_within_the_grace_gets_the_same_pair,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let (_, r1) = obtain(&app, "alice").await;
        let (status, pair) = simplejwt_refresh(&app, &r1).await;
        assert_eq!(status, 200, "{pair}");
        assert_eq!(simplejwt_refresh(&app, &r1).await, (200, pair.clone()));
        app.advance(GRACE - 1);
        assert_eq!(simplejwt_refresh(&app, &r1).await, (200, pair.clone()));
        assert_eq!(family_of(&app, &r1), (1, false));
        app.advance(1);
        let (status, body) = simplejwt_refresh(&app, &r1).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["detail"], "Token is blacklisted");
        assert_eq!(family_of(&app, &r1), (0, true));
    }
);

on_both_backends!(
    simplejwt_parallel_refreshes_leave_one_successor_and_no_logout,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let (_, r1) = obtain(&app, "alice").await;
        let app = Arc::new(app);
        let mut tasks = Vec::new();
        for _ in 0..PARALLEL {
            let (app, r1) = (app.clone(), r1.clone());
            tasks.push(actix_web::rt::spawn(async move {
                simplejwt_refresh(&app, &r1).await
            }));
        }
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        let first = answers[0].clone();
        assert_eq!(first.0, 200, "{}", first.1);
        for answer in &answers {
            assert_eq!(answer, &first, "every caller gets the one successor pair");
        }
        assert_eq!(family_of(&app, &r1), (1, false));
        let r2 = first.1["refresh"].as_str().unwrap();
        assert_eq!(simplejwt_refresh(&app, r2).await.0, 200);
    }
);
