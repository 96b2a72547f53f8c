//! The public keys of `private_key_jwt` clients that publish them at a `jwks_uri`: one
//! [`JwksCache`] per URL, the cache resource servers use for Tessera's own keys (the same
//! timeouts, size cap, `max-age` and refetch rules). Fetching is async, so it happens in
//! the route before the blocking authentication, which then gets the key ready.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::assertion;
use crate::resource::JwksCache;
use crate::signing::VerifyingKey;
use crate::store::{Store, clients as client_store};

/// Caches of client JWKS, by URL (registered by administrators, so their number is bounded
/// by the clients').
#[derive(Debug, Default)]
pub struct RemoteKeys {
    caches: Mutex<HashMap<String, Arc<JwksCache>>>,
}

impl RemoteKeys {
    fn cache(&self, url: &str) -> Option<Arc<JwksCache>> {
        let mut caches = self.caches.lock().ok()?;
        if let Some(c) = caches.get(url) {
            return Some(c.clone());
        }
        match JwksCache::new(url) {
            Ok(c) => {
                let c = Arc::new(c);
                caches.insert(url.to_owned(), c.clone());
                Some(c)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot fetch a client's JWKS");
                None
            }
        }
    }

    /// The key for the client assertion in `form`, when the client it names publishes its
    /// keys at a `jwks_uri`. `None` for every other request: those need no fetched key, or
    /// fail authentication for want of one.
    pub async fn for_request(
        &self,
        store: &Store,
        form: &[(String, String)],
    ) -> Option<VerifyingKey> {
        let jwt = form
            .iter()
            .find(|(k, _)| k == "client_assertion")
            .map(|(_, v)| v)?;
        let claimed = assertion::peek(jwt).ok()?;
        let id = claimed.client_id.clone();
        let url = store
            .run(move |conn| client_store::jwks_uri(conn, &id))
            .await
            .ok()
            .flatten()?;
        self.cache(&url)?.key(&claimed.kid).await
    }
}
