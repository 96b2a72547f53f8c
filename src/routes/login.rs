//! `/login`: the user's own sign-in at Tessera, also reached from the authorization flow.
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::web::{cookie, cookie_value, csrf_ok, field, form_pairs, safe_return_to};
use crate::clients;
use crate::error::PageError;
use crate::second_factor::step::{self, SignIn};
use crate::secrets::{self, SecretString};
use crate::sessions::{COOKIE, LOGIN_CSRF_COOKIE, LoginError, Origin};
use crate::state::AppState;
use crate::throttle::Policy;
use crate::views;

/// The login page with a fresh double-submit CSRF cookie.
pub fn login_page(
    state: &AppState,
    status: StatusCode,
    client_name: Option<&str>,
    username: &str,
    return_to: &str,
    error: Option<&str>,
) -> HttpResponse {
    let token = secrets::random_token(24);
    let login = views::Login {
        client_name,
        error,
        csrf_token: &token,
        return_to,
        username,
        passkeys: state.passkeys.webauthn().is_ok(),
        forgot: state.settings.smtp.is_some(),
    };
    let mut res = if login.passkeys {
        views::page_with_script(status, &login)
    } else {
        views::page(status, &login)
    };
    let _ = res.add_cookie(&cookie(&state.settings, LOGIN_CSRF_COOKIE, token, 3600));
    res
}

/// The client a sign-in continues to, when it came from the authorization endpoint.
async fn client_name(state: &AppState, return_to: &str) -> Option<String> {
    let path = return_to.to_owned();
    state
        .store
        .run(move |conn| clients::name_for_authorize_path(conn, &path))
        .await
        .ok()
        .flatten()
}

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let query = super::web::query_pairs(&req);
    let return_to = safe_return_to(field(&query, "return_to")).unwrap_or_default();
    if let Some(signed_in) = super::session::current(&req, &state).await {
        if signed_in.user.must_change_password {
            return to_password_change(&return_to);
        }
        if !return_to.is_empty() {
            return HttpResponse::SeeOther()
                .insert_header(("Location", return_to))
                .finish();
        }
        let display = signed_in
            .user
            .name
            .clone()
            .unwrap_or_else(|| signed_in.user.username.clone());
        return views::page(
            StatusCode::OK,
            &views::SignedIn {
                display_name: &display,
                username: &signed_in.user.username,
                csrf_token: &signed_in.session.csrf_token,
                is_admin: signed_in.user.is_admin,
            },
        );
    }
    let hint = field(&query, "login_hint").unwrap_or("");
    login_page(&state, StatusCode::OK, None, hint, &return_to, None)
}

/// 303 to the password change form, which continues to `return_to` once done.
pub fn to_password_change(return_to: &str) -> HttpResponse {
    let location = if return_to.is_empty() {
        crate::account::PASSWORD_PATH.to_owned()
    } else {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", return_to)
            .finish();
        format!("{}?{query}", crate::account::PASSWORD_PATH)
    };
    HttpResponse::SeeOther()
        .insert_header(("Location", location))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

pub async fn post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = form_pairs(&body);
    let return_to = safe_return_to(field(&form, "return_to")).unwrap_or_default();
    let username = field(&form, "username").unwrap_or("").trim().to_owned();
    let expected = cookie_value(&req, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if !csrf_ok(&expected, field(&form, "csrf_token")) {
        return Ok(login_page(
            &state,
            StatusCode::BAD_REQUEST,
            client_name(&state, &return_to).await.as_deref(),
            &username,
            &return_to,
            Some("Your sign-in form expired. Please try again."),
        ));
    }
    let password = SecretString::new(field(&form, "password").unwrap_or(""));
    let origin = Origin {
        user_agent: req
            .headers()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ip: super::web::client_ip(&req, &state.settings),
    };
    let now = state.clock.unix();
    let ttl = state.settings.session_ttl.as_secs() as i64;
    let policy = Policy::from_settings(&state.settings);
    let attempt = {
        let (username, return_to) = (username.clone(), return_to.clone());
        state
            .store
            .run(move |conn| {
                let signed = step::sign_in(
                    conn,
                    (now, ttl),
                    policy,
                    (&username, &password),
                    origin,
                    &return_to,
                );
                match signed {
                    Ok(ok) => Ok(Ok(ok)),
                    Err(LoginError::Invalid) => Ok(Err(None)),
                    Err(LoginError::Throttled(locked)) => Ok(Err(Some(locked.retry_after))),
                    Err(LoginError::Store(e)) => Err(e),
                }
            })
            .await
            .map_err(|cause| PageError::Unavailable {
                cause,
                retry: "Tessera cannot sign you in right now. Please try again in a moment.",
            })?
    };
    match attempt {
        Ok(SignIn::SecondStep(pending)) => {
            tracing::info!(user = %username, "password accepted; second step next");
            let mut res = HttpResponse::SeeOther()
                .insert_header(("Location", step::PATH))
                .insert_header(("Cache-Control", "no-store"))
                .finish();
            let _ = res.add_cookie(&cookie(&state.settings, step::COOKIE, pending, step::TTL));
            let _ =
                res.add_removal_cookie(&super::web::removal(&state.settings, LOGIN_CSRF_COOKIE));
            Ok(res)
        }
        Ok(SignIn::Session(cookie_value, _)) => {
            tracing::info!(user = %username, "login");
            let target = if return_to.is_empty() {
                "/login".to_owned()
            } else {
                return_to
            };
            let mut res = HttpResponse::SeeOther()
                .insert_header(("Location", target))
                .finish();
            let _ = res.add_cookie(&cookie(&state.settings, COOKIE, cookie_value, ttl));
            let _ =
                res.add_removal_cookie(&super::web::removal(&state.settings, LOGIN_CSRF_COOKIE));
            Ok(res)
        }
        Err(None) => {
            tracing::info!(user = %username, "failed login");
            state.metrics.login_failed("login_page");
            Ok(login_page(
                &state,
                StatusCode::UNAUTHORIZED,
                client_name(&state, &return_to).await.as_deref(),
                &username,
                &return_to,
                Some("Invalid username or password."),
            ))
        }
        Err(Some(retry_after)) => {
            tracing::info!(user = %username, retry_after, "throttled login");
            state.metrics.throttled("login_page");
            let mut res = login_page(
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                client_name(&state, &return_to).await.as_deref(),
                &username,
                &return_to,
                Some("Too many failed sign-ins. Please wait a moment and try again."),
            );
            if let Ok(value) = retry_after.to_string().parse() {
                res.headers_mut()
                    .insert(actix_web::http::header::RETRY_AFTER, value);
            }
            Ok(res)
        }
    }
}
