//! `POST /oauth/introspect` (RFC 7662) and `POST /oauth/revoke` (RFC 7009).
use actix_web::{HttpRequest, HttpResponse, web};

use super::web::{field, form_pairs};
use crate::config::Settings;
use crate::oauth::OAuthError;
use crate::oauth::client_auth;
use crate::oauth::introspect;
use crate::state::AppState;
use crate::throttle::Policy;

/// The form, the authenticated client's credentials and the `token` field.
fn parse(
    req: &HttpRequest,
    body: &[u8],
) -> Result<(Option<client_auth::ClientAuth>, String), OAuthError> {
    let form = form_pairs(body);
    let presented = client_auth::presented(
        req.headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        field(&form, "client_id"),
        field(&form, "client_secret"),
    )?;
    let token = field(&form, "token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest("token is required".into()))?
        .to_owned();
    Ok((presented, token))
}

fn origin<'a>(settings: &Settings, ip: &'a Option<String>, now: i64) -> client_auth::Origin<'a> {
    client_auth::Origin {
        ip: ip.as_deref(),
        now,
        policy: Policy::from_settings(settings),
    }
}

pub async fn introspect(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let (presented, token) = parse(&req, &body)?;
    let (keys, settings, cache, now) = (
        state.keys.current(),
        state.settings.clone(),
        state.secrets.clone(),
        state.clock.unix(),
    );
    let ip = super::web::client_ip(&req, &state.settings);
    let answer = state
        .store
        .run(move |conn| {
            Ok(
                client_auth::authenticate(conn, &cache, presented, origin(&settings, &ip, now))
                    .and_then(|client| {
                        introspect::introspect(conn, &keys, &settings, &client, &token, now)
                    }),
            )
        })
        .await?;
    let answer = state.metrics.count_throttled("client_auth", answer)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(answer))
}

pub async fn revoke(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let (presented, token) = parse(&req, &body)?;
    let (keys, settings, cache, now) = (
        state.keys.current(),
        state.settings.clone(),
        state.secrets.clone(),
        state.clock.unix(),
    );
    let ip = super::web::client_ip(&req, &state.settings);
    let answer = state
        .store
        .run(move |conn| {
            Ok(
                client_auth::authenticate(conn, &cache, presented, origin(&settings, &ip, now))
                    .and_then(|client| {
                        introspect::revoke(conn, &keys, &settings, &client, &token, now)
                    }),
            )
        })
        .await?;
    state.metrics.count_throttled("client_auth", answer)?;
    state.metrics.revoked();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}
