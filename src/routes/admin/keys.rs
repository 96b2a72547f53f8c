//! `/admin/keys...`: the signing keys with their state, rotation, and retirement.
use actix_web::{HttpRequest, HttpResponse, web};

use super::guard::{Admin, AdminForm};
use super::pages::{self, KeyItem};
use super::{confirm, done, render};
use crate::admin::{self, AdminError, keys as domain};
use crate::signing::SigningAlg;

pub async fn list(admin: Admin, req: HttpRequest) -> Result<HttpResponse, AdminError> {
    let (keys, now) = (admin.state.keys.clone(), admin.state.clock.unix());
    let infos = actix_web::rt::task::spawn_blocking(move || domain::list(&keys, now))
        .await
        .map_err(|e| AdminError::Internal(e.to_string()))??;
    Ok(render(&pages::Keys {
        chrome: admin.chrome("keys", &req),
        keys: infos.iter().map(KeyItem::from).collect(),
        algs: SigningAlg::ALL.iter().map(|a| a.as_str()).collect(),
    }))
}

pub async fn rotate(f: AdminForm) -> Result<HttpResponse, AdminError> {
    // A form from before algorithms could be chosen sends none: RS256, as it did then.
    let alg = match f.get("alg") {
        "" => SigningAlg::Rs256,
        raw => SigningAlg::parse(raw).map_err(AdminError::Invalid)?,
    };
    let (state, actor) = (f.admin.state.clone(), f.admin.actor.clone());
    let info = admin::run(&f.admin.state.store, move |conn| {
        domain::rotate(conn, state.clock.as_ref(), &state.keys, &actor, alg)
    })
    .await?;
    tracing::info!(kid = %info.kid, by = %f.admin.actor.username, "signing key rotated");
    Ok(done("/admin/keys", "key-rotated"))
}

pub async fn retire(f: AdminForm, path: web::Path<String>) -> Result<HttpResponse, AdminError> {
    f.require_confirmation()?;
    let kid = path.into_inner();
    let (state, actor) = (f.admin.state.clone(), f.admin.actor.clone());
    let now = state.clock.unix();
    let info = admin::run(&f.admin.state.store, move |conn| {
        domain::retire(conn, now, &state.keys, &state.settings, &actor, &kid)
    })
    .await?;
    tracing::info!(kid = %info.kid, by = %f.admin.actor.username, "signing key retired");
    Ok(done("/admin/keys", "key-retired"))
}

pub async fn retire_confirm(
    admin: Admin,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let kid = path.into_inner();
    let (keys, now) = (admin.state.keys.clone(), admin.state.clock.unix());
    let infos = actix_web::rt::task::spawn_blocking(move || domain::list(&keys, now))
        .await
        .map_err(|e| AdminError::Internal(e.to_string()))??;
    let Some(key) = infos.iter().find(|k| k.kid == kid) else {
        return Err(AdminError::NotFound);
    };
    Ok(confirm(
        &admin,
        &req,
        "keys",
        "Retire this key?".to_owned(),
        format!(
            "Key {} ({}) will no longer be published: tokens it signed stop verifying as soon as resource servers refresh their key sets.",
            key.kid,
            key.state.as_str()
        ),
        "Retire key",
        "/admin/keys".to_owned(),
    ))
}
