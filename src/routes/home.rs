//! `GET /`: the front door. Tessera's own pages start at the sign-in page, which shows the
//! signed-in user (with the console link for administrators) once signed in, so a person
//! who types the bare address lands somewhere useful instead of a JSON 404.
use actix_web::HttpResponse;

pub async fn get() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", "/login"))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}
