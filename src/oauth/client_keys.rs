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

/// How many client JWKS URLs are cached at once by default. Self-registered clients name
/// their own `jwks_uri`, so the number of URLs is not bounded by what administrators
/// register; past this many, the least recently used cache is dropped (and refetched if
/// its client comes back).
const MAX_URLS: usize = 1024;

/// Caches of client JWKS, by URL, at most `capacity` of them.
#[derive(Debug)]
pub struct RemoteKeys {
    caches: Mutex<Caches>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Caches {
    by_url: HashMap<String, (Arc<JwksCache>, u64)>,
    /// Counts uses, so each entry knows when it was last used.
    clock: u64,
}

impl Default for RemoteKeys {
    fn default() -> Self {
        Self::with_capacity(MAX_URLS)
    }
}

impl RemoteKeys {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            caches: Mutex::default(),
            capacity: capacity.max(1),
        }
    }

    fn cache(&self, url: &str) -> Option<Arc<JwksCache>> {
        let mut caches = self.caches.lock().ok()?;
        caches.clock += 1;
        let now = caches.clock;
        if let Some((c, used)) = caches.by_url.get_mut(url) {
            *used = now;
            return Some(c.clone());
        }
        match JwksCache::new(url) {
            Ok(c) => {
                let c = Arc::new(c);
                if caches.by_url.len() >= self.capacity {
                    let oldest = caches
                        .by_url
                        .iter()
                        .min_by_key(|(_, (_, used))| *used)
                        .map(|(url, _)| url.clone());
                    if let Some(oldest) = oldest {
                        caches.by_url.remove(&oldest);
                    }
                }
                caches.by_url.insert(url.to_owned(), (c.clone(), now));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_url_makes_room() {
        let keys = RemoteKeys::with_capacity(2);
        let a = keys.cache("https://a.example/jwks").unwrap();
        keys.cache("https://b.example/jwks").unwrap();
        // `a` used again: `b` is now the least recently used.
        assert!(Arc::ptr_eq(
            &a,
            &keys.cache("https://a.example/jwks").unwrap()
        ));
        keys.cache("https://c.example/jwks").unwrap();
        assert!(Arc::ptr_eq(
            &a,
            &keys.cache("https://a.example/jwks").unwrap()
        ));
        let by_url = &keys.caches.lock().unwrap().by_url;
        assert_eq!(by_url.len(), 2);
        assert!(by_url.contains_key("https://c.example/jwks"));
        assert!(!by_url.contains_key("https://b.example/jwks"));
    }
}
