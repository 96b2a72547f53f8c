//! `POST /api/token/`, `/api/token/refresh/`, `/api/token/verify/`, `/api/token/blacklist/`:
//! the SimpleJWT-compatible token API. Any other method gets DRF's 405 body.
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, WWW_AUTHENTICATE};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use crate::secrets::SecretString;
use crate::simplejwt::{self, Body, Ctx, SimpleJwtError, input};
use crate::state::AppState;
use crate::store::DbConnection;

async fn body(req: &HttpRequest, bytes: &[u8]) -> Result<Body, SimpleJwtError> {
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    input::parse(content_type, bytes).await
}

fn ok<T: Serialize>(value: &T) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(value)
}

/// Run one token-API operation on the blocking pool with the current keys and time.
async fn run<T, F>(state: &AppState, f: F) -> Result<HttpResponse, SimpleJwtError>
where
    T: Serialize + Send + 'static,
    F: FnOnce(&mut DbConnection, &Ctx<'_>) -> Result<T, SimpleJwtError> + Send + 'static,
{
    let keys = state.keys.current();
    let settings = state.settings.clone();
    let now = state.clock.unix();
    let answer = state
        .store
        .with_conn(move |mut conn| {
            let ctx = Ctx {
                keys: &keys,
                settings: &settings,
                now,
            };
            f(&mut conn, &ctx)
        })
        .await??;
    Ok(ok(&answer))
}

pub async fn obtain(
    req: HttpRequest,
    bytes: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, SimpleJwtError> {
    let mut fields = input::fields(&body(&req, &bytes).await?, &["username", "password"])?;
    let password = SecretString::new(fields.pop().unwrap_or_default());
    let username = fields.pop().unwrap_or_default();
    let ip = super::web::client_ip(&req, &state.settings);
    let answer = run(&state, move |conn, ctx| {
        simplejwt::obtain(conn, ctx, &username, &password, ip.as_deref())
    })
    .await;
    match answer {
        Err(SimpleJwtError::NoActiveAccount) => state.metrics.login_failed("api_token"),
        Err(SimpleJwtError::Throttled(_)) => state.metrics.throttled("api_token"),
        _ => {}
    }
    answer
}

/// The endpoints that take one token field: read it, then run `op` on it.
async fn with_token<T: Serialize + Send + 'static>(
    req: HttpRequest,
    bytes: web::Bytes,
    state: web::Data<AppState>,
    field: &'static str,
    op: fn(&mut DbConnection, &Ctx<'_>, &str) -> Result<T, SimpleJwtError>,
) -> Result<HttpResponse, SimpleJwtError> {
    let token = input::fields(&body(&req, &bytes).await?, &[field])?.concat();
    run(&state, move |conn, ctx| op(conn, ctx, &token)).await
}

pub async fn refresh(
    req: HttpRequest,
    bytes: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, SimpleJwtError> {
    let metrics = state.metrics.clone();
    let answer = with_token(req, bytes, state, "refresh", simplejwt::refresh).await;
    if let Err(SimpleJwtError::RefreshReused) = &answer {
        metrics.refresh_reused("simplejwt");
    }
    answer
}

pub async fn verify(
    req: HttpRequest,
    bytes: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, SimpleJwtError> {
    with_token(req, bytes, state, "token", simplejwt::verify).await
}

pub async fn blacklist(
    req: HttpRequest,
    bytes: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, SimpleJwtError> {
    with_token(req, bytes, state, "refresh", simplejwt::blacklist).await
}

pub async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, SimpleJwtError> {
    Err(SimpleJwtError::MethodNotAllowed(req.method().to_string()))
}

/// DRF names the first of `AUTH_HEADER_TYPES` in every 401's challenge. The error types
/// answer `Bearer realm="api"` without seeing the settings, so the scheme is put right here,
/// on the way out of the SimpleJWT endpoints and `/hello/`.
pub async fn challenge(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let scheme = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.settings.simplejwt.challenge_scheme().to_owned())
        .filter(|scheme| scheme != "Bearer");
    let mut res = next.call(req).await?;
    let Some(scheme) = scheme else {
        return Ok(res);
    };
    let replaced = res
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer realm=\"api\""))
        .and_then(|rest| HeaderValue::from_str(&format!("{scheme} realm=\"api\"{rest}")).ok());
    if let Some(value) = replaced {
        res.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    Ok(res)
}
