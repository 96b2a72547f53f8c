//! The audit trail: what can be recorded (`AuditAction`) and how an entry is written.
//! Logins, consents, device approvals, throttling locks, admin changes, user imports and key
//! rotation all land here; the console reads it back through `store::audit`.
use std::fmt;

use crate::store::audit::{self as audit_store, NewAuditRow};
use crate::store::{DbConnection, StoreError};

/// What happened. `as_str` is what `audit_log.action` stores, so existing rows and the
/// console's prefix filters (`login`, `user.`, ...) depend on these strings never changing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuditAction {
    Login,
    LoginFailed,
    ConsentGranted,
    ConsentRevoked,
    UserCreated,
    UserUpdated,
    UserPasswordSet,
    UserDisabled,
    UserEnabled,
    UserAdminGranted,
    UserAdminRevoked,
    UserDeleted,
    UsersImported,
    SessionSignedOut,
    ClientCreated,
    ClientUpdated,
    ClientSecretRotated,
    ClientDeleted,
    KeyRotated,
    KeyRetired,
    ThrottleLocked,
    ThrottleUnlocked,
    AccountProfileUpdated,
    AccountPasswordChanged,
    AccountPasswordRefused,
    AccountPasswordReset,
    UserResetLinkCreated,
    DeviceApproved,
    DeviceDenied,
    AccountTotpEnrolled,
    AccountTotpRemoved,
    AccountRecoveryCodesIssued,
    AccountRecoveryCodeUsed,
    SecondStepFailed,
    UserSecondFactorsReset,
    SecondFactorPolicySet,
    PasskeyRegistered,
    PasskeyRenamed,
    PasskeyRemoved,
    AccountResetMailSent,
    AccountResetMailFailed,
    AccountResetMailThrottled,
    ResourceCreated,
    ResourceUpdated,
    ResourceDeleted,
    TokenExchanged,
    TokenExchangeRefused,
    /// A client registered itself (RFC 7591).
    ClientRegistered,
    /// A self-registered client changed its registration (RFC 7592 PUT).
    ClientRegistrationUpdated,
    /// A self-registered client deleted itself (RFC 7592 DELETE).
    ClientUnregistered,
    /// A registration or management request was refused.
    ClientRegistrationRefused,
    /// An admin minted an initial access token.
    RegistrationTokenCreated,
    /// An admin revoked an initial access token.
    RegistrationTokenRevoked,
}

