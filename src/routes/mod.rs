//! The route table: every path Tessera serves is registered here and nowhere else.
use actix_web::{HttpResponse, web as aweb};

use crate::error::AppError;

mod assets;
mod authorize;
mod discovery;
mod health;
mod introspect;
mod jwks;
mod login;
mod logout;
mod session;
mod token;
mod userinfo;
mod web;

pub fn configure(cfg: &mut aweb::ServiceConfig) {
    cfg.route(
        "/.well-known/openid-configuration",
        aweb::get().to(discovery::openid_configuration),
    )
    .route("/.well-known/jwks.json", aweb::get().to(jwks::jwks))
    .route("/oauth/authorize", aweb::get().to(authorize::get))
    .route("/oauth/authorize", aweb::post().to(authorize::post))
    .route("/oauth/token", aweb::post().to(token::post))
    .route("/oauth/userinfo", aweb::get().to(userinfo::get))
    .route("/oauth/userinfo", aweb::post().to(userinfo::post))
    .route("/oauth/introspect", aweb::post().to(introspect::introspect))
    .route("/oauth/revoke", aweb::post().to(introspect::revoke))
    .route("/oauth/logout", aweb::get().to(logout::rp_get))
    .route("/oauth/logout", aweb::post().to(logout::rp_post))
    .route("/login", aweb::get().to(login::get))
    .route("/login", aweb::post().to(login::post))
    .route("/logout", aweb::get().to(logout::get))
    .route("/logout", aweb::post().to(logout::post))
    .route("/static/tessera.css", aweb::get().to(assets::css))
    .route("/healthz", aweb::get().to(health::healthz))
    .route("/readyz", aweb::get().to(health::readyz))
    .default_service(aweb::to(not_found));
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
