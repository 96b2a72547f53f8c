//! What every key store says about a key: its state, how it is listed, and what can go
//! wrong with it (shared by the keys folder, the database store and key material).
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::alg::SigningAlg;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("keys folder {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {path}: {reason}")]
    BadFile { path: PathBuf, reason: String },
    #[error("no key with kid '{0}'")]
    UnknownKid(String),
    #[error("key '{0}' is already retired")]
    AlreadyRetired(String),
    #[error("key '{kid}' is the only published key for {alg}; run `{}` first", alg.rotate_command())]
    LastKey { kid: String, alg: SigningAlg },
    #[error("a keys folder holds RS256 keys only; {0} keys live in the database")]
    FolderAlg(SigningAlg),
    #[error("key '{0}' signs new tokens; rotate first and retire it once its tokens expired")]
    Signing(String),
    #[error("tokens signed by key '{kid}' may be valid until {until}; retire it after that")]
    StillValid { kid: String, until: DateTime<Utc> },
    #[error("no published signing key in {0}; run `tessera keys rotate` to create one")]
    NoKeys(PathBuf),
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("signing key '{kid}': {reason}")]
    BadKey { kid: String, reason: String },
    #[error("no published signing key in the database; run `tessera keys rotate` to create one")]
    NoKeysInDatabase,
    /// A missing, wrong or unreadable key-encryption key: the message says which and what
    /// to do.
    #[error("{0}")]
    Kek(String),
    #[error("database: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// Where a key stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not signing yet: waiting out the activation delay.
    Published,
    /// Signs new tokens and is published.
    Active,
    /// Published so tokens it signed still verify; no longer signs.
    Retiring,
    /// Neither signs nor is published.
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Published => "published",
            KeyState::Active => "active",
            KeyState::Retiring => "retiring",
            KeyState::Retired => "retired",
        }
    }
}

/// A key as the folder lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    pub kid: String,
    /// The one algorithm the key signs with (key files are RS256).
    pub alg: SigningAlg,
    pub created: DateTime<Utc>,
    /// When it signs (or signed) its first token: `created` plus the activation delay.
    pub activates: DateTime<Utc>,
    pub state: KeyState,
    /// The file it is in, for keys in a folder; `None` for keys in the database.
    pub path: Option<PathBuf>,
}
