//! `/admin/users...`: the user list and search, the new-user form, a user's page (profile,
//! password, access, consents, sessions) and the confirmations for destructive changes.
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::guard::{Admin, AdminForm};
use super::pages::{self, NewUserValues};
use super::{confirm, done, render};
use crate::admin::{self, AdminError, users as domain};
use crate::domain::{Password, Username};
use crate::users::NewUser;
use crate::views;

const PER_PAGE: i64 = 25;

fn user_id(raw: &str) -> Result<i64, AdminError> {
    raw.parse().map_err(|_| AdminError::NotFound)
}

fn user_path(id: i64) -> String {
    format!("/admin/users/{id}")
}

pub async fn list(admin: Admin, req: HttpRequest) -> Result<HttpResponse, AdminError> {
    let query = super::super::web::query_pairs(&req);
    let q = super::super::web::field(&query, "q")
        .unwrap_or("")
        .chars()
        .take(100)
        .collect::<String>();
    let page = super::super::web::field(&query, "page").map(str::to_owned);
    let (rows, paging) = {
        let q = q.clone();
        admin::run(&admin.state.store, move |conn| {
            domain::list(conn, Some(&q), page.as_deref(), PER_PAGE)
        })
        .await?
    };
    Ok(render(&pages::Users {
        chrome: admin.chrome("users", &req),
        pager: pages::Pager::new("/admin/users", &[("q", q.trim())], &paging),
        q,
        users: rows.iter().map(pages::UserItem::from).collect(),
    }))
}

pub async fn new_form(admin: Admin, req: HttpRequest) -> HttpResponse {
    render(&pages::UserNew {
        chrome: admin.chrome("users", &req),
        error: None,
        values: NewUserValues::default(),
    })
}

fn parse_new_user(f: &AdminForm) -> Result<NewUser, AdminError> {
    let username = Username::parse(f.get("username").trim()).map_err(AdminError::Invalid)?;
    let profile = domain::Profile::parse(f.get("name"), f.get("email"), false)?;
    let password = Password::parse(f.get("password")).map_err(AdminError::Invalid)?;
    Ok(NewUser {
        username,
        password,
        email: profile.email,
        name: profile.name,
        is_admin: f.checked("is_admin"),
    })
}

