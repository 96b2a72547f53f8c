//! Passkey requests: on the account page, the registration options (JSON, for the page's
//! script), saving the new passkey, renaming and removing one; on the login page, the
//! sign-in options and the sign-in itself. Every POST carries a CSRF token: the session's
//! on the account page, the login form's double-submit cookie on the login page.
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::web::{
    client_ip, cookie, cookie_value, csrf_ok, field, form_pairs, removal, safe_return_to,
};
use crate::account::Me;
use crate::error::{PageError, PasskeyScriptError};
use crate::passkeys::{self, PasskeyError, PasskeyName, Started};
use crate::sessions::{COOKIE, LOGIN_CSRF_COOKIE, Origin};
use crate::state::AppState;
use crate::store::DbConnection;
use crate::throttle::Policy;

async fn run<T, F>(state: &AppState, f: F) -> Result<T, PasskeyError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, PasskeyError> + Send + 'static,
{
    state.store.run(move |conn| Ok(f(conn))).await?
}

/// The signed-in user acting on their own passkeys, with the form's CSRF token checked.
async fn me(
    req: &HttpRequest,
    state: &AppState,
    form: &[(String, String)],
) -> Result<Me, PasskeyError> {
    let s = super::session::current(req, state)
        .await
        .ok_or(PasskeyError::SignIn)?;
    if !csrf_ok(&s.session.csrf_token, field(form, "csrf_token")) {
        tracing::info!(user = %s.user.username, "passkey form refused: CSRF token missing or wrong");
        return Err(PasskeyError::Csrf);
    }
    if s.user.must_change_password {
        return Err(PasskeyError::MustChangePassword);
    }
    Ok(Me {
        user_id: s.user.id,
        username: s.user.username.clone(),
        session_key: s.session_key.clone(),
        ip: client_ip(req, &state.settings),
    })
}

fn options(started: Started) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({
            "ceremony": started.ceremony,
            "options": started.options,
        }))
}

fn done(code: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", format!("/account?done={code}")))
        .finish()
}

