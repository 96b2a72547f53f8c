//! Signing in with a passkey alone: options with no allowed credentials (the authenticator
//! offers its discoverable ones for this relying party), then the answer identified by its
//! user handle and credential id, checked behind the sign-in throttle, verified (signature,
//! user verification, the signature counter that reveals a cloned authenticator), and a
//! session opened. Every outcome is audited like a password sign-in.
use webauthn_rs::prelude::{DiscoverableAuthentication, DiscoverableKey, PublicKeyCredential};

use super::register::parse_passkey;
use super::{Kind, PasskeyError, Started, credential_key};
use crate::audit::{self, AuditAction, Entry};
use crate::auth_methods::AuthMethods;
use crate::sessions::{self, Origin, SignedIn};
use crate::store::passkeys as store;
use crate::store::users::{self as user_store, UserRow};
use crate::store::{DbConnection, StoreError};
use crate::throttle::{self, Attempt, Policy};

/// What the passkey proved, beyond who the user is: what an `amr` claim is made of
/// (RFC 8176: `hwk` for a device-bound key, `swk` for one that may be synced, `user` when
/// the authenticator verified the user).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proof {
    pub user_verified: bool,
    /// The credential may be backed up or synced (a "multi-device" passkey).
    pub backup_eligible: bool,
}

/// A passkey sign-in that succeeded: the session cookie, the session, and the proof.
#[derive(Debug)]
pub struct PasskeySignIn {
    pub cookie: String,
    pub signed_in: SignedIn,
    pub proof: Proof,
}

/// What the login page posts back: the ceremony, the authenticator's answer (JSON), and
/// where the request came from.
#[derive(Debug)]
pub struct Answer {
    pub ceremony: String,
    pub credential: String,
    pub origin: Origin,
}

/// The live sign-in ceremonies one address may hold: a person needs one at a time, a few
/// people behind one address a few more.
pub const OPEN_PER_ADDRESS: i64 = 20;
/// The live sign-in ceremonies there may be in all, whoever asked: a bound on what
/// unauthenticated requests from many addresses can make Tessera store.
pub const OPEN_IN_ALL: i64 = 10_000;

/// Begin a passkey sign-in for a browser at `address`. Nobody is signed in yet, so each
/// request would store a ceremony for anyone: past [`OPEN_PER_ADDRESS`] live ones for the
/// address, or [`OPEN_IN_ALL`] in all, the request is refused until one expires.
pub fn start(
    conn: &mut DbConnection,
    webauthn: &webauthn_rs::Webauthn,
    now: i64,
    address: Option<&str>,
) -> Result<Started, PasskeyError> {
    let (mine, all, earliest) = store::unowned_live(conn, address, now)?;
    if mine >= OPEN_PER_ADDRESS || all >= OPEN_IN_ALL {
        let retry_after = earliest.map_or(super::CEREMONY_TTL, |e| (e - now).max(1));
        return Err(PasskeyError::Throttled { retry_after });
    }
    let (options, state) = webauthn
        .start_discoverable_authentication()
        .map_err(|e| PasskeyError::Refused(format!("sign-in options: {e}")))?;
    let mut options = serde_json::to_value(options)
        .map_err(|e| PasskeyError::Store(StoreError::Corrupt(e.to_string())))?;
    // webauthn-rs marks these options for conditional mediation (autofill); the page asks
    // when the user presses "Sign in with a passkey" instead, which every browser offers.
    if let Some(o) = options.as_object_mut() {
        o.remove("mediation");
    }
    let ceremony = super::begin(conn, now, Kind::SignIn, (None, address), &state)?;
    Ok(Started { ceremony, options })
}

