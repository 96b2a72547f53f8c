//! Throttling failed sign-ins (the login form and `/api/token/`) and failed client
//! authentications (`/oauth/token`, `/oauth/introspect`, `/oauth/revoke`): counted per
//! account (or client) and address, per address (sign-ins only), and per account (or
//! client), in the database so every instance shares them. A bucket past its free failures
//! is locked for a time that doubles with each further failure, up to the lockout cap.
//! The narrow bucket trips long before the wide ones, so one attacker locks out mostly
//! themselves; and an address that authenticated as this account or client within the
//! last day (a known device) is stopped only by its own narrow bucket, so failures from
//! elsewhere cannot lock the legitimate user or client out at all from where it works.
//! Wrong user codes typed at `/device` are counted the same way, per signed-in user (and
//! address), in buckets of their own (RFC 8628 §5.1: user codes are short, so guessing
//! must be slowed). Every new lock is audited.
use crate::audit::{self, AuditAction, Entry};
use crate::config::Settings;
use crate::secrets;
use crate::store::throttle::{self as store, BucketName};
use crate::store::{DbConnection, StoreError};

/// Counts older than this start again: a day of quiet forgives old failures (and the
/// pruner deletes the bucket). It is also how long a known device stays known.
const FORGET_AFTER: i64 = crate::store::maintenance::THROTTLE_MEMORY;
/// A known device's mark is refreshed at most this often, so a busy client's successful
/// requests do not each write to the database.
const KNOWN_REFRESH: i64 = 3_600;
/// Multipliers of the free failures for the wider buckets: an office behind one address,
/// and an account attacked from anywhere, take many more failures before they lock.
const ADDRESS_FACTOR: i64 = 4;
const ACCOUNT_FACTOR: i64 = 10;
/// Usernames and client ids are stored for the console; longer ones are cut (the bucket
/// key is still the digest of the whole).
const SUBJECT_MAX: usize = 200;

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

/// Who a throttled attempt names: a user signing in, a client authenticating, or a
/// signed-in user typing device user codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Account,
    Client,
    UserCode,
    /// The second step of a sign-in (a TOTP or recovery code). Its buckets are apart from
    /// the password's, so a right password (which clears the password's narrow bucket)
    /// does not forgive wrong codes.
    SecondFactor,
    /// Dynamic client registrations (RFC 7591) from one address: every attempt counts,
    /// whether it registered or not, so one address cannot fill the clients table.
    Registration,
}

impl Kind {
    /// What `login_throttle.kind` stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Account => "account",
            Kind::Client => "client",
            Kind::UserCode => "user-code",
            Kind::SecondFactor => "second-factor",
            Kind::Registration => "registration",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "account" => Some(Kind::Account),
            "client" => Some(Kind::Client),
            "user-code" => Some(Kind::UserCode),
            "second-factor" => Some(Kind::SecondFactor),
            "registration" => Some(Kind::Registration),
            _ => None,
        }
    }
}

/// The buckets one attempt counts in, narrowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    AccountAddress,
    Address,
    Account,
    ClientAddress,
    Client,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::AccountAddress => "account and address",
            Scope::Address => "address",
            Scope::Account => "account",
            Scope::ClientAddress => "client and address",
            Scope::Client => "client",
        }
    }

    fn factor(self) -> i64 {
        match self {
            Scope::AccountAddress | Scope::ClientAddress => 1,
            Scope::Address => ADDRESS_FACTOR,
            Scope::Account | Scope::Client => ACCOUNT_FACTOR,
        }
    }

    fn narrow(self) -> bool {
        matches!(self, Scope::AccountAddress | Scope::ClientAddress)
    }
}

/// A refusal before any password or secret check: which bucket, and for how long still.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Locked {
    pub scope: Scope,
    pub retry_after: i64,
}

/// One attempt: who it names and where it comes from.
#[derive(Debug)]
pub struct Attempt<'a> {
    pub kind: Kind,
    /// The username as typed, or the client_id.
    pub subject: &'a str,
    pub ip: Option<&'a str>,
}

