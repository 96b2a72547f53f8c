//! A passkey as the second step after a password: options that allow only the pending
//! user's own credentials, a ceremony bound to that pending sign-in (its user and the
//! digest of its cookie), and the answer checked behind the same throttle as a code typed
//! at that step. The ceremony works once and for `CEREMONY_TTL` seconds, and the pending
//! sign-in itself must still be live. Free of HTTP types.
use webauthn_rs::prelude::{PasskeyAuthentication, PublicKeyCredential, WebauthnError};

use super::register::parse_passkey;
use super::{Kind, Owner, PasskeyError, Started, credential_key};
use crate::audit::{self, AuditAction};
use crate::auth_methods::Method;
use crate::second_factor::step::Pending;
use crate::store::passkeys as store;
use crate::store::{DbConnection, StoreError};
use crate::throttle::{self, Attempt, Policy};

fn owner(pending: &Pending) -> Owner<'_> {
    Owner {
        user_id: pending.user.id,
        key: &pending.row.id_hash,
    }
}

/// The live ceremonies one pending sign-in may hold (each press of the button starts one).
pub const OPEN_PER_PENDING: i64 = 10;

/// Begin the ceremony for `pending`: the options name every passkey of its user, and no
/// one else's. Past [`OPEN_PER_PENDING`] unfinished ones, none is stored.
pub fn start(
    conn: &mut DbConnection,
    webauthn: &webauthn_rs::Webauthn,
    now: i64,
    pending: &Pending,
) -> Result<Started, PasskeyError> {
    if store::owned_live(conn, &pending.row.id_hash, now)? >= OPEN_PER_PENDING {
        return Err(PasskeyError::Throttled {
            retry_after: super::CEREMONY_TTL,
        });
    }
    let mut keys = Vec::new();
    for row in store::of_user(conn, pending.user.id)? {
        keys.push(parse_passkey(&row)?);
    }
    if keys.is_empty() {
        return Err(PasskeyError::NotFound);
    }
    let (options, state) = webauthn
        .start_passkey_authentication(&keys)
        .map_err(|e| PasskeyError::Refused(format!("second-step options: {e}")))?;
    let options = serde_json::to_value(options)
        .map_err(|e| PasskeyError::Store(StoreError::Corrupt(e.to_string())))?;
    let ceremony = super::begin(
        conn,
        now,
        Kind::SecondStep,
        (Some(owner(pending)), None),
        &state,
    )?;
    Ok(Started { ceremony, options })
}

/// What a passkey accepted at the second step proved: the method the session records
/// (`hwk`, or `swk` for a key that may be synced), and the passkey's name for the log.
#[derive(Debug)]
pub struct Accepted {
    pub method: Method,
    pub name: String,
}

/// Check the answer for `pending`'s ceremony. Every refusal (an unusable ceremony, an
/// unreadable answer, another account's credential, a signature that does not verify, a
/// cloned authenticator) counts as a failed second step, in the buckets wrong codes fill,
/// and is audited; so does an attempt while those buckets are locked.
pub fn finish(
    conn: &mut DbConnection,
    webauthn: &webauthn_rs::Webauthn,
    (now, throttle_policy): (i64, Policy),
    pending: &Pending,
    (ceremony, credential): (&str, &str),
    ip: Option<&str>,
) -> Result<Accepted, PasskeyError> {
    let username = pending.user.username.as_str();
    let attempt = Attempt::second_factor(username, ip);
    let checked = throttle::check(conn, throttle_policy, &attempt, now)?;
    if let Some(locked) = checked.locked {
        let detail = format!(
            "passkey: throttled ({}), {} s left",
            locked.scope.as_str(),
            locked.retry_after
        );
        failed(conn, now, username, ip, &detail)?;
        return Err(PasskeyError::Throttled {
            retry_after: locked.retry_after,
        });
    }
    match verify(conn, webauthn, now, pending, ceremony, credential) {
        Ok(accepted) => {
            throttle::succeeded(conn, throttle_policy, &attempt, &checked, now)?;
            Ok(accepted)
        }
        Err(PasskeyError::Store(e)) => Err(PasskeyError::Store(e)),
        Err(refused) => {
            let mut detail = match &refused {
                PasskeyError::Refused(reason) => reason.clone(),
                other => format!("passkey: {other}"),
            };
            if let Some(l) = throttle::failed(conn, throttle_policy, &attempt, now)? {
                detail.push_str(&format!(
                    "; {} locked for {} s",
                    l.scope.as_str(),
                    l.retry_after
                ));
            }
            failed(conn, now, username, ip, &detail)?;
            Err(refused)
        }
    }
}

fn verify(
    conn: &mut DbConnection,
    webauthn: &webauthn_rs::Webauthn,
    now: i64,
    pending: &Pending,
    ceremony: &str,
    credential: &str,
) -> Result<Accepted, PasskeyError> {
    let state: PasskeyAuthentication =
        super::take(conn, now, Kind::SecondStep, Some(owner(pending)), ceremony)?;
    let answer: PublicKeyCredential = serde_json::from_str(credential).map_err(|_| {
        PasskeyError::Invalid("The browser's answer could not be read. Please try again.".into())
    })?;
    // The options allowed only this user's credentials, and the library checks the answer
    // against them too; looking the row up by owner as well keeps a credential that moved
    // or was removed meanwhile from counting.
    let row = match store::by_credential_id(conn, &credential_key(answer.raw_id.as_ref()))? {
        Some(row) if row.user_id == pending.user.id => row,
        _ => {
            return Err(PasskeyError::Refused(
                "passkey: credential not registered to this account".to_owned(),
            ));
        }
    };
    let mut passkey = parse_passkey(&row)?;
    let result = webauthn
        .finish_passkey_authentication(&answer, &state)
        .map_err(|e| {
            let reason = match e {
                WebauthnError::CredentialPossibleCompromise => {
                    "signature counter did not increase: possibly a cloned authenticator".to_owned()
                }
                other => other.to_string(),
            };
            PasskeyError::Refused(format!("passkey \"{}\": {reason}", row.name))
        })?;
    if result.cred_id() != passkey.cred_id() {
        return Err(PasskeyError::Refused(format!(
            "passkey \"{}\": the answer names another credential",
            row.name
        )));
    }
    let updated = match passkey.update_credential(&result) {
        Some(true) => Some(
            serde_json::to_string(&passkey)
                .map_err(|e| PasskeyError::Store(StoreError::Corrupt(e.to_string())))?,
        ),
        _ => None,
    };
    store::record_use(conn, &row.id, updated.as_deref(), now)?;
    let method = if result.backup_eligible() {
        Method::SoftwareKey
    } else {
        Method::HardwareKey
    };
    Ok(Accepted {
        method,
        name: row.name,
    })
}

fn failed(
    conn: &mut DbConnection,
    now: i64,
    username: &str,
    ip: Option<&str>,
    detail: &str,
) -> Result<(), StoreError> {
    audit::record_by(
        conn,
        now,
        (username, ip),
        AuditAction::SecondStepFailed,
        username,
        Some(detail),
    )
}
