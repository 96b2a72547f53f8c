//! The second step of a sign-in. After a right password, a user with an authenticator (or
//! one the policy or an `acr_values` request demands a second factor of) gets no session:
//! a pending sign-in is stored instead, bound to the browser by its own cookie, valid for
//! [`TTL`]. Only a right code (or recovery code, or, for a user without an authenticator,
//! the confirmation code of a new one), or one of the user's passkeys
//! (`crate::passkeys::second_step`), turns it into a session; wrong codes and refused
//! passkeys are throttled in buckets of their own. The same step raises an existing password-only session (a
//! step-up), recording the new method in the session.
use crate::audit::{self, AuditAction};
use crate::auth_methods::{AuthMethods, Method};
use crate::kek::Kek;
use crate::secrets::{self, SecretString};
use crate::sessions::{self, LoginError, Origin, SignedIn};
use crate::store::passkeys as passkey_store;
use crate::store::pending_logins::{self as pending_store, PendingRow};
use crate::store::second_factors as factor_store;
use crate::store::sessions as session_store;
use crate::store::users::{self, UserRow};
use crate::store::{DbConnection, StoreError, transaction};
use crate::throttle::{self, Attempt, Locked, Policy as Throttle};

use super::recovery::{self, Codes};
use super::{SecondFactorError, policy, totp};

/// The pending sign-in's cookie (HttpOnly, SameSite=Lax, like the session's).
pub const COOKIE: &str = "tessera_pending";
/// How long the second step may take.
pub const TTL: i64 = 300;
/// The page of the second step.
pub const PATH: &str = "/login/second-factor";

/// What the second step asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// A code from the user's authenticator, or a recovery code (or one of their passkeys).
    Code,
    /// One of the user's passkeys: they have no authenticator app, and a passkey already is
    /// something they have, so the policy is met without making them set one up.
    Passkey,
    /// No authenticator yet, but one is required: set one up now.
    Enrol,
}

fn has_totp(conn: &mut DbConnection, user_id: i64) -> Result<bool, StoreError> {
    Ok(factor_store::totp_of(conn, user_id)?.is_some_and(|r| r.confirmed_at.is_some()))
}

fn has_passkey(conn: &mut DbConnection, user_id: i64) -> Result<bool, StoreError> {
    Ok(!passkey_store::of_user(conn, user_id)?.is_empty())
}

/// What a user who must take the second step is asked for.
fn asked(conn: &mut DbConnection, user_id: i64) -> Result<Need, StoreError> {
    Ok(if has_totp(conn, user_id)? {
        Need::Code
    } else if has_passkey(conn, user_id)? {
        Need::Passkey
    } else {
        Need::Enrol
    })
}

/// What the user must do after the password; `demanded` when the request itself asks for
/// a second factor (`acr_values`). A passkey alone does not add a step after a password
/// (it signs in by itself, from the login page); an authenticator app does.
pub fn need(
    conn: &mut DbConnection,
    user: &UserRow,
    demanded: bool,
) -> Result<Option<Need>, StoreError> {
    if has_totp(conn, user.id)? {
        return Ok(Some(Need::Code));
    }
    if demanded || policy::current(conn)?.covers(user) {
        return Ok(Some(asked(conn, user.id)?));
    }
    Ok(None)
}

/// Where a password sign-in leads.
#[derive(Debug)]
pub enum SignIn {
    /// Signed in: the session cookie's value.
    Session(String, Box<SignedIn>),
    /// The second step comes next: the pending sign-in's cookie value.
    SecondStep(String),
}

/// The password step of a sign-in at `/login`, then a session or a pending second step.
pub fn sign_in(
    conn: &mut DbConnection,
    (now, ttl): (i64, i64),
    throttle: Throttle,
    (username, password): (&str, &SecretString),
    origin: Origin,
    return_to: &str,
) -> Result<SignIn, LoginError> {
    let user = sessions::check_sign_in(
        conn,
        now,
        throttle,
        username,
        password,
        origin.ip.as_deref(),
    )?;
    let methods = AuthMethods::password();
    if need(conn, &user, false)?.is_some() {
        return Ok(SignIn::SecondStep(start(
            conn, now, user.id, None, &methods, return_to,
        )?));
    }
    let (cookie, signed_in) = sessions::open(conn, now, ttl, user, origin, &methods)?;
    Ok(SignIn::Session(cookie, Box::new(signed_in)))
}

/// Store a pending sign-in (for `session_hash`'s step-up, or a new sign-in); returns the
/// cookie value that names it.
pub fn start(
    conn: &mut DbConnection,
    now: i64,
    user_id: i64,
    session_hash: Option<String>,
    methods: &AuthMethods,
    return_to: &str,
) -> Result<String, StoreError> {
    let cookie = secrets::random_token(32);
    pending_store::insert(
        conn,
        &PendingRow {
            id_hash: secrets::digest(&cookie),
            user_id,
            session_hash,
            amr: methods.to_stored(),
            return_to: return_to.to_owned(),
            csrf_token: secrets::random_token(24),
            created_at: now,
            expires_at: now + TTL,
        },
    )?;
    Ok(cookie)
}

/// A live pending sign-in with its (active) user and what it asks for.
#[derive(Debug)]
pub struct Pending {
    pub row: PendingRow,
    pub user: UserRow,
    pub need: Need,
    /// The user has a passkey, which the step accepts beside (or instead of) a code.
    pub passkey: bool,
}

