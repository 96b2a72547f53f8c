//! `/admin/...`: the admin console's pages. Every path is registered in `configure` (mounted
//! from the route table); GET shows a page or a confirmation, POST changes something.
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web as aweb};
use askama::Template;

use crate::admin::{self, AdminError};
use crate::views;

mod audit;
mod clients;
mod guard;
mod keys;
mod locked;
mod pages;
mod registration;
mod resources;
mod users;

use guard::Admin;

pub fn configure(cfg: &mut aweb::ServiceConfig) {
    // One resource per path, so a wrong method gets 405. Destructive actions: GET shows
    // the confirmation page, POST does it.
    cfg.service(aweb::resource("/admin").get(to_console))
        .service(aweb::resource("/admin/").get(dashboard))
        .service(aweb::resource("/admin/users").get(users::list))
        .service(
            aweb::resource("/admin/users/new")
                .get(users::new_form)
                .post(users::create),
        )
        .service(aweb::resource("/admin/users/{id}").get(users::show))
        .service(aweb::resource("/admin/users/{id}/profile").post(users::profile))
        .service(aweb::resource("/admin/users/{id}/password").post(users::password))
        .service(aweb::resource("/admin/users/{id}/enable").post(users::enable))
        .service(aweb::resource("/admin/users/{id}/reset-link").post(users::reset_link))
        .service(
            aweb::resource("/admin/users/{id}/second-factors/reset")
                .post(users::reset_second_factors),
        )
        .service(aweb::resource("/admin/second-factor-policy").post(set_second_factor_policy))
        .service(
            aweb::resource("/admin/users/{id}/disable")
                .get(users::disable_confirm)
                .post(users::disable),
        )
        .service(aweb::resource("/admin/users/{id}/grant-admin").post(users::grant_admin))
        .service(
            aweb::resource("/admin/users/{id}/revoke-admin")
                .get(users::revoke_admin_confirm)
                .post(users::revoke_admin),
        )
        .service(
            aweb::resource("/admin/users/{id}/delete")
                .get(users::delete_confirm)
                .post(users::delete),
        )
        .service(
            aweb::resource("/admin/users/{id}/consents/{client_id}/revoke")
                .get(users::revoke_consent_confirm)
                .post(users::revoke_consent),
        )
        .service(
            aweb::resource("/admin/users/{id}/sessions/{session}/sign-out")
                .get(users::sign_out_confirm)
                .post(users::sign_out),
        )
        .service(aweb::resource("/admin/clients").get(clients::list))
        .service(
            aweb::resource("/admin/clients/new")
                .get(clients::new_form)
                .post(clients::create),
        )
        .service(
            aweb::resource("/admin/clients/{id}")
                .get(clients::show)
                .post(clients::update),
        )
        .service(
            aweb::resource("/admin/clients/{id}/secret")
                .get(clients::rotate_confirm)
                .post(clients::rotate),
        )
        .service(
            aweb::resource("/admin/clients/{id}/delete")
                .get(clients::delete_confirm)
                .post(clients::delete),
        )
        .service(aweb::resource("/admin/resources").get(resources::list))
        .service(
            aweb::resource("/admin/resources/new")
                .get(resources::new_form)
                .post(resources::create),
        )
        .service(
            aweb::resource("/admin/resources/edit")
                .get(resources::show)
                .post(resources::update),
        )
        .service(
            aweb::resource("/admin/resources/delete")
                .get(resources::delete_confirm)
                .post(resources::delete),
        )
        .service(aweb::resource("/admin/registration").get(registration::show))
        .service(aweb::resource("/admin/registration/tokens").post(registration::mint))
        .service(
            aweb::resource("/admin/registration/tokens/{id}/revoke")
                .get(registration::revoke_confirm)
                .post(registration::revoke),
        )
        .service(aweb::resource("/admin/keys").get(keys::list))
        .service(aweb::resource("/admin/keys/rotate").post(keys::rotate))
        .service(
            aweb::resource("/admin/keys/{kid}/retire")
                .get(keys::retire_confirm)
                .post(keys::retire),
        )
        .service(aweb::resource("/admin/locked").get(locked::list))
        .service(aweb::resource("/admin/locked/unlock").post(locked::unlock))
        .service(aweb::resource("/admin/audit").get(audit::list));
}

