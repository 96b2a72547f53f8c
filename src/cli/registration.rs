//! `tessera registration-token create|list|revoke`: initial access tokens for dynamic
//! client registration, as the console's Registration page mints and revokes them.
use serde_json::json;

use super::Failure;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::registration::initial_tokens::{self, TokenError};
use crate::store::Store;

/// Who the audit log says acted: the shell user, as the other commands record it.
fn by() -> String {
    match std::env::var("USER") {
        Ok(user) if !user.is_empty() => format!("cli:{user}"),
        _ => "cli".to_owned(),
    }
}

fn conn(settings: &Settings) -> Result<crate::store::PooledConn, Failure> {
    let store = Store::connect(&settings.database_url, 1)?;
    store.migrate()?;
    Ok(store.conn()?)
}

pub fn create(
    settings: &Settings,
    clock: &SharedClock,
    expires: Option<i64>,
    as_json: bool,
) -> Result<(), Failure> {
    let expires =
        initial_tokens::parse_expires(&expires.map(|e| e.to_string()).unwrap_or_default())?;
    let mut conn = conn(settings)?;
    let minted = initial_tokens::mint(&mut conn, clock.unix(), (&by(), None), expires)?;
    if as_json {
        println!(
            "{}",
            json!({ "id": minted.id, "token": minted.token.expose(), "expires_at": minted.expires_at })
        );
    } else {
        println!("initial access token: {}", minted.token.expose());
        println!("id: {}", minted.id);
        match minted.expires_at {
            Some(at) => println!("It works until {at} (Unix time) or until revoked."),
            None => println!("It works until revoked."),
        }
        println!("The token is shown once and stored only as a digest; keep it now.");
    }
    Ok(())
}

pub fn list(settings: &Settings, clock: &SharedClock, as_json: bool) -> Result<(), Failure> {
    let mut conn = conn(settings)?;
    let now = clock.unix();
    let rows = initial_tokens::list(&mut conn)?;
    if as_json {
        let rows: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({
                    "id": r.id, "created_by": r.created_by, "created_at": r.created_at,
                    "expires_at": r.expires_at, "revoked_at": r.revoked_at,
                    "uses": r.uses, "live": initial_tokens::is_live(r, now),
                })
            })
            .collect();
        println!("{}", json!(rows));
    } else {
        for r in &rows {
            let state = if initial_tokens::is_live(r, now) {
                "live"
            } else if r.revoked_at.is_some() {
                "revoked"
            } else {
                "expired"
            };
            println!("{}\t{state}\t{} uses\tby {}", r.id, r.uses, r.created_by);
        }
    }
    Ok(())
}

pub fn revoke(settings: &Settings, clock: &SharedClock, id: &str) -> Result<(), Failure> {
    let mut conn = conn(settings)?;
    initial_tokens::revoke(&mut conn, clock.unix(), (&by(), None), id).map_err(|e| match e {
        TokenError::NotFound(id) => Failure(format!("no live initial access token '{id}'")),
        other => Failure(other.to_string()),
    })?;
    println!("initial access token {id} revoked");
    Ok(())
}