impl AuditAction {
    pub const ALL: [AuditAction; 53] = [
        AuditAction::Login,
        AuditAction::LoginFailed,
        AuditAction::ConsentGranted,
        AuditAction::ConsentRevoked,
        AuditAction::UserCreated,
        AuditAction::UserUpdated,
        AuditAction::UserPasswordSet,
        AuditAction::UserDisabled,
        AuditAction::UserEnabled,
        AuditAction::UserAdminGranted,
        AuditAction::UserAdminRevoked,
        AuditAction::UserDeleted,
        AuditAction::UsersImported,
        AuditAction::SessionSignedOut,
        AuditAction::ClientCreated,
        AuditAction::ClientUpdated,
        AuditAction::ClientSecretRotated,
        AuditAction::ClientDeleted,
        AuditAction::KeyRotated,
        AuditAction::KeyRetired,
        AuditAction::ThrottleLocked,
        AuditAction::ThrottleUnlocked,
        AuditAction::AccountProfileUpdated,
        AuditAction::AccountPasswordChanged,
        AuditAction::AccountPasswordRefused,
        AuditAction::AccountPasswordReset,
        AuditAction::UserResetLinkCreated,
        AuditAction::DeviceApproved,
        AuditAction::DeviceDenied,
        AuditAction::AccountTotpEnrolled,
        AuditAction::AccountTotpRemoved,
        AuditAction::AccountRecoveryCodesIssued,
        AuditAction::AccountRecoveryCodeUsed,
        AuditAction::SecondStepFailed,
        AuditAction::UserSecondFactorsReset,
        AuditAction::SecondFactorPolicySet,
        AuditAction::PasskeyRegistered,
        AuditAction::PasskeyRenamed,
        AuditAction::PasskeyRemoved,
        AuditAction::AccountResetMailSent,
        AuditAction::AccountResetMailFailed,
        AuditAction::AccountResetMailThrottled,
        AuditAction::ResourceCreated,
        AuditAction::ResourceUpdated,
        AuditAction::ResourceDeleted,
        AuditAction::TokenExchanged,
        AuditAction::TokenExchangeRefused,
        AuditAction::ClientRegistered,
        AuditAction::ClientRegistrationUpdated,
        AuditAction::ClientUnregistered,
        AuditAction::ClientRegistrationRefused,
        AuditAction::RegistrationTokenCreated,
        AuditAction::RegistrationTokenRevoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Login => "login",
            AuditAction::LoginFailed => "login.failed",
            AuditAction::ConsentGranted => "consent.granted",
            AuditAction::ConsentRevoked => "consent.revoked",
            AuditAction::UserCreated => "user.created",
            AuditAction::UserUpdated => "user.updated",
            AuditAction::UserPasswordSet => "user.password-set",
            AuditAction::UserDisabled => "user.disabled",
            AuditAction::UserEnabled => "user.enabled",
            AuditAction::UserAdminGranted => "user.admin-granted",
            AuditAction::UserAdminRevoked => "user.admin-revoked",
            AuditAction::UserDeleted => "user.deleted",
            AuditAction::UsersImported => "user.imported",
            AuditAction::SessionSignedOut => "session.signed-out",
            AuditAction::ClientCreated => "client.created",
            AuditAction::ClientUpdated => "client.updated",
            AuditAction::ClientSecretRotated => "client.secret-rotated",
            AuditAction::ClientDeleted => "client.deleted",
            AuditAction::KeyRotated => "key.rotated",
            AuditAction::KeyRetired => "key.retired",
            AuditAction::ThrottleLocked => "throttle.locked",
            AuditAction::ThrottleUnlocked => "throttle.unlocked",
            AuditAction::AccountProfileUpdated => "account.profile-updated",
            AuditAction::AccountPasswordChanged => "account.password-changed",
            AuditAction::AccountPasswordRefused => "account.password.failed",
            AuditAction::AccountPasswordReset => "account.password-reset",
            AuditAction::UserResetLinkCreated => "user.reset-link-created",
            AuditAction::DeviceApproved => "device.approved",
            AuditAction::DeviceDenied => "device.denied",
            AuditAction::AccountTotpEnrolled => "account.totp-enrolled",
            AuditAction::AccountTotpRemoved => "account.totp-removed",
            AuditAction::AccountRecoveryCodesIssued => "account.recovery-codes-issued",
            AuditAction::AccountRecoveryCodeUsed => "account.recovery-code-used",
            AuditAction::SecondStepFailed => "login.second-factor-failed",
            AuditAction::UserSecondFactorsReset => "user.second-factors-reset",
            AuditAction::SecondFactorPolicySet => "settings.second-factor-policy",
            // Under `account.`: a user's own passkeys are changes to their own account.
            AuditAction::PasskeyRegistered => "account.passkey-registered",
            AuditAction::PasskeyRenamed => "account.passkey-renamed",
            AuditAction::PasskeyRemoved => "account.passkey-removed",
            AuditAction::AccountResetMailSent => "account.reset-mail-sent",
            AuditAction::AccountResetMailFailed => "account.reset-mail-failed",
            AuditAction::AccountResetMailThrottled => "account.reset-mail-throttled",
            AuditAction::ResourceCreated => "resource.created",
            AuditAction::ResourceUpdated => "resource.updated",
            AuditAction::ResourceDeleted => "resource.deleted",
            AuditAction::TokenExchanged => "token.exchanged",
            AuditAction::TokenExchangeRefused => "token.exchange-refused",
            AuditAction::ClientRegistered => "client.registered",
            AuditAction::ClientRegistrationUpdated => "client.registration-updated",
            AuditAction::ClientUnregistered => "client.unregistered",
            AuditAction::ClientRegistrationRefused => "client.registration-refused",
            AuditAction::RegistrationTokenCreated => "client.registration-token-created",
            AuditAction::RegistrationTokenRevoked => "client.registration-token-revoked",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audit entry about to be written.
#[derive(Debug)]
pub struct Entry<'a> {
    pub actor: Option<&'a str>,
    pub action: AuditAction,
    pub target: Option<&'a str>,
    pub detail: Option<&'a str>,
    pub ip: Option<&'a str>,
}

/// Append an entry for a change a signed-in person made (an admin in the console, a user on
/// their account page), from the address their request came from.
pub fn record_by(
    conn: &mut DbConnection,
    now: i64,
    (actor, ip): (&str, Option<&str>),
    action: AuditAction,
    target: &str,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    record(
        conn,
        now,
        &Entry {
            actor: Some(actor),
            action,
            target: Some(target),
            detail,
            ip,
        },
    )
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
            action: entry.action.as_str(),
            target: target.as_deref(),
            detail: detail.as_deref(),
            ip: entry.ip,
        },
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::AuditAction;

    #[test]
    fn stored_names_are_distinct() {
        let names: HashSet<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names.len(), AuditAction::ALL.len());
        assert_eq!(
            AuditAction::UserPasswordSet.to_string(),
            "user.password-set"
        );
        assert_eq!(AuditAction::LoginFailed.as_str(), "login.failed");
    }
}
