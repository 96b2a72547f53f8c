//! Passkeys (WebAuthn) as a first factor: the relying party Tessera is (its ID and origin
//! taken from the issuer), the ceremonies' state kept in the database between their two
//! requests (any instance finishes what another started; each state works once and for
//! `CEREMONY_TTL` seconds), registering on the account page (`register`), signing in with
//! a discoverable credential and no username (`sign_in`), using one as the second step
//! after a password (`second_step`), and listing, renaming and removing a user's own
//! passkeys. Free of HTTP types.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use webauthn_rs::prelude::{Url, Webauthn, WebauthnBuilder};

use crate::account::Me;
use crate::audit::AuditAction;
use crate::secrets;
use crate::store::passkeys::{self as store, CeremonyRow, PasskeyRow};
use crate::store::{DbConnection, StoreError, transaction};

pub mod register;
pub mod second_step;
pub mod sign_in;

/// How long a ceremony may take, from the options to the browser's answer: the
/// authenticator's timeout (WebAuthn's recommended five minutes) and the stored state's life.
pub const CEREMONY_TTL: i64 = 300;

/// The longest passkey name, in characters.
const NAME_MAX: usize = 60;

/// Tessera as a WebAuthn relying party, or why it cannot be one.
#[derive(Debug)]
pub struct RelyingParty {
    webauthn: Result<Webauthn, String>,
}

impl RelyingParty {
    /// The relying party the issuer names: its host is the RP ID (credentials are bound to
    /// it, so changing the issuer's host strands them) and its scheme, host and port the one
    /// origin accepted. WebAuthn needs a domain name: an issuer at an IP address (the
    /// default `http://127.0.0.1:8080`) has no passkeys, and the account page says why.
    pub fn from_issuer(issuer: &str) -> Self {
        Self {
            webauthn: build(issuer),
        }
    }

    pub fn webauthn(&self) -> Result<&Webauthn, PasskeyError> {
        self.webauthn
            .as_ref()
            .map_err(|_| PasskeyError::Unavailable)
    }

    /// Why passkeys are off, in words for the account page; `None` when they work.
    pub fn unavailable_because(&self) -> Option<&str> {
        self.webauthn.as_ref().err().map(String::as_str)
    }
}

fn build(issuer: &str) -> Result<Webauthn, String> {
    let url = Url::parse(issuer).map_err(|e| format!("the issuer is not a URL: {e}"))?;
    let Some(domain) = url.domain() else {
        return Err(
            "passkeys need Tessera to be reached by a domain name, and its issuer is an IP address"
                .to_owned(),
        );
    };
    let origin = Url::parse(&url.origin().ascii_serialization())
        .map_err(|e| format!("the issuer has no origin: {e}"))?;
    WebauthnBuilder::new(domain, &origin)
        .and_then(|b| b.rp_name("Tessera").build())
        .map_err(|e| format!("the issuer cannot be a WebAuthn relying party: {e}"))
}

/// Why a passkey request was not done. Becomes HTTP (a readable page, or JSON for the
/// requests the page's script makes) in `error.rs`.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The issuer is not a domain name, so there is no relying party.
    #[error("passkeys unavailable")]
    Unavailable,
    /// Nobody is signed in (account requests).
    #[error("sign in required")]
    SignIn,
    /// The user must choose a new password before anything else.
    #[error("password change required")]
    MustChangePassword,
    /// The form's CSRF token is missing or wrong.
    #[error("form expired or forged")]
    Csrf,
    /// The ceremony is unknown (forged, already finished, or another session's) or expired.
    #[error("ceremony unusable: {0:?}")]
    Ceremony(CeremonyProblem),
    /// The input cannot be used; the message says why, in words for the user.
    #[error("{0}")]
    Invalid(String),
    /// The authenticator's answer did not verify, or names no usable passkey; the detail is
    /// for the log and the audit trail, never for the page.
    #[error("passkey refused: {0}")]
    Refused(String),
    /// This authenticator's credential is registered already (to this or another account).
    #[error("passkey already registered")]
    AlreadyRegistered,
    /// Too many failed sign-ins for this account and address.
    #[error("too many failed sign-ins")]
    Throttled { retry_after: i64 },
    /// No such passkey among the user's own.
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for PasskeyError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => PasskeyError::NotFound,
            StoreError::Conflict => PasskeyError::AlreadyRegistered,
            other => PasskeyError::Store(other),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CeremonyProblem {
    Unknown,
    Expired,
}

/// What a ceremony is for, as `webauthn_ceremonies.kind` stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Register,
    SignIn,
    /// The second step of a password sign-in, bound to its pending sign-in.
    SecondStep,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Register => "register",
            Kind::SignIn => "sign-in",
            Kind::SecondStep => "second-step",
        }
    }
}

/// A ceremony begun: the id the browser sends back, and the options for
/// `navigator.credentials.create` / `get` (as `webauthn-rs` serialises them).
#[derive(Debug)]
pub struct Started {
    pub ceremony: String,
    pub options: serde_json::Value,
}

