//! Registering a passkey on the account page: the options (excluding the user's existing
//! passkeys, asking for a discoverable credential with user verification), then the
//! authenticator's answer verified against the stored state and saved under a name.
use uuid::Uuid;
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential};

use super::{Kind, PasskeyError, PasskeyName, Started, credential_key};
use crate::account::Me;
use crate::audit::AuditAction;
use crate::store::passkeys::{self as store, PasskeyRow};
use crate::store::users as user_store;
use crate::store::{DbConnection, StoreError, transaction};

/// Begin a registration for the signed-in user. The user handle the authenticator stores is
/// the user's `sub` (a UUID), so a passkey names its user at sign-in without a username.
pub fn start(
    conn: &mut DbConnection,
    webauthn: &webauthn_rs::Webauthn,
    now: i64,
    me: &Me,
) -> Result<Started, PasskeyError> {
    let user = user_store::by_id(conn, me.user_id)?.ok_or(PasskeyError::SignIn)?;
    let handle = Uuid::parse_str(&user.subject)
        .map_err(|e| PasskeyError::Store(StoreError::Corrupt(format!("subject: {e}"))))?;
    let mut exclude = Vec::new();
    for row in store::of_user(conn, me.user_id)? {
        exclude.push(parse_passkey(&row)?.cred_id().clone());
    }
    let display = user.name.as_deref().unwrap_or(&user.username);
    let (options, state) = webauthn
        .start_passkey_registration(handle, &user.username, display, Some(exclude))
        .map_err(|e| PasskeyError::Refused(format!("registration options: {e}")))?;
    let mut options = serde_json::to_value(options)
        .map_err(|e| PasskeyError::Store(StoreError::Corrupt(e.to_string())))?;
    // webauthn-rs asks for a discoverable credential only opportunistically; signing in
    // without a username needs one, so the browser is told it is required.
    if let Some(selection) = options
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(serde_json::Value::as_object_mut)
    {
        selection.insert("residentKey".into(), "required".into());
        selection.insert("requireResidentKey".into(), true.into());
    }
    let ceremony = super::begin(conn, now, Kind::Register, (Some(me.into()), None), &state)?;
    Ok(Started { ceremony, options })
}

/// Finish a registration: the ceremony (this session's, unexpired, once), the answer
/// verified, the credential not registered before; saved and audited.
pub fn finish(
    conn: &mut DbConnection,
    webauthn: &webauthn_rs::Webauthn,
    now: i64,
    me: &Me,
    ceremony: &str,
    name: &PasskeyName,
    answer: &str,
) -> Result<PasskeyRow, PasskeyError> {
    let state: PasskeyRegistration =
        super::take(conn, now, Kind::Register, Some(me.into()), ceremony)?;
    let answer: RegisterPublicKeyCredential = serde_json::from_str(answer).map_err(|_| {
        PasskeyError::Invalid("The browser's answer could not be read. Please try again.".into())
    })?;
    // An authenticator that holds a passkey here already (the options excluded it) says so
    // rather than "not accepted".
    if store::by_credential_id(conn, &credential_key(answer.raw_id.as_ref()))?.is_some() {
        return Err(PasskeyError::AlreadyRegistered);
    }
    let passkey = webauthn
        .finish_passkey_registration(&answer, &state)
        .map_err(|e| PasskeyError::Refused(format!("registration: {e}")))?;
    let credential_id = credential_key(passkey.cred_id().as_ref());
    let credential = serde_json::to_string(&passkey)
        .map_err(|e| PasskeyError::Store(StoreError::Corrupt(e.to_string())))?;
    let row = PasskeyRow {
        id: Uuid::new_v4().to_string(),
        user_id: me.user_id,
        credential_id,
        name: name.as_str().to_owned(),
        credential,
        created_at: now,
        last_used_at: None,
    };
    transaction(conn, |conn| {
        if store::by_credential_id(conn, &row.credential_id)?.is_some() {
            return Err(PasskeyError::AlreadyRegistered);
        }
        store::insert(conn, &row)?;
        me.audit(
            conn,
            now,
            AuditAction::PasskeyRegistered,
            &me.username,
            Some(name.as_str()),
        )?;
        Ok(())
    })?;
    Ok(row)
}

/// A stored passkey as the library reads it.
pub(super) fn parse_passkey(
    row: &PasskeyRow,
) -> Result<webauthn_rs::prelude::Passkey, PasskeyError> {
    serde_json::from_str(&row.credential)
        .map_err(|e| PasskeyError::Store(StoreError::Corrupt(format!("passkey {}: {e}", row.id))))
}
