//! `GET /.well-known/jwks.json`: the published public keys, from memory.
use actix_web::{HttpRequest, HttpResponse, web};

use crate::state::AppState;

pub async fn jwks(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let set = state.keys.current();
    let (body, etag) = set.jwks();
    super::cached_json(&req, body, etag, state.settings.jwks_max_age.as_secs())
}
