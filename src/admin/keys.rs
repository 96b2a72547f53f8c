//! Signing keys from the console: list, rotate, retire. The in-memory key set is reloaded
//! at once so the change shows in the JWKS and in new tokens without waiting for the poll.
use super::{Actor, AdminError};
use crate::audit::AuditAction;
use crate::clock::Clock;
use crate::config::Settings;
use crate::signing::{KeyInfo, Keys, SigningAlg};
use crate::store::clients as client_store;
use crate::store::{DbConnection, StoreError};

pub fn list(keys: &Keys, now: i64) -> Result<Vec<KeyInfo>, AdminError> {
    Ok(keys.source().list(at(now))?)
}

fn at(unix: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(unix, 0).unwrap_or_default()
}

fn reload(keys: &Keys) -> Result<(), AdminError> {
    keys.reload_if_changed()?;
    Ok(())
}

/// Publish a new key of `alg`; older keys stay published. Blocking (key generation).
pub fn rotate(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    keys: &Keys,
    actor: &Actor,
    alg: SigningAlg,
) -> Result<KeyInfo, AdminError> {
    let info = keys.source().generate(alg, clock.now())?;
    reload(keys)?;
    actor.audit(
        conn,
        clock.unix(),
        AuditAction::KeyRotated,
        &info.kid,
        Some(alg.as_str()),
    )?;
    Ok(info)
}

/// The longest a token signed by a key can stay valid: access and ID tokens (the server's
/// lifetime or a client's own) and SimpleJWT tokens (their own lifetimes when set), whose
/// refresh tokens are JWTs signed by the key.
pub fn token_lifetime(
    conn: &mut DbConnection,
    settings: &Settings,
) -> Result<chrono::Duration, StoreError> {
    let clients = client_store::max_access_token_ttl(conn)?.unwrap_or(0);
    let simplejwt = &settings.simplejwt;
    let longest = settings
        .access_token_ttl
        .max(settings.refresh_token_ttl)
        .as_secs()
        .max(clients.unsigned_abs())
        .max(simplejwt.access_token_lifetime.unwrap_or(0).unsigned_abs())
        .max(simplejwt.refresh_token_lifetime.unwrap_or(0).unsigned_abs());
    Ok(chrono::Duration::seconds(
        i64::try_from(longest).unwrap_or(i64::MAX / 1000),
    ))
}

/// Stop publishing a key (never the last one, never while tokens it signed may be valid).
/// Blocking (database).
pub fn retire(
    conn: &mut DbConnection,
    now: i64,
    keys: &Keys,
    settings: &Settings,
    actor: &Actor,
    kid: &str,
) -> Result<KeyInfo, AdminError> {
    let lifetime = token_lifetime(conn, settings)?;
    let info = keys.source().retire(kid, at(now), Some(lifetime))?;
    reload(keys)?;
    actor.audit(conn, now, AuditAction::KeyRetired, &info.kid, None)?;
    Ok(info)
}
