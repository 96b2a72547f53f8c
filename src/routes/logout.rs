//! `/logout` (the user's own sign-out) and `/oauth/logout` (RP-initiated logout).
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::web::{cookie_value, csrf_ok, field, form_pairs, query_pairs, removal};
use crate::error::PageError;
use crate::oauth::logout::{self, CurrentSession, LogoutPlan, LogoutRequest};
use crate::sessions::{self, COOKIE};
use crate::state::AppState;
use crate::views;

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match super::session::current(&req, &state).await {
        Some(s) => views::page(
            StatusCode::OK,
            &views::Logout {
                client_name: None,
                action: "/logout",
                params: &[],
                csrf_token: &s.session.csrf_token,
            },
        ),
        None => views::page(StatusCode::OK, &views::LoggedOut),
    }
}

pub async fn post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = form_pairs(&body);
    if let Some(s) = super::session::current(&req, &state).await
        && !csrf_ok(&s.session.csrf_token, field(&form, "csrf_token"))
    {
        return Err(PageError::FormExpired("Reload the page and try again."));
    }
    end_session(&req, &state, None).await
}

/// Delete the session (if any), clear the cookie, and go to `redirect` or the signed-out page.
async fn end_session(
    req: &HttpRequest,
    state: &AppState,
    redirect: Option<url::Url>,
) -> Result<HttpResponse, PageError> {
    if let Some(cookie) = cookie_value(req, COOKIE) {
        state
            .store
            .run(move |conn| sessions::logout(conn, &cookie))
            .await?;
    }
    let mut res = match redirect {
        Some(url) => HttpResponse::Found()
            .insert_header(("Location", url.to_string()))
            .finish(),
        None => views::page(StatusCode::OK, &views::LoggedOut),
    };
    let _ = res.add_removal_cookie(&removal(&state.settings, COOKIE));
    Ok(res)
}

pub async fn rp_get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let params = query_pairs(&req);
    rp_logout(&req, &state, params, false).await
}

pub async fn rp_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let params = form_pairs(&body);
    let session = super::session::current(&req, &state).await;
    let confirmed = field(&params, "csrf_token").is_some()
        && session.is_none_or(|s| csrf_ok(&s.session.csrf_token, field(&params, "csrf_token")));
    rp_logout(&req, &state, params, confirmed).await
}

async fn rp_logout(
    req: &HttpRequest,
    state: &AppState,
    params: Vec<(String, String)>,
    confirmed: bool,
) -> Result<HttpResponse, PageError> {
    let request = LogoutRequest {
        id_token_hint: field(&params, "id_token_hint").map(str::to_owned),
        post_logout_redirect_uri: field(&params, "post_logout_redirect_uri").map(str::to_owned),
        state: field(&params, "state").map(str::to_owned),
        client_id: field(&params, "client_id").map(str::to_owned),
    };
    let session = super::session::current(req, state).await;
    let current = session.as_ref().map(|s| CurrentSession {
        subject: s.user.subject.clone(),
        sid: sessions::sid(&s.session_key),
    });
    let (keys, settings, now) = (
        state.keys.current(),
        state.settings.clone(),
        state.clock.unix(),
    );
    let plan = state
        .store
        .run(move |conn| {
            logout::plan(
                conn,
                &keys,
                &settings,
                &request,
                current.as_ref(),
                confirmed,
                now,
            )
        })
        .await?;
    match plan {
        LogoutPlan::Refuse(message) => Err(PageError::refused(
            StatusCode::BAD_REQUEST,
            "Cannot sign out here",
            message,
        )),
        LogoutPlan::SignOut { redirect } => end_session(req, state, redirect).await,
        LogoutPlan::Confirm { client } => match session {
            None => {
                // Nobody to sign out: finish as if confirmed.
                let mut params = params;
                params.push(("csrf_token".into(), "none".into()));
                Box::pin(rp_logout(req, state, params, true)).await
            }
            Some(s) => {
                let kept: Vec<(String, String)> = params
                    .into_iter()
                    .filter(|(k, _)| k != "csrf_token")
                    .collect();
                Ok(views::page(
                    StatusCode::OK,
                    &views::Logout {
                        client_name: client.as_ref().map(|c| c.name.as_str()),
                        action: "/oauth/logout",
                        params: &kept,
                        csrf_token: &s.session.csrf_token,
                    },
                ))
            }
        },
    }
}
