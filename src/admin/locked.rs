//! Throttling locks from the console: what is locked now (accounts, clients, addresses),
//! and unlocking one, which forgives its failures and is written to the audit log.
use super::{Actor, AdminError};
use crate::audit::AuditAction;
use crate::store::DbConnection;
use crate::throttle::{self, Kind, LockedItem, Target};

pub fn list(conn: &mut DbConnection, now: i64) -> Result<Vec<LockedItem>, AdminError> {
    Ok(throttle::locked_now(conn, now)?)
}

/// The target a form names: `kind` is `account`, `client` or `address`, `name` the
/// username, client_id or address.
pub fn target(kind: &str, name: &str) -> Result<Target, AdminError> {
    if name.is_empty() {
        return Err(AdminError::Invalid("Say what to unlock.".into()));
    }
    match kind {
        "address" => Ok(Target::Address(name.to_owned())),
        other => match Kind::parse(other) {
            Some(kind) => Ok(Target::Subject {
                kind,
                subject: name.to_owned(),
            }),
            None => Err(AdminError::Invalid(
                "Only an account, a client or an address can be unlocked.".into(),
            )),
        },
    }
}

/// End a target's locks and forgive its failures, in one transaction with its audit entry.
/// Unlocking what is no longer locked is harmless and still recorded.
pub fn unlock(
    conn: &mut DbConnection,
    now: i64,
    actor: &Actor,
    target: &Target,
) -> Result<usize, AdminError> {
    crate::store::transaction(conn, |conn| {
        let locked = throttle::unlock(conn, target, now)?;
        let detail = format!("{locked} locked bucket(s) cleared");
        actor.audit(
            conn,
            now,
            AuditAction::ThrottleUnlocked,
            &target.describe(),
            Some(&detail),
        )?;
        Ok(locked)
    })
}
