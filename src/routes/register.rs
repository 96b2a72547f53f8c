//! `POST /oauth/register` (RFC 7591) and `GET|PUT|DELETE /oauth/register/{client_id}`
//! (RFC 7592): JSON in, JSON out; the Bearer token is the initial access token or the
//! registration access token.
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::registration::{self, RegistrationError, Request};
use crate::state::AppState;
use crate::throttle::Policy;

/// The `Authorization` header: absent, a Bearer token, or something else (`Err`), which
/// the domain refuses (and audits) like a wrong token.
fn bearer(req: &HttpRequest) -> Result<Option<String>, ()> {
    let Some(value) = req.headers().get("authorization") else {
        return Ok(None);
    };
    match value.to_str().unwrap_or("").split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim().to_owned()))
        }
        _ => Err(()),
    }
}

#[derive(Clone, Copy)]
enum Action {
    Register,
    Read,
    Update,
    Delete,
}

async fn run(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    action: Action,
    client_id: Option<String>,
) -> Result<HttpResponse, RegistrationError> {
    // Checked before the token: a server that does not register says so to everyone.
    if state.settings.registration.mode == registration::policy::Mode::Off {
        return Err(RegistrationError::NotEnabled);
    }
    let token = bearer(&req);
    let ip = super::web::client_ip(&req, &state.settings);
    let (settings, keys, clock) = (
        state.settings.clone(),
        state.keys.clone(),
        state.clock.clone(),
    );
    let client_id = client_id.unwrap_or_default();
    let answer = state
        .store
        .run(move |conn| {
            let request = Request {
                policy: &settings.registration,
                throttle: Policy::from_settings(&settings),
                keys: &keys,
                issuer: &settings.issuer,
                clock: clock.as_ref(),
                now: clock.unix(),
                ip: ip.as_deref(),
                bearer: match &token {
                    Ok(t) => Ok(t.as_deref()),
                    Err(()) => Err(()),
                },
                body: &body,
            };
            Ok(match action {
                Action::Register => registration::register(conn, &request).map(Some),
                Action::Read => registration::read(conn, &request, &client_id).map(Some),
                Action::Update => registration::update(conn, &request, &client_id).map(Some),
                Action::Delete => registration::delete(conn, &request, &client_id).map(|()| None),
            })
        })
        .await??;
    let status = match (action, &answer) {
        (Action::Register, _) => StatusCode::CREATED,
        (_, None) => StatusCode::NO_CONTENT,
        _ => StatusCode::OK,
    };
    let mut res = HttpResponse::build(status);
    res.insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"));
    Ok(match answer {
        Some(body) => res.json(body),
        None => res.finish(),
    })
}

pub async fn register(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RegistrationError> {
    run(req, body, state, Action::Register, None).await
}

pub async fn read(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RegistrationError> {
    run(
        req,
        web::Bytes::new(),
        state,
        Action::Read,
        Some(path.into_inner()),
    )
    .await
}

pub async fn update(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RegistrationError> {
    run(req, body, state, Action::Update, Some(path.into_inner())).await
}

pub async fn delete(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RegistrationError> {
    run(
        req,
        web::Bytes::new(),
        state,
        Action::Delete,
        Some(path.into_inner()),
    )
    .await
}
