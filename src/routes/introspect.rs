//! `POST /oauth/introspect` (RFC 7662) and `POST /oauth/revoke` (RFC 7009).
use actix_web::{HttpRequest, HttpResponse, web};

use super::web::{field, form_pairs};
use crate::config::Settings;
use crate::oauth::OAuthError;
use crate::oauth::client_auth;
use crate::oauth::introspect;
use crate::signing::VerifyingKey;
use crate::state::AppState;
use crate::throttle::Policy;

/// The authenticated client's credentials, the `token` field, and the key a `jwks_uri`
/// client's assertion names.
async fn parse(
    req: &HttpRequest,
    body: &[u8],
    state: &AppState,
) -> Result<
    (
        Option<client_auth::ClientAuth>,
        String,
        Option<VerifyingKey>,
    ),
    OAuthError,
> {
    let form = form_pairs(body);
    let presented = client_auth::presented(
        req.headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        &form,
    )?;
    let token = field(&form, "token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest("token is required".into()))?
        .to_owned();
    let fetched = state.client_keys.for_request(&state.store, &form).await;
    Ok((presented, token, fetched))
}

fn origin<'a>(
    settings: &'a Settings,
    ip: &'a Option<String>,
    now: i64,
    endpoint: &'static str,
    fetched: &'a Option<VerifyingKey>,
) -> client_auth::Origin<'a> {
    client_auth::Origin {
        ip: ip.as_deref(),
        now,
        policy: Policy::from_settings(settings),
        issuer: &settings.issuer,
        endpoint,
        fetched: fetched.as_ref(),
    }
}

pub async fn introspect(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let (presented, token, fetched) = parse(&req, &body, &state).await?;
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
            Ok(client_auth::authenticate(
                conn,
                &cache,
                presented,
                origin(&settings, &ip, now, "/oauth/introspect", &fetched),
            )
            .and_then(|client| {
                introspect::introspect(conn, &keys, &settings, &client, &token, now)
            }))
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
    let (presented, token, fetched) = parse(&req, &body, &state).await?;
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
            Ok(client_auth::authenticate(
                conn,
                &cache,
                presented,
                origin(&settings, &ip, now, "/oauth/revoke", &fetched),
            )
            .and_then(|client| introspect::revoke(conn, &keys, &settings, &client, &token, now)))
        })
        .await?;
    state.metrics.count_throttled("client_auth", answer)?;
    state.metrics.revoked();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}
