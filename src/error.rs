//! The one place errors become HTTP responses.
//!
//! Handlers return [`AppError`]; its `ResponseError` impl picks the status and body. The
//! cause is logged here and never sent to the client.
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A dependency (the database) cannot serve right now.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// No such resource.
    #[error("not found")]
    NotFound,
    /// A fault of ours.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Pool(reason) => AppError::Unavailable(reason),
            StoreError::NotFound => AppError::NotFound,
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (code, description) = match self {
            AppError::Unavailable(cause) => {
                tracing::warn!(%cause, "dependency unavailable");
                (
                    "temporarily_unavailable",
                    "The service is temporarily unavailable.",
                )
            }
            AppError::NotFound => ("not_found", "No such resource."),
            AppError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                ("server_error", "The server encountered an internal error.")
            }
        };
        HttpResponse::build(self.status_code())
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({ "error": code, "error_description": description }))
    }
}
