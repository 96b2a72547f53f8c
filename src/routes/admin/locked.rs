//! `/admin/locked`: what the throttle has locked now, and unlocking it.
use actix_web::{HttpRequest, HttpResponse};

use super::guard::{Admin, AdminForm};
use super::pages::{self, LockedRow};
use super::{done, render};
use crate::admin::{self, AdminError, locked as domain};

pub async fn list(admin: Admin, req: HttpRequest) -> Result<HttpResponse, AdminError> {
    let now = admin.state.clock.unix();
    let items = admin::run(&admin.state.store, move |conn| domain::list(conn, now)).await?;
    Ok(render(&pages::Locked {
        chrome: admin.chrome("locked", &req),
        items: items.iter().map(|i| LockedRow::new(i, now)).collect(),
    }))
}

/// Not behind a confirmation page: unlocking only gives back what the throttle took.
pub async fn unlock(f: AdminForm) -> Result<HttpResponse, AdminError> {
    let target = domain::target(f.get("kind"), f.get("name"))?;
    let (now, actor) = (f.admin.state.clock.unix(), f.admin.actor.clone());
    let described = target.describe();
    admin::run(&f.admin.state.store, move |conn| {
        domain::unlock(conn, now, &actor, &target)
    })
    .await?;
    tracing::info!(target = %described, by = %f.admin.actor.username, "throttle unlocked");
    Ok(done("/admin/locked", "unlocked"))
}
