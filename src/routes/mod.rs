//! The route table: every path Tessera serves is registered here and nowhere else.
use actix_web::{HttpResponse, web};

use crate::error::AppError;

mod discovery;
mod health;
mod jwks;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/.well-known/openid-configuration",
        web::get().to(discovery::openid_configuration),
    )
    .route("/.well-known/jwks.json", web::get().to(jwks::jwks))
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .default_service(web::to(not_found));
}

async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

/// A response for a body rendered once: honours `If-None-Match`, sets ETag and caching.
fn cached_json(req: &actix_web::HttpRequest, body: &str, etag: &str, max_age: u64) -> HttpResponse {
    let cache_control = format!("public, max-age={max_age}");
    let matches = req
        .headers()
        .get(actix_web::http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return HttpResponse::NotModified()
            .insert_header(("ETag", etag))
            .insert_header(("Cache-Control", cache_control))
            .finish();
    }
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("ETag", etag))
        .insert_header(("Cache-Control", cache_control))
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .body(body.to_owned())
}
