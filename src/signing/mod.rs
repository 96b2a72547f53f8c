//! Signing keys: files in the keys folder, the in-memory key set built from them (active
//! signer, verifiers by `kid`, the rendered JWKS), and hot reload when the folder changes.
mod keydir;
mod keyset;
mod provider;
mod reload;

pub use keydir::{KeyDir, KeyError, KeyInfo, KeyState};
pub use keyset::{KeySet, Keys, SignError, VerifyError, etag as keyset_etag};
pub use provider::install as install_crypto_provider;
pub use reload::spawn_reloader;
