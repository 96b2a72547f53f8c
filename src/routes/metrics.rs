//! `GET /metrics`: the Prometheus text exposition (see `crate::metrics`).
use actix_web::{HttpResponse, web};

use crate::state::AppState;

pub async fn get(state: web::Data<AppState>) -> HttpResponse {
    let body = state.metrics.render(
        &state.keys.current(),
        state.store.pool_state(),
        state.clock.unix(),
    );
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
}