/// The notice a page shows after a change redirected to it with `?done=<code>`. Fixed
/// texts only, so the query cannot inject words into the page.
fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "user-created" => "User created.",
        "profile-saved" => "Profile saved.",
        "password-set" => "Password set.",
        "enabled" => "Account enabled.",
        "disabled" => "Account disabled; its sessions have ended.",
        "admin-granted" => "The user is now an administrator.",
        "admin-revoked" => "The user is no longer an administrator.",
        "user-deleted" => "User deleted.",
        "consent-revoked" => "Consent revoked; the application's refresh tokens no longer work.",
        "signed-out" => "Session ended.",
        "client-saved" => "Client saved.",
        "client-deleted" => "Client deleted; its tokens are revoked.",
        "resource-saved" => "Resource saved.",
        "resource-deleted" => "Resource deleted; no client may ask for it now.",
        "key-rotated" => "New signing key created and published; it signs from now on.",
        "key-retired" => "Key retired; it is no longer published.",
        "unlocked" => "Unlocked; its failed attempts are forgiven.",
        "second-factors-reset" => {
            "Second factors reset; the user sets up a new authenticator if one is required."
        }
        "policy-saved" => "Second-factor policy saved.",
        "token-revoked" => "Initial access token revoked; it admits no further registrations.",
        _ => return None,
    })
}

/// 303 to `path` with a notice code.
fn done(path: &str, code: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", format!("{path}?done={code}")))
        .finish()
}

fn render(template: &impl Template) -> HttpResponse {
    views::page(StatusCode::OK, template)
}

/// A confirmation page for a destructive action.
fn confirm(
    admin: &Admin,
    req: &HttpRequest,
    section: &'static str,
    title: String,
    message: String,
    button: &'static str,
    back: String,
) -> HttpResponse {
    render(&pages::Confirm {
        chrome: admin.chrome(section, req),
        title,
        message,
        action: req.path().to_owned(),
        button,
        back,
    })
}

async fn to_console() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("Location", "/admin/"))
        .finish()
}

async fn dashboard(admin: Admin, req: HttpRequest) -> Result<HttpResponse, AdminError> {
    let keys = admin.state.keys.current();
    let active_kid = keys.active_kid().to_owned();
    let published = keys.published().len();
    let (users, clients, recent, policy) = admin::run(&admin.state.store, |conn| {
        let users = crate::store::admin::users_count(conn, None)?;
        let clients = crate::store::admin::clients_count(conn)?;
        let (recent, _) = admin::audit_page(conn, None, None, 8)?;
        let policy = admin::second_factors::current_policy(conn)?;
        Ok((users, clients, recent, policy))
    })
    .await?;
    Ok(render(&pages::Dashboard {
        chrome: admin.chrome("overview", &req),
        users,
        clients,
        keys: published,
        active_kid,
        recent: recent.iter().map(pages::AuditItem::from).collect(),
        policy: policy.as_str(),
        policies: crate::second_factor::policy::Policy::ALL
            .iter()
            .map(|p| (p.as_str(), p.describe()))
            .collect(),
    }))
}

/// `POST /admin/second-factor-policy`: who must sign in with a second factor.
async fn set_second_factor_policy(f: guard::AdminForm) -> Result<HttpResponse, AdminError> {
    let raw = f.get("policy").to_owned();
    let (state, actor) = (f.admin.state.clone(), f.admin.actor.clone());
    let now = state.clock.unix();
    admin::run(&state.store, move |conn| {
        admin::second_factors::set_policy(conn, now, &actor, &raw)
    })
    .await?;
    Ok(done("/admin/", "policy-saved"))
}