/// Who alone may finish a ceremony: a user, and the digest of what binds it to one browser
/// (the session registering a passkey, or the pending sign-in a second step finishes).
#[derive(Clone, Copy, Debug)]
struct Owner<'a> {
    user_id: i64,
    key: &'a str,
}

impl<'a> From<&'a Me> for Owner<'a> {
    fn from(me: &'a Me) -> Self {
        Owner {
            user_id: me.user_id,
            key: &me.session_key,
        }
    }
}

/// Store a ceremony's state; returns the id the browser holds (only its digest is kept).
fn begin(
    conn: &mut DbConnection,
    now: i64,
    kind: Kind,
    (owner, address): (Option<Owner<'_>>, Option<&str>),
    state: &impl serde::Serialize,
) -> Result<String, PasskeyError> {
    let state = serde_json::to_string(state)
        .map_err(|e| PasskeyError::Store(StoreError::Corrupt(e.to_string())))?;
    let ceremony = secrets::random_token(32);
    store::begin(
        conn,
        &CeremonyRow {
            id_hash: secrets::digest(&ceremony),
            kind: kind.as_str().to_owned(),
            user_id: owner.map(|o| o.user_id),
            session_key: owner.map(|o| o.key.to_owned()),
            state,
            created_at: now,
            expires_at: now + CEREMONY_TTL,
            address: address.map(str::to_owned),
        },
        now,
    )?;
    Ok(ceremony)
}

/// Take a ceremony of `kind` (it works once, whatever happens next) and read its state.
/// Another session's registration (or another pending sign-in's second step) reads as
/// unknown, like one that never existed.
fn take<S: serde::de::DeserializeOwned>(
    conn: &mut DbConnection,
    now: i64,
    kind: Kind,
    owner: Option<Owner<'_>>,
    ceremony: &str,
) -> Result<S, PasskeyError> {
    let unknown = PasskeyError::Ceremony(CeremonyProblem::Unknown);
    let row = store::take(conn, &secrets::digest(ceremony))?.ok_or(unknown)?;
    let owned = match owner {
        Some(o) => row.user_id == Some(o.user_id) && row.session_key.as_deref() == Some(o.key),
        None => row.user_id.is_none(),
    };
    if row.kind != kind.as_str() || !owned {
        return Err(PasskeyError::Ceremony(CeremonyProblem::Unknown));
    }
    if row.expires_at <= now {
        return Err(PasskeyError::Ceremony(CeremonyProblem::Expired));
    }
    serde_json::from_str(&row.state)
        .map_err(|e| PasskeyError::Store(StoreError::Corrupt(e.to_string())))
}

/// A credential id as stored: base64url without padding.
fn credential_key(raw: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(raw)
}

/// A passkey's name as the user typed it: trimmed, 1 to 60 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyName(String);

impl PasskeyName {
    pub fn parse(raw: &str) -> Result<Self, PasskeyError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(PasskeyError::Invalid(
                "Give the passkey a name, such as the device it is on.".into(),
            ));
        }
        if name.chars().count() > NAME_MAX {
            return Err(PasskeyError::Invalid(format!(
                "A passkey's name must be at most {NAME_MAX} characters."
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(PasskeyError::Invalid(
                "A passkey's name must not contain control characters.".into(),
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The user's passkeys, oldest first.
pub fn list(conn: &mut DbConnection, me: &Me) -> Result<Vec<PasskeyRow>, StoreError> {
    store::of_user(conn, me.user_id)
}

pub fn rename(
    conn: &mut DbConnection,
    now: i64,
    me: &Me,
    id: &str,
    name: &PasskeyName,
) -> Result<(), PasskeyError> {
    transaction(conn, |conn| {
        store::rename(conn, me.user_id, id, name.as_str())?;
        me.audit(
            conn,
            now,
            AuditAction::PasskeyRenamed,
            &me.username,
            Some(name.as_str()),
        )?;
        Ok(())
    })
}

/// Remove one of the user's passkeys: it signs nobody in from now on.
pub fn remove(conn: &mut DbConnection, now: i64, me: &Me, id: &str) -> Result<(), PasskeyError> {
    transaction(conn, |conn| {
        let row = store::delete(conn, me.user_id, id)?;
        me.audit(
            conn,
            now,
            AuditAction::PasskeyRemoved,
            &me.username,
            Some(&row.name),
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_comes_from_the_issuer() {
        let rp = RelyingParty::from_issuer("https://id.example.com/tessera");
        assert!(rp.webauthn().is_ok(), "{:?}", rp.unavailable_because());
        let local = RelyingParty::from_issuer("http://localhost:8080");
        assert!(local.webauthn().is_ok());
        let ip = RelyingParty::from_issuer("http://127.0.0.1:8080");
        assert!(matches!(ip.webauthn(), Err(PasskeyError::Unavailable)));
        assert!(ip.unavailable_because().unwrap().contains("domain name"));
    }

    #[test]
    fn names_are_short_printable_and_present() {
        assert_eq!(PasskeyName::parse("  Phone ").unwrap().as_str(), "Phone");
        assert!(PasskeyName::parse("   ").is_err());
        assert!(PasskeyName::parse(&"n".repeat(61)).is_err());
        assert!(PasskeyName::parse("a\u{0}b").is_err());
    }
}
