//! `/login/second-factor`: the second step of a sign-in (a code, a recovery code, or
//! setting up a required authenticator; a passkey is in `second_step_passkey`), and the
//! step-up of a password-only session that the authorization endpoint or the console sends
//! here.
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::login::login_page;
use super::web::{cookie, cookie_value, csrf_ok, field, form_pairs};
use crate::auth_methods::Method;
use crate::error::PageError;
use crate::second_factor::step::{self, Done, Need, Pending, Proved, StepError};
use crate::second_factor::{SecondFactorError, totp};
use crate::sessions::{COOKIE, Origin, SignedIn};
use crate::state::AppState;
use crate::throttle::Policy;
use crate::views::{self, EnrolView};

pub(super) fn unavailable(cause: crate::store::StoreError) -> PageError {
    PageError::Unavailable {
        cause,
        retry: "Tessera cannot sign you in right now. Please try again in a moment.",
    }
}

fn factor_error(e: SecondFactorError) -> PageError {
    match e {
        SecondFactorError::Store(cause) => unavailable(cause),
        other => {
            tracing::error!(error = %other, "second step failed");
            PageError::refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Second step unavailable",
                "Tessera cannot check second factors right now. Please tell an administrator.",
            )
        }
    }
}

/// The login page again, for a pending sign-in that expired, was finished elsewhere, or
/// never existed; the stale cookie goes.
pub(super) fn start_over(state: &AppState, return_to: &str) -> HttpResponse {
    let mut res = login_page(
        state,
        StatusCode::UNAUTHORIZED,
        None,
        "",
        return_to,
        Some("Your sign-in took too long or has ended. Please sign in again."),
    );
    let _ = res.add_removal_cookie(&super::web::removal(&state.settings, step::COOKIE));
    res
}

/// The browser's live pending sign-in. Passkeys registered under an issuer that is now an
/// IP address cannot answer, so such a user is asked for what works without them.
pub(super) async fn pending(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<Pending>, PageError> {
    pending_or_store_error(req, state)
        .await
        .map_err(unavailable)
}

pub(super) async fn pending_or_store_error(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<Pending>, crate::store::StoreError> {
    let Some(cookie) = cookie_value(req, step::COOKIE) else {
        return Ok(None);
    };
    let now = state.clock.unix();
    let found = state
        .store
        .run(move |conn| step::current(conn, &cookie, now))
        .await?;
    Ok(found.map(|mut p| {
        if state.passkeys.webauthn().is_err() {
            p.passkey = false;
            if p.need == Need::Passkey {
                p.need = Need::Enrol;
            }
        }
        p
    }))
}

fn kek(state: &AppState) -> Result<crate::kek::Kek, PageError> {
    state
        .keys
        .source()
        .kek()
        .cloned()
        .ok_or_else(|| factor_error(SecondFactorError::NoKek))
}

/// The page for `pending`: the code form, or the enrolment with its QR code, and the
/// passkey button when the user has one.
pub(super) async fn page(
    state: &AppState,
    pending: &Pending,
    status: StatusCode,
    error: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let enrol = match pending.need {
        Need::Code | Need::Passkey => None,
        Need::Enrol => {
            let kek = kek(state)?;
            let (user_id, account) = (pending.user.id, pending.user.username.clone());
            let now = state.clock.unix();
            let e = state
                .store
                .run(move |conn| Ok(totp::begin(conn, &kek, user_id, &account, now)))
                .await
                .map_err(unavailable)?
                .map_err(factor_error)?;
            Some(EnrolView {
                qr: e.qr,
                secret: e.secret_base32,
                uri: e.uri,
            })
        }
    };
    // The passkey button needs the page's script; without it, no script runs at all.
    let render = if pending.passkey {
        views::page_with_script
    } else {
        views::page
    };
    Ok(render(
        status,
        &views::SecondFactor {
            username: &pending.user.username,
            action: step::PATH,
            csrf_token: &pending.row.csrf_token,
            error,
            code: pending.need != Need::Passkey,
            enrol,
            passkey: pending.passkey,
            why: "a second factor is required to sign in here. Set one up now.",
        },
    ))
}

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    match pending(&req, &state).await? {
        Some(p) => page(&state, &p, StatusCode::OK, None).await,
        None => Ok(start_over(&state, "")),
    }
}

pub async fn post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(pending) = pending(&req, &state).await? else {
        return Ok(start_over(&state, ""));
    };
    let form = form_pairs(&body);
    if !csrf_ok(&pending.row.csrf_token, field(&form, "csrf_token")) {
        return page(
            &state,
            &pending,
            StatusCode::BAD_REQUEST,
            Some("This form expired. Please type the code again."),
        )
        .await;
    }
    let code = field(&form, "code").unwrap_or("").trim().to_owned();
    let kek = kek(&state)?;
    let ip = super::web::client_ip(&req, &state.settings);
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
    let return_to = pending.row.return_to.clone();
    let username = pending.user.username.clone();
    let outcome = state
        .store
        .run(move |conn| {
            let proved =
                match step::prove(conn, &kek, throttle, &pending, &code, ip.as_deref(), now) {
                    Ok(p) => p,
                    Err(StepError::Factor(SecondFactorError::Store(e))) => return Err(e),
                    Err(e) => return Ok(Err((e, pending))),
                };
            let done = step::complete(
                conn,
                (now, ttl),
                pending,
                (origin, session_key.as_deref()),
                Method::Otp,
            )?;
            Ok(Ok((proved, done)))
        })
        .await
        .map_err(unavailable)?;
    let (proved, done) = match outcome {
        Ok(ok) => ok,
        Err((StepError::WrongCode, pending)) => {
            tracing::info!(user = %username, "second step: wrong code");
            state.metrics.login_failed("second_factor");
            return page(
                &state,
                &pending,
                StatusCode::UNAUTHORIZED,
                Some("That code is not right, or was already used. Wait for the next code and try again."),
            )
            .await;
        }
        Err((StepError::Throttled(locked), pending)) => {
            tracing::info!(user = %username, "second step: throttled");
            state.metrics.throttled("second_factor");
            let mut res = page(
                &state,
                &pending,
                StatusCode::TOO_MANY_REQUESTS,
                Some("Too many wrong codes. Please wait a moment and try again."),
            )
            .await?;
            if let Ok(value) = locked.retry_after.to_string().parse() {
                res.headers_mut()
                    .insert(actix_web::http::header::RETRY_AFTER, value);
            }
            return Ok(res);
        }
        Err((StepError::Factor(e), _)) => return Err(factor_error(e)),
    };
    let target = next(return_to);
    let res = match &proved {
        Proved::Enrolled(codes) => views::page(
            StatusCode::OK,
            &views::RecoveryCodes {
                headline: "Your authenticator is set up, and you are signed in.",
                codes: &codes.0,
                next: &target,
            },
        ),
        _ => onward(&target),
    };
    Ok(finished(&state, res, done, &target, &username))
}