/// Finish a passkey sign-in and open a session. Refusals are audited as failed sign-ins
/// (with the reason, which the page never shows) and, once the passkey names an account,
/// counted in the same throttle buckets as wrong passwords.
pub fn finish(
    conn: &mut DbConnection,
    webauthn: &webauthn_rs::Webauthn,
    now: i64,
    ttl: i64,
    policy: Policy,
    answer: Answer,
) -> Result<PasskeySignIn, PasskeyError> {
    let Answer {
        ceremony,
        credential,
        origin,
    } = answer;
    let state: DiscoverableAuthentication = super::take(conn, now, Kind::SignIn, None, &ceremony)?;
    let answer: PublicKeyCredential = serde_json::from_str(&credential).map_err(|_| {
        PasskeyError::Invalid("The browser's answer could not be read. Please try again.".into())
    })?;
    let ip = origin.ip.clone();
    let (user, row) = match identify(conn, webauthn, &answer)? {
        Ok(found) => found,
        Err((username, reason)) => {
            failed(conn, now, username.as_deref(), &reason, ip.as_deref())?;
            return Err(PasskeyError::Refused(reason));
        }
    };
    let attempt = Attempt::sign_in(&user.username, ip.as_deref());
    let checked = throttle::check(conn, policy, &attempt, now)?;
    if let Some(locked) = checked.locked {
        let detail = format!(
            "passkey \"{}\": throttled ({}), {} s left",
            row.name,
            locked.scope.as_str(),
            locked.retry_after
        );
        failed(conn, now, Some(&user.username), &detail, ip.as_deref())?;
        return Err(PasskeyError::Throttled {
            retry_after: locked.retry_after,
        });
    }
    let mut passkey = parse_passkey(&row)?;
    let verified = if user.is_active {
        webauthn
            .finish_discoverable_authentication(&answer, state, &[DiscoverableKey::from(&passkey)])
            .map_err(|e| match e {
                webauthn_rs::prelude::WebauthnError::CredentialPossibleCompromise => {
                    "signature counter did not increase: possibly a cloned authenticator".to_owned()
                }
                other => other.to_string(),
            })
    } else {
        Err("account disabled".to_owned())
    };
    let result = match verified {
        Ok(result) => result,
        Err(reason) => {
            let mut detail = format!("passkey \"{}\": {reason}", row.name);
            if let Some(l) = throttle::failed(conn, policy, &attempt, now)? {
                detail.push_str(&format!(
                    "; {} locked for {} s",
                    l.scope.as_str(),
                    l.retry_after
                ));
            }
            failed(conn, now, Some(&user.username), &detail, ip.as_deref())?;
            return Err(PasskeyError::Refused(detail));
        }
    };
    let updated = match passkey.update_credential(&result) {
        Some(true) => Some(
            serde_json::to_string(&passkey)
                .map_err(|e| PasskeyError::Store(StoreError::Corrupt(e.to_string())))?,
        ),
        _ => None,
    };
    store::record_use(conn, &row.id, updated.as_deref(), now)?;
    throttle::succeeded(conn, policy, &attempt, &checked, now)?;
    let proof = Proof {
        user_verified: result.user_verified(),
        backup_eligible: result.backup_eligible(),
    };
    // The session is opened here, and only here, for a passkey sign-in.
    let methods = AuthMethods::passkey(proof.backup_eligible, proof.user_verified);
    let (cookie, signed_in) = sessions::establish(conn, now, ttl, user, origin, &methods)?;
    let detail = format!("passkey \"{}\"", row.name);
    audit::record(
        conn,
        now,
        &Entry {
            actor: Some(&signed_in.user.username),
            action: AuditAction::Login,
            target: None,
            detail: Some(&detail),
            ip: ip.as_deref(),
        },
    )?;
    Ok(PasskeySignIn {
        cookie,
        signed_in,
        proof,
    })
}

/// Who an answer names and why it cannot sign them in, for the audit trail.
type Unidentified = (Option<String>, String);

/// The user and stored passkey an answer names, or why none: the user handle must be a
/// user's `sub`, and the credential one of that user's passkeys (a removed one is not).
fn identify(
    conn: &mut DbConnection,
    webauthn: &webauthn_rs::Webauthn,
    answer: &PublicKeyCredential,
) -> Result<Result<(UserRow, store::PasskeyRow), Unidentified>, PasskeyError> {
    let Ok((handle, raw_id)) = webauthn.identify_discoverable_authentication(answer) else {
        return Ok(Err((
            None,
            "passkey: no user handle in the answer".to_owned(),
        )));
    };
    let Some(user) = user_store::by_subject(conn, &handle.to_string())? else {
        return Ok(Err((None, "passkey: unknown user handle".to_owned())));
    };
    match store::by_credential_id(conn, &credential_key(raw_id))? {
        Some(row) if row.user_id == user.id => Ok(Ok((user, row))),
        _ => Ok(Err((
            Some(user.username),
            "passkey: credential not registered to this account".to_owned(),
        ))),
    }
}

/// Audit a refused passkey sign-in.
fn failed(
    conn: &mut DbConnection,
    now: i64,
    username: Option<&str>,
    detail: &str,
    ip: Option<&str>,
) -> Result<(), StoreError> {
    audit::record(
        conn,
        now,
        &Entry {
            actor: username,
            action: AuditAction::LoginFailed,
            target: None,
            detail: Some(detail),
            ip,
        },
    )
}
