//! `/metrics`, read with a real Prometheus text-format parser: series per route template
//! (never per raw path), tokens per grant, failed sign-ins, refresh-token reuse, keys, the
//! database pool and its waits, storage tasks on the blocking pool; and on its own
//! listener, absent from the public one.
use std::sync::Arc;
use std::time::Duration;

use openmetrics_parser::prometheus::parse_prometheus;
use openmetrics_parser::{MetricsExposition, PrometheusType, PrometheusValue};
use serde_json::{Value, json};
use tessera::domain::{ClientKind, GrantType};

use crate::flow;
use crate::helpers::{Backend, TestApp, spawn, spawn_with};
use crate::on_both_backends;
use crate::simplejwt::{obtain, post_json};

pub type Scrape = MetricsExposition<PrometheusType, PrometheusValue>;

pub async fn scrape(app: &TestApp, url: &str) -> Scrape {
    let res = app.http.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = res.text().await.unwrap();
    parse_prometheus(&text).expect("valid exposition format")
}

/// The value of the one sample of `metric` whose labels include all of `labels`.
pub fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let family = scrape.families.get(metric)?;
    let matching: Vec<f64> = family
        .iter_samples()
        .filter(|s| {
            let set = s.get_labelset().expect("labels");
            labels
                .iter()
                .all(|(k, v)| set.get_label_value(k) == Some(*v))
        })
        .filter_map(|s| match &s.value {
            PrometheusValue::Counter(c) => Some(c.value.as_f64()),
            PrometheusValue::Gauge(n) | PrometheusValue::Unknown(n) => Some(n.as_f64()),
            _ => None,
        })
        .collect();
    assert!(matching.len() <= 1, "{metric} {labels:?}: {matching:?}");
    matching.first().copied()
}

/// The one sample of histogram `metric`: its observation count and sum.
fn histogram(scrape: &Scrape, metric: &str) -> Option<(u64, f64)> {
    let family = scrape.families.get(metric)?;
    let samples: Vec<(u64, f64)> = family
        .iter_samples()
        .filter_map(|s| match &s.value {
            PrometheusValue::Histogram(h) => Some((h.count?, h.sum.as_ref()?.as_f64())),
            _ => None,
        })
        .collect();
    assert!(samples.len() <= 1, "{metric}: {samples:?}");
    samples.first().copied()
}

/// Every `route` label of `metric`.
fn routes(scrape: &Scrape, metric: &str) -> Vec<String> {
    scrape.families.get(metric).map_or_else(Vec::new, |f| {
        f.iter_samples()
            .filter_map(|s| {
                s.get_labelset()
                    .ok()?
                    .get_label_value("route")
                    .map(str::to_owned)
            })
            .collect()
    })
}

