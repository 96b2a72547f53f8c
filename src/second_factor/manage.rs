//! What a signed-in user does with their own second factors on the account page: set up an
//! authenticator (confirmed by a code, which also raises the session to two factors), new
//! recovery codes, removal. The last two need the current password, so a stolen session
//! alone cannot weaken the account. Every change is audited with the user as actor.
use crate::account::{self, AccountError, Me};
use crate::audit::AuditAction;
use crate::auth_methods::{AuthMethods, Method};
use crate::kek::Kek;
use crate::secrets::SecretString;
use crate::store::pending_logins;
use crate::store::second_factors as store;
use crate::store::sessions as session_store;
use crate::store::{DbConnection, transaction};
use crate::throttle::Policy;

use super::recovery::{self, Codes};
use super::{SecondFactorError, totp};

/// Confirm the authenticator being set up with its first code: it becomes active, the
/// recovery codes are issued (returned to show once), and this session now counts the
/// code as a second factor.
pub fn confirm(
    conn: &mut DbConnection,
    kek: &Kek,
    me: &Me,
    methods: &AuthMethods,
    code: &str,
    now: i64,
) -> Result<Codes, AccountError> {
    transaction(conn, |conn| {
        if totp::is_active(conn, me.user_id)? {
            return Err(SecondFactorError::AlreadyEnrolled.into());
        }
        totp::verify(conn, kek, me.user_id, code, now)?;
        let codes = recovery::issue(conn, me.user_id, now)?;
        let raised = methods.clone().with(Method::Otp);
        session_store::set_amr(conn, &me.session_key, &raised.to_stored())?;
        me_audit(conn, me, now, AuditAction::AccountTotpEnrolled, None)?;
        Ok(codes)
    })
}

/// New recovery codes in place of the old ones (current password required).
pub fn new_recovery_codes(
    conn: &mut DbConnection,
    throttle: Policy,
    me: &Me,
    password: &SecretString,
    now: i64,
) -> Result<Codes, AccountError> {
    account::check_current_password(conn, now, throttle, me, password)?;
    transaction(conn, |conn| {
        if !totp::is_active(conn, me.user_id)? {
            return Err(SecondFactorError::NotEnrolled.into());
        }
        let codes = recovery::issue(conn, me.user_id, now)?;
        me_audit(conn, me, now, AuditAction::AccountRecoveryCodesIssued, None)?;
        Ok(codes)
    })
}

/// Remove the authenticator and recovery codes (current password required). Pending
/// sign-ins of the user end too.
pub fn remove(
    conn: &mut DbConnection,
    throttle: Policy,
    me: &Me,
    password: &SecretString,
    now: i64,
) -> Result<(), AccountError> {
    account::check_current_password(conn, now, throttle, me, password)?;
    transaction(conn, |conn| {
        if !store::remove_all(conn, me.user_id)? {
            return Err(SecondFactorError::NotEnrolled.into());
        }
        pending_logins::delete_of(conn, me.user_id)?;
        me_audit(conn, me, now, AuditAction::AccountTotpRemoved, None)?;
        Ok(())
    })
}

fn me_audit(
    conn: &mut DbConnection,
    me: &Me,
    now: i64,
    action: AuditAction,
    detail: Option<&str>,
) -> Result<(), crate::store::StoreError> {
    crate::audit::record_by(
        conn,
        now,
        (&me.username, me.ip.as_deref()),
        action,
        &me.username,
        detail,
    )
}
