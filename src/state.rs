//! What every request handler can reach: settings, storage, keys, the clock, and the
//! documents rendered once at start.
use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::Settings;
use crate::discovery::Discovery;
use crate::metrics::Metrics;
use crate::oauth::client_auth::SecretCache;
use crate::oauth::client_keys::RemoteKeys;
use crate::passkeys::RelyingParty;
use crate::signing::Keys;
use crate::store::Store;

#[derive(Clone, Debug)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub keys: Arc<Keys>,
    pub clock: SharedClock,
    pub discovery: Arc<Discovery>,
    pub secrets: Arc<SecretCache>,
    /// Public keys of `private_key_jwt` clients with a `jwks_uri`.
    pub client_keys: Arc<RemoteKeys>,
    pub metrics: Metrics,
    /// Tessera as a WebAuthn relying party (from the issuer), or why it cannot be one.
    pub passkeys: Arc<RelyingParty>,
    /// Set once SIGTERM arrives: `/readyz` answers 503 from then on.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
}
