//! `GET /.well-known/openid-configuration`.
use actix_web::{HttpRequest, HttpResponse, web};

use crate::state::AppState;

pub async fn openid_configuration(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let doc = &state.discovery;
    super::cached_json(&req, &doc.body, &doc.etag, 3600)
}