/// The pending sign-in a cookie names, unless it expired or its user was disabled.
pub fn current(
    conn: &mut DbConnection,
    cookie: &str,
    now: i64,
) -> Result<Option<Pending>, StoreError> {
    let Some(row) = pending_store::live(conn, &secrets::digest(cookie), now)? else {
        return Ok(None);
    };
    let Some(user) = users::by_id(conn, row.user_id)?.filter(|u| u.is_active) else {
        return Ok(None);
    };
    let need = asked(conn, user.id)?;
    let passkey = has_passkey(conn, user.id)?;
    Ok(Some(Pending {
        row,
        user,
        need,
        passkey,
    }))
}

/// Why a code was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("wrong code")]
    WrongCode,
    #[error("too many wrong codes")]
    Throttled(Locked),
    #[error(transparent)]
    Factor(SecondFactorError),
}

impl From<StoreError> for StepError {
    fn from(e: StoreError) -> Self {
        StepError::Factor(SecondFactorError::Store(e))
    }
}

/// What the accepted code was.
#[derive(Debug)]
pub enum Proved {
    Code,
    /// A recovery code; how many are left.
    RecoveryCode {
        left: i64,
    },
    /// The first code of a new authenticator: its recovery codes, to show once.
    Enrolled(Codes),
}

fn audit_user(
    conn: &mut DbConnection,
    now: i64,
    user: &UserRow,
    ip: Option<&str>,
    action: AuditAction,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    audit::record_by(
        conn,
        now,
        (&user.username, ip),
        action,
        &user.username,
        detail,
    )
}

/// Check the code typed at the second step, behind its throttle. Wrong codes, replayed
/// codes and throttled attempts are audited.
pub fn prove(
    conn: &mut DbConnection,
    kek: &Kek,
    throttle: Throttle,
    pending: &Pending,
    input: &str,
    ip: Option<&str>,
    now: i64,
) -> Result<Proved, StepError> {
    let user = &pending.user;
    let attempt = Attempt::second_factor(&user.username, ip);
    let checked = throttle::check(conn, throttle, &attempt, now)?;
    if let Some(locked) = checked.locked {
        let detail = format!(
            "throttled ({}), {} s left",
            locked.scope.as_str(),
            locked.retry_after
        );
        audit_user(
            conn,
            now,
            user,
            ip,
            AuditAction::SecondStepFailed,
            Some(&detail),
        )?;
        return Err(StepError::Throttled(locked));
    }
    let result = match pending.need {
        Need::Code if totp::looks_like_code(input) => {
            totp::verify(conn, kek, user.id, input, now).map(|()| Proved::Code)
        }
        Need::Code => recovery::redeem(conn, user.id, input, now).and_then(|()| {
            Ok(Proved::RecoveryCode {
                left: recovery::left(conn, user.id)?,
            })
        }),
        // No authenticator app, no recovery codes: no code can be right.
        Need::Passkey => Err(SecondFactorError::NotEnrolled),
        Need::Enrol => transaction(conn, |conn| {
            totp::verify(conn, kek, user.id, input, now)?;
            let codes = recovery::issue(conn, user.id, now)?;
            audit_user(
                conn,
                now,
                user,
                ip,
                AuditAction::AccountTotpEnrolled,
                Some("at sign-in"),
            )?;
            Ok(Proved::Enrolled(codes))
        }),
    };
    match result {
        Ok(proved) => {
            throttle::succeeded(conn, throttle, &attempt, &checked, now)?;
            if let Proved::RecoveryCode { left } = &proved {
                let detail = format!("{left} left");
                audit_user(
                    conn,
                    now,
                    user,
                    ip,
                    AuditAction::AccountRecoveryCodeUsed,
                    Some(&detail),
                )?;
            }
            Ok(proved)
        }
        Err(SecondFactorError::WrongCode | SecondFactorError::NotEnrolled) => {
            let detail = match throttle::failed(conn, throttle, &attempt, now)? {
                Some(l) => format!(
                    "wrong code; {} locked for {} s",
                    l.scope.as_str(),
                    l.retry_after
                ),
                None => "wrong code".to_owned(),
            };
            audit_user(
                conn,
                now,
                user,
                ip,
                AuditAction::SecondStepFailed,
                Some(&detail),
            )?;
            Err(StepError::WrongCode)
        }
        Err(other) => Err(StepError::Factor(other)),
    }
}

/// How a second step ended.
#[derive(Debug)]
pub enum Done {
    /// A new session: its cookie value.
    Session(String),
    /// The browser's existing session now records the second factor.
    SteppedUp,
    /// Another request finished this pending sign-in first, or the session to step up
    /// ended meanwhile: nothing was signed in.
    Gone,
}

/// Turn a pending sign-in proved by `proof` (a code, or a passkey) into a session (or raise
/// the session it steps up). The pending row is taken first, so it completes at most once.
/// A step-up completes only in the browser whose session it raises (`session_key`, from
/// that browser's cookie).
pub fn complete(
    conn: &mut DbConnection,
    (now, ttl): (i64, i64),
    pending: Pending,
    (origin, session_key): (Origin, Option<&str>),
    proof: Method,
) -> Result<Done, StoreError> {
    if !pending_store::take(conn, &pending.row.id_hash)? {
        return Ok(Done::Gone);
    }
    let methods = AuthMethods::from_stored(&pending.row.amr).with(proof);
    match &pending.row.session_hash {
        Some(hash) => {
            if session_key != Some(hash.as_str())
                || !session_store::set_amr(conn, hash, &methods.to_stored())?
            {
                return Ok(Done::Gone);
            }
            let detail = format!("step-up: {}", methods.amr().join(" "));
            audit_user(
                conn,
                now,
                &pending.user,
                origin.ip.as_deref(),
                AuditAction::Login,
                Some(&detail),
            )?;
            Ok(Done::SteppedUp)
        }
        None => {
            let (cookie, _) = sessions::open(conn, now, ttl, pending.user, origin, &methods)?;
            Ok(Done::Session(cookie))
        }
    }
}
