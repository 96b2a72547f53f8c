//! `POST /oauth/token`.
use actix_web::{HttpRequest, HttpResponse, web};

use super::web::{field, form_pairs};
use crate::oauth::OAuthError;
use crate::oauth::grants::Issuing;
use crate::oauth::token::{self, TokenRequest};
use crate::state::AppState;

pub async fn post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let form = form_pairs(&body);
    // Read before the form moves into the request: counted only if the grant succeeds,
    // which also means it was one of the known grant types.
    let grant = field(&form, "grant_type").unwrap_or_default().to_owned();
    let fetched = state.client_keys.for_request(&state.store, &form).await;
    let request = TokenRequest {
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
    let keys = state.keys.current();
    let secrets = state.secrets.clone();
    let now = state.clock.unix();
    let answer = state
        .store
        .run(move |conn| {
            let issuing = Issuing {
                settings: &settings,
                keys: &keys,
                now,
                dpop_jkt: None,
            };
            Ok(token::exchange(conn, &issuing, &secrets, request))
        })
        .await?;
    if let Err(OAuthError::RefreshReused) = &answer {
        state.metrics.refresh_reused("oauth");
    }
    let body = state.metrics.count_throttled("client_auth", answer)?;
    state.metrics.token_issued(&grant);
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(body))
}
