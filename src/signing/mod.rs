//! Signing keys: stored in the database with their private parts sealed (or, for tools and
//! tests, files in a keys folder), the in-memory key set built from them (active signer,
//! verifiers by `kid`, the rendered JWKS), and hot reload when they change.
mod keydir;
mod keyset;
mod keystore;
mod provider;
mod reload;
mod source;

pub use keydir::{KeyDir, KeyError, KeyInfo, KeyState};
pub use keyset::{KeySet, Keys, SignError, VerifyError, etag as keyset_etag};
pub use keystore::{KeyStore, Opened};
pub use provider::install as install_crypto_provider;
pub use reload::spawn_reloader;
pub use source::KeySource;
