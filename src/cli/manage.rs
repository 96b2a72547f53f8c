//! `tessera user list|set-password|disable|enable|reset-link` and `tessera client list|delete|
//! rotate-secret`: the console's user and client actions from a shell, through the same
//! domain functions (so the same rules hold and the same audit entries are written).
use serde_json::json;

use super::Failure;
use crate::admin::resources::ResourceForm;
use crate::admin::{self, Actor, AdminError};
use crate::clients::Client;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::domain::Password;
use crate::store::users as user_store;
use crate::store::{DbConnection, Store};

/// Who the audit log says acted: the shell user, as `tessera keys` records it.
fn actor() -> Actor {
    let username = match std::env::var("USER") {
        Ok(user) if !user.is_empty() => format!("cli:{user}"),
        _ => "cli".to_owned(),
    };
    // No Tessera user acts: id 0 is nobody's.
    Actor {
        user_id: 0,
        username,
        ip: None,
    }
}

fn conn(settings: &Settings) -> Result<crate::store::PooledConn, Failure> {
    Ok(Store::connect(&settings.database_url, 1)?.conn()?)
}

fn user_id(conn: &mut DbConnection, username: &str) -> Result<i64, Failure> {
    user_store::by_username(conn, username)?
        .map(|u| u.id)
        .ok_or_else(|| Failure(format!("no user '{username}'")))
}

fn refused(e: AdminError, what: &str) -> Failure {
    match e {
        AdminError::NotFound => Failure(format!("no {what}")),
        other => Failure(other.to_string()),
    }
}

