//! The device authorization grant (RFC 8628) outside the token endpoint: a client starts an
//! authorization (`POST /oauth/device_authorization`), and a signed-in user types its user
//! code at `/device`, sees the client and scopes, and allows or denies. Wrong user codes
//! are throttled per user (`crate::throttle`). The device's polling is
//! `grants::device_code`.
use rand::RngCore;
use rand::rngs::OsRng;
use serde::Serialize;

use super::client_auth::{self, SecretCache};
use super::error::OAuthError;
use super::grants::Form;
use crate::audit::{self, AuditAction, Entry};
use crate::clients::{self, Client};
use crate::config::Settings;
use crate::domain::{GrantType, ScopeSet};
use crate::secrets;
use crate::store::consents;
use crate::store::device_codes::{self, APPROVED, DENIED, DeviceCodeRow, PENDING};
use crate::store::sessions::SessionRow;
use crate::store::users::UserRow;
use crate::store::{DbConnection, StoreError};
use crate::throttle::{self, Attempt, Policy};

/// How long a device code lives: long enough to find a phone and sign in.
pub const LIFETIME: i64 = 600;
/// The polling interval a device starts with, in seconds.
pub const INTERVAL: i64 = 5;
/// The page where users type the code.
pub const VERIFICATION_PATH: &str = "/device";

/// Consonants only, no vowels (no words) and none that look alike: RFC 8628 §6.1's
/// example alphabet. Eight of them are 20^8 (about 2^34) codes.
const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
const LENGTH: usize = 8;
/// Longer input is not read as a code at all (eight letters, separators and spaces fit).
const MAX_TYPED: usize = 32;
/// A new user code that collides with a live one is drawn again, this many times at most.
const DRAWS: usize = 4;

/// A user code: eight letters of [`ALPHABET`], shown as `XXXX-XXXX`, read back whatever the
/// case, hyphens and spaces.
#[derive(Clone, PartialEq, Eq)]
pub struct UserCode(String);

impl std::fmt::Debug for UserCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserCode(..)")
    }
}

impl UserCode {
    pub fn generate() -> Self {
        let mut code = String::with_capacity(LENGTH);
        let mut byte = [0u8; 1];
        while code.len() < LENGTH {
            OsRng.fill_bytes(&mut byte);
            // 240 is the largest multiple of 20 below 256: rejecting the rest keeps every
            // letter equally likely.
            if byte[0] < 240 {
                code.push(char::from(ALPHABET[usize::from(byte[0] % 20)]));
            }
        }
        Self(code)
    }

