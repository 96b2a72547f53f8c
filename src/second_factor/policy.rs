//! Who must have a second factor: nobody (the default), administrators, or everyone. An
//! administrator sets it in the console; it lives in the database so every instance reads
//! the same one, and each change is audited (by `admin::second_factors`).
use crate::store::server_settings;
use crate::store::users::UserRow;
use crate::store::{DbConnection, StoreError};

/// The setting's name in `server_settings`.
pub const SETTING: &str = "second_factor_policy";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    #[default]
    Optional,
    Admins,
    Everyone,
}

impl Policy {
    pub const ALL: [Policy; 3] = [Policy::Optional, Policy::Admins, Policy::Everyone];

    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Optional => "optional",
            Policy::Admins => "admins",
            Policy::Everyone => "everyone",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Policy::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// In words, for the console.
    pub fn describe(self) -> &'static str {
        match self {
            Policy::Optional => "Optional: users may set one up",
            Policy::Admins => "Required for administrators",
            Policy::Everyone => "Required for everyone",
        }
    }

    /// Whether `user` must sign in with a second factor.
    pub fn covers(self, user: &UserRow) -> bool {
        match self {
            Policy::Optional => false,
            Policy::Admins => user.is_admin,
            Policy::Everyone => true,
        }
    }
}

/// The policy in force. An unknown stored value (from a newer version) reads as the
/// strictest, so a downgrade never relaxes it.
pub fn current(conn: &mut DbConnection) -> Result<Policy, StoreError> {
    Ok(match server_settings::get(conn, SETTING)? {
        None => Policy::Optional,
        Some(v) => Policy::parse(&v).unwrap_or(Policy::Everyone),
    })
}

pub fn set(conn: &mut DbConnection, policy: Policy, now: i64, by: &str) -> Result<(), StoreError> {
    server_settings::set(conn, SETTING, policy.as_str(), now, by)
}
