//! `GET /static/tessera.css`: the one stylesheet, compiled into the binary.
use actix_web::HttpResponse;

const CSS: &str = include_str!("../../static/tessera.css");

pub async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(CSS)
}