/// One bucket of an attempt: its scope, its key, and what it names.
#[derive(Debug, PartialEq, Eq)]
struct Bucket {
    scope: Scope,
    key: String,
    subject: Option<String>,
    address: Option<String>,
}

impl<'a> Attempt<'a> {
    pub fn sign_in(username: &'a str, ip: Option<&'a str>) -> Self {
        Self {
            kind: Kind::Account,
            subject: username,
            ip,
        }
    }

    /// A code at the second step of `username`'s sign-in.
    pub fn second_factor(username: &'a str, ip: Option<&'a str>) -> Self {
        Self {
            kind: Kind::SecondFactor,
            subject: username,
            ip,
        }
    }

    pub fn client(client_id: &'a str, ip: Option<&'a str>) -> Self {
        Self {
            kind: Kind::Client,
            subject: client_id,
            ip,
        }
    }

    /// A signed-in user (by username) typing a device user code.
    pub fn user_code(username: &'a str, ip: Option<&'a str>) -> Self {
        Self {
            kind: Kind::UserCode,
            subject: username,
            ip,
        }
    }

    /// A registration from `ip` (its subject is the address itself).
    pub fn registration(ip: &'a str) -> Self {
        Self {
            kind: Kind::Registration,
            subject: ip,
            ip: Some(ip),
        }
    }

    /// The subject as buckets count it: usernames as typed, trimmed and lower-cased, so
    /// case games do not open fresh buckets; client ids exactly.
    fn normalised(&self) -> String {
        match self.kind {
            Kind::Account | Kind::UserCode | Kind::SecondFactor => {
                self.subject.trim().to_lowercase()
            }
            Kind::Client | Kind::Registration => self.subject.to_owned(),
        }
    }

    /// Bucket keys are digests of what they count; the row also names it for the console.
    fn buckets(&self) -> Vec<Bucket> {
        let who = self.normalised();
        let shown: String = who.chars().take(SUBJECT_MAX).collect();
        let (narrow, wide, prefix) = match self.kind {
            Kind::Account => (Scope::AccountAddress, Scope::Account, "account"),
            Kind::Client => (Scope::ClientAddress, Scope::Client, "client"),
            Kind::UserCode => (Scope::AccountAddress, Scope::Account, "user-code"),
            Kind::SecondFactor => (Scope::AccountAddress, Scope::Account, "second-factor"),
            Kind::Registration => (Scope::Address, Scope::Address, "registration"),
        };
        if self.kind == Kind::Registration {
            // One bucket, per address, at the address factor of the free failures.
            return vec![Bucket {
                scope: Scope::Address,
                key: secrets::digest(&format!("registration+address:{who}")),
                subject: None,
                address: self.ip.map(str::to_owned),
            }];
        }
        let mut out = Vec::with_capacity(3);
        if let Some(ip) = self.ip {
            out.push(Bucket {
                scope: narrow,
                key: secrets::digest(&format!("{prefix}+address:{who}\n{ip}")),
                subject: Some(shown.clone()),
                address: Some(ip.to_owned()),
            });
            if self.kind == Kind::Account {
                out.push(Bucket {
                    scope: Scope::Address,
                    key: secrets::digest(&format!("address:{ip}")),
                    subject: None,
                    address: Some(ip.to_owned()),
                });
            }
        }
        out.push(Bucket {
            scope: wide,
            key: secrets::digest(&format!("{prefix}:{who}")),
            subject: Some(shown),
            address: None,
        });
        out
    }