pub fn user_list(settings: &Settings, as_json: bool) -> Result<(), Failure> {
    let mut conn = conn(settings)?;
    let mut users = Vec::new();
    let mut page = 1;
    loop {
        let (rows, paging) = admin::users::list(&mut conn, None, Some(&page.to_string()), 500)?;
        users.extend(rows);
        if page * paging.per_page >= paging.total {
            break;
        }
        page += 1;
    }
    if as_json {
        let rows: Vec<_> = users
            .iter()
            .map(|u| {
                json!({
                    "id": u.id,
                    "username": u.username,
                    "email": u.email,
                    "name": u.name,
                    "active": u.is_active,
                    "admin": u.is_admin,
                    "last_login_at": u.last_login_at,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    println!(
        "{:<8} {:<32} {:<8} {:<6} EMAIL",
        "ID", "USERNAME", "ACTIVE", "ADMIN"
    );
    for u in &users {
        println!(
            "{:<8} {:<32} {:<8} {:<6} {}",
            u.id,
            u.username,
            if u.is_active { "yes" } else { "no" },
            if u.is_admin { "yes" } else { "no" },
            u.email.as_deref().unwrap_or("")
        );
    }
    Ok(())
}

pub fn user_set_password(
    settings: &Settings,
    clock: &SharedClock,
    username: &str,
    password: &Password,
) -> Result<(), Failure> {
    let mut conn = conn(settings)?;
    let id = user_id(&mut conn, username)?;
    admin::users::set_password(&mut conn, clock.unix(), &actor(), id, password)
        .map_err(|e| refused(e, "such user"))?;
    println!("password of '{username}' set; their sessions are signed out");
    Ok(())
}

pub fn user_set_active(
    settings: &Settings,
    clock: &SharedClock,
    username: &str,
    active: bool,
) -> Result<(), Failure> {
    let mut conn = conn(settings)?;
    let id = user_id(&mut conn, username)?;
    admin::users::set_active(&mut conn, clock.unix(), &actor(), id, active)
        .map_err(|e| refused(e, "such user"))?;
    if active {
        println!("'{username}' can sign in again");
    } else {
        println!("'{username}' is disabled and signed out everywhere");
    }
    Ok(())
}

/// The link alone on stdout (a script can pass it on); what it does, on stderr.
pub fn user_reset_link(
    settings: &Settings,
    clock: &SharedClock,
    username: &str,
    ttl: Option<&str>,
) -> Result<(), Failure> {
    let ttl = match ttl {
        Some(raw) => crate::resets::parse_ttl(raw).map_err(|e| Failure(format!("--ttl: {e}")))?,
        None => crate::resets::DEFAULT_TTL,
    };
    let mut conn = conn(settings)?;
    let id = user_id(&mut conn, username)?;
    let (_, token) = admin::users::reset_link(&mut conn, clock.unix(), &actor(), id, ttl)
        .map_err(|e| refused(e, "such user"))?;
    println!("{}", settings.endpoint(&crate::resets::path(&token)));
    eprintln!(
        "One-time link for '{username}', valid {ttl} s. Give it to them only; it is not stored and will not be shown again."
    );
    Ok(())
}

pub fn client_list(settings: &Settings, as_json: bool) -> Result<(), Failure> {
    let mut conn = conn(settings)?;
    let clients = admin::clients::list(&mut conn)?;
    if as_json {
        let mut rows = Vec::new();
        for row in &clients {
            let c = Client::from_row(row.clone())?;
            rows.push(json!({
                "client_id": c.id,
                "name": c.name,
                "public": c.is_public(),
                "redirect_uris": c.redirect_uris.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
                "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
                "scope": c.scopes.to_string(),
                "resources": c.allowed_resources,
                "profile": c.profile.as_str(),
            }));
        }
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    println!("{:<24} {:<13} {:<8} NAME", "CLIENT_ID", "KIND", "PROFILE");
    for c in &clients {
        let kind = if c.is_public {
            "public"
        } else {
            "confidential"
        };
        println!("{:<24} {:<13} {:<8} {}", c.id, kind, c.profile, c.name);
    }
    Ok(())
}

pub fn client_delete(settings: &Settings, clock: &SharedClock, id: &str) -> Result<(), Failure> {
    let mut conn = conn(settings)?;
    let name = admin::clients::delete(&mut conn, clock.unix(), &actor(), id)
        .map_err(|e| refused(e, &format!("client '{id}'")))?;
    println!("client '{name}' ({id}) deleted; its tokens are revoked");
    Ok(())
}

pub fn client_rotate_secret(
    settings: &Settings,
    clock: &SharedClock,
    id: &str,
    as_json: bool,
) -> Result<(), Failure> {
    let mut conn = conn(settings)?;
    let secret = admin::clients::rotate_secret(&mut conn, clock.unix(), &actor(), id)
        .map_err(|e| refused(e, &format!("client '{id}'")))?;
    if as_json {
        println!(
            "{}",
            json!({ "client_id": id, "client_secret": secret.expose() })
        );
    } else {
        println!("client_secret: {}", secret.expose());
        println!("The old secret no longer works. The new one is shown once; keep it now.");
    }
    Ok(())
}

pub fn resource_create(
    settings: &Settings,
    clock: &SharedClock,
    form: &ResourceForm,
) -> Result<(), Failure> {
    let new = form.parse()?;
    let store = Store::connect(&settings.database_url, 1)?;
    store.migrate()?;
    admin::resources::check_alg(&crate::signing::stored_keys(&store, clock.now())?, new.alg)?;
    let mut conn = store.conn()?;
    admin::resources::create(&mut conn, clock.unix(), &actor(), &new)?;
    println!(
        "resource '{}' registered: {} (scopes: {})",
        new.name.trim(),
        new.identifier,
        new.scopes
    );
    Ok(())
}

pub fn resource_list(settings: &Settings, as_json: bool) -> Result<(), Failure> {
    let mut conn = conn(settings)?;
    let list = admin::resources::list(&mut conn)?;
    if as_json {
        let rows: Vec<_> = list
            .iter()
            .map(|r| {
                json!({
                    "identifier": r.identifier,
                    "name": r.name,
                    "scope": r.scopes.to_string(),
                    "access_token_ttl": r.access_token_ttl,
                    "alg": r.alg.as_str(),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    println!("{:<40} {:<7} {:<8} NAME", "IDENTIFIER", "ALG", "TTL");
    for r in &list {
        let ttl = r
            .access_token_ttl
            .map(|t| t.to_string())
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<40} {:<7} {:<8} {}",
            r.identifier,
            r.alg.as_str(),
            ttl,
            r.name
        );
    }
    Ok(())
}

pub fn resource_delete(
    settings: &Settings,
    clock: &SharedClock,
    identifier: &str,
) -> Result<(), Failure> {
    let mut conn = conn(settings)?;
    let name = admin::resources::delete(&mut conn, clock.unix(), &actor(), identifier)
        .map_err(|e| refused(e, &format!("resource '{identifier}'")))?;
    println!("resource '{name}' ({identifier}) deleted; no client may ask for it now");
    Ok(())
}
