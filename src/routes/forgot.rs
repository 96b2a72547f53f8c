//! `/reset`: "Forgot password?", when a mail server is configured (see `crate::reset_mail`).
//! The answer is the same page whether or not the account exists; the lookup and the email
//! happen after it is sent. Only the per-address count answers differently, and it is taken
//! before anything is looked up.
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::web::{client_ip, cookie, cookie_value, csrf_ok, field, form_pairs};
use crate::error::PageError;
use crate::reset_mail;
use crate::secrets;
use crate::state::AppState;
use crate::views;

/// The form's double-submit CSRF cookie (no session yet).
const CSRF_COOKIE: &str = "tessera_reset_csrf";

fn not_offered() -> PageError {
    PageError::refused(
        StatusCode::NOT_FOUND,
        "Password reset by email is not set up",
        "This server sends no email. Ask an administrator for a reset link.",
    )
}

fn form(
    status: StatusCode,
    state: &AppState,
    identifier: &str,
    error: Option<&str>,
) -> HttpResponse {
    let token = secrets::random_token(24);
    let mut res = views::page(
        status,
        &views::Forgot {
            csrf_token: &token,
            identifier,
            error,
            sent: false,
            minutes: reset_mail::EMAIL_TTL / 60,
        },
    );
    let _ = res.add_cookie(&cookie(&state.settings, CSRF_COOKIE, token, 3600));
    res
}

pub async fn get(state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    if state.settings.smtp.is_none() {
        return Err(not_offered());
    }
    Ok(form(StatusCode::OK, &state, "", None))
}

pub async fn post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(smtp) = state.settings.smtp.clone() else {
        return Err(not_offered());
    };
    let form_fields = form_pairs(&body);
    let identifier = field(&form_fields, "identifier")
        .unwrap_or("")
        .trim()
        .to_owned();
    let expected = cookie_value(&req, CSRF_COOKIE).unwrap_or_default();
    if !csrf_ok(&expected, field(&form_fields, "csrf_token")) {
        return Ok(form(
            StatusCode::BAD_REQUEST,
            &state,
            &identifier,
            Some("The form expired. Please try again."),
        ));
    }
    if identifier.is_empty() {
        return Ok(form(
            StatusCode::BAD_REQUEST,
            &state,
            "",
            Some("Type your username or email address."),
        ));
    }
    let ip = client_ip(&req, &state.settings);
    let now = state.clock.unix();
    let admitted = {
        let ip = ip.clone();
        state
            .store
            .run(move |conn| reset_mail::admit(conn, now, ip.as_deref()))
            .await
            .map_err(|cause| PageError::Unavailable {
                cause,
                retry: "Please try again in a moment.",
            })?
    };
    if !admitted {
        return Ok(form(
            StatusCode::TOO_MANY_REQUESTS,
            &state,
            &identifier,
            Some("Too many reset requests from your network. Please try again in an hour."),
        ));
    }
    actix_web::rt::spawn(reset_mail::fulfil(
        state.store.clone(),
        state.clock.clone(),
        smtp,
        state.settings.issuer.clone(),
        identifier,
        ip,
    ));
    let mut res = views::page(
        StatusCode::OK,
        &views::Forgot {
            csrf_token: "",
            identifier: "",
            error: None,
            sent: true,
            minutes: reset_mail::EMAIL_TTL / 60,
        },
    );
    let _ = res.add_removal_cookie(&super::web::removal(&state.settings, CSRF_COOKIE));
    Ok(res)
}
