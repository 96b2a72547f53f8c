//! Throttling failed sign-ins (the login form and `/api/token/`): counted per account and
//! address, per address, and per account, in the database so every instance shares them.
//! A bucket past its free failures is locked for a time that doubles with each further
//! failure, up to the lockout cap. The account + address bucket trips long before the
//! account's own, so one attacker locks out mostly themselves: a victim's account is only
//! locked by failures from many addresses, and never for longer than the cap.
use crate::config::Settings;
use crate::secrets;
use crate::store::throttle as store;
use crate::store::{DbConnection, StoreError};

/// Counts older than this start again: a day of quiet forgives old failures (and the
/// pruner deletes the bucket).
const FORGET_AFTER: i64 = crate::store::maintenance::THROTTLE_MEMORY;
/// Multipliers of the free failures for the wider buckets: an office behind one address,
/// and an account attacked from anywhere, take many more failures before they lock.
const ADDRESS_FACTOR: i64 = 4;
const ACCOUNT_FACTOR: i64 = 10;

/// What the settings say: free failures per account and address, and the longest lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub free_failures: i64,
    pub max_lockout: i64,
}

impl Policy {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            free_failures: i64::from(settings.login_free_failures),
            max_lockout: settings.login_max_lockout.as_secs() as i64,
        }
    }

    fn enabled(self) -> bool {
        self.max_lockout > 0
    }
}

/// The buckets one attempt counts in, narrowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    AccountAddress,
    Address,
    Account,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::AccountAddress => "account and address",
            Scope::Address => "address",
            Scope::Account => "account",
        }
    }

    fn factor(self) -> i64 {
        match self {
            Scope::AccountAddress => 1,
            Scope::Address => ADDRESS_FACTOR,
            Scope::Account => ACCOUNT_FACTOR,
        }
    }
}

/// A refusal before any password check: which bucket, and for how long still.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Locked {
    pub scope: Scope,
    pub retry_after: i64,
}

/// One sign-in attempt: who it names and where it comes from.
#[derive(Debug)]
pub struct Attempt<'a> {
    pub username: &'a str,
    pub ip: Option<&'a str>,
}

impl Attempt<'_> {
    /// Bucket keys are digests: the table holds no usernames or addresses. Usernames are
    /// compared as typed, lower-cased, so case games do not open fresh buckets.
    fn buckets(&self) -> Vec<(Scope, String)> {
        let user = self.username.trim().to_lowercase();
        let mut out = Vec::with_capacity(3);
        if let Some(ip) = self.ip {
            out.push((
                Scope::AccountAddress,
                secrets::digest(&format!("account+address:{user}\n{ip}")),
            ));
            out.push((Scope::Address, secrets::digest(&format!("address:{ip}"))));
        }
        out.push((Scope::Account, secrets::digest(&format!("account:{user}"))));
        out
    }
}

/// How long a bucket with `failures` is locked: nothing within its free failures, then 1,
/// 2, 4... seconds, up to the cap.
fn lock_for(policy: Policy, scope: Scope, failures: i64) -> Option<i64> {
    let over = failures - policy.free_failures * scope.factor();
    if over <= 0 {
        return None;
    }
    // Past 2^40 seconds any cap is smaller; stopping there keeps the shift in range.
    let doubled = if over > 40 {
        i64::MAX
    } else {
        1_i64 << (over - 1)
    };
    Some(doubled.min(policy.max_lockout))
}

/// Whether this attempt must be refused without looking at the password.
pub fn check(
    conn: &mut DbConnection,
    policy: Policy,
    attempt: &Attempt<'_>,
    now: i64,
) -> Result<Option<Locked>, StoreError> {
    if !policy.enabled() {
        return Ok(None);
    }
    let buckets = attempt.buckets();
    let keys: Vec<String> = buckets.iter().map(|(_, k)| k.clone()).collect();
    let rows = store::by_buckets(conn, &keys)?;
    Ok(buckets
        .iter()
        .filter_map(|(scope, key)| {
            let row = rows.iter().find(|r| &r.bucket == key)?;
            let until = row.locked_until.filter(|&u| u > now)?;
            Some(Locked {
                scope: *scope,
                retry_after: until - now,
            })
        })
        .max_by_key(|l| l.retry_after))
}

/// Count a wrong guess in every bucket; returns the lock it caused, if any.
pub fn failed(
    conn: &mut DbConnection,
    policy: Policy,
    attempt: &Attempt<'_>,
    now: i64,
) -> Result<Option<Locked>, StoreError> {
    if !policy.enabled() {
        return Ok(None);
    }
    let mut locked: Option<Locked> = None;
    for (scope, key) in attempt.buckets() {
        let add = |conn: &mut DbConnection| {
            store::add_failure(conn, &key, now, now - FORGET_AFTER, |n| {
                lock_for(policy, scope, n)
            })
        };
        // Two instances creating the same bucket at once: the loser counts again.
        let row = match add(conn) {
            Err(StoreError::Conflict) => add(conn)?,
            other => other?,
        };
        if let Some(until) = row.locked_until {
            let this = Locked {
                scope,
                retry_after: until - now,
            };
            if locked.is_none_or(|l| l.retry_after < this.retry_after) {
                locked = Some(this);
            }
        }
    }
    Ok(locked)
}

/// A correct password: this account's narrow bucket starts again. The address and account
/// buckets keep counting, so one known password does not reset an attack on others.
pub fn succeeded(
    conn: &mut DbConnection,
    policy: Policy,
    attempt: &Attempt<'_>,
) -> Result<(), StoreError> {
    if !policy.enabled() {
        return Ok(());
    }
    let narrow: Vec<String> = attempt
        .buckets()
        .into_iter()
        .filter(|(scope, _)| *scope == Scope::AccountAddress)
        .map(|(_, k)| k)
        .collect();
    store::clear(conn, &narrow)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Policy = Policy {
        free_failures: 5,
        max_lockout: 900,
    };

    #[test]
    fn locks_grow_after_the_free_failures_up_to_the_cap() {
        let narrow = |n| lock_for(POLICY, Scope::AccountAddress, n);
        assert_eq!((1..=5).filter_map(narrow).count(), 0);
        assert_eq!(
            [6, 7, 8, 9].map(narrow),
            [Some(1), Some(2), Some(4), Some(8)]
        );
        assert_eq!(narrow(20), Some(900));
        assert_eq!(narrow(i64::MAX), Some(900));
        // The account's own bucket takes ten times as many.
        assert_eq!(lock_for(POLICY, Scope::Account, 50), None);
        assert_eq!(lock_for(POLICY, Scope::Account, 51), Some(1));
    }

    #[test]
    fn buckets_hide_names_and_ignore_case() {
        let a = Attempt {
            username: "Alice",
            ip: Some("192.0.2.1"),
        }
        .buckets();
        let b = Attempt {
            username: " alice",
            ip: Some("192.0.2.1"),
        }
        .buckets();
        assert_eq!(a, b);
        assert_eq!(a.len(), 3);
        assert!(a.iter().all(|(_, k)| !k.contains("alice") && k.len() == 64));
    }
}
