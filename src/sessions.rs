//! Login sessions at Tessera: a random cookie value, stored as its digest, with the time
//! the user authenticated (for `auth_time` and `max_age`) and a CSRF token for its forms.
//! Every sign-in, and every refused one, is written to the audit log. Failed sign-ins are
//! throttled (`crate::throttle`) before any password is checked.
use std::sync::LazyLock;

use crate::audit::{self, AuditAction, Entry};
use crate::auth_methods::AuthMethods;
use crate::domain::Username;
use crate::secrets::{self, SecretString};
use crate::store::sessions::{self as session_store, SessionRow};
use crate::store::users::{self, UserRow};
use crate::store::{DbConnection, StoreError};
use crate::throttle::{self, Attempt, Locked, Policy};

/// A signed-in user, as the session cookie showed.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session: SessionRow,
    pub user: UserRow,
    pub session_key: String,
}

impl SignedIn {
    /// How this session's user authenticated.
    pub fn methods(&self) -> AuthMethods {
        AuthMethods::from_stored(&self.session.amr)
    }
}

pub const COOKIE: &str = "tessera_session";
/// The login form's double-submit CSRF cookie (there is no session yet to hold a token).
pub const LOGIN_CSRF_COOKIE: &str = "tessera_login_csrf";

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user, wrong password or disabled account: one answer for all, so the form
    /// does not reveal which usernames exist.
    #[error("invalid username or password")]
    Invalid,
    /// Too many failed sign-ins for this account or address: refused without looking at
    /// the password (a throttled guess costs no Argon2id, and tells nothing).
    #[error("too many failed sign-ins")]
    Throttled(Locked),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A hash to verify against when the username is unknown, so both cases cost the same.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    secrets::hash_secret(&SecretString::new(secrets::random_token(16))).unwrap_or_default()
});

/// The live session a cookie value names, with its user.
pub fn current(
    conn: &mut DbConnection,
    cookie: &str,
    now: i64,
) -> Result<Option<SignedIn>, StoreError> {
    let key = secrets::digest(cookie);
    let Some(session) = session_store::live(conn, &key, now)? else {
        return Ok(None);
    };
    let Some(user) = users::by_id(conn, session.user_id)? else {
        return Ok(None);
    };
    Ok(Some(SignedIn {
        session,
        user,
        session_key: key,
    }))
}

