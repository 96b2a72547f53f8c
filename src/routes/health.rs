//! `GET /healthz` (the process answers) and `GET /readyz` (it can serve: database
//! reachable, keys loaded).
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::AppError;
use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(AppError::Unavailable("shutting down".into()));
    }
    state
        .store
        .ping()
        .await
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    if let Some(problem) = state.keys.problem() {
        return Err(AppError::Unavailable(format!("signing keys: {problem}")));
    }
    let keys = state.keys.current();
    Ok(HttpResponse::Ok().json(json!({
        "status": "ready",
        "database": state.store.backend(),
        "active_kid": keys.active_kid(),
    })))
}
