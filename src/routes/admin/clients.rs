//! `/admin/clients...`: the client list, the registration and edit form, secret rotation
//! (the new secret shown once) and deletion, each destructive step confirmed first.
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::guard::{Admin, AdminForm};
use super::pages::{self, ClientItem};
use super::{confirm, done, render};
use crate::admin::clients::{self as domain, ClientForm};
use crate::admin::{self, AdminError};
use crate::secrets::SecretString;
use crate::views;

fn form_values(f: &AdminForm) -> ClientForm {
    ClientForm {
        name: f.get("name").to_owned(),
        redirect_uris: f.get("redirect_uris").to_owned(),
        post_logout_redirect_uris: f.get("post_logout_redirect_uris").to_owned(),
        public: f.get("client_type") == "public",
        grant_types: f.all("grant_type"),
        scopes: f.get("scopes").to_owned(),
        access_token_ttl: f.get("access_token_ttl").to_owned(),
        refresh_token_ttl: f.get("refresh_token_ttl").to_owned(),
        id_token_alg: f.get("id_token_alg").to_owned(),
        access_token_alg: f.get("access_token_alg").to_owned(),
        resources: f.get("resources").to_owned(),
        auth_method: f.get("auth_method").to_owned(),
        jwks: f.get("jwks").to_owned(),
        jwks_uri: f.get("jwks_uri").to_owned(),
        require_par: f.get("require_par") == "on",
        dpop: f.get("dpop_bound_access_tokens") == "on",
        profile: f.get("profile").to_owned(),
    }
}

fn form_page(
    admin: &Admin,
    req: &HttpRequest,
    status: StatusCode,
    values: ClientForm,
    existing: Option<ClientItem>,
    error: Option<String>,
) -> HttpResponse {
    let settings = &admin.state.settings;
    views::page(
        status,
        &pages::ClientFormPage {
            chrome: admin.chrome("clients", req),
            error,
            values,
            existing,
            default_access_ttl: settings.access_token_ttl.as_secs(),
            default_refresh_ttl: settings.refresh_token_ttl.as_secs(),
            algs: crate::signing::SigningAlg::ALL
                .iter()
                .map(|a| a.as_str())
                .collect(),
        },
    )
}

fn secret_page(
    admin: &Admin,
    req: &HttpRequest,
    heading: &'static str,
    client_id: String,
    client_name: String,
    secret: Option<SecretString>,
) -> HttpResponse {
    views::page_with_copy_button(
        StatusCode::OK,
        &pages::Secret {
            chrome: admin.chrome("clients", req),
            heading,
            client_id,
            client_name,
            secret: secret.map(|s| s.expose().to_owned()),
        },
    )
}

pub async fn list(admin: Admin, req: HttpRequest) -> Result<HttpResponse, AdminError> {
    let rows = admin::run(&admin.state.store, domain::list).await?;
    Ok(render(&pages::Clients {
        chrome: admin.chrome("clients", &req),
        clients: rows.iter().map(ClientItem::from).collect(),
    }))
}

pub async fn new_form(admin: Admin, req: HttpRequest) -> HttpResponse {
    let values = ClientForm {
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scopes: crate::clients::DEFAULT_SCOPES.into(),
        ..ClientForm::default()
    };
    form_page(&admin, &req, StatusCode::OK, values, None, None)
}

pub async fn create(req: HttpRequest, f: AdminForm) -> Result<HttpResponse, AdminError> {
    let values = form_values(&f);
    let spec = match values.parse() {
        Ok(spec) => spec,
        Err(AdminError::Invalid(m)) => {
            return Ok(form_page(
                &f.admin,
                &req,
                StatusCode::BAD_REQUEST,
                values,
                None,
                Some(m),
            ));
        }
        Err(e) => return Err(e),
    };
    let name = spec.client.name.trim().to_owned();
    let (state, actor) = (f.admin.state.clone(), f.admin.actor.clone());
    let registered = match admin::run(&f.admin.state.store, move |conn| {
        domain::create(conn, state.clock.as_ref(), &state.keys, &actor, &spec)
    })
    .await
    {
        Ok(registered) => registered,
        // No key signs with a chosen algorithm: the form again, with why.
        Err(AdminError::Invalid(m)) => {
            return Ok(form_page(
                &f.admin,
                &req,
                StatusCode::BAD_REQUEST,
                values,
                None,
                Some(m),
            ));
        }
        Err(e) => return Err(e),
    };
    Ok(secret_page(
        &f.admin,
        &req,
        "Client registered",
        registered.client_id,
        name,
        registered.client_secret,
    ))
}

