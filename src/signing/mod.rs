//! Signing keys: stored in the database with their private parts sealed (or, for tools and
//! tests, files in a keys folder), the in-memory key set built from them (an active signer
//! per algorithm, verifiers by `kid`, the rendered JWKS), and hot reload when they change.
mod alg;
mod key;
mod keydir;
mod keyset;
mod keystore;
mod material;
mod provider;
mod reload;
mod source;
mod verifying;

pub use alg::SigningAlg;
pub use keydir::{KeyDir, KeyError, KeyInfo, KeyState};
pub use keyset::{KeySet, Keys, SignError, VerifyError, etag as keyset_etag};
pub use keystore::{KeyStore, Opened, stored_keys};
pub use provider::install as install_crypto_provider;
pub use reload::spawn_reloader;
pub use source::KeySource;
pub use verifying::VerifyingKey;
