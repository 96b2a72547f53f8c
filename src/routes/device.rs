//! The device authorization grant's HTTP side (RFC 8628): `POST /oauth/device_authorization`
//! for devices, and the `/device` page where a signed-in user types the code, sees the
//! client and scopes, and allows or denies.
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::web::{csrf_ok, field, form_pairs, query_pairs};
use crate::error::PageError;
use crate::oauth::OAuthError;
use crate::oauth::device::{self, DeviceError, Pending, StartRequest, UserCode, Who};
use crate::sessions::SignedIn;
use crate::state::AppState;
use crate::throttle::Policy;
use crate::views;

/// `POST /oauth/device_authorization` (RFC 8628 §3.1, §3.2).
pub async fn authorize(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let form = form_pairs(&body);
    let fetched = state.client_keys.for_request(&state.store, &form).await;
    let request = StartRequest {
        fetched,
        form,
        authorization: req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ip: super::web::client_ip(&req, &state.settings),
    };
    let settings = state.settings.clone();
    let secrets = state.secrets.clone();
    let now = state.clock.unix();
    let answer = state
        .store
        .run(move |conn| Ok(device::start(conn, &settings, &secrets, request, now)))
        .await?;
    let body = state.metrics.count_throttled("client_auth", answer)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(body))
}

/// `GET /device[?user_code=...]`: the code form, prefilled from `verification_uri_complete`.
/// Prefilled only: the user still presses Continue and then Allow, so a link alone grants
/// nothing (RFC 8628 §5.4).
pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let query = query_pairs(&req);
    let typed = field(&query, "user_code").unwrap_or("");
    // Only something that can be a code is carried through sign-in and shown again.
    let code = UserCode::parse(typed).map(|c| c.display());
    let here = match &code {
        Some(code) => format!(
            "{}?{}",
            device::VERIFICATION_PATH,
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("user_code", code)
                .finish()
        ),
        None => device::VERIFICATION_PATH.to_owned(),
    };
    let Some(signed_in) = super::session::current(&req, &state).await else {
        return to_login(&here);
    };
    if signed_in.user.must_change_password {
        return super::login::to_password_change(&here);
    }
    entry(
        &signed_in,
        StatusCode::OK,
        code.as_deref().unwrap_or(""),
        None,
    )
}

/// `POST /device`: a typed code (Continue) or the answer to it (Allow, Deny).
pub async fn post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = form_pairs(&body);
    let Some(signed_in) = super::session::current(&req, &state).await else {
        return Ok(to_login(device::VERIFICATION_PATH));
    };
    if signed_in.user.must_change_password {
        return Ok(super::login::to_password_change(device::VERIFICATION_PATH));
    }
    if !csrf_ok(&signed_in.session.csrf_token, field(&form, "csrf_token")) {
        return Err(PageError::FormExpired(
            "Go back to the device page, reload it and type the code again.",
        ));
    }
    let typed = field(&form, "user_code").unwrap_or("").to_owned();
    let decision = match field(&form, "decision") {
        Some("allow") => Some(true),
        Some("deny") => Some(false),
        _ => None,
    };
    let policy = Policy::from_settings(&state.settings);
    let ip = super::web::client_ip(&req, &state.settings);
    let now = state.clock.unix();
    let answer = {
        let (user, session, typed) = (
            signed_in.user.clone(),
            signed_in.session.clone(),
            typed.clone(),
        );
        state
            .store
            .run(move |conn| {
                let who = Who {
                    user: &user,
                    session: &session,
                    ip: ip.as_deref(),
                };
                let result = match decision {
                    Some(allow) => device::decide(conn, policy, who, &typed, allow, now),
                    None => device::lookup(conn, policy, who, &typed, now),
                };
                match result {
                    Err(DeviceError::Store(e)) => Err(e),
                    other => Ok(other),
                }
            })
            .await?
    };
    // What was typed is shown again only if it can be a code: nothing else is echoed.
    let retyped = UserCode::parse(&typed)
        .map(|c| c.display())
        .unwrap_or_default();
    match answer {
        Ok(pending) => Ok(match decision {
            None => confirm(&signed_in, &pending),
            Some(allowed) => {
                tracing::info!(
                    user = %signed_in.user.username,
                    client_id = %pending.client.id,
                    allowed,
                    "device authorization answered"
                );
                views::page(
                    StatusCode::OK,
                    &views::DeviceDone {
                        client_name: &pending.client.name,
                        allowed,
                    },
                )
            }
        }),
        Err(DeviceError::Malformed) => Ok(entry(
            &signed_in,
            StatusCode::BAD_REQUEST,
            "",
            Some("That is not a device code. Codes are eight letters, like BCDF-GHJK."),
        )),
        Err(DeviceError::Unknown) => Ok(entry(
            &signed_in,
            StatusCode::BAD_REQUEST,
            &retyped,
            Some(
                "That code is unknown, has expired or was already used. Check the code on \
                 your device, or start again there for a new one.",
            ),
        )),
        Err(DeviceError::Throttled { retry_after }) => {
            state.metrics.throttled("device_page");
            let mut res = entry(
                &signed_in,
                StatusCode::TOO_MANY_REQUESTS,
                &retyped,
                Some("Too many wrong codes. Please wait a moment and try again."),
            );
            if let Ok(value) = retry_after.to_string().parse() {
                res.headers_mut()
                    .insert(actix_web::http::header::RETRY_AFTER, value);
            }
            Ok(res)
        }
        Err(DeviceError::Store(cause)) => Err(PageError::from(cause)),
    }
}

fn display_name(signed_in: &SignedIn) -> &str {
    signed_in
        .user
        .name
        .as_deref()
        .unwrap_or(&signed_in.user.username)
}

fn entry(
    signed_in: &SignedIn,
    status: StatusCode,
    user_code: &str,
    error: Option<&str>,
) -> HttpResponse {
    views::page(
        status,
        &views::DeviceEntry {
            display_name: display_name(signed_in),
            username: &signed_in.user.username,
            csrf_token: &signed_in.session.csrf_token,
            user_code,
            error,
        },
    )
}

fn confirm(signed_in: &SignedIn, pending: &Pending) -> HttpResponse {
    let code = pending.user_code.display();
    let scopes = pending
        .scope
        .iter()
        .map(|s| (s.as_str(), views::describe_scope(s.as_str())))
        .collect();
    views::page(
        StatusCode::OK,
        &views::DeviceConfirm {
            client_name: &pending.client.name,
            user_code: &code,
            scopes,
            display_name: display_name(signed_in),
            username: &signed_in.user.username,
            csrf_token: &signed_in.session.csrf_token,
        },
    )
}

/// 303 to the login page, which comes back here once signed in.
fn to_login(return_to: &str) -> HttpResponse {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish();
    HttpResponse::SeeOther()
        .insert_header(("Location", format!("/login?{query}")))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}
