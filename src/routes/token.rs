//! `POST /oauth/token`.
use actix_web::{HttpRequest, HttpResponse, web};

use super::web::form_pairs;
use crate::oauth::OAuthError;
use crate::oauth::grants::Issuing;
use crate::oauth::token::{self, TokenRequest};
use crate::state::AppState;

pub async fn post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let request = TokenRequest {
        form: form_pairs(&body),
        authorization: req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let settings = state.settings.clone();
    let keys = state.keys.current();
    let secrets = state.secrets.clone();
    let now = state.clock.unix();
    let body = state
        .store
        .run(move |conn| {
            let issuing = Issuing {
                settings: &settings,
                keys: &keys,
                now,
            };
            Ok(token::exchange(conn, &issuing, &secrets, request))
        })
        .await??;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(body))
}
