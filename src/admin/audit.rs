//! Writing and reading the audit trail: logins, consents, admin changes, key rotation.
use super::{Actor, AdminError, Paging};
use crate::store::audit::{self as audit_store, AuditRow, NewAuditRow};
use crate::store::{DbConnection, StoreError};

/// What happened, as stored in `audit_log.action`.
pub mod action {
    pub const LOGIN: &str = "login";
    pub const LOGIN_FAILED: &str = "login.failed";
    pub const CONSENT_GRANTED: &str = "consent.granted";
    pub const CONSENT_REVOKED: &str = "consent.revoked";
    pub const USER_CREATED: &str = "user.created";
    pub const USER_UPDATED: &str = "user.updated";
    pub const USER_PASSWORD_SET: &str = "user.password-set";
    pub const USER_DISABLED: &str = "user.disabled";
    pub const USER_ENABLED: &str = "user.enabled";
    pub const USER_ADMIN_GRANTED: &str = "user.admin-granted";
    pub const USER_ADMIN_REVOKED: &str = "user.admin-revoked";
    pub const USER_DELETED: &str = "user.deleted";
    pub const SESSION_SIGNED_OUT: &str = "session.signed-out";
    pub const CLIENT_CREATED: &str = "client.created";
    pub const CLIENT_UPDATED: &str = "client.updated";
    pub const CLIENT_SECRET_ROTATED: &str = "client.secret-rotated";
    pub const CLIENT_DELETED: &str = "client.deleted";
    pub const KEY_ROTATED: &str = "key.rotated";
    pub const KEY_RETIRED: &str = "key.retired";
}

/// One audit entry about to be written.
#[derive(Debug, Default)]
pub struct Entry<'a> {
    pub actor: Option<&'a str>,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub detail: Option<&'a str>,
    pub ip: Option<&'a str>,
}

/// Append an entry. Long free-text fields are cut so a hostile username cannot bloat the log.
pub fn record(conn: &mut DbConnection, now: i64, entry: &Entry<'_>) -> Result<(), StoreError> {
    fn cut(s: Option<&str>) -> Option<String> {
        s.map(|s| s.chars().take(500).collect())
    }
    let (actor, target, detail) = (cut(entry.actor), cut(entry.target), cut(entry.detail));
    audit_store::insert(
        conn,
        &NewAuditRow {
            at: now,
            actor: actor.as_deref(),
            action: entry.action,
            target: target.as_deref(),
            detail: detail.as_deref(),
            ip: entry.ip,
        },
    )
}

/// An admin's change: the actor and IP come from the signed-in admin.
pub fn by_admin(
    conn: &mut DbConnection,
    now: i64,
    actor: &Actor,
    action: &str,
    target: &str,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    record(
        conn,
        now,
        &Entry {
            actor: Some(actor.username.as_str()),
            action,
            target: Some(target),
            detail,
            ip: actor.ip.as_deref(),
        },
    )
}

/// Entries newest first, a page at a time, optionally one kind of action (a prefix such as
/// `login` or `user.`).
pub fn page(
    conn: &mut DbConnection,
    filter: Option<&str>,
    page: Option<&str>,
    per_page: i64,
) -> Result<(Vec<AuditRow>, Paging), AdminError> {
    let total = audit_store::count(conn, filter)?;
    let paging = Paging::new(page, per_page, total);
    let rows = audit_store::page(conn, filter, paging.offset(), paging.per_page)?;
    Ok((rows, paging))
}