#[actix_web::test]
async fn metrics_count_routes_grants_and_failures() {
    let app = spawn(Backend::Sqlite).await;
    let machine = flow::register(
        &app,
        ClientKind::Confidential,
        &[GrantType::ClientCredentials],
        &[],
    );
    for _ in 0..2 {
        let res = flow::token(&app, &machine, &[("grant_type", "client_credentials")]).await;
        assert_eq!(res.status(), 200);
    }
    let (status, _) = post_json(
        &app,
        "/api/token/",
        json!({"username": "nobody", "password": "wrong"}),
    )
    .await;
    assert_eq!(status, 401);
    for id in ["1", "2", "3"] {
        let res = app
            .http
            .get(app.url(&format!("/admin/users/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
    }

    let s = scrape(&app, &app.url("/metrics")).await;
    assert_eq!(
        value(
            &s,
            "tessera_tokens_issued_total",
            &[("grant", "client_credentials")]
        ),
        Some(2.0)
    );
    assert_eq!(
        value(&s, "tessera_logins_failed_total", &[("via", "api_token")]),
        Some(1.0)
    );
    assert_eq!(
        value(
            &s,
            "tessera_http_requests_total",
            &[
                ("route", "/oauth/token"),
                ("method", "POST"),
                ("status", "200")
            ]
        ),
        Some(2.0)
    );
    // Three ids, one series: the route template labels it.
    assert_eq!(
        value(
            &s,
            "tessera_http_requests_total",
            &[("route", "/admin/users/{id}"), ("status", "303")]
        ),
        Some(3.0)
    );
    assert!(
        !routes(&s, "tessera_http_requests_total")
            .iter()
            .any(|r| r.starts_with("/admin/users/1")),
        "no series per raw path"
    );
    assert!(
        routes(&s, "tessera_http_request_duration_seconds")
            .iter()
            .any(|r| r == "/admin/users/{id}"),
        "latency histograms per route"
    );
    assert_eq!(
        value(&s, "tessera_signing_keys", &[("state", "active")]),
        Some(1.0)
    );
    assert_eq!(value(&s, "tessera_db_pool_max_connections", &[]), Some(4.0));
    assert!(value(&s, "tessera_db_pool_connections", &[("state", "idle")]).is_some());
}

#[actix_web::test]
async fn a_separate_metrics_listener_keeps_metrics_off_the_public_one() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let app = spawn_with(Backend::Sqlite, &[("TESSERA_METRICS_LISTEN", &listen)]).await;
    let public = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
    let jwks = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), 200);
    // The listener starts with the server; give it the moment it needs to accept.
    let mut scraped = None;
    for _ in 0..50 {
        if let Ok(res) = app
            .http
            .get(format!("http://{listen}/metrics"))
            .send()
            .await
        {
            assert_eq!(res.status(), 200);
            scraped = Some(scrape(&app, &format!("http://{listen}/metrics")).await);
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let s = scraped.expect("the metrics listener answers");
    assert_eq!(
        value(
            &s,
            "tessera_http_requests_total",
            &[("route", "/.well-known/jwks.json"), ("status", "200")]
        ),
        Some(1.0)
    );
}

/// The default `TESSERA_REFRESH_GRACE`, in seconds.
const GRACE: i64 = 5;

/// Reuse detections so far, per API; a series not yet created has counted nothing.
async fn reuses(app: &TestApp) -> (f64, f64) {
    let s = scrape(app, &app.url("/metrics")).await;
    let via = |api| value(&s, "tessera_refresh_reuse_total", &[("via", api)]).unwrap_or(0.0);
    (via("oauth"), via("simplejwt"))
}

async fn oauth_refresh(app: &TestApp, client: &flow::Client, token: &str) -> (u16, Value) {
    let res = flow::token(
        app,
        client,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await;
    (res.status().as_u16(), res.json().await.unwrap())
}

on_both_backends!(
    an_oauth_refresh_reuse_is_counted_once_and_a_replay_in_the_grace_is_not,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let first = flow::tokens_for(&app, &client, "alice", "openid offline_access").await;
        let r1 = first["refresh_token"].as_str().unwrap();
        let (status, pair) = oauth_refresh(&app, &client, r1).await;
        assert_eq!(status, 200, "{pair}");
        // A repeat within the grace (a lost answer) is not a reuse.
        app.advance(GRACE - 1);
        assert_eq!(oauth_refresh(&app, &client, r1).await, (200, pair.clone()));
        assert_eq!(reuses(&app).await, (0.0, 0.0));

        app.advance(1);
        let (status, body) = oauth_refresh(&app, &client, r1).await;
        assert_eq!((status, &body["error"]), (400, &json!("invalid_grant")));
        assert_eq!(
            body["error_description"],
            "the refresh token was already used; its whole family is revoked"
        );
        assert_eq!(reuses(&app).await, (1.0, 0.0));
        // The family is revoked now: the old token and its successor are refused as
        // revoked, not detected as reuse again.
        let r2 = pair["refresh_token"].as_str().unwrap();
        for token in [r1, r2] {
            assert_eq!(oauth_refresh(&app, &client, token).await.0, 400);
        }
        assert_eq!(reuses(&app).await, (1.0, 0.0));
    }
);

on_both_backends!(
    a_simplejwt_refresh_reuse_is_counted_once_and_a_replay_in_the_grace_is_not,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let (_, r1) = obtain(&app, "alice").await;
        let refresh = |token: String| {
            let app = &app;
            async move { post_json(app, "/api/token/refresh/", json!({ "refresh": token })).await }
        };
        let (status, pair) = refresh(r1.clone()).await;
        assert_eq!(status, 200, "{pair}");
        app.advance(GRACE - 1);
        assert_eq!(refresh(r1.clone()).await, (200, pair.clone()));
        assert_eq!(reuses(&app).await, (0.0, 0.0));

        app.advance(1);
        // Answered exactly as SimpleJWT answers a blacklisted token.
        assert_eq!(
            refresh(r1.clone()).await,
            (
                401,
                json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
            )
        );
        assert_eq!(reuses(&app).await, (0.0, 1.0));
        let r2 = pair["refresh"].as_str().unwrap().to_owned();
        for token in [r1, r2] {
            assert_eq!(refresh(token).await.0, 401);
        }
        assert_eq!(reuses(&app).await, (0.0, 1.0));
    }
);

/// Waits, checkouts (the checkout histogram's count) and the blocking-task gauges.
fn storage(s: &Scrape) -> (f64, u64, f64, f64) {
    let (checkouts, seconds) = histogram(s, "tessera_db_pool_checkout_seconds").expect("checkouts");
    assert!(seconds >= 0.0, "{seconds}");
    (
        value(s, "tessera_db_pool_waits_total", &[]).expect("waits"),
        checkouts,
        value(s, "tessera_blocking_tasks", &[("state", "queued")]).expect("queued"),
        value(s, "tessera_blocking_tasks", &[("state", "running")]).expect("running"),
    )
}

on_both_backends!(
    @spawn sequential_requests_check_out_idle_connections_without_waiting,
    crate::metrics::spawn_quiet,
    |app: TestApp| async move {
        let before = storage(&scrape(&app, &app.url("/metrics")).await);
        for _ in 0..3 {
            let res = app.http.get(app.url("/readyz")).send().await.unwrap();
            assert_eq!(res.status(), 200);
        }
        let (waits, checkouts, queued, running) =
            storage(&scrape(&app, &app.url("/metrics")).await);
        // One checkout per readiness check, each finding the connection the last one
        // returned.
        assert_eq!(checkouts - before.1, 3);
        assert_eq!(waits, before.0);
        assert_eq!((queued, running), (0.0, 0.0));
    }
);

/// Requests that all need the one connection while the test holds it.
const PARALLEL: usize = 8;

/// The signing-key reloader reads the keys table every poll (50 ms in tests): servers
/// whose checkouts are counted poll hourly instead, so only the test's requests use the pool.
const QUIET_RELOADER: (&str, &str) = ("TESSERA_KEYS_RELOAD_INTERVAL", "3600");

pub async fn spawn_quiet(backend: Backend) -> TestApp {
    spawn_with(backend, &[QUIET_RELOADER]).await
}

pub async fn spawn_pool_of_one(backend: Backend) -> TestApp {
    spawn_with(
        backend,
        &[("TESSERA_DATABASE_POOL_SIZE", "1"), QUIET_RELOADER],
    )
    .await
}

on_both_backends!(
    @spawn a_pool_of_one_under_concurrent_requests_counts_waits_and_blocking_tasks,
    crate::metrics::spawn_pool_of_one,
    |app: TestApp| async move {
        let s = scrape(&app, &app.url("/metrics")).await;
        assert_eq!(value(&s, "tessera_db_pool_max_connections", &[]), Some(1.0));
        let (waits_before, checkouts_before, _, _) = storage(&s);
        // Hold the pool's only connection, so every request below must wait for it.
        let store = app.store.clone();
        let held = actix_web::rt::task::spawn_blocking(move || store.conn())
            .await
            .unwrap()
            .unwrap();
        let app = Arc::new(app);
        let requests: Vec<_> = (0..PARALLEL)
            .map(|_| {
                let app = app.clone();
                actix_web::rt::spawn(async move {
                    app.http.get(app.url("/readyz")).send().await.unwrap().status()
                })
            })
            .collect();
        // Wait until every request is a running task on the blocking pool that has found no
        // idle connection. Waiting for "running" alone raced: a task counted as running but
        // not yet at its checkout took the connection released below without a wait.
        let mut blocked = None;
        let mut last = None;
        for _ in 0..500 {
            let now = storage(&scrape(&app, &app.url("/metrics")).await);
            if now.3 == PARALLEL as f64 && now.0 - waits_before == PARALLEL as f64 {
                blocked = Some(now);
                break;
            }
            last = Some(now);
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        let (_, _, queued, running) = blocked.unwrap_or_else(|| {
            panic!("not every request reached the pool in 10 s (waits, checkouts, queued, running): {last:?}")
        });
        assert_eq!((queued, running), (0.0, PARALLEL as f64));
        drop(held);
        for request in requests {
            assert_eq!(request.await.unwrap(), 200);
        }

        let s = scrape(&app, &app.url("/metrics")).await;
        let (waits, checkouts, queued, running) = storage(&s);
        assert!(
            waits - waits_before >= PARALLEL as f64,
            "every request waited: {waits_before} -> {waits}"
        );
        // The test's own checkout and one per request.
        assert_eq!(checkouts - checkouts_before, PARALLEL as u64 + 1);
        // Idle again: nothing queued or running, the connection back in the pool.
        assert_eq!((queued, running), (0.0, 0.0));
        assert_eq!(
            value(&s, "tessera_db_pool_connections", &[("state", "in_use")]),
            Some(0.0)
        );
    }
);
