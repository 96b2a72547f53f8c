//! `GET /static/tessera.css` and `/static/copy.js`: the one stylesheet and the one script
//! (copy buttons; only pages that need it allow scripts), compiled into the binary.
use actix_web::HttpResponse;

const CSS: &str = include_str!("../../static/tessera.css");

pub async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(CSS)
}

const COPY_JS: &str = include_str!("../../static/copy.js");

pub async fn copy_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(COPY_JS)
}