/// `POST /account/passkeys/options`: begin registering a passkey.
pub async fn register_options(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PasskeyScriptError> {
    let form = form_pairs(&body);
    let me = me(&req, &state, &form).await?;
    let relying = state.passkeys.clone();
    let now = state.clock.unix();
    let started = run(&state, move |conn| {
        passkeys::register::start(conn, relying.webauthn()?, now, &me)
    })
    .await?;
    Ok(options(started))
}

/// `POST /account/passkeys`: save the passkey the browser created.
pub async fn register(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PasskeyError> {
    let form = form_pairs(&body);
    let me = me(&req, &state, &form).await?;
    let name = PasskeyName::parse(field(&form, "name").unwrap_or(""))?;
    let ceremony = field(&form, "ceremony").unwrap_or("").to_owned();
    let answer = field(&form, "credential").unwrap_or("").to_owned();
    let relying = state.passkeys.clone();
    let now = state.clock.unix();
    run(&state, move |conn| {
        passkeys::register::finish(
            conn,
            relying.webauthn()?,
            now,
            &me,
            &ceremony,
            &name,
            &answer,
        )
    })
    .await?;
    Ok(done("passkey-added"))
}

/// `POST /account/passkeys/{id}/rename`.
pub async fn rename(
    req: HttpRequest,
    body: web::Bytes,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PasskeyError> {
    let form = form_pairs(&body);
    let me = me(&req, &state, &form).await?;
    let name = PasskeyName::parse(field(&form, "name").unwrap_or(""))?;
    let id = path.into_inner();
    let now = state.clock.unix();
    run(&state, move |conn| {
        passkeys::rename(conn, now, &me, &id, &name)
    })
    .await?;
    Ok(done("passkey-renamed"))
}

/// `POST /account/passkeys/{id}/remove`.
pub async fn remove(
    req: HttpRequest,
    body: web::Bytes,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PasskeyError> {
    let form = form_pairs(&body);
    let me = me(&req, &state, &form).await?;
    let id = path.into_inner();
    let now = state.clock.unix();
    run(&state, move |conn| passkeys::remove(conn, now, &me, &id)).await?;
    Ok(done("passkey-removed"))
}

/// The login form's double-submit CSRF check.
fn login_csrf_ok(req: &HttpRequest, form: &[(String, String)]) -> bool {
    let expected = cookie_value(req, LOGIN_CSRF_COOKIE).unwrap_or_default();
    csrf_ok(&expected, field(form, "csrf_token"))
}

/// `POST /login/passkey/options`: begin a passkey sign-in.
pub async fn sign_in_options(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PasskeyScriptError> {
    let form = form_pairs(&body);
    if !login_csrf_ok(&req, &form) {
        return Err(PasskeyError::Csrf.into());
    }
    let relying = state.passkeys.clone();
    let now = state.clock.unix();
    let address = client_ip(&req, &state.settings);
    let started = run(&state, move |conn| {
        passkeys::sign_in::start(conn, relying.webauthn()?, now, address.as_deref())
    })
    .await
    .inspect_err(|e| {
        if matches!(e, PasskeyError::Throttled { .. }) {
            state.metrics.throttled("passkey_options");
        }
    })?;
    Ok(options(started))
}

/// `POST /login/passkey`: sign in with the passkey the browser used. Refusals come back as
/// the login page with one message, as a wrong password does.
pub async fn sign_in(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = form_pairs(&body);
    let return_to = safe_return_to(field(&form, "return_to")).unwrap_or_default();
    let again = |status: StatusCode, message: &str| {
        super::login::login_page(&state, status, None, "", &return_to, Some(message))
    };
    if !login_csrf_ok(&req, &form) {
        return Ok(again(
            StatusCode::BAD_REQUEST,
            "Your sign-in form expired. Please try again.",
        ));
    }
    let ceremony = field(&form, "ceremony").unwrap_or("").to_owned();
    let answer = field(&form, "credential").unwrap_or("").to_owned();
    let origin = Origin {
        user_agent: req
            .headers()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ip: client_ip(&req, &state.settings),
    };
    let relying = state.passkeys.clone();
    let now = state.clock.unix();
    let ttl = state.settings.session_ttl.as_secs() as i64;
    let policy = Policy::from_settings(&state.settings);
    let outcome = run(&state, move |conn| {
        passkeys::sign_in::finish(
            conn,
            relying.webauthn()?,
            now,
            ttl,
            policy,
            passkeys::sign_in::Answer {
                ceremony,
                credential: answer,
                origin,
            },
        )
    })
    .await;
    let done = match outcome {
        Ok(done) => done,
        Err(PasskeyError::Store(cause)) => {
            return Err(PageError::Unavailable {
                cause,
                retry: "Tessera cannot sign you in right now. Please try again in a moment.",
            });
        }
        Err(PasskeyError::Throttled { retry_after }) => {
            state.metrics.throttled("login_passkey");
            let mut res = again(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed sign-ins. Please wait a moment and try again.",
            );
            if let Ok(value) = retry_after.to_string().parse() {
                res.headers_mut()
                    .insert(actix_web::http::header::RETRY_AFTER, value);
            }
            return Ok(res);
        }
        Err(PasskeyError::Ceremony(problem)) => {
            tracing::info!(?problem, "passkey sign-in: ceremony unusable");
            return Ok(again(
                StatusCode::BAD_REQUEST,
                "That passkey request expired or was already used. Please try again.",
            ));
        }
        Err(PasskeyError::Unavailable) => {
            return Ok(again(
                StatusCode::NOT_FOUND,
                "Passkeys cannot be used on this server. Please sign in with your password.",
            ));
        }
        Err(e) => {
            tracing::info!(error = %e, "passkey sign-in refused");
            state.metrics.login_failed("login_passkey");
            return Ok(again(
                StatusCode::UNAUTHORIZED,
                "That passkey did not sign you in. Try again, or sign in with your password.",
            ));
        }
    };
    tracing::info!(user = %done.signed_in.user.username, "login with a passkey");
    let target = if return_to.is_empty() {
        "/login".to_owned()
    } else {
        return_to
    };
    let mut res = HttpResponse::SeeOther()
        .insert_header(("Location", target))
        .finish();
    let _ = res.add_cookie(&cookie(&state.settings, COOKIE, done.cookie, ttl));
    let _ = res.add_removal_cookie(&removal(&state.settings, LOGIN_CSRF_COOKIE));
    Ok(res)
}