/// Where a finished second step leads: the page that asked for it, or the login page
/// (which says who is signed in).
pub(super) fn next(return_to: String) -> String {
    if return_to.is_empty() {
        "/login".to_owned()
    } else {
        return_to
    }
}

pub(super) fn onward(target: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", target.to_owned()))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

/// `res` with the new session's cookie (if the step opened one) and without the pending
/// sign-in's; the login page again if another request finished the step first.
pub(super) fn finished(
    state: &AppState,
    mut res: HttpResponse,
    done: Done,
    target: &str,
    username: &str,
) -> HttpResponse {
    let ttl = state.settings.session_ttl.as_secs() as i64;
    match done {
        Done::Session(value) => {
            tracing::info!(user = %username, "login with a second factor");
            let _ = res.add_cookie(&cookie(&state.settings, COOKIE, value, ttl));
        }
        Done::SteppedUp => tracing::info!(user = %username, "session stepped up"),
        Done::Gone => return start_over(state, target),
    }
    let _ = res.add_removal_cookie(&super::web::removal(&state.settings, step::COOKIE));
    res
}

/// `GET /login/second-factor/start?return_to=...`: where the console sends a signed-in
/// administrator whose session lacks the second factor the policy requires. Only starts
/// the step (a pending sign-in bound to this browser and session); nothing is granted.
pub async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let query = super::web::query_pairs(&req);
    let return_to = super::web::safe_return_to(field(&query, "return_to")).unwrap_or_default();
    match super::session::current(&req, &state).await {
        Some(s) => step_up(&state, &s, &return_to).await,
        None => Ok(login_page(
            &state,
            StatusCode::OK,
            None,
            "",
            &return_to,
            None,
        )),
    }
}

/// Send a signed-in browser whose session lacks a second factor through the second step,
/// then on to `return_to` (a path `safe_return_to` accepts).
pub async fn step_up(
    state: &AppState,
    signed_in: &SignedIn,
    return_to: &str,
) -> Result<HttpResponse, PageError> {
    let (user_id, key, methods) = (
        signed_in.user.id,
        signed_in.session_key.clone(),
        signed_in.methods(),
    );
    let now = state.clock.unix();
    let return_to_owned = super::web::safe_return_to(Some(return_to)).unwrap_or_default();
    let value = state
        .store
        .run(move |conn| step::start(conn, now, user_id, Some(key), &methods, &return_to_owned))
        .await
        .map_err(unavailable)?;
    let mut res = HttpResponse::SeeOther()
        .insert_header(("Location", step::PATH))
        .insert_header(("Cache-Control", "no-store"))
        .finish();
    let _ = res.add_cookie(&cookie(&state.settings, step::COOKIE, value, step::TTL));
    Ok(res)
}
