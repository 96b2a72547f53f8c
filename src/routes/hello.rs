//! `GET /hello/`: the demo protected resource. A valid access token (from the OAuth flow or
//! the SimpleJWT API) gets a greeting; anything else gets SimpleJWT's 401 bodies.
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::resource::Authenticated;
use crate::simplejwt::{self, SimpleJwtError};
use crate::state::AppState;

async fn authenticate(token: Authenticated, state: &AppState) -> Result<(), SimpleJwtError> {
    let claims = token.0;
    let settings = state.settings.simplejwt.clone();
    state
        .store
        .run(move |conn| Ok(simplejwt::hello_user(conn, &settings, &claims)))
        .await??;
    Ok(())
}

pub async fn get(
    token: Result<Authenticated, crate::resource::Rejection>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, SimpleJwtError> {
    authenticate(token?, &state).await?;
    Ok(HttpResponse::Ok().json(json!({ "message": "Hello, World!" })))
}

/// DRF authenticates before it looks at the method, so a wrong method is a 401 for an
/// anonymous caller and a 405 only for an authenticated one.
pub async fn other(
    req: HttpRequest,
    token: Result<Authenticated, crate::resource::Rejection>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, SimpleJwtError> {
    authenticate(token?, &state).await?;
    Err(SimpleJwtError::MethodNotAllowed(req.method().to_string()))
}
