//! `/login/second-factor/passkey`: the second step answered with a passkey. The options
//! (JSON, for the page's script) and the answer both need the browser's pending sign-in
//! and its form token; a refusal is the second-step page again, as a wrong code is.
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::second_step::{
    finished, next, onward, page, pending, pending_or_store_error, start_over, unavailable,
};
use super::web::{client_ip, cookie_value, csrf_ok, field, form_pairs};
use crate::error::{PageError, PasskeyScriptError};
use crate::passkeys::{self, PasskeyError};
use crate::second_factor::step;
use crate::sessions::{COOKIE, Origin};
use crate::state::AppState;
use crate::throttle::Policy;

/// `POST /login/second-factor/passkey/options`: begin the ceremony for this browser's
/// pending sign-in.
pub async fn options(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PasskeyScriptError> {
    let found = pending_or_store_error(&req, &state)
        .await
        .map_err(PasskeyError::Store)?;
    let Some(pending) = found else {
        return Ok(HttpResponse::Unauthorized()
            .insert_header(("Cache-Control", "no-store"))
            .json(serde_json::json!({
                "error": "Your sign-in has ended",
                "message": "Your sign-in took too long or has ended. Please reload the page and sign in again.",
            })));
    };
    let form = form_pairs(&body);
    if !csrf_ok(&pending.row.csrf_token, field(&form, "csrf_token")) {
        tracing::info!(user = %pending.user.username, "second-step passkey options: CSRF token missing or wrong");
        return Err(PasskeyError::Csrf.into());
    }
    if !pending.passkey {
        return Err(PasskeyError::NotFound.into());
    }
    let relying = state.passkeys.clone();
    let now = state.clock.unix();
    let started = state
        .store
        .run(move |conn| {
            Ok(relying
                .webauthn()
                .and_then(|w| passkeys::second_step::start(conn, w, now, &pending)))
        })
        .await
        .map_err(PasskeyError::from)??;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({
            "ceremony": started.ceremony,
            "options": started.options,
        })))
}

/// `POST /login/second-factor/passkey`: finish the second step with the passkey the
/// browser used.
pub async fn answer(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(pending) = pending(&req, &state).await? else {
        return Ok(start_over(&state, ""));
    };
    let form = form_pairs(&body);
    if !csrf_ok(&pending.row.csrf_token, field(&form, "csrf_token")) {
        tracing::info!(user = %pending.user.username, "second-step passkey: CSRF token missing or wrong");
        return page(
            &state,
            &pending,
            StatusCode::BAD_REQUEST,
            Some("This form expired. Please try again."),
        )
        .await;
    }
    let ceremony = field(&form, "ceremony").unwrap_or("").to_owned();
    let credential = field(&form, "credential").unwrap_or("").to_owned();
    let ip = client_ip(&req, &state.settings);
    let origin = Origin {
        user_agent: req
            .headers()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ip: ip.clone(),
    };
    let session_key = cookie_value(&req, COOKIE).map(|c| crate::secrets::digest(&c));
    let now = state.clock.unix();
    let ttl = state.settings.session_ttl.as_secs() as i64;
    let throttle = Policy::from_settings(&state.settings);
    let relying = state.passkeys.clone();
    let (return_to, username) = (pending.row.return_to.clone(), pending.user.username.clone());
    let outcome = state
        .store
        .run(move |conn| {
            let checked = relying.webauthn().and_then(|w| {
                passkeys::second_step::finish(
                    conn,
                    w,
                    (now, throttle),
                    &pending,
                    (&ceremony, &credential),
                    ip.as_deref(),
                )
            });
            let accepted = match checked {
                Ok(a) => a,
                Err(PasskeyError::Store(e)) => return Err(e),
                Err(e) => return Ok(Err((e, pending))),
            };
            let done = step::complete(
                conn,
                (now, ttl),
                pending,
                (origin, session_key.as_deref()),
                accepted.method,
            )?;
            Ok(Ok((accepted, done)))
        })
        .await
        .map_err(unavailable)?;
    let (accepted, done) = match outcome {
        Ok(ok) => ok,
        Err((e, pending)) => return refused(&state, &pending, e).await,
    };
    tracing::info!(user = %username, passkey = %accepted.name, "second step: passkey accepted");
    let target = next(return_to);
    Ok(finished(&state, onward(&target), done, &target, &username))
}

/// The second-step page again, saying why the passkey was not accepted.
async fn refused(
    state: &AppState,
    pending: &step::Pending,
    e: PasskeyError,
) -> Result<HttpResponse, PageError> {
    let username = &pending.user.username;
    let (status, message) = match &e {
        PasskeyError::Throttled { .. } => {
            tracing::info!(user = %username, "second step: passkey throttled");
            state.metrics.throttled("second_factor");
            (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed attempts. Please wait a moment and try again.",
            )
        }
        PasskeyError::Ceremony(problem) => {
            tracing::info!(user = %username, ?problem, "second step: passkey ceremony unusable");
            state.metrics.login_failed("second_factor");
            (
                StatusCode::BAD_REQUEST,
                "That passkey request expired or was already used. Please try again.",
            )
        }
        PasskeyError::Unavailable => (
            StatusCode::NOT_FOUND,
            "Passkeys cannot be used on this server.",
        ),
        other => {
            tracing::info!(user = %username, error = %other, "second step: passkey refused");
            state.metrics.login_failed("second_factor");
            (
                StatusCode::UNAUTHORIZED,
                "That passkey was not accepted. Please try again.",
            )
        }
    };
    let mut res = page(state, pending, status, Some(message)).await?;
    if let PasskeyError::Throttled { retry_after } = e
        && let Ok(value) = retry_after.to_string().parse()
    {
        res.headers_mut()
            .insert(actix_web::http::header::RETRY_AFTER, value);
    }
    Ok(res)
}
