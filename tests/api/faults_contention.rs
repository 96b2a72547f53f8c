//! SQLite has one writer at a time. Many concurrent writers — sign-ins (sessions, failed
//! sign-in counts), refreshes on both APIs, admin edits that read before they write — must
//! queue for the lock, never fail with "database is locked" (which would be a 500).
use std::sync::Arc;

use serde_json::json;

use crate::admin::Console;
use crate::flow::{self, tokens_for};
use crate::helpers::{Backend, spawn_with};
use crate::simplejwt::obtain;

const CHAINS: usize = 6;
const ROUNDS: usize = 12;

#[actix_web::test]
async fn concurrent_sqlite_writers_never_see_database_is_locked() {
    let app = spawn_with(
        Backend::Sqlite,
        &[
            ("TESSERA_WORKERS", "2"),
            ("TESSERA_DATABASE_POOL_SIZE", "8"),
            ("TESSERA_SIMPLEJWT_ROTATE_REFRESH_TOKENS", "true"),
        ],
    )
    .await;
    let bob = flow::create_user(&app, "bob");
    flow::create_user(&app, "alice");
    let client = Arc::new(flow::confidential(&app));
    let console = Arc::new(Console::root(&app).await);
    let mut oauth = Vec::new();
    let mut simplejwt = Vec::new();
    for _ in 0..CHAINS {
        let tokens = tokens_for(&app, &client, "alice", "openid").await;
        oauth.push(tokens["refresh_token"].as_str().unwrap().to_owned());
        simplejwt.push(obtain(&app, "alice").await.1);
    }

    let mut tasks = Vec::new();
    // Refresh chains: each rotation is a transaction that reads, updates and inserts.
    for refresh in oauth {
        let (http, url, client) = (app.http.clone(), app.url("/oauth/token"), client.clone());
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut current = refresh;
            for _ in 0..ROUNDS {
                let res = http
                    .post(&url)
                    .basic_auth(&client.id, client.secret.as_deref())
                    .form(&[("grant_type", "refresh_token"), ("refresh_token", &current)])
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                let body = res.text().await.unwrap();
                if status == 200 {
                    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
                    current = body["refresh_token"].as_str().unwrap().to_owned();
                }
                seen.push((status, body));
            }
            seen
        }));
    }
    for refresh in simplejwt {
        let (http, url) = (app.http.clone(), app.url("/api/token/refresh/"));
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut current = refresh;
            for _ in 0..ROUNDS {
                let res = http
                    .post(&url)
                    .json(&json!({ "refresh": current }))
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                let body = res.text().await.unwrap();
                if status == 200 {
                    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
                    current = body["refresh"].as_str().unwrap().to_owned();
                }
                seen.push((status, body));
            }
            seen
        }));
    }
    // Failed sign-ins: each counts a failure in one transaction (the throttle), under
    // different names so the per-account buckets are many rows.
    for i in 0..4 {
        let (http, url) = (app.http.clone(), app.url("/api/token/"));
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for round in 0..ROUNDS / 2 {
                let res = http
                    .post(&url)
                    .json(&json!({ "username": format!("ghost{i}-{round}"), "password": "wrong" }))
                    .send()
                    .await
                    .unwrap();
                seen.push((res.status().as_u16(), res.text().await.unwrap()));
            }
            seen
        }));
    }
    // Admin edits: read the user, write the profile and its audit entry, in one transaction.
    for i in 0..3 {
        let console = console.clone();
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for round in 0..ROUNDS / 2 {
                let name = format!("Bob {i}.{round}");
                let page = console
                    .post(&format!("/admin/users/{bob}/profile"), &[("name", &name)])
                    .await;
                seen.push((page.status, page.body));
            }
            seen
        }));
    }

    let mut answers = Vec::new();
    for task in tasks {
        answers.extend(task.await.unwrap());
    }
    for (status, body) in &answers {
        assert!(
            !body.to_lowercase().contains("locked"),
            "a writer saw the lock: {status} {body}"
        );
        assert!(*status < 500, "{status}: {body}");
    }
    let ok = answers
        .iter()
        .filter(|(s, _)| matches!(s, 200 | 303))
        .count();
    assert_eq!(
        ok,
        2 * CHAINS * ROUNDS + 3 * (ROUNDS / 2),
        "every refresh and every admin edit succeeded"
    );
}
