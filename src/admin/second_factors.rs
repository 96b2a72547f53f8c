//! Second factors in the console: the policy of who must have one (a server setting in
//! the database, so every instance enforces the same), and resetting a user's factors
//! (a lost phone and no recovery code left). Both audited.
use super::{Actor, AdminError};
use crate::audit::AuditAction;
use crate::second_factor::policy::{self, Policy};
use crate::store::passkeys as passkey_store;
use crate::store::second_factors as factor_store;
use crate::store::{DbConnection, pending_logins, transaction};

/// A user's second factors as the console shows them.
#[derive(Debug)]
pub struct Status {
    pub totp: bool,
    pub recovery_codes_left: i64,
}

pub fn status(conn: &mut DbConnection, user_id: i64) -> Result<Status, AdminError> {
    Ok(Status {
        totp: factor_store::totp_of(conn, user_id)?.is_some_and(|r| r.confirmed_at.is_some()),
        recovery_codes_left: factor_store::recovery_codes_left(conn, user_id)?,
    })
}

pub fn current_policy(conn: &mut DbConnection) -> Result<Policy, AdminError> {
    Ok(policy::current(conn)?)
}

/// Set who must have a second factor.
pub fn set_policy(
    conn: &mut DbConnection,
    now: i64,
    actor: &Actor,
    raw: &str,
) -> Result<(), AdminError> {
    let new = Policy::parse(raw)
        .ok_or_else(|| AdminError::Invalid("Choose optional, admins or everyone.".into()))?;
    transaction(conn, |conn| {
        let old = policy::current(conn)?;
        policy::set(conn, new, now, &actor.username)?;
        let detail = format!("{} -> {}", old.as_str(), new.as_str());
        actor.audit(
            conn,
            now,
            AuditAction::SecondFactorPolicySet,
            policy::SETTING,
            Some(&detail),
        )?;
        Ok(())
    })
}

/// Remove a user's authenticator, recovery codes and passkeys (a passkey answers the second
/// step too, and signs in by itself: a lost phone may hold one), and end their pending
/// sign-ins. Under a policy that covers them, they set up a new authenticator at their
/// next sign-in.
pub fn reset(
    conn: &mut DbConnection,
    now: i64,
    actor: &Actor,
    user_id: i64,
) -> Result<String, AdminError> {
    transaction(conn, |conn| {
        let user = super::users::get(conn, user_id)?;
        let had = factor_store::remove_all(conn, user_id)?;
        let passkeys = passkey_store::delete_of_user(conn, user_id)?;
        pending_logins::delete_of(conn, user_id)?;
        let detail = match (had, passkeys) {
            (false, 0) => "nothing was set up".to_owned(),
            (true, 0) => "authenticator and recovery codes removed".to_owned(),
            (false, n) => format!("{n} passkey(s) removed"),
            (true, n) => format!("authenticator, recovery codes and {n} passkey(s) removed"),
        };
        actor.audit(
            conn,
            now,
            AuditAction::UserSecondFactorsReset,
            &user.username,
            Some(&detail),
        )?;
        Ok(user.username)
    })
}