    fn name<'b>(&'b self, bucket: &'b Bucket) -> BucketName<'b> {
        BucketName {
            bucket: &bucket.key,
            kind: self.kind.as_str(),
            subject: bucket.subject.as_deref(),
            address: bucket.address.as_deref(),
        }
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

/// What [`check`] found: the lock that refuses this attempt, if any, and whether its narrow
/// bucket already marks a known device, fresh and clean (then [`succeeded`] has nothing
/// to write and need not read the bucket again).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checked {
    pub locked: Option<Locked>,
    narrow_fresh: bool,
}

/// Whether this attempt must be refused without looking at the password or secret. A known
/// device (its narrow bucket authenticated within the last day) answers only to its narrow
/// bucket.
pub fn check(
    conn: &mut DbConnection,
    policy: Policy,
    attempt: &Attempt<'_>,
    now: i64,
) -> Result<Checked, StoreError> {
    if !policy.enabled() {
        return Ok(Checked {
            locked: None,
            narrow_fresh: true,
        });
    }
    let buckets = attempt.buckets();
    let keys: Vec<String> = buckets.iter().map(|b| b.key.clone()).collect();
    let rows = store::by_buckets(conn, &keys)?;
    let row_of = |b: &Bucket| rows.iter().find(|r| r.bucket == b.key);
    let narrow = buckets.iter().find(|b| b.scope.narrow()).and_then(row_of);
    let known = narrow
        .and_then(|r| r.succeeded_at)
        .is_some_and(|at| at > now - FORGET_AFTER);
    let locked = buckets
        .iter()
        .filter(|b| !known || b.scope.narrow())
        .filter_map(|b| {
            let until = row_of(b)?.locked_until.filter(|&u| u > now)?;
            Some(Locked {
                scope: b.scope,
                retry_after: until - now,
            })
        })
        .max_by_key(|l| l.retry_after);
    Ok(Checked {
        locked,
        narrow_fresh: narrow.is_some_and(|r| fresh(r, now)),
    })
}

/// A known device marked within the hour, with nothing to forgive: a success changes nothing.
fn fresh(row: &store::ThrottleRow, now: i64) -> bool {
    row.failures == 0
        && row.locked_until.is_none()
        && row.succeeded_at.is_some_and(|at| at > now - KNOWN_REFRESH)
}

/// Count a wrong guess in every bucket; returns the lock it caused, if any, after writing
/// each new lock to the audit log.
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
    for bucket in attempt.buckets() {
        let scope = bucket.scope;
        let name = attempt.name(&bucket);
        let add = |conn: &mut DbConnection| {
            store::add_failure(conn, name, now, now - FORGET_AFTER, |n| {
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
            audit_lock(conn, attempt, &bucket, this, now)?;
            if locked.is_none_or(|l| l.retry_after < this.retry_after) {
                locked = Some(this);
            }
        }
    }
    Ok(locked)
}

/// The audit entry of a bucket that just locked: what it names (`account alice`, `client
/// abc`, `address 192.0.2.1`), from where, and for how long.
fn audit_lock(
    conn: &mut DbConnection,
    attempt: &Attempt<'_>,
    bucket: &Bucket,
    locked: Locked,
    now: i64,
) -> Result<(), StoreError> {
    let target = match &bucket.subject {
        Some(subject) => format!("{} {subject}", attempt.kind.as_str()),
        None => format!("address {}", bucket.address.as_deref().unwrap_or("")),
    };
    let detail = format!(
        "{} locked for {} s",
        locked.scope.as_str(),
        locked.retry_after
    );
    audit::record(
        conn,
        now,
        &Entry {
            actor: None,
            action: AuditAction::ThrottleLocked,
            target: Some(&target),
            detail: Some(&detail),
            ip: attempt.ip,
        },
    )
}

/// A correct password or secret: the narrow bucket starts again and its address becomes a
/// known device for this account or client. The address and account buckets keep counting,
/// so one known password does not reset an attack on others. Writes only when something
/// changes, or once an hour to keep the device known; `checked` is what [`check`] read for
/// this attempt, so a busy client's successes cost no further query.
pub fn succeeded(
    conn: &mut DbConnection,
    policy: Policy,
    attempt: &Attempt<'_>,
    checked: &Checked,
    now: i64,
) -> Result<(), StoreError> {
    if !policy.enabled() || checked.narrow_fresh {
        return Ok(());
    }
    let buckets = attempt.buckets();
    let Some(narrow) = buckets.iter().find(|b| b.scope.narrow()) else {
        return Ok(());
    };
    store::mark_known(conn, attempt.name(narrow), now)
}

/// What an administrator unlocks: an account or client at every address, or one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Subject { kind: Kind, subject: String },
    Address(String),
}

impl Target {
    /// The audit log's name for it, as lock entries name it.
    pub fn describe(&self) -> String {
        match self {
            Target::Subject { kind, subject } => format!("{} {subject}", kind.as_str()),
            Target::Address(address) => format!("address {address}"),
        }
    }
}

/// Forgive a target's failures and end its locks; returns how many buckets were locked.
pub fn unlock(conn: &mut DbConnection, target: &Target, now: i64) -> Result<usize, StoreError> {
    match target {
        Target::Subject { kind, subject } => {
            store::unlock(conn, kind.as_str(), Some(subject), None, now)
        }
        Target::Address(address) => {
            store::unlock(conn, Kind::Account.as_str(), None, Some(address), now)
        }
    }
}

/// One locked account, client or address, as the console lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockedItem {
    pub target: Target,
    /// The addresses whose narrow buckets are locked (empty when only the wide one is).
    pub addresses: Vec<String>,
    /// Whether the wide bucket (every address) is locked.
    pub everywhere: bool,
    pub until: i64,
}

