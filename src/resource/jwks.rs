//! A JWKS fetched over HTTP and cached: kept for the `max-age` the server sends (bounded),
//! refetched early when a token names an unknown `kid` (a key rotation), but never more
//! often than the refetch interval, so a flood of forged `kid`s cannot hammer the issuer.
//! When a refetch fails the last good keys stay in use.
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use serde_json::Value;

use crate::signing::VerifyingKey;

#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("fetching {url} failed: {reason}")]
    Fetch { url: String, reason: String },
}

#[derive(Default)]
struct Cached {
    keys: HashMap<String, VerifyingKey>,
    fetched_at: Option<Instant>,
    max_age: Duration,
    last_attempt: Option<Instant>,
}

pub struct JwksCache {
    url: String,
    client: reqwest::Client,
    cached: RwLock<Cached>,
    /// Serialises fetches so concurrent misses share one request.
    fetching: tokio::sync::Mutex<()>,
    min_refetch: Duration,
    max_age_cap: Duration,
    default_max_age: Duration,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Install aws-lc-rs as rustls' process-wide crypto provider (what signs our tokens
/// already). HTTPS clients built with reqwest need one; [`JwksCache::new`] calls this, and
/// so must a program that builds its own reqwest client first. Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

impl JwksCache {
    /// A cache for the JWKS at `url` (http or https). Nothing is fetched until a token
    /// needs a key.
    pub fn new(url: &str) -> Result<Self, JwksError> {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .user_agent(concat!("tessera-resource/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| JwksError::Client(e.to_string()))?;
        Ok(Self {
            url: url.to_owned(),
            client,
            cached: RwLock::new(Cached::default()),
            fetching: tokio::sync::Mutex::new(()),
            min_refetch: Duration::from_secs(10),
            max_age_cap: Duration::from_secs(24 * 3600),
            default_max_age: Duration::from_secs(300),
        })
    }

    /// The least time between two fetches (default 10 s).
    pub fn min_refetch_interval(mut self, interval: Duration) -> Self {
        self.min_refetch = interval;
        self
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn lookup(&self, kid: &str) -> (Option<VerifyingKey>, bool, bool) {
        let Ok(c) = self.cached.read() else {
            return (None, false, true);
        };
        let fresh = c.fetched_at.is_some_and(|t| t.elapsed() < c.max_age);
        let may_fetch = c
            .last_attempt
            .is_none_or(|t| t.elapsed() >= self.min_refetch);
        (c.keys.get(kid).cloned(), fresh, may_fetch)
    }

    /// The key `kid` names, fetching the JWKS when the cache is stale or lacks it.
    pub async fn key(&self, kid: &str) -> Option<VerifyingKey> {
        let (key, fresh, may_fetch) = self.lookup(kid);
        if key.is_some() && fresh {
            return key;
        }
        if !may_fetch {
            return key;
        }
        let _guard = self.fetching.lock().await;
        // Another request may have fetched while this one waited.
        let (key, fresh, may_fetch) = self.lookup(kid);
        if (key.is_some() && fresh) || !may_fetch {
            return key;
        }
        if let Err(e) = self.refresh().await {
            tracing::warn!(error = %e, "JWKS refresh failed; keeping the keys already known");
        }
        self.lookup(kid).0
    }

    /// Fetch the JWKS now, replacing the cached keys.
    pub async fn refresh(&self) -> Result<usize, JwksError> {
        if let Ok(mut c) = self.cached.write() {
            c.last_attempt = Some(Instant::now());
        }
        let fail = |reason: String| JwksError::Fetch {
            url: self.url.clone(),
            reason,
        };
        let res = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !res.status().is_success() {
            return Err(fail(format!("status {}", res.status())));
        }
        let max_age = res
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age)
            .map(Duration::from_secs)
            .unwrap_or(self.default_max_age)
            .clamp(self.min_refetch, self.max_age_cap);
        let body = read_capped(res, MAX_JWKS_BODY)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let set: Value = serde_json::from_slice(&body).map_err(|e| fail(e.to_string()))?;
        let keys = signing_keys(&set);
        let count = keys.len();
        if let Ok(mut c) = self.cached.write() {
            c.keys = keys;
            c.fetched_at = Some(Instant::now());
            c.max_age = max_age;
        }
        Ok(count)
    }
}

/// The most a JWKS response may be: a set of a few dozen keys is far below this, and a
/// URL that streams without end must not fill the memory.
const MAX_JWKS_BODY: usize = 256 * 1024;

/// A response body, refused once it grows past `cap` bytes (a lying or missing
/// Content-Length does not help).
async fn read_capped(mut res: reqwest::Response, cap: usize) -> Result<Vec<u8>, String> {
    if res.content_length().is_some_and(|n| n > cap as u64) {
        return Err(format!("the JWKS is larger than {cap} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > cap {
            return Err(format!("the JWKS is larger than {cap} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The signing keys of a JWKS by `kid`, each bound to its one algorithm (see
/// [`VerifyingKey::from_jwk`]). Keys without a `kid`, meant for encryption, of another
/// curve or type, or whose `alg` does not fit them are of no use for verifying and are
/// skipped one by one: a key this verifier does not understand does not hide the others.
pub(crate) fn signing_keys(set: &Value) -> HashMap<String, VerifyingKey> {
    let Some(keys) = set.get("keys").and_then(Value::as_array) else {
        return HashMap::new();
    };
    keys.iter()
        .filter_map(|k| {
            let jwk: Jwk = serde_json::from_value(k.clone()).ok()?;
            let kid = jwk.common.key_id.clone()?;
            match VerifyingKey::from_jwk(&jwk) {
                Ok(key) => Some((kid, key)),
                Err(why) => {
                    tracing::debug!(%kid, %why, "JWKS key skipped");
                    None
                }
            }
        })
        .collect()
}

/// `max-age` from a Cache-Control value; `no-store`/`no-cache` mean "do not keep".
fn max_age(cache_control: &str) -> Option<u64> {
    let mut age = None;
    for directive in cache_control.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(0);
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            age = v.trim_matches('"').parse().ok();
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_max_age() {
        assert_eq!(max_age("public, max-age=600"), Some(600));
        assert_eq!(max_age("max-age=\"60\""), Some(60));
        assert_eq!(max_age("no-store"), Some(0));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }
}