    /// What a user typed, if it can be a code.
    pub fn parse(typed: &str) -> Option<Self> {
        if typed.len() > MAX_TYPED {
            return None;
        }
        let code: String = typed
            .chars()
            .filter(|c| *c != '-' && !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let valid = code.len() == LENGTH && code.bytes().all(|b| ALPHABET.contains(&b));
        valid.then_some(Self(code))
    }

    /// As shown to people: `BCDF-GHJK`.
    pub fn display(&self) -> String {
        format!("{}-{}", &self.0[..LENGTH / 2], &self.0[LENGTH / 2..])
    }

    /// What the table stores and looks up.
    fn digest(&self) -> String {
        secrets::digest(&format!("user-code:{}", self.0))
    }
}

/// The answer to a device authorization request (RFC 8628 §3.2).
#[derive(Debug, Serialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

/// A device authorization request as it arrived.
#[derive(Debug)]
pub struct StartRequest {
    pub form: Vec<(String, String)>,
    pub authorization: Option<String>,
    pub ip: Option<String>,
    /// The key a `jwks_uri` client's assertion names, fetched beforehand.
    pub fetched: Option<crate::signing::VerifyingKey>,
}

/// `POST /oauth/device_authorization`: authenticate the client as the token endpoint
/// does, check it may use the grant and the scope, and store a new pair of codes.
pub fn start(
    conn: &mut DbConnection,
    settings: &Settings,
    cache: &SecretCache,
    req: StartRequest,
    now: i64,
) -> Result<DeviceAuthorization, OAuthError> {
    let form = Form(&req.form);
    let asked = form
        .field("scope")?
        .map(|raw| ScopeSet::parse(raw).map_err(OAuthError::InvalidScope))
        .transpose()?;
    let auth = client_auth::presented(req.authorization.as_deref(), &req.form)?;
    let origin = client_auth::Origin {
        ip: req.ip.as_deref(),
        now,
        policy: Policy::from_settings(settings),
        issuer: &settings.issuer,
        endpoint: "/oauth/device_authorization",
        fetched: req.fetched.as_ref(),
    };
    let client = client_auth::authenticate(conn, cache, auth, origin)?;
    if !client.may_use(GrantType::DeviceCode) {
        return Err(OAuthError::UnauthorizedClient(
            "this client may not use the device authorization grant".into(),
        ));
    }
    let scope = match asked {
        Some(asked) if !asked.is_subset(&client.scopes) => {
            return Err(OAuthError::InvalidScope(
                "the requested scope exceeds what this client may ask for".into(),
            ));
        }
        Some(asked) => asked.ordered_like(&client.scopes),
        None => client.scopes.clone(),
    };
    let device_code = secrets::random_token(32);
    for _ in 0..DRAWS {
        let user_code = UserCode::generate();
        let row = DeviceCodeRow {
            device_code_hash: secrets::digest(&device_code),
            user_code_hash: user_code.digest(),
            client_id: client.id.clone(),
            scope: scope.to_string(),
            status: PENDING.to_owned(),
            created_at: now,
            expires_at: now + LIFETIME,
            poll_interval: INTERVAL,
            last_polled_at: None,
            user_id: None,
            auth_time: None,
            amr: None,
            session_id: None,
            decided_at: None,
        };
        match device_codes::insert(conn, &row) {
            Ok(()) => {
                let shown = user_code.display();
                let verification_uri = settings.endpoint(VERIFICATION_PATH);
                let query: String = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("user_code", &shown)
                    .finish();
                return Ok(DeviceAuthorization {
                    device_code,
                    user_code: shown,
                    verification_uri_complete: format!("{verification_uri}?{query}"),
                    verification_uri,
                    expires_in: LIFETIME,
                    interval: INTERVAL,
                });
            }
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(OAuthError::TemporarilyUnavailable(
        "no free user code was found; try again".into(),
    ))
}

/// Why the `/device` page cannot go on with a typed code.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// Not eight letters of the code alphabet: a typo, not a guess, so not counted.
    #[error("that is not a device code")]
    Malformed,
    /// No pending, unexpired authorization has this code (one answer for all three, so
    /// a guesser learns nothing).
    #[error("unknown, expired or already answered device code")]
    Unknown,
    /// Too many wrong codes from this user: refused before the code is looked up.
    #[error("too many wrong device codes")]
    Throttled { retry_after: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who is at the page: the signed-in user, their session, their address.
#[derive(Clone, Copy, Debug)]
pub struct Who<'a> {
    pub user: &'a UserRow,
    pub session: &'a SessionRow,
    pub ip: Option<&'a str>,
}

/// A pending authorization, as the page shows it before the user answers.
#[derive(Debug)]
pub struct Pending {
    pub user_code: UserCode,
    pub client: Client,
    pub scope: ScopeSet,
}

/// Find the pending authorization a signed-in user typed the code of. Wrong codes count
/// against the user (and their address); a locked user is refused before the lookup.
pub fn lookup(
    conn: &mut DbConnection,
    policy: Policy,
    who: Who<'_>,
    typed: &str,
    now: i64,
) -> Result<Pending, DeviceError> {
    let user_code = UserCode::parse(typed).ok_or(DeviceError::Malformed)?;
    let attempt = Attempt::user_code(&who.user.username, who.ip);
    let checked = throttle::check(conn, policy, &attempt, now)?;
    if let Some(locked) = checked.locked {
        return Err(DeviceError::Throttled {
            retry_after: locked.retry_after,
        });
    }
    let live = device_codes::by_user_code(conn, &user_code.digest())?
        .filter(|row| row.status == PENDING && row.expires_at > now);
    let client = match &live {
        Some(row) => clients::by_id(conn, &row.client_id)?,
        None => None,
    };
    let (Some(row), Some(client)) = (live, client) else {
        if let Some(locked) = throttle::failed(conn, policy, &attempt, now)? {
            tracing::info!(
                user = %who.user.username,
                retry_after = locked.retry_after,
                "device code entry throttled"
            );
        }
        return Err(DeviceError::Unknown);
    };
    throttle::succeeded(conn, policy, &attempt, &checked, now)?;
    let scope = ScopeSet::parse(&row.scope)
        .map_err(|e| StoreError::Corrupt(format!("device code: {e}")))?;
    Ok(Pending {
        user_code,
        client,
        scope,
    })
}

/// Allow or deny the authorization a code names, once: the device's next poll gets tokens
/// or `access_denied`. Allowing also records consent, so the account page lists the
/// application (and can revoke it). Audited either way.
pub fn decide(
    conn: &mut DbConnection,
    policy: Policy,
    who: Who<'_>,
    typed: &str,
    allow: bool,
    now: i64,
) -> Result<Pending, DeviceError> {
    let pending = lookup(conn, policy, who, typed, now)?;
    crate::store::transaction(conn, |conn| {
        let decision = device_codes::Decision {
            status: if allow { APPROVED } else { DENIED },
            user_id: who.user.id,
            auth_time: who.session.auth_time,
            amr: &who.session.amr,
            session_id: Some(&who.session.id_hash),
        };
        if !device_codes::decide(conn, &pending.user_code.digest(), &decision, now)? {
            return Err(DeviceError::Unknown);
        }
        let scope = pending.scope.to_string();
        if allow {
            let before = consents::scope_of(conn, who.user.id, &pending.client.id)?;
            let mut union = before
                .as_deref()
                .map(ScopeSet::parse)
                .transpose()
                .ok()
                .flatten()
                .unwrap_or_default();
            for s in pending.scope.iter() {
                union.insert(s.clone());
            }
            consents::upsert(
                conn,
                who.user.id,
                &pending.client.id,
                &union.to_string(),
                now,
            )?;
        }
        audit::record(
            conn,
            now,
            &Entry {
                actor: Some(&who.user.username),
                action: if allow {
                    AuditAction::DeviceApproved
                } else {
                    AuditAction::DeviceDenied
                },
                target: Some(&pending.client.id),
                detail: Some(&scope),
                ip: who.ip,
            },
        )?;
        Ok(())
    })?;
    Ok(pending)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_eight_unambiguous_letters() {
        for _ in 0..200 {
            let code = UserCode::generate();
            assert_eq!(code.0.len(), LENGTH);
            assert!(code.0.bytes().all(|b| ALPHABET.contains(&b)));
            assert!(!code.0.bytes().any(|b| b"AEIOUY01".contains(&b)));
            let shown = code.display();
            assert_eq!(shown.len(), 9);
            assert_eq!(&shown[4..5], "-");
        }
    }

    #[test]
    fn typed_codes_ignore_case_hyphens_and_spaces() {
        let code = UserCode::parse("BCDF-GHJK").unwrap();
        assert_eq!(UserCode::parse("bcdfghjk"), Some(code.clone()));
        assert_eq!(UserCode::parse(" bcdf ghjk "), Some(code.clone()));
        assert_eq!(UserCode::parse("bc-df-gh-jk"), Some(code.clone()));
        assert_eq!(code.display(), "BCDF-GHJK");
        assert_eq!(
            code.digest(),
            UserCode::parse("bcdf-ghjk").unwrap().digest()
        );
    }

    #[test]
    fn other_input_is_not_a_code() {
        for typed in [
            "",
            "BCDF-GHJ",
            "BCDF-GHJKL",
            "ABCD-EFGH",
            "BCDF-GHJ1",
            "BCDF_GHJK",
            "ВCDF-GHJK",
        ] {
            assert!(UserCode::parse(typed).is_none(), "{typed}");
        }
        let long = format!("BCDF-GHJK{}", " ".repeat(MAX_TYPED));
        assert!(UserCode::parse(&long).is_none());
    }
}
