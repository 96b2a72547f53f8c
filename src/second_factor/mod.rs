//! Second factors: TOTP (`totp`), single-use recovery codes (`recovery`), the pending
//! second step of a sign-in (`step`), and the administrators' policy of who must have one
//! (`policy`). Free of HTTP types.
pub mod manage;
pub mod policy;
pub mod recovery;
pub mod step;
pub mod totp;

use crate::store::StoreError;

/// Why a second-factor operation was not done.
#[derive(Debug, thiserror::Error)]
pub enum SecondFactorError {
    /// The user already has an active authenticator (remove it first to change it).
    #[error("an authenticator is already set up")]
    AlreadyEnrolled,
    /// There is nothing to confirm or remove.
    #[error("no authenticator set up")]
    NotEnrolled,
    /// The code was wrong, already used, or not a code.
    #[error("wrong code")]
    WrongCode,
    /// The server has no key-encryption key to seal secrets with.
    #[error("no key-encryption key: TOTP secrets cannot be stored")]
    NoKek,
    /// A stored secret did not open (another KEK, or a damaged row).
    #[error("the stored TOTP secret cannot be opened: {0}")]
    Sealed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}