pub async fn show(
    admin: Admin,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner();
    let row = admin::run(&admin.state.store, move |conn| domain::get(conn, &id)).await?;
    Ok(form_page(
        &admin,
        &req,
        StatusCode::OK,
        ClientForm::from_row(&row),
        Some(ClientItem::from(&row)),
        None,
    ))
}

pub async fn update(
    req: HttpRequest,
    f: AdminForm,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner();
    let existing = {
        let id = id.clone();
        admin::run(&f.admin.state.store, move |conn| domain::get(conn, &id)).await?
    };
    let values = form_values(&f);
    let spec = match values.parse() {
        Ok(spec) => spec,
        Err(AdminError::Invalid(m)) => {
            return Ok(form_page(
                &f.admin,
                &req,
                StatusCode::BAD_REQUEST,
                values,
                Some(ClientItem::from(&existing)),
                Some(m),
            ));
        }
        Err(e) => return Err(e),
    };
    let name = spec.client.name.trim().to_owned();
    let (state, actor) = (f.admin.state.clone(), f.admin.actor.clone());
    let now = state.clock.unix();
    let new_secret = {
        let id = id.clone();
        let keys = state.keys.clone();
        match admin::run(&state.store, move |conn| {
            domain::update(conn, now, &keys, &actor, &id, &spec)
        })
        .await
        {
            Ok(new_secret) => new_secret,
            Err(AdminError::Invalid(m)) => {
                return Ok(form_page(
                    &f.admin,
                    &req,
                    StatusCode::BAD_REQUEST,
                    values,
                    Some(ClientItem::from(&existing)),
                    Some(m),
                ));
            }
            Err(e) => return Err(e),
        }
    };
    match new_secret {
        // Became confidential: its first secret is shown now, once.
        Some(secret) => Ok(secret_page(
            &f.admin,
            &req,
            "Client secret created",
            id,
            name,
            Some(secret),
        )),
        None => Ok(done(&format!("/admin/clients/{id}"), "client-saved")),
    }
}

pub async fn rotate(
    req: HttpRequest,
    f: AdminForm,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    f.require_confirmation()?;
    let id = path.into_inner();
    let (state, actor) = (f.admin.state.clone(), f.admin.actor.clone());
    let now = state.clock.unix();
    let (secret, name) = {
        let id = id.clone();
        admin::run(&state.store, move |conn| {
            let secret = domain::rotate_secret(conn, now, &actor, &id)?;
            Ok((secret, domain::get(conn, &id)?.name))
        })
        .await?
    };
    Ok(secret_page(
        &f.admin,
        &req,
        "New client secret",
        id,
        name,
        Some(secret),
    ))
}

pub async fn delete(f: AdminForm, path: web::Path<String>) -> Result<HttpResponse, AdminError> {
    f.require_confirmation()?;
    let id = path.into_inner();
    let (state, actor) = (f.admin.state.clone(), f.admin.actor.clone());
    let now = state.clock.unix();
    admin::run(&state.store, move |conn| {
        domain::delete(conn, now, &actor, &id)
    })
    .await?;
    Ok(done("/admin/clients", "client-deleted"))
}

async fn client_name(admin: &Admin, id: String) -> Result<String, AdminError> {
    admin::run(&admin.state.store, move |conn| {
        domain::get(conn, &id).map(|c| c.name)
    })
    .await
}

pub async fn rotate_confirm(
    admin: Admin,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner();
    let name = client_name(&admin, id.clone()).await?;
    Ok(confirm(
        &admin,
        &req,
        "clients",
        format!("Rotate {name}'s secret?"),
        format!(
            "A new secret is created and shown once. The current secret stops working at once: {name} must be given the new one."
        ),
        "Rotate secret",
        format!("/admin/clients/{id}"),
    ))
}

pub async fn delete_confirm(
    admin: Admin,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner();
    let name = client_name(&admin, id.clone()).await?;
    Ok(confirm(
        &admin,
        &req,
        "clients",
        format!("Delete {name}?"),
        format!(
            "{name} is unregistered: its users' consents are forgotten and every token issued to it is revoked. This cannot be undone."
        ),
        "Delete client",
        format!("/admin/clients/{id}"),
    ))
}