pub async fn create(req: HttpRequest, f: AdminForm) -> Result<HttpResponse, AdminError> {
    let result = match parse_new_user(&f) {
        Ok(new) => {
            let state = f.admin.state.clone();
            let actor = f.admin.actor.clone();
            let verified = f.checked("email_verified");
            admin::run(&f.admin.state.store, move |conn| {
                domain::create(conn, state.clock.as_ref(), &actor, &new, verified)
            })
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(user) => Ok(done(&user_path(user.id), "user-created")),
        Err(AdminError::Invalid(message)) => Ok(views::page(
            StatusCode::BAD_REQUEST,
            &pages::UserNew {
                chrome: f.admin.chrome("users", &req),
                error: Some(message),
                values: NewUserValues {
                    username: f.get("username").to_owned(),
                    name: f.get("name").to_owned(),
                    email: f.get("email").to_owned(),
                    email_verified: f.checked("email_verified"),
                    is_admin: f.checked("is_admin"),
                },
            },
        )),
        Err(e) => Err(e),
    }
}

pub async fn show(
    admin: Admin,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = user_id(&path)?;
    let now = admin.state.clock.unix();
    let (detail, factors) = admin::run(&admin.state.store, move |conn| {
        Ok((
            domain::detail(conn, id, now)?,
            admin::second_factors::status(conn, id)?,
        ))
    })
    .await?;
    let u = &detail.user;
    Ok(render(&pages::User {
        chrome: admin.chrome("users", &req),
        user: pages::UserItem::from(u),
        email_verified: u.email_verified,
        subject: u.subject.clone(),
        created: pages::when(u.created_at),
        consents: detail
            .consents
            .iter()
            .map(pages::ConsentItem::from)
            .collect(),
        sessions: detail
            .sessions
            .iter()
            .map(|s| pages::SessionItem::new(s, &admin.session_key))
            .collect(),
        is_self: u.id == admin.actor.user_id,
        totp: factors.totp,
        recovery_codes_left: factors.recovery_codes_left,
        can_email: admin.state.settings.smtp.is_some(),
    }))
}

pub async fn profile(f: AdminForm, path: web::Path<String>) -> Result<HttpResponse, AdminError> {
    let id = user_id(&path)?;
    let profile =
        domain::Profile::parse(f.get("name"), f.get("email"), f.checked("email_verified"))?;
    let (state, actor) = (f.admin.state.clone(), f.admin.actor.clone());
    let now = state.clock.unix();
    admin::run(&state.store, move |conn| {
        domain::update_profile(conn, now, &actor, id, &profile)
    })
    .await?;
    Ok(done(&user_path(id), "profile-saved"))
}

pub async fn password(f: AdminForm, path: web::Path<String>) -> Result<HttpResponse, AdminError> {
    let id = user_id(&path)?;
    let password = Password::parse(f.get("password")).map_err(AdminError::Invalid)?;
    let (state, actor) = (f.admin.state.clone(), f.admin.actor.clone());
    let now = state.clock.unix();
    admin::run(&state.store, move |conn| {
        domain::set_password(conn, now, &actor, id, &password)
    })
    .await?;
    Ok(done(&user_path(id), "password-set"))
}

async fn set_active(f: AdminForm, raw: &str, active: bool) -> Result<HttpResponse, AdminError> {
    let id = user_id(raw)?;
    let (state, actor) = (f.admin.state.clone(), f.admin.actor.clone());
    let now = state.clock.unix();
    admin::run(&state.store, move |conn| {
        domain::set_active(conn, now, &actor, id, active)
    })
    .await?;
    Ok(done(
        &user_path(id),
        if active { "enabled" } else { "disabled" },
    ))
}

async fn set_admin(f: AdminForm, raw: &str, is_admin: bool) -> Result<HttpResponse, AdminError> {
    let id = user_id(raw)?;
    let (state, actor) = (f.admin.state.clone(), f.admin.actor.clone());
    let now = state.clock.unix();
    admin::run(&state.store, move |conn| {
        domain::set_admin(conn, now, &actor, id, is_admin)
    })
    .await?;
    Ok(done(
        &user_path(id),
        if is_admin {
            "admin-granted"
        } else {
            "admin-revoked"
        },
    ))
}

pub async fn enable(f: AdminForm, path: web::Path<String>) -> Result<HttpResponse, AdminError> {
    set_active(f, &path, true).await
}

pub async fn grant_admin(
    f: AdminForm,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    set_admin(f, &path, true).await
}

pub async fn disable(f: AdminForm, path: web::Path<String>) -> Result<HttpResponse, AdminError> {
    f.require_confirmation()?;
    set_active(f, &path, false).await
}

pub async fn revoke_admin(
    f: AdminForm,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    f.require_confirmation()?;
    set_admin(f, &path, false).await
}

pub async fn delete(f: AdminForm, path: web::Path<String>) -> Result<HttpResponse, AdminError> {
    f.require_confirmation()?;
    let id = user_id(&path)?;
    let (state, actor) = (f.admin.state.clone(), f.admin.actor.clone());
    let now = state.clock.unix();
    admin::run(&state.store, move |conn| {
        domain::delete(conn, now, &actor, id)
    })
    .await?;
    Ok(done("/admin/users", "user-deleted"))
}

pub async fn revoke_consent(
    f: AdminForm,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    f.require_confirmation()?;
    let (raw, client_id) = path.into_inner();
    let id = user_id(&raw)?;
    let (state, actor) = (f.admin.state.clone(), f.admin.actor.clone());
    let now = state.clock.unix();
    admin::run(&state.store, move |conn| {
        domain::revoke_consent(conn, now, &actor, id, &client_id)
    })
    .await?;
    Ok(done(&user_path(id), "consent-revoked"))
}

pub async fn sign_out(
    f: AdminForm,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    f.require_confirmation()?;
    let (raw, session) = path.into_inner();
    let id = user_id(&raw)?;
    let (state, actor) = (f.admin.state.clone(), f.admin.actor.clone());
    let now = state.clock.unix();
    admin::run(&state.store, move |conn| {
        domain::sign_out_session(conn, now, &actor, id, &session)
    })
    .await?;
    Ok(done(&user_path(id), "signed-out"))
}

/// Issue a one-time reset link and show it, once, in this response (a redirect would have
/// to carry it in a URL the browser keeps in its history); or, with `send=email`, email it
/// to the user and show only where it went. Sending waits at most the SMTP timeout; if it
/// fails, the page says why and shows the link to hand over instead.
pub async fn reset_link(
    req: HttpRequest,
    f: AdminForm,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = user_id(&path)?;
    let by_email = f.get("send") == "email";
    let ttl = match f.get("ttl").trim() {
        _ if by_email => crate::reset_mail::EMAIL_TTL,
        "" => crate::resets::DEFAULT_TTL,
        raw => crate::resets::parse_ttl(raw)
            .map_err(|e| AdminError::Invalid(format!("Link lifetime: {e}.")))?,
    };
    let (state, actor) = (f.admin.state.clone(), f.admin.actor.clone());
    let smtp = match (by_email, &state.settings.smtp) {
        (false, _) => None,
        (true, Some(smtp)) => Some(smtp.clone()),
        (true, None) => {
            return Err(AdminError::Refused(
                "No mail server is configured (TESSERA_SMTP_URL): create a link and hand it over instead."
                    .into(),
            ));
        }
    };
    let now = state.clock.unix();
    let recipient = if by_email {
        let user = admin::run(&state.store, move |conn| domain::get(conn, id)).await?;
        match user.email {
            Some(email) => Some((user.name, email)),
            None => {
                return Err(AdminError::Refused(format!(
                    "{} has no email address: add one to the profile, or create a link and hand it over.",
                    user.username
                )));
            }
        }
    } else {
        None
    };
    let (username, token) = {
        let actor = actor.clone();
        admin::run(&state.store, move |conn| {
            domain::reset_link(conn, now, &actor, id, ttl)
        })
        .await?
    };
    let link = state.settings.endpoint(&crate::resets::path(&token));
    let (mut emailed_to, mut mail_error) = (None, None);
    if let (Some(smtp), Some((name, email))) = (smtp, recipient) {
        let outgoing = crate::reset_mail::Outgoing {
            username: username.clone(),
            name,
            email,
            token: crate::secrets::SecretString::new(token),
            expires_at: now + ttl,
        };
        let endpoint = |path: &str| state.settings.endpoint(path);
        match crate::reset_mail::deliver(
            &state.store,
            &state.clock,
            &smtp,
            &endpoint,
            Some(&actor.username),
            actor.ip.as_deref(),
            &outgoing,
        )
        .await
        {
            Ok(()) => emailed_to = Some(outgoing.email),
            Err(e) => {
                mail_error = Some(format!(
                    "The email to {} was not sent: {e}.",
                    outgoing.email
                ))
            }
        }
    }
    let status = if mail_error.is_some() {
        StatusCode::BAD_GATEWAY
    } else {
        StatusCode::OK
    };
    Ok(views::page(
        status,
        &pages::ResetLink {
            chrome: f.admin.chrome("users", &req),
            user_id: id,
            username,
            link: if emailed_to.is_some() {
                String::new()
            } else {
                link
            },
            expires: pages::when(now + ttl),
            emailed_to,
            mail_error,
        },
    ))
}

/// `POST /admin/users/{id}/second-factors/reset`.
pub async fn reset_second_factors(
    f: AdminForm,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = user_id(&path)?;
    let (state, actor) = (f.admin.state.clone(), f.admin.actor.clone());
    let now = state.clock.unix();
    admin::run(&state.store, move |conn| {
        admin::second_factors::reset(conn, now, &actor, id)
    })
    .await?;
    Ok(done(&user_path(id), "second-factors-reset"))
}

/// Load the user a confirmation page is about (404 if gone).
async fn username_of(admin: &Admin, id: i64) -> Result<String, AdminError> {
    admin::run(&admin.state.store, move |conn| {
        domain::get(conn, id).map(|u| u.username)
    })
    .await
}

pub async fn disable_confirm(
    admin: Admin,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = user_id(&path)?;
    let name = username_of(&admin, id).await?;
    Ok(confirm(
        &admin,
        &req,
        "users",
        format!("Disable {name}?"),
        format!(
            "{name} will be signed out everywhere and cannot sign in or refresh tokens until the account is enabled again."
        ),
        "Disable account",
        user_path(id),
    ))
}

pub async fn revoke_admin_confirm(
    admin: Admin,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = user_id(&path)?;
    let name = username_of(&admin, id).await?;
    Ok(confirm(
        &admin,
        &req,
        "users",
        format!("Remove {name} as administrator?"),
        format!("{name} will no longer be able to use the admin console."),
        "Remove administrator",
        user_path(id),
    ))
}

pub async fn delete_confirm(
    admin: Admin,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = user_id(&path)?;
    let name = username_of(&admin, id).await?;
    Ok(confirm(
        &admin,
        &req,
        "users",
        format!("Delete {name}?"),
        format!(
            "{name}'s account, consents and sessions are deleted and every token issued to them is revoked. This cannot be undone."
        ),
        "Delete user",
        user_path(id),
    ))
}

pub async fn revoke_consent_confirm(
    admin: Admin,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (raw, client_id) = path.into_inner();
    let id = user_id(&raw)?;
    let (name, client) = admin::run(&admin.state.store, move |conn| {
        let user = domain::get(conn, id)?;
        let client = admin::clients::get(conn, &client_id)?;
        Ok((user.username, client.name))
    })
    .await?;
    Ok(confirm(
        &admin,
        &req,
        "users",
        format!("Revoke {client}'s access to {name}?"),
        format!(
            "{client}'s refresh tokens for {name} stop working now, and {name} is asked for consent again next time."
        ),
        "Revoke consent",
        user_path(id),
    ))
}

pub async fn sign_out_confirm(
    admin: Admin,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (raw, _) = path.into_inner();
    let id = user_id(&raw)?;
    let name = username_of(&admin, id).await?;
    Ok(confirm(
        &admin,
        &req,
        "users",
        format!("Sign {name} out of this session?"),
        format!(
            "{name} will have to sign in again in that browser. Tokens already issued to applications are not affected."
        ),
        "Sign out",
        user_path(id),
    ))
}
