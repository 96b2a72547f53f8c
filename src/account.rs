//! What a signed-in user may do to their own account: read it (profile, applications,
//! sessions, recent sign-ins), change name and email, change the password (the current one
//! checked behind the sign-in throttle), withdraw an application's access and end a
//! session. Every change is audited with the user as actor. Free of HTTP types.
use crate::audit::{self, AuditAction};
use crate::domain::{Email, Password};
use crate::family;
use crate::secrets::{self, HashError, SecretString};
use crate::sessions::{self, LoginError};
use crate::store::admin::{self as admin_store, ConsentRow};
use crate::store::audit::{self as audit_store, AuditRow};
use crate::store::second_factors as factor_store;
use crate::store::sessions::{self as session_store, SessionRow};
use crate::store::users::{self as user_store, UserRow};
use crate::store::{DbConnection, StoreError, transaction};
use crate::throttle::Policy;

/// The password change form, where a user flagged to change their password is sent from
/// every other page.
pub const PASSWORD_PATH: &str = "/account/password";

/// How many sign-ins the account page lists.
const RECENT_SIGN_INS: i64 = 10;

/// Why an account request was not done. Becomes HTTP (a readable page) in `error.rs`.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Nobody is signed in: sign in, then come back to `return_to`.
    #[error("sign in required")]
    SignIn { return_to: &'static str },
    /// The user must choose a new password before anything else.
    #[error("password change required")]
    MustChangePassword,
    /// The form's CSRF token is missing or wrong.
    #[error("form expired or forged")]
    Csrf,
    /// The current password was wrong (counted like a failed sign-in).
    #[error("current password wrong")]
    WrongPassword,
    /// Too many failed attempts; `retry_after` seconds to wait.
    #[error("too many failed attempts")]
    Throttled { retry_after: i64 },
    /// The input cannot be used; the message says why, in words for the user.
    #[error("{0}")]
    Invalid(String),
    /// No such application or session among the user's own: another user's look the same
    /// as ones that never existed.
    #[error("not found")]
    NotFound,
    /// A reset link that is unknown (forged or mistyped), used or expired.
    #[error("reset link unusable: {0:?}")]
    ResetLink(LinkProblem),
    #[error(transparent)]
    Store(StoreError),
    #[error("hashing failed: {0}")]
    Hash(#[from] HashError),
    /// A second factor cannot be read or stored (no key-encryption key, a damaged row).
    #[error("second factor unavailable: {0}")]
    SecondFactor(String),
}

impl From<crate::second_factor::SecondFactorError> for AccountError {
    fn from(e: crate::second_factor::SecondFactorError) -> Self {
        use crate::second_factor::SecondFactorError as E;
        match e {
            E::Store(e) => e.into(),
            E::WrongCode => AccountError::Invalid(
                "That code is not right, or was already used. Wait for the next code and try again."
                    .into(),
            ),
            E::AlreadyEnrolled => AccountError::Invalid(
                "An authenticator is already set up. Remove it first to set up another.".into(),
            ),
            E::NotEnrolled => AccountError::Invalid("No authenticator is set up.".into()),
            other => AccountError::SecondFactor(other.to_string()),
        }
    }
}

/// What is wrong with a reset link, as the page tells its holder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkProblem {
    Unknown,
    Used,
    Expired,
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AccountError::NotFound,
            other => AccountError::Store(other),
        }
    }
}

/// The signed-in user acting on their own account.
#[derive(Clone, Debug)]
pub struct Me {
    pub user_id: i64,
    pub username: String,
    /// The stored key of the session making the request (kept when others are ended).
    pub session_key: String,
    pub ip: Option<String>,
}

