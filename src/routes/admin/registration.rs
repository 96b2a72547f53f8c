//! `/admin/registration...`: the dynamic registration policy in force, and the initial
//! access tokens (mint one, shown once; revoke one, confirmed first).
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::guard::{Admin, AdminForm};
use super::pages::{self, RegistrationTokenItem};
use super::{confirm, done};
use crate::admin::{self, AdminError};
use crate::registration::initial_tokens::{self, TokenError};
use crate::views;

fn refused(e: TokenError) -> AdminError {
    match e {
        TokenError::Invalid(m) => {
            let mut chars = m.chars();
            AdminError::Invalid(match chars.next() {
                Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
                None => m,
            })
        }
        TokenError::NotFound(_) => AdminError::NotFound,
        TokenError::Store(s) => AdminError::Store(s),
    }
}

async fn page(
    admin: &Admin,
    req: &HttpRequest,
    status: StatusCode,
    minted: Option<String>,
    error: Option<String>,
) -> Result<HttpResponse, AdminError> {
    let now = admin.state.clock.unix();
    let rows = admin::run(&admin.state.store, |conn| Ok(initial_tokens::list(conn)?)).await?;
    let policy = &admin.state.settings.registration;
    let list = |items: Vec<&str>| items.join(", ");
    Ok(views::page_with_copy_button(
        status,
        &pages::Registration {
            chrome: admin.chrome("registration", req),
            mode: policy.mode.as_str(),
            redirect_uris: list(policy.redirect_uris.iter().map(|p| p.describe()).collect()),
            scopes: policy.scopes.to_string(),
            grant_types: list(policy.grant_types.iter().map(|g| g.as_str()).collect()),
            tokens: rows
                .iter()
                .map(|r| RegistrationTokenItem::new(r, now))
                .collect(),
            minted,
            error,
        },
    ))
}

pub async fn show(admin: Admin, req: HttpRequest) -> Result<HttpResponse, AdminError> {
    page(&admin, &req, StatusCode::OK, None, None).await
}

/// `POST /admin/registration/tokens`: mint one; the answer shows it once.
pub async fn mint(f: AdminForm, req: HttpRequest) -> Result<HttpResponse, AdminError> {
    let expires = match initial_tokens::parse_expires(f.get("expires")) {
        Ok(e) => e,
        Err(e) => {
            let message = refused(e).to_string();
            return page(&f.admin, &req, StatusCode::BAD_REQUEST, None, Some(message)).await;
        }
    };
    let (state, actor) = (f.admin.state.clone(), f.admin.actor.clone());
    let now = state.clock.unix();
    let minted = admin::run(&state.store, move |conn| {
        initial_tokens::mint(conn, now, (&actor.username, actor.ip.as_deref()), expires)
            .map_err(refused)
    })
    .await?;
    tracing::info!(id = %minted.id, by = %f.admin.actor.username, "initial access token minted");
    page(
        &f.admin,
        &req,
        StatusCode::OK,
        Some(minted.token.expose().to_owned()),
        None,
    )
    .await
}

pub async fn revoke_confirm(
    admin: Admin,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner();
    Ok(confirm(
        &admin,
        &req,
        "registration",
        "Revoke this initial access token?".to_owned(),
        format!(
            "Token {id} will admit no further registrations. Clients it already registered stay."
        ),
        "Revoke token",
        "/admin/registration".to_owned(),
    ))
}

pub async fn revoke(f: AdminForm, path: web::Path<String>) -> Result<HttpResponse, AdminError> {
    f.require_confirmation()?;
    let id = path.into_inner();
    let (state, actor) = (f.admin.state.clone(), f.admin.actor.clone());
    let now = state.clock.unix();
    admin::run(&state.store, move |conn| {
        initial_tokens::revoke(conn, now, (&actor.username, actor.ip.as_deref()), &id)
            .map_err(refused)
    })
    .await?;
    Ok(done("/admin/registration", "token-revoked"))
}
