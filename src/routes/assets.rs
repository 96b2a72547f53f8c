//! `GET /static/tessera.css` and `/static/passkeys.js`: the one stylesheet and the one
//! script (the passkey ceremonies, which need the browser's WebAuthn API), compiled into the
//! binary and served from Tessera's own origin.
use actix_web::HttpResponse;

const CSS: &str = include_str!("../../static/tessera.css");

pub async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(CSS)
}

const PASSKEYS_JS: &str = include_str!("../../static/passkeys.js");

pub async fn passkeys_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(PASSKEYS_JS)
}
