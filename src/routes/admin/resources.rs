//! `/admin/resources...`: the registry of APIs (RFC 8707 resources): the list, the
//! registration and edit form, and deletion (confirmed first). Identifiers are URLs, so
//! pages name a resource in the query (`?id=`), never in the path.
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use super::guard::{Admin, AdminForm};
use super::pages::{self, ResourceFormPage};
use super::{done, render};
use crate::admin::resources::{self as domain, ResourceForm};
use crate::admin::{self, AdminError};
use crate::views;

/// The `id` query parameter: the identifier of the resource a page is about.
fn identifier(req: &HttpRequest) -> Result<String, AdminError> {
    let query = super::super::web::query_pairs(req);
    super::super::web::field(&query, "id")
        .map(str::to_owned)
        .ok_or(AdminError::NotFound)
}

fn encoded(identifier: &str) -> String {
    url::form_urlencoded::byte_serialize(identifier.as_bytes()).collect()
}

fn form_values(f: &AdminForm, fixed: Option<&str>) -> ResourceForm {
    ResourceForm {
        // An edit keeps its identifier whatever the form says.
        identifier: fixed.unwrap_or(f.get("identifier")).to_owned(),
        name: f.get("name").to_owned(),
        scopes: f.get("scopes").to_owned(),
        access_token_ttl: f.get("access_token_ttl").to_owned(),
        alg: f.get("alg").to_owned(),
    }
}

fn form_page(
    admin: &Admin,
    req: &HttpRequest,
    status: StatusCode,
    values: ResourceForm,
    editing: bool,
    error: Option<String>,
) -> HttpResponse {
    let action = if editing {
        format!("/admin/resources/edit?id={}", encoded(&values.identifier))
    } else {
        "/admin/resources/new".to_owned()
    };
    let delete =
        editing.then(|| format!("/admin/resources/delete?id={}", encoded(&values.identifier)));
    views::page(
        status,
        &ResourceFormPage {
            chrome: admin.chrome("resources", req),
            error,
            values,
            editing,
            action,
            delete,
            default_access_ttl: admin.state.settings.access_token_ttl.as_secs(),
            algs: crate::signing::SigningAlg::ALL
                .iter()
                .map(|a| a.as_str())
                .collect(),
        },
    )
}

pub async fn list(admin: Admin, req: HttpRequest) -> Result<HttpResponse, AdminError> {
    let rows = admin::run(&admin.state.store, domain::list).await?;
    Ok(render(&pages::Resources {
        chrome: admin.chrome("resources", &req),
        resources: rows
            .iter()
            .map(|r| pages::ResourceItem {
                edit: format!("/admin/resources/edit?id={}", encoded(&r.identifier)),
                identifier: r.identifier.clone(),
                name: r.name.clone(),
                scopes: r.scopes.to_string(),
                ttl: r
                    .access_token_ttl
                    .map(|t| format!("{t} s"))
                    .unwrap_or_else(|| "client's".into()),
                alg: r.alg.as_str(),
            })
            .collect(),
    }))
}

pub async fn new_form(admin: Admin, req: HttpRequest) -> HttpResponse {
    form_page(
        &admin,
        &req,
        StatusCode::OK,
        ResourceForm::default(),
        false,
        None,
    )
}

/// Register or change a resource; a problem shows the form again with why.
async fn save(
    req: HttpRequest,
    f: AdminForm,
    editing: Option<String>,
) -> Result<HttpResponse, AdminError> {
    let values = form_values(&f, editing.as_deref());
    let again = |m: String, values: ResourceForm| {
        Ok(form_page(
            &f.admin,
            &req,
            StatusCode::BAD_REQUEST,
            values,
            editing.is_some(),
            Some(m),
        ))
    };
    let new = match values.parse() {
        Ok(new) => new,
        Err(AdminError::Invalid(m)) => return again(m, values),
        Err(e) => return Err(e),
    };
    let (state, actor) = (f.admin.state.clone(), f.admin.actor.clone());
    let now = state.clock.unix();
    let target = editing.clone();
    let keys = state.keys.clone();
    let saved = admin::run(&state.store, move |conn| {
        domain::check_alg_in(&keys, now, new.alg)?;
        match &target {
            Some(id) => domain::update(conn, now, &actor, id, &new),
            None => domain::create(conn, now, &actor, &new),
        }
    })
    .await;
    match saved {
        Ok(()) => Ok(done("/admin/resources", "resource-saved")),
        Err(AdminError::Invalid(m)) => again(m, values),
        Err(e) => Err(e),
    }
}

pub async fn create(req: HttpRequest, f: AdminForm) -> Result<HttpResponse, AdminError> {
    save(req, f, None).await
}

pub async fn show(admin: Admin, req: HttpRequest) -> Result<HttpResponse, AdminError> {
    let id = identifier(&req)?;
    let found = admin::run(&admin.state.store, move |conn| domain::get(conn, &id)).await?;
    let values = ResourceForm::from_resource(&found);
    Ok(form_page(&admin, &req, StatusCode::OK, values, true, None))
}

pub async fn update(req: HttpRequest, f: AdminForm) -> Result<HttpResponse, AdminError> {
    let id = identifier(&req)?;
    save(req, f, Some(id)).await
}

pub async fn delete_confirm(admin: Admin, req: HttpRequest) -> Result<HttpResponse, AdminError> {
    let id = identifier(&req)?;
    let found = {
        let id = id.clone();
        admin::run(&admin.state.store, move |conn| domain::get(conn, &id)).await?
    };
    Ok(render(&pages::Confirm {
        chrome: admin.chrome("resources", &req),
        title: format!("Delete {}?", found.name),
        message: format!(
            "{} ({id}) is unregistered and taken off every client's list: no new token names it. Tokens already issued for it stay valid until they expire.",
            found.name
        ),
        action: format!("/admin/resources/delete?id={}", encoded(&id)),
        button: "Delete resource",
        back: format!("/admin/resources/edit?id={}", encoded(&id)),
    }))
}

pub async fn delete(req: HttpRequest, f: AdminForm) -> Result<HttpResponse, AdminError> {
    f.require_confirmation()?;
    let id = identifier(&req)?;
    let (state, actor) = (f.admin.state.clone(), f.admin.actor.clone());
    let now = state.clock.unix();
    admin::run(&state.store, move |conn| {
        domain::delete(conn, now, &actor, &id)
    })
    .await?;
    Ok(done("/admin/resources", "resource-deleted"))
}
