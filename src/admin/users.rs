//! Managing users from the console: list and search, create, edit claims, set a password,
//! disable or enable, grant or remove the admin flag, delete; consents and sessions per user.
//! The last active administrator can be neither disabled, demoted nor deleted.
use super::{Actor, AdminError, Paging};
use crate::audit::AuditAction;
use crate::clock::Clock;
use crate::domain::{Email, Password};
use crate::family;
use crate::resets;
use crate::secrets;
use crate::store::admin::{self as admin_store, ConsentRow, ProfileChange};
use crate::store::sessions::SessionRow;
use crate::store::users::{self as user_store, UserRow};
use crate::store::{DbConnection, transaction};
use crate::users::{self as user_domain, NewUser, UserError};

impl From<UserError> for AdminError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::UsernameTaken(name) => {
                AdminError::Invalid(format!("The username '{name}' is already taken."))
            }
            UserError::Invalid(m) => AdminError::Invalid(m),
            UserError::Hash(h) => AdminError::Internal(h.to_string()),
            UserError::Store(s) => AdminError::from(s),
        }
    }
}

/// A user with what the user page shows beside the profile.
#[derive(Debug)]
pub struct UserDetail {
    pub user: UserRow,
    pub consents: Vec<ConsentRow>,
    pub sessions: Vec<SessionRow>,
}

/// Profile claims as an admin typed them, parsed.
#[derive(Debug)]
pub struct Profile {
    pub name: Option<String>,
    pub email: Option<Email>,
    pub email_verified: bool,
}