/// Where a login comes from, for the sessions page and the audit trail.
#[derive(Debug, Default)]
pub struct Origin {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// The active user with this username and password. Unknown users cost a hash check too,
/// so timing does not tell which usernames exist.
pub fn check_password(
    conn: &mut DbConnection,
    username: &str,
    password: &SecretString,
) -> Result<users::UserRow, LoginError> {
    let user = match Username::parse(username) {
        Ok(u) => users::by_username(conn, u.as_str())?,
        Err(_) => None,
    };
    let Some(user) = user else {
        let _ = secrets::verify_secret(password, &DUMMY_HASH);
        return Err(LoginError::Invalid);
    };
    let check = secrets::check_password(password, &user.password_hash);
    if check == secrets::PasswordCheck::Wrong || !user.is_active {
        return Err(LoginError::Invalid);
    }
    if check == secrets::PasswordCheck::RightUpgrade {
        upgrade_hash(conn, &user, password)?;
    }
    Ok(user)
}

/// A password just verified against a hash imported from Django, or an Argon2id hash with
/// an earlier version's settings: replace the hash with one of today's, so Django's weaker
/// or costlier formats and old settings leave the database one sign-in at a time. A failure to rehash is logged and the sign-in goes on (the old hash
/// still verifies next time).
fn upgrade_hash(
    conn: &mut DbConnection,
    user: &UserRow,
    password: &SecretString,
) -> Result<(), StoreError> {
    match secrets::hash_secret(password) {
        Ok(hash) => users::set_password_hash(conn, user.id, &hash),
        Err(e) => {
            tracing::warn!(user = user.id, "imported password hash not upgraded: {e}");
            Ok(())
        }
    }
}

/// [`check_password`] behind the throttle: a locked bucket refuses before the password is
/// looked at; a wrong guess is counted. `Err(Invalid)` and `Err(Throttled)` both come with
/// the audit detail to record.
pub fn authenticate(
    conn: &mut DbConnection,
    now: i64,
    policy: Policy,
    username: &str,
    password: &SecretString,
    ip: Option<&str>,
) -> Result<users::UserRow, (LoginError, String)> {
    let attempt = Attempt::sign_in(username, ip);
    let store = |e: StoreError| (LoginError::Store(e), String::new());
    let checked = throttle::check(conn, policy, &attempt, now).map_err(store)?;
    if let Some(locked) = checked.locked {
        let detail = format!(
            "throttled ({}), {} s left",
            locked.scope.as_str(),
            locked.retry_after
        );
        return Err((LoginError::Throttled(locked), detail));
    }
    match check_password(conn, username, password) {
        Ok(user) => {
            throttle::succeeded(conn, policy, &attempt, &checked, now).map_err(store)?;
            Ok(user)
        }
        Err(LoginError::Invalid) => {
            // Looked up for unknown users and wrong passwords alike, so both still cost
            // the same.
            let reason = match users::by_username(conn, username).map_err(store)? {
                None => "unknown user",
                Some(u) if !u.is_active => "account disabled",
                Some(_) => "wrong password",
            };
            let detail = match throttle::failed(conn, policy, &attempt, now).map_err(store)? {
                Some(l) => format!(
                    "{reason}; {} locked for {} s",
                    l.scope.as_str(),
                    l.retry_after
                ),
                None => reason.to_owned(),
            };
            Err((LoginError::Invalid, detail))
        }
        Err(e) => Err((e, String::new())),
    }
}

/// Check a username and password and open a session; returns the cookie value. The outcome
/// goes to the audit log: a sign-in, or a failed one with the reason (which the login page
/// itself never reveals).
pub fn login(
    conn: &mut DbConnection,
    now: i64,
    ttl: i64,
    policy: Policy,
    username: &str,
    password: &SecretString,
    origin: Origin,
) -> Result<(String, SignedIn), LoginError> {
    let user = check_sign_in(conn, now, policy, username, password, origin.ip.as_deref())?;
    Ok(open(
        conn,
        now,
        ttl,
        user,
        origin,
        &AuthMethods::password(),
    )?)
}

/// The password step of a sign-in: [`authenticate`], with a refusal written to the audit
/// log with its reason (which the login page itself never reveals).
pub fn check_sign_in(
    conn: &mut DbConnection,
    now: i64,
    policy: Policy,
    username: &str,
    password: &SecretString,
    ip: Option<&str>,
) -> Result<UserRow, LoginError> {
    let (error, reason) = match authenticate(conn, now, policy, username, password, ip) {
        Ok(user) => return Ok(user),
        Err((LoginError::Store(e), _)) => return Err(LoginError::Store(e)),
        Err(failed) => failed,
    };
    let entry = Entry {
        actor: Some(username),
        action: AuditAction::LoginFailed,
        target: None,
        detail: Some(reason.as_str()),
        ip,
    };
    audit::record(conn, now, &entry)?;
    Err(error)
}

/// Open a session for a user who authenticated with `methods`, audited as a sign-in (the
/// detail names the methods); returns the cookie value.
pub fn open(
    conn: &mut DbConnection,
    now: i64,
    ttl: i64,
    user: UserRow,
    origin: Origin,
    methods: &AuthMethods,
) -> Result<(String, SignedIn), StoreError> {
    let (cookie, signed_in) = establish(conn, now, ttl, user, origin, methods)?;
    let detail = methods.amr().join(" ");
    let entry = Entry {
        actor: Some(&signed_in.user.username),
        action: AuditAction::Login,
        target: None,
        detail: Some(&detail),
        ip: signed_in.session.ip.as_deref(),
    };
    audit::record(conn, now, &entry)?;
    Ok((cookie, signed_in))
}

/// Open a session, unaudited: for a sign-in that writes its own audit entry (a passkey
/// sign-in names the passkey, in `crate::passkeys::sign_in`); returns the cookie value.
pub fn establish(
    conn: &mut DbConnection,
    now: i64,
    ttl: i64,
    user: UserRow,
    origin: Origin,
    methods: &AuthMethods,
) -> Result<(String, SignedIn), StoreError> {
    let cookie = secrets::random_token(32);
    let session = SessionRow {
        id_hash: secrets::digest(&cookie),
        user_id: user.id,
        csrf_token: secrets::random_token(24),
        auth_time: now,
        created_at: now,
        last_seen_at: now,
        expires_at: now + ttl,
        user_agent: origin.user_agent.map(|ua| ua.chars().take(300).collect()),
        ip: origin.ip,
        amr: methods.to_stored(),
    };
    session_store::insert(conn, &session)?;
    users::touch_login(conn, user.id, now)?;
    let key = session.id_hash.clone();
    Ok((
        cookie,
        SignedIn {
            session,
            user,
            session_key: key,
        },
    ))
}

/// The `sid` claim (OpenID Connect Front-Channel Logout 1.0 §3) naming a session in its
/// ID tokens: derived from the session's stored key, so it says nothing about the cookie
/// and cannot be turned back into the key. Logout compares it with the current session.
pub fn sid(session_key: &str) -> String {
    let mut sid = secrets::digest(&format!("tessera-sid:{session_key}"));
    sid.truncate(32);
    sid
}

pub fn logout(conn: &mut DbConnection, cookie: &str) -> Result<(), StoreError> {
    session_store::delete(conn, &secrets::digest(cookie))
}