/// Everything locked at `now`, grouped by what it names, the longest lock first.
pub fn locked_now(conn: &mut DbConnection, now: i64) -> Result<Vec<LockedItem>, StoreError> {
    let mut items: Vec<LockedItem> = Vec::new();
    for row in store::locked(conn, now)? {
        let Some(until) = row.locked_until else {
            continue;
        };
        let target = match (&row.subject, Kind::parse(&row.kind)) {
            (Some(subject), Some(kind)) => Target::Subject {
                kind,
                subject: subject.clone(),
            },
            (None, Some(Kind::Account)) => match &row.address {
                Some(address) => Target::Address(address.clone()),
                None => continue,
            },
            _ => continue,
        };
        let at = match items.iter().position(|i| i.target == target) {
            Some(at) => at,
            None => {
                items.push(LockedItem {
                    target,
                    addresses: Vec::new(),
                    everywhere: false,
                    until,
                });
                items.len() - 1
            }
        };
        let item = &mut items[at];
        item.until = item.until.max(until);
        match (&row.subject, &row.address) {
            (Some(_), Some(address)) => item.addresses.push(address.clone()),
            _ => item.everywhere = true,
        }
    }
    items.sort_by_key(|i| std::cmp::Reverse(i.until));
    Ok(items)
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
        let a = Attempt::sign_in("Alice", Some("192.0.2.1")).buckets();
        let b = Attempt::sign_in(" alice", Some("192.0.2.1")).buckets();
        assert_eq!(a, b);
        assert_eq!(a.len(), 3);
        assert!(
            a.iter()
                .all(|b| !b.key.contains("alice") && b.key.len() == 64)
        );
    }

    #[test]
    fn client_buckets_are_apart_from_sign_ins_and_keep_case() {
        let client = Attempt::client("Alice", Some("192.0.2.1")).buckets();
        let account = Attempt::sign_in("Alice", Some("192.0.2.1")).buckets();
        assert_eq!(
            client.iter().map(|b| b.scope).collect::<Vec<_>>(),
            [Scope::ClientAddress, Scope::Client]
        );
        assert!(
            client
                .iter()
                .all(|c| account.iter().all(|a| a.key != c.key))
        );
        let lower = Attempt::client("alice", Some("192.0.2.1")).buckets();
        assert_ne!(client[0].key, lower[0].key);
        // The client's own bucket takes ten times the free failures, like an account's.
        assert_eq!(lock_for(POLICY, Scope::Client, 50), None);
        assert_eq!(lock_for(POLICY, Scope::ClientAddress, 6), Some(1));
    }

    #[test]
    fn user_code_buckets_are_apart_from_sign_ins() {
        let guesses = Attempt::user_code("Alice", Some("192.0.2.1")).buckets();
        let account = Attempt::sign_in("alice", Some("192.0.2.1")).buckets();
        assert_eq!(
            guesses.iter().map(|b| b.scope).collect::<Vec<_>>(),
            [Scope::AccountAddress, Scope::Account]
        );
        assert!(
            guesses
                .iter()
                .all(|g| account.iter().all(|a| a.key != g.key))
        );
        assert_eq!(Kind::parse(Kind::UserCode.as_str()), Some(Kind::UserCode));
    }
}