impl Profile {
    pub fn parse(name: &str, email: &str, email_verified: bool) -> Result<Self, AdminError> {
        let name = name.trim();
        if name.chars().count() > 200 {
            return Err(AdminError::Invalid(
                "The name must be at most 200 characters.".into(),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(AdminError::Invalid(
                "The name must not contain control characters.".into(),
            ));
        }
        let email = match email.trim() {
            "" => None,
            e => Some(Email::parse(e).map_err(AdminError::Invalid)?),
        };
        Ok(Self {
            name: (!name.is_empty()).then(|| name.to_owned()),
            email_verified: email_verified && email.is_some(),
            email,
        })
    }
}

pub fn list(
    conn: &mut DbConnection,
    q: Option<&str>,
    page: Option<&str>,
    per_page: i64,
) -> Result<(Vec<UserRow>, Paging), AdminError> {
    let q = q.map(str::trim).filter(|q| !q.is_empty());
    let paging = Paging::new(page, per_page, admin_store::users_count(conn, q)?);
    let rows = admin_store::users_page(conn, q, paging.offset(), paging.per_page)?;
    Ok((rows, paging))
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<UserRow, AdminError> {
    user_store::by_id(conn, id)?.ok_or(AdminError::NotFound)
}

pub fn detail(conn: &mut DbConnection, id: i64, now: i64) -> Result<UserDetail, AdminError> {
    let user = get(conn, id)?;
    Ok(UserDetail {
        consents: admin_store::consents_of(conn, id)?,
        sessions: admin_store::sessions_of(conn, id, now)?,
        user,
    })
}

pub fn create(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    new: &NewUser,
    email_verified: bool,
) -> Result<UserRow, AdminError> {
    let now = clock.unix();
    transaction(conn, |conn| {
        let user = user_domain::create(conn, clock, new)?;
        if email_verified && user.email.is_some() {
            admin_store::update_profile(
                conn,
                user.id,
                &ProfileChange {
                    name: user.name.as_deref(),
                    email: user.email.as_deref(),
                    email_verified: true,
                },
                now,
            )?;
        }
        let detail = new.is_admin.then_some("administrator");
        actor.audit(conn, now, AuditAction::UserCreated, &user.username, detail)?;
        get(conn, user.id)
    })
}

pub fn update_profile(
    conn: &mut DbConnection,
    now: i64,
    actor: &Actor,
    id: i64,
    profile: &Profile,
) -> Result<(), AdminError> {
    transaction(conn, |conn| {
        let user = get(conn, id)?;
        admin_store::update_profile(
            conn,
            id,
            &ProfileChange {
                name: profile.name.as_deref(),
                email: profile.email.as_ref().map(Email::as_str),
                email_verified: profile.email_verified,
            },
            now,
        )?;
        actor.audit(conn, now, AuditAction::UserUpdated, &user.username, None)?;
        Ok(())
    })
}

/// Set a new password. The user's other sessions end (unless an admin changes their own).
pub fn set_password(
    conn: &mut DbConnection,
    now: i64,
    actor: &Actor,
    id: i64,
    password: &Password,
) -> Result<(), AdminError> {
    let hash = secrets::hash_secret(password.secret())?;
    transaction(conn, |conn| {
        let user = get(conn, id)?;
        admin_store::set_password_hash(conn, id, &hash, now)?;
        if actor.user_id != id {
            admin_store::delete_sessions_of(conn, id)?;
        }
        actor.audit(
            conn,
            now,
            AuditAction::UserPasswordSet,
            &user.username,
            None,
        )?;
        Ok(())
    })
}

/// Refuse a change that would leave no active administrator.
fn keep_an_admin(conn: &mut DbConnection, user: &UserRow, what: &str) -> Result<(), AdminError> {
    admin_store::lock_admin_changes(conn)?;
    // Read again under the lock: a concurrent change may have committed meanwhile.
    let user = get(conn, user.id)?;
    if user.is_admin && user.is_active && admin_store::active_admin_count(conn)? <= 1 {
        return Err(AdminError::Refused(format!(
            "{} is the last active administrator and cannot be {what}. Make another user an administrator first.",
            user.username
        )));
    }
    Ok(())
}

/// Disable or enable an account. A disabled user cannot sign in, their sessions end, and
/// their refresh tokens stop working (the token endpoint checks the flag).
pub fn set_active(
    conn: &mut DbConnection,
    now: i64,
    actor: &Actor,
    id: i64,
    active: bool,
) -> Result<(), AdminError> {
    transaction(conn, |conn| {
        let user = get(conn, id)?;
        if !active {
            keep_an_admin(conn, &user, "disabled")?;
            admin_store::delete_sessions_of(conn, id)?;
        }
        admin_store::set_active(conn, id, active, now)?;
        let what = if active {
            AuditAction::UserEnabled
        } else {
            AuditAction::UserDisabled
        };
        actor.audit(conn, now, what, &user.username, None)?;
        Ok(())
    })
}

pub fn set_admin(
    conn: &mut DbConnection,
    now: i64,
    actor: &Actor,
    id: i64,
    admin: bool,
) -> Result<(), AdminError> {
    transaction(conn, |conn| {
        let user = get(conn, id)?;
        if !admin {
            keep_an_admin(conn, &user, "removed as administrator")?;
        }
        admin_store::set_admin(conn, id, admin, now)?;
        let what = if admin {
            AuditAction::UserAdminGranted
        } else {
            AuditAction::UserAdminRevoked
        };
        actor.audit(conn, now, what, &user.username, None)?;
        Ok(())
    })
}

/// Delete a user. Everything issued to them is revoked first, so access tokens they still
/// hold are refused by introspection and userinfo until they expire.
pub fn delete(
    conn: &mut DbConnection,
    now: i64,
    actor: &Actor,
    id: i64,
) -> Result<String, AdminError> {
    transaction(conn, |conn| {
        let user = get(conn, id)?;
        keep_an_admin(conn, &user, "deleted")?;
        for grant in admin_store::live_grant_ids_of_user(conn, id)? {
            family::revoke(conn, &grant, now)?;
        }
        admin_store::delete_user(conn, id)?;
        actor.audit(conn, now, AuditAction::UserDeleted, &user.username, None)?;
        Ok(user.username)
    })
}

/// Withdraw a user's consent to an application: the consent is forgotten (the next
/// authorization asks again) and the application's refresh tokens for the user are revoked.
pub fn revoke_consent(
    conn: &mut DbConnection,
    now: i64,
    actor: &Actor,
    user_id: i64,
    client_id: &str,
) -> Result<(), AdminError> {
    transaction(conn, |conn| {
        let user = get(conn, user_id)?;
        admin_store::delete_consent(conn, user_id, client_id)?;
        for grant in admin_store::live_grant_ids(conn, client_id, Some(user_id))? {
            family::revoke(conn, &grant, now)?;
        }
        let target = format!("{} / {client_id}", user.username);
        actor.audit(conn, now, AuditAction::ConsentRevoked, &target, None)?;
        Ok(())
    })
}

/// End one of a user's sessions at Tessera (tokens already issued to apps are not touched).
pub fn sign_out_session(
    conn: &mut DbConnection,
    now: i64,
    actor: &Actor,
    user_id: i64,
    session_id: &str,
) -> Result<(), AdminError> {
    transaction(conn, |conn| {
        let user = get(conn, user_id)?;
        admin_store::delete_session(conn, user_id, session_id)?;
        actor.audit(
            conn,
            now,
            AuditAction::SessionSignedOut,
            &user.username,
            None,
        )?;
        Ok(())
    })
}

/// Issue a one-time password reset link for a user (see `crate::resets`); returns the
/// username and the token, which is shown once and never stored.
pub fn reset_link(
    conn: &mut DbConnection,
    now: i64,
    actor: &Actor,
    id: i64,
    ttl: i64,
) -> Result<(String, String), AdminError> {
    transaction(conn, |conn| {
        let user = get(conn, id)?;
        if !user.is_active {
            return Err(AdminError::Refused(format!(
                "{} is disabled: enable the account first, or the link would not work.",
                user.username
            )));
        }
        let token = resets::issue(conn, now, id, ttl, &actor.username)?;
        let detail = format!("valid {ttl} s");
        actor.audit(
            conn,
            now,
            AuditAction::UserResetLinkCreated,
            &user.username,
            Some(&detail),
        )?;
        Ok((user.username, token))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_trim_and_drop_empty_claims() {
        let p = Profile::parse("  Alice  ", " alice@example.com ", true).unwrap();
        assert_eq!(p.name.as_deref(), Some("Alice"));
        assert_eq!(
            p.email.as_ref().map(Email::as_str),
            Some("alice@example.com")
        );
        assert!(p.email_verified);
        // Without an email there is nothing to be verified.
        let p = Profile::parse("", "", true).unwrap();
        assert!(p.name.is_none() && p.email.is_none() && !p.email_verified);
    }

    #[test]
    fn bad_profiles_are_refused_with_a_reason() {
        assert!(matches!(
            Profile::parse("x", "not-an-email", false),
            Err(AdminError::Invalid(_))
        ));
        assert!(matches!(
            Profile::parse(&"n".repeat(201), "", false),
            Err(AdminError::Invalid(_))
        ));
        assert!(matches!(
            Profile::parse("a\u{0}b", "", false),
            Err(AdminError::Invalid(_))
        ));
    }
}
