//! Writing and reading the audit trail: logins, consents, admin changes, key rotation.
use super::{Actor, AdminError, Paging};
use crate::secrets::SecretString;
use crate::sessions::SignedIn;
use crate::sessions::{self, LoginError, Origin};
use crate::store::audit::{self as audit_store, AuditRow, NewAuditRow};
use crate::store::users as user_store;
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

/// `sessions::login`, with the outcome written to the audit log: a sign-in, or a failed
/// one with the reason (which the login page itself never reveals).
pub fn login(
    conn: &mut DbConnection,
    now: i64,
    ttl: i64,
    username: &str,
    password: &SecretString,
    origin: Origin,
) -> Result<(String, SignedIn), LoginError> {
    let ip = origin.ip.clone();
    let (actor, what, detail) = match sessions::login(conn, now, ttl, username, password, origin) {
        Ok(done) => {
            let entry = Entry {
                actor: Some(&done.1.user.username),
                action: action::LOGIN,
                target: None,
                detail: None,
                ip: ip.as_deref(),
            };
            record(conn, now, &entry)?;
            return Ok(done);
        }
        // Looked up for unknown users and wrong passwords alike, so both still cost the same.
        Err(LoginError::Invalid) => match user_store::by_username(conn, username)? {
            None => (username, action::LOGIN_FAILED, "unknown user"),
            Some(u) if !u.is_active => (username, action::LOGIN_FAILED, "account disabled"),
            Some(_) => (username, action::LOGIN_FAILED, "wrong password"),
        },
        Err(e) => return Err(e),
    };
    let entry = Entry {
        actor: Some(actor),
        action: what,
        target: None,
        detail: Some(detail),
        ip: ip.as_deref(),
    };
    record(conn, now, &entry)?;
    Err(LoginError::Invalid)
}
