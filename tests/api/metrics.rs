//! `/metrics`, read with a real Prometheus text-format parser: series per route template
//! (never per raw path), tokens per grant, failed sign-ins, keys and the database pool; and
//! on its own listener, absent from the public one.
use openmetrics_parser::prometheus::parse_prometheus;
use openmetrics_parser::{MetricsExposition, PrometheusType, PrometheusValue};
use serde_json::json;
use tessera::domain::{ClientKind, GrantType};

use crate::flow;
use crate::helpers::{Backend, TestApp, spawn, spawn_with};
use crate::simplejwt::post_json;

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
