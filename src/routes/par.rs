//! `POST /oauth/par` (RFC 9126).
use actix_web::{HttpRequest, HttpResponse, web};

use super::web::form_pairs;
use crate::oauth::OAuthError;
use crate::oauth::par::{self, PushRequest};
use crate::state::AppState;

/// The most a pushed request may be: an authorization request is a URL's worth of
/// parameters, and each one pushed is kept for its lifetime.
pub const MAX_PUSHED: usize = 16 * 1024;

pub async fn post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    if body.len() > MAX_PUSHED {
        return Err(OAuthError::InvalidRequest(format!(
            "the pushed request is larger than {} KiB",
            MAX_PUSHED / 1024
        )));
    }
    let form = form_pairs(&body);
    let fetched = state.client_keys.for_request(&state.store, &form).await;
    let request = PushRequest {
        fetched,
        form,
        authorization: req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ip: super::web::client_ip(&req, &state.settings),
        dpop: match crate::resource::dpop::proof_header(req.headers()) {
            Ok(proof) => proof.map(str::to_owned),
            Err(e) => return Err(OAuthError::InvalidDpopProof(e.0.into())),
        },
    };
    let settings = state.settings.clone();
    let secrets = state.secrets.clone();
    let now = state.clock.unix();
    let answer = state
        .store
        .run(move |conn| Ok(par::push(conn, &settings, &secrets, request, now)))
        .await?;
    let body = state.metrics.count_throttled("client_auth", answer)?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(body))
}
