//! `GET|POST /oauth/userinfo`: the Bearer token comes in the Authorization header or, for
//! POST, as the `access_token` form field (RFC 6750 §2.1, §2.2) — never both.
use actix_web::{HttpRequest, HttpResponse, web};

use super::web::{field, form_pairs};
use crate::oauth::OAuthError;
use crate::oauth::userinfo;
use crate::state::AppState;

fn bearer(req: &HttpRequest) -> Result<Option<String>, OAuthError> {
    let Some(value) = req.headers().get("authorization") else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or("");
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim().to_owned()))
        }
        _ => Err(OAuthError::InvalidToken(
            "use the Bearer authentication scheme".into(),
        )),
    }
}

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, OAuthError> {
    let token = bearer(&req)?
        .ok_or_else(|| OAuthError::InvalidToken("an access token is required".into()))?;
    answer(&state, token).await
}

pub async fn post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let form = form_pairs(&body);
    let token = match (bearer(&req)?, field(&form, "access_token")) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::InvalidRequest(
                "send the access token one way only".into(),
            ));
        }
        (Some(t), None) => t,
        (None, Some(t)) => t.to_owned(),
        (None, None) => {
            return Err(OAuthError::InvalidToken(
                "an access token is required".into(),
            ));
        }
    };
    answer(&state, token).await
}

async fn answer(state: &AppState, token: String) -> Result<HttpResponse, OAuthError> {
    let keys = state.keys.current();
    let settings = state.settings.clone();
    let now = state.clock.unix();
    let claims = state
        .store
        .run(move |conn| Ok(userinfo::userinfo(conn, &keys, &settings, &token, now)))
        .await??;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(claims))
}
