//! The route table: every path Tessera serves is registered here and nowhere else.
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web as aweb};

use crate::error::AppError;

mod account;
mod account_factors;
mod admin;
mod assets;
mod authorize;
mod device;
mod discovery;
mod forgot;
mod health;
mod hello;
mod introspect;
mod jwks;
mod login;
mod logout;
mod metrics;
mod par;
mod passkeys;
mod register;
mod reset;
mod second_step;
mod second_step_passkey;
mod session;
mod simplejwt;
mod token;
mod userinfo;
mod web;

/// `/metrics`: on the main listener, or alone on `TESSERA_METRICS_LISTEN`.
pub fn configure_metrics(cfg: &mut aweb::ServiceConfig) {
    cfg.service(aweb::resource("/metrics").get(metrics::get));
}

pub fn configure(cfg: &mut aweb::ServiceConfig) {
    // One resource per path, so a wrong method gets 405 Method Not Allowed.
    cfg.service(
        aweb::resource("/.well-known/openid-configuration").get(discovery::openid_configuration),
    )
    // RFC 8414: the same metadata, at the path OAuth-only clients (and MCP clients) read.
    .service(
        aweb::resource("/.well-known/oauth-authorization-server")
            .get(discovery::openid_configuration),
    )
    .service(aweb::resource("/.well-known/jwks.json").get(jwks::jwks))
    .service(
        aweb::resource("/oauth/authorize")
            .get(authorize::get)
            .post(authorize::post),
    )
    .service(aweb::resource("/oauth/token").post(token::post))
    .service(aweb::resource("/oauth/par").post(par::post))
    .service(aweb::resource("/oauth/device_authorization").post(device::authorize))
    .service(
        aweb::resource("/device")
            .get(device::page)
            .post(device::post),
    )
    .service(
        aweb::resource("/oauth/userinfo")
            .get(userinfo::get)
            .post(userinfo::post),
    )
    // Registration bodies are small: a tighter cap than the server's.
    .service(
        aweb::resource(crate::registration::PATH)
            .app_data(aweb::PayloadConfig::new(crate::registration::MAX_BODY))
            .post(register::register),
    )
    .service(
        aweb::resource("/oauth/register/{client_id}")
            .app_data(aweb::PayloadConfig::new(crate::registration::MAX_BODY))
            .get(register::read)
            .put(register::update)
            .delete(register::delete),
    )
    .service(aweb::resource("/oauth/introspect").post(introspect::introspect))
    .service(aweb::resource("/oauth/revoke").post(introspect::revoke))
    .service(
        aweb::resource("/oauth/logout")
            .get(logout::rp_get)
            .post(logout::rp_post),
    )
    .service(aweb::resource("/").get(account::home))
    .service(aweb::resource("/account").get(account::show))
    .service(aweb::resource("/account/profile").post(account::profile))
    .service(
        aweb::resource("/account/password")
            .get(account::password_form)
            .post(account::password),
    )
    .service(aweb::resource("/account/applications/{client_id}/revoke").post(account::revoke_app))
    .service(aweb::resource("/account/sessions/{id}/sign-out").post(account::sign_out))
    .service(aweb::resource("/account/passkeys/options").post(passkeys::register_options))
    .service(aweb::resource("/account/passkeys").post(passkeys::register))
    .service(aweb::resource("/account/passkeys/{id}/rename").post(passkeys::rename))
    .service(aweb::resource("/account/passkeys/{id}/remove").post(passkeys::remove))
    .service(
        aweb::resource("/account/totp")
            .get(account_factors::show)
            .post(account_factors::confirm),
    )
    .service(aweb::resource("/account/totp/remove").post(account_factors::remove))
    .service(aweb::resource("/account/recovery-codes").post(account_factors::recovery_codes))
    .service(
        aweb::resource("/reset/{token}")
            .get(reset::get)
            .post(reset::post),
    )
    .service(aweb::resource("/reset").get(forgot::get).post(forgot::post))
    .service(aweb::resource("/login").get(login::get).post(login::post))
    .service(aweb::resource("/login/passkey/options").post(passkeys::sign_in_options))
    .service(aweb::resource("/login/passkey").post(passkeys::sign_in))
    .service(
        aweb::resource("/login/second-factor")
            .get(second_step::get)
            .post(second_step::post),
    )
    .service(
        aweb::resource("/login/second-factor/passkey/options").post(second_step_passkey::options),
    )
    .service(aweb::resource("/login/second-factor/passkey").post(second_step_passkey::answer))
    .service(aweb::resource(crate::error::STEP_UP_START).get(second_step::start))
    .service(
        aweb::resource("/logout")
            .get(logout::get)
            .post(logout::post),
    )
    .service(
        aweb::resource("/api/token/")
            .wrap(from_fn(simplejwt::challenge))
            .post(simplejwt::obtain)
            .default_service(aweb::to(simplejwt::method_not_allowed)),
    )
    .service(
        aweb::resource("/api/token/refresh/")
            .wrap(from_fn(simplejwt::challenge))
            .post(simplejwt::refresh)
            .default_service(aweb::to(simplejwt::method_not_allowed)),
    )
    .service(
        aweb::resource("/api/token/verify/")
            .wrap(from_fn(simplejwt::challenge))
            .post(simplejwt::verify)
            .default_service(aweb::to(simplejwt::method_not_allowed)),
    )
    .service(
        aweb::resource("/api/token/blacklist/")
            .wrap(from_fn(simplejwt::challenge))
            .post(simplejwt::blacklist)
            .default_service(aweb::to(simplejwt::method_not_allowed)),
    )
    .service(
        aweb::resource("/hello/")
            .wrap(from_fn(simplejwt::challenge))
            .get(hello::get)
            .default_service(aweb::to(hello::other)),
    )
    .service(aweb::resource("/static/tessera.css").get(assets::css))
    .service(aweb::resource("/static/passkeys.js").get(assets::passkeys_js))
    .service(aweb::resource("/static/copy.js").get(assets::copy_js))
    // HEAD too: load balancers and uptime checks often probe with it.
    .service(
        aweb::resource("/healthz")
            .get(health::healthz)
            .route(aweb::head().to(health::healthz)),
    )
    .service(
        aweb::resource("/readyz")
            .get(health::readyz)
            .route(aweb::head().to(health::readyz)),
    )
    .default_service(aweb::to(not_found));
    // The console last: the router tries resources in the order they were added, and each
    // of the console's many `{id}` paths is a regular expression to run, which every token
    // and API request used to pay for before reaching its own path.
    cfg.configure(admin::configure);
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