impl Me {
    pub(crate) fn audit(
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

/// Everything the account page shows.
#[derive(Debug)]
pub struct Overview {
    pub user: UserRow,
    pub consents: Vec<ConsentRow>,
    pub sessions: Vec<SessionRow>,
    pub sign_ins: Vec<AuditRow>,
    /// Whether an authenticator (TOTP) is active, and how many recovery codes are left.
    pub totp: bool,
    pub recovery_codes_left: i64,
}

pub fn overview(conn: &mut DbConnection, me: &Me, now: i64) -> Result<Overview, AccountError> {
    let user = user_store::by_id(conn, me.user_id)?.ok_or(AccountError::NotFound)?;
    Ok(Overview {
        consents: admin_store::consents_of(conn, me.user_id)?,
        sessions: admin_store::sessions_of(conn, me.user_id, now)?,
        sign_ins: audit_store::sign_ins_of(conn, &user.username, RECENT_SIGN_INS)?,
        totp: factor_store::totp_of(conn, me.user_id)?.is_some_and(|r| r.confirmed_at.is_some()),
        recovery_codes_left: factor_store::recovery_codes_left(conn, me.user_id)?,
        user,
    })
}

/// Name and email as the user typed them, parsed. An email the user sets is not verified.
#[derive(Debug)]
pub struct OwnProfile {
    pub name: Option<String>,
    pub email: Option<Email>,
}

impl OwnProfile {
    pub fn parse(name: &str, email: &str) -> Result<Self, AccountError> {
        let name = name.trim();
        if name.chars().count() > 200 {
            return Err(AccountError::Invalid(
                "Your name must be at most 200 characters.".into(),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(AccountError::Invalid(
                "Your name must not contain control characters.".into(),
            ));
        }
        let email = match email.trim() {
            "" => None,
            e => Some(Email::parse(e).map_err(AccountError::Invalid)?),
        };
        Ok(Self {
            name: (!name.is_empty()).then(|| name.to_owned()),
            email,
        })
    }
}

pub fn update_profile(
    conn: &mut DbConnection,
    now: i64,
    me: &Me,
    profile: &OwnProfile,
) -> Result<(), AccountError> {
    transaction(conn, |conn| {
        user_store::set_own_profile(
            conn,
            me.user_id,
            profile.name.as_deref(),
            profile.email.as_ref().map(Email::as_str),
            now,
        )?;
        me.audit(
            conn,
            now,
            AuditAction::AccountProfileUpdated,
            &me.username,
            None,
        )?;
        Ok(())
    })
}

/// A password change as the form sent it: the current password, the new one twice.
#[derive(Debug)]
pub struct PasswordChange {
    pub current: SecretString,
    pub new: Password,
}

impl PasswordChange {
    /// The new password follows the console's policy and must be typed the same twice.
    pub fn parse(current: &str, new: &str, repeat: &str) -> Result<Self, AccountError> {
        if new != repeat {
            return Err(AccountError::Invalid(
                "The two new passwords differ. Please type the same password twice.".into(),
            ));
        }
        let new = Password::parse(new).map_err(|e| AccountError::Invalid(capitalise(&e)))?;
        if current == new.secret().expose() {
            return Err(AccountError::Invalid(
                "The new password must differ from the current one.".into(),
            ));
        }
        Ok(Self {
            current: SecretString::new(current),
            new,
        })
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), c.as_str()),
        None => String::new(),
    }
}

/// Change the password. The current one is checked as a sign-in is (same throttle buckets,
/// so guessing here is no cheaper than at `/login`); a wrong one is audited. Afterwards the
/// user's other sessions end and the forced-change flag is cleared.
pub fn change_password(
    conn: &mut DbConnection,
    now: i64,
    policy: Policy,
    me: &Me,
    change: &PasswordChange,
) -> Result<(), AccountError> {
    check_current_password(conn, now, policy, me, &change.current)?;
    let hash = secrets::hash_secret(change.new.secret())?;
    transaction(conn, |conn| {
        admin_store::set_password_hash(conn, me.user_id, &hash, now)?;
        user_store::set_must_change_password(conn, me.user_id, false)?;
        let ended = session_store::delete_others_of(conn, me.user_id, &me.session_key)?;
        let detail = format!("{ended} other session(s) ended");
        me.audit(
            conn,
            now,
            AuditAction::AccountPasswordChanged,
            &me.username,
            Some(&detail),
        )?;
        Ok(())
    })
}

/// The user's current password, checked as a sign-in is (same throttle buckets, so guessing
/// here is no cheaper than at `/login`); a wrong one is audited. Guards the changes a
/// stolen session alone must not make: the password, second factors.
pub fn check_current_password(
    conn: &mut DbConnection,
    now: i64,
    policy: Policy,
    me: &Me,
    password: &SecretString,
) -> Result<(), AccountError> {
    let checked =
        sessions::authenticate(conn, now, policy, &me.username, password, me.ip.as_deref());
    let Err((error, detail)) = checked else {
        return Ok(());
    };
    let refusal = match error {
        LoginError::Invalid => AccountError::WrongPassword,
        LoginError::Throttled(locked) => AccountError::Throttled {
            retry_after: locked.retry_after,
        },
        LoginError::Store(e) => return Err(e.into()),
    };
    me.audit(
        conn,
        now,
        AuditAction::AccountPasswordRefused,
        &me.username,
        Some(&detail),
    )?;
    Err(refusal)
}

/// Withdraw an application's access: the consent goes and its refresh tokens for this user
/// are revoked (through the family rule, so their access tokens are remembered as revoked).
pub fn revoke_consent(
    conn: &mut DbConnection,
    now: i64,
    me: &Me,
    client_id: &str,
) -> Result<(), AccountError> {
    transaction(conn, |conn| {
        admin_store::delete_consent(conn, me.user_id, client_id)?;
        for grant in admin_store::live_grant_ids(conn, client_id, Some(me.user_id))? {
            family::revoke(conn, &grant, now)?;
        }
        let target = format!("{} / {client_id}", me.username);
        me.audit(conn, now, AuditAction::ConsentRevoked, &target, None)?;
        Ok(())
    })
}

/// End one of the user's own sessions (the current one too, which signs this browser out).
pub fn sign_out_session(
    conn: &mut DbConnection,
    now: i64,
    me: &Me,
    session_key: &str,
) -> Result<(), AccountError> {
    transaction(conn, |conn| {
        admin_store::delete_session(conn, me.user_id, session_key)?;
        let detail = (session_key == me.session_key).then_some("this session");
        me.audit(
            conn,
            now,
            AuditAction::SessionSignedOut,
            &me.username,
            detail,
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_password_follows_the_policy_and_is_typed_twice() {
        assert!(matches!(
            PasswordChange::parse("old password", "short", "short"),
            Err(AccountError::Invalid(m)) if m.contains("at least 8")
        ));
        assert!(matches!(
            PasswordChange::parse("old password", "long enough 1", "long enough 2"),
            Err(AccountError::Invalid(m)) if m.contains("differ")
        ));
        assert!(matches!(
            PasswordChange::parse("same password", "same password", "same password"),
            Err(AccountError::Invalid(_))
        ));
        assert!(PasswordChange::parse("old password", "new password", "new password").is_ok());
    }

    #[test]
    fn own_profiles_are_parsed_like_the_consoles() {
        let p = OwnProfile::parse("  Alice ", " alice@example.com ").unwrap();
        assert_eq!(p.name.as_deref(), Some("Alice"));
        assert_eq!(
            p.email.as_ref().map(Email::as_str),
            Some("alice@example.com")
        );
        assert!(OwnProfile::parse("", "not-an-email").is_err());
        assert!(OwnProfile::parse("a\u{7}b", "").is_err());
        assert!(OwnProfile::parse(&"n".repeat(201), "").is_err());
    }
}
