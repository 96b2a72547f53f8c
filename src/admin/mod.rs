//! The admin console's domain: what an administrator may do to users, clients, consents,
//! sessions, signing keys and throttling locks, each change written to the audit log. Free
//! of HTTP types; `routes::admin` calls in, `store` is called out.
pub mod clients;
pub mod keys;
pub mod locked;
pub mod resources;
pub mod second_factors;
pub mod users;

use crate::audit::{self, AuditAction};
use crate::signing::KeyError;
use crate::store::audit::{self as audit_store, AuditRow};
use crate::store::{DbConnection, Store, StoreError};

/// Who is acting, for the audit log.
#[derive(Clone, Debug)]
pub struct Actor {
    pub user_id: i64,
    pub username: String,
    pub ip: Option<String>,
}

impl Actor {
    /// Record this admin's change in the audit log. Called inside the change's transaction
    /// where there is one, so a change that rolls back leaves no entry.
    pub fn audit(
        &self,
        conn: &mut DbConnection,
        now: i64,
        action: AuditAction,
        target: &str,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        audit::record_by(
            conn,
            now,
            (&self.username, self.ip.as_deref()),
            action,
            target,
            detail,
        )
    }
}

/// Why an admin request was not done. Becomes HTTP (an HTML page) in `error.rs`.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Nobody is signed in: go to the login page, then come back to `return_to`.
    #[error("sign in required")]
    SignIn { return_to: String },
    /// Signed in, but the password must be changed first (the first administrator); then
    /// back to `return_to`.
    #[error("password change required")]
    MustChangePassword { return_to: String },
    /// Signed in with a password only, and the policy requires a second factor of
    /// administrators: the second step first, then back to `return_to`.
    #[error("second factor required")]
    SecondFactor { return_to: String },
    /// Signed in, but not an administrator.
    #[error("administrators only")]
    Forbidden,
    /// The form's CSRF token is missing or wrong (an old page, or another site's form).
    #[error("form expired or forged")]
    Csrf,
    /// The input cannot be used; the message says why, in words for the admin.
    #[error("{0}")]
    Invalid(String),
    /// The change would break an invariant (the last admin, the last key).
    #[error("{0}")]
    Refused(String),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Keys(KeyError),
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AdminError::NotFound,
            other => AdminError::Store(other),
        }
    }
}

impl From<KeyError> for AdminError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::UnknownKid(_) => AdminError::NotFound,
            KeyError::AlreadyRetired(kid) => {
                AdminError::Refused(format!("Key {kid} is already retired."))
            }
            KeyError::LastKey { kid, alg } => AdminError::Refused(format!(
                "Key {kid} is the only published key for {alg}: rotate first, so another key can sign."
            )),
            KeyError::Signing(kid) => AdminError::Refused(format!(
                "Key {kid} signs new tokens: rotate first, and retire it once the tokens it signed have expired."
            )),
            KeyError::StillValid { kid, until } => AdminError::Refused(format!(
                "Tokens signed by key {kid} may still be valid until {}. Retire it after that; a leaked key can be retired at once with `tessera keys retire --force`.",
                until.format("%Y-%m-%d %H:%M UTC")
            )),
            other => AdminError::Keys(other),
        }
    }
}

impl From<crate::secrets::HashError> for AdminError {
    fn from(e: crate::secrets::HashError) -> Self {
        AdminError::Internal(e.to_string())
    }
}

/// Run an admin operation on the blocking pool with a pooled connection.
pub async fn run<T, F>(store: &Store, f: F) -> Result<T, AdminError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, AdminError> + Send + 'static,
{
    store.run(move |conn| Ok(f(conn))).await?
}

/// Audit entries newest first, a page at a time, optionally one kind of action (a prefix
/// such as `login` or `user.`).
pub fn audit_page(
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

/// A page of a list: which rows to show and the links around them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paging {
    /// 1-based.
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

impl Paging {
    /// Page `raw` (1-based; anything unparsable or out of range reads as the nearest page).
    pub fn new(raw: Option<&str>, per_page: i64, total: i64) -> Self {
        let last = ((total + per_page - 1) / per_page).max(1);
        let page = raw
            .and_then(|r| r.trim().parse::<i64>().ok())
            .unwrap_or(1)
            .clamp(1, last);
        Self {
            page,
            per_page,
            total,
        }
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.per_page
    }

    pub fn last(&self) -> i64 {
        ((self.total + self.per_page - 1) / self.per_page).max(1)
    }

    pub fn prev(&self) -> Option<i64> {
        (self.page > 1).then(|| self.page - 1)
    }

    pub fn next(&self) -> Option<i64> {
        (self.page < self.last()).then(|| self.page + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::Paging;

    #[test]
    fn paging_clamps_to_existing_pages() {
        let p = Paging::new(Some("9"), 20, 45);
        assert_eq!((p.page, p.last(), p.offset()), (3, 3, 40));
        assert_eq!(p.next(), None);
        assert_eq!(p.prev(), Some(2));
        let p = Paging::new(Some("-1"), 20, 0);
        assert_eq!((p.page, p.last(), p.offset()), (1, 1, 0));
        assert_eq!(Paging::new(Some("abc"), 20, 100).page, 1);
    }
}
