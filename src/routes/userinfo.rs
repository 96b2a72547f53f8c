//! `GET|POST /oauth/userinfo`: the access token comes in the Authorization header (Bearer,
//! or DPoP with a `DPoP` proof, RFC 9449 §7) or, for POST, as the `access_token` form field
//! (RFC 6750 §2.1, §2.2) — never both.
use actix_web::{HttpRequest, HttpResponse, web};

use super::web::{field, form_pairs};
use crate::oauth::OAuthError;
use crate::oauth::dpop::Presented;
use crate::oauth::userinfo;
use crate::resource::dpop::proof_header;
use crate::state::AppState;

/// The token of the Authorization header and how it was presented.
fn authorization(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<(String, Presented)>, OAuthError> {
    let Some(value) = req.headers().get("authorization") else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or("");
    let (scheme, token) = match value.split_once(' ') {
        Some((scheme, token)) if !token.trim().is_empty() => (scheme, token.trim().to_owned()),
        _ => {
            return Err(OAuthError::InvalidToken(
                "use the Bearer or DPoP authentication scheme".into(),
            ));
        }
    };
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Some((token, Presented::Bearer)));
    }
    if scheme.eq_ignore_ascii_case("dpop") {
        let proof = proof_header(req.headers()).map_err(|e| OAuthError::DpopRefused {
            error: "invalid_dpop_proof",
            description: e.0.into(),
        })?;
        let presented = Presented::Dpop {
            proof: proof.map(str::to_owned),
            method: req.method().as_str().to_owned(),
            url: state.settings.endpoint("/oauth/userinfo"),
        };
        return Ok(Some((token, presented)));
    }
    Err(OAuthError::InvalidToken(
        "use the Bearer or DPoP authentication scheme".into(),
    ))
}

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, OAuthError> {
    let (token, presented) = authorization(&req, &state)?
        .ok_or_else(|| OAuthError::InvalidToken("an access token is required".into()))?;
    answer(&state, token, presented).await
}

pub async fn post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let form = form_pairs(&body);
    let (token, presented) = match (authorization(&req, &state)?, field(&form, "access_token")) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::InvalidRequest(
                "send the access token one way only".into(),
            ));
        }
        (Some(found), None) => found,
        (None, Some(t)) => (t.to_owned(), Presented::Bearer),
        (None, None) => {
            return Err(OAuthError::InvalidToken(
                "an access token is required".into(),
            ));
        }
    };
    answer(&state, token, presented).await
}

async fn answer(
    state: &AppState,
    token: String,
    presented: Presented,
) -> Result<HttpResponse, OAuthError> {
    let keys = state.keys.current();
    let settings = state.settings.clone();
    let now = state.clock.unix();
    let claims = state
        .store
        .run(move |conn| {
            Ok(userinfo::userinfo(
                conn, &keys, &settings, &token, &presented, now,
            ))
        })
        .await??;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(claims))
}
