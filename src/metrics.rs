//! Prometheus metrics: what operators watch (requests per route and their latency, tokens
//! issued per grant, failed sign-ins, throttled attempts, refresh-token reuse, revocations,
//! signing keys, the database pool and its waits, storage tasks on the blocking pool), rendered in the text format at `/metrics` or on its own listener. Each
//! server owns its registry: no global state, so test servers in one process do not share counters.
use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

use crate::signing::KeySet;
use crate::store::PoolState;
use crate::store::usage::Usage;

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    tokens: IntCounterVec,
    logins_failed: IntCounterVec,
    throttled: IntCounterVec,
    refresh_reused: IntCounterVec,
    revocations: IntCounter,
    keys: IntGaugeVec,
    key_age: GaugeVec,
    pool: IntGaugeVec,
    pool_max: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// Latency buckets from 1 ms (JWKS from memory) to 5 s (a stalled database).
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

fn register<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    collector: C,
) -> Result<C, prometheus::Error> {
    registry.register(Box::new(collector.clone()))?;
    Ok(collector)
}

impl Metrics {
    /// A registry for one server, with its store's `usage` (checkouts, waits, blocking
    /// tasks) registered beside Tessera's own collectors.
    pub fn new(usage: &Usage) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let r = &registry;
        register(r, usage.checkout.clone())?;
        register(r, usage.waits.clone())?;
        register(r, usage.blocking.clone())?;
        Ok(Self {
            requests: register(
                r,
                IntCounterVec::new(
                    Opts::new("tessera_http_requests_total", "HTTP requests answered"),
                    &["method", "route", "status"],
                )?,
            )?,
            duration: register(
                r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "tessera_http_request_duration_seconds",
                        "Time to answer an HTTP request",
                    )
                    .buckets(BUCKETS.to_vec()),
                    &["method", "route"],
                )?,
            )?,
            tokens: register(
                r,
                IntCounterVec::new(
                    Opts::new("tessera_tokens_issued_total", "Token responses, per grant"),
                    &["grant"],
                )?,
            )?,
            logins_failed: register(
                r,
                IntCounterVec::new(
                    Opts::new("tessera_logins_failed_total", "Refused sign-ins"),
                    &["via"],
                )?,
            )?,
            throttled: register(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "tessera_throttled_total",
                        "Attempts refused by the throttle before any password or secret check",
                    ),
                    &["via"],
                )?,
            )?,
            refresh_reused: register(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "tessera_refresh_reuse_total",
                        "Rotated refresh tokens presented again outside the refresh grace: \
                         each revoked its whole family",
                    ),
                    &["via"],
                )?,
            )?,
            revocations: register(
                r,
                IntCounter::new(
                    "tessera_revocation_requests_total",
                    "Tokens revoked at the revocation endpoint",
                )?,
            )?,
            keys: register(
                r,
                IntGaugeVec::new(
                    Opts::new("tessera_signing_keys", "Signing keys, per state"),
                    &["state"],
                )?,
            )?,
            key_age: register(
                r,
                GaugeVec::new(
                    Opts::new(
                        "tessera_signing_key_age_seconds",
                        "Age of each published signing key",
                    ),
                    &["kid", "state"],
                )?,
            )?,
            pool: register(
                r,
                IntGaugeVec::new(
                    Opts::new("tessera_db_pool_connections", "Database pool connections"),
                    &["state"],
                )?,
            )?,
            pool_max: register(
                r,
                Gauge::new("tessera_db_pool_max_connections", "Database pool size")?,
            )?,
            registry,
        })
    }

    /// One answered request. `route` is the route's template (`/admin/users/{id}`), never
    /// the raw path: raw paths would make a series per user id, token or probe.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.duration
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    pub fn token_issued(&self, grant: &str) {
        self.tokens.with_label_values(&[grant]).inc();
    }

    pub fn login_failed(&self, via: &str) {
        self.logins_failed.with_label_values(&[via]).inc();
    }

    /// One attempt refused by the throttle (`login_page`, `login_passkey`, `api_token`,
    /// `client_auth`).
    pub fn throttled(&self, via: &str) {
        self.throttled.with_label_values(&[via]).inc();
    }

    /// Pass an OAuth answer through, counting it when the throttle refused the client.
    pub fn count_throttled<T>(
        &self,
        via: &str,
        answer: Result<T, crate::oauth::OAuthError>,
    ) -> Result<T, crate::oauth::OAuthError> {
        if let Err(crate::oauth::OAuthError::ClientThrottled { .. }) = &answer {
            self.throttled(via);
        }
        answer
    }

    /// A reuse of a rotated refresh token was detected and its family revoked (`oauth`,
    /// `simplejwt`). A repeat within the refresh grace is not one.
    pub fn refresh_reused(&self, via: &str) {
        self.refresh_reused.with_label_values(&[via]).inc();
    }

    pub fn revoked(&self) {
        self.revocations.inc();
    }

    /// The text exposition, with the gauges read now.
    pub fn render(&self, keys: &KeySet, pool: PoolState, now: i64) -> String {
        self.keys.reset();
        self.key_age.reset();
        for key in keys.published() {
            let state = key.state.as_str();
            self.keys.with_label_values(&[state]).inc();
            self.key_age
                .with_label_values(&[key.kid.as_str(), state])
                .set((now - key.created.timestamp()) as f64);
        }
        self.pool
            .with_label_values(&["in_use"])
            .set(i64::from(pool.connections - pool.idle));
        self.pool
            .with_label_values(&["idle"])
            .set(i64::from(pool.idle));
        self.pool_max.set(f64::from(pool.max));
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "metrics: encoding failed");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
