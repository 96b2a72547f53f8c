//! `GET /static/tessera.css`, `/static/passkeys.js` and `/static/copy.js`: the one stylesheet
//! and the two scripts (the passkey ceremonies, which need the browser's WebAuthn API, and
//! copy buttons), compiled into the binary and served from Tessera's own origin; only pages
//! that need a script allow one.
use actix_web::HttpResponse;

const CSS: &str = include_str!("../../static/tessera.css");

pub async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(CSS)
}

const PASSKEYS_JS: &str = include_str!("../../static/passkeys.js");
const COPY_JS: &str = include_str!("../../static/copy.js");

pub async fn passkeys_js() -> HttpResponse {
    script(PASSKEYS_JS)
}

pub async fn copy_js() -> HttpResponse {
    script(COPY_JS)
}

fn script(body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(body)
}
