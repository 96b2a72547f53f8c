//! What every request leaves behind: one structured log event (method, route template,
//! status, latency, client IP, request id; never the query string, which can carry tokens)
//! and its metrics. Runs as the outermost middleware, so the time covers everything.
use std::net::IpAddr;
use std::time::Instant;

use actix_web::dev::ServiceRequest;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};

use crate::extract::client_ip;
use crate::metrics::Metrics;

/// The response header that carries the request id, so a user's report can be matched
/// with the log line.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A request's facts, taken before it is handled.
pub struct Observed {
    started: Instant,
    method: String,
    route: String,
    client: Option<IpAddr>,
    id: String,
}

impl Observed {
    pub fn start(req: &ServiceRequest, trusted: &[IpAddr]) -> Self {
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        Self {
            started: Instant::now(),
            method: req.method().to_string(),
            // The template (`/admin/users/{id}`), resolved against the route table.
            route: req
                .match_pattern()
                .unwrap_or_else(|| "unmatched".to_owned()),
            client: client_ip(req.peer_addr().map(|a| a.ip()), forwarded, trusted),
            id: uuid::Uuid::new_v4().simple().to_string(),
        }
    }

    pub fn id_header(&self) -> HeaderValue {
        HeaderValue::from_str(&self.id).unwrap_or(HeaderValue::from_static("-"))
    }

    /// Log and count the answer.
    pub fn finish(self, status: StatusCode, metrics: &Metrics) {
        let seconds = self.started.elapsed().as_secs_f64();
        metrics.observe_request(&self.method, &self.route, status.as_u16(), seconds);
        tracing::info!(
            target: "tessera::request",
            method = %self.method,
            route = %self.route,
            status = status.as_u16(),
            latency_ms = (seconds * 1000.0 * 1000.0).round() / 1000.0,
            client_ip = %self.client.map_or_else(|| "-".to_owned(), |ip| ip.to_string()),
            request_id = %self.id,
            "request"
        );
    }
}
