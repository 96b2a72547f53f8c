//! The key set in memory: the active signer of each algorithm that has keys (RS256 always),
//! a verifier per published `kid`, and the JWKS body rendered once. [`Keys`] holds the current set behind an atomic swap so requests
//! read it without locking while a reload replaces it.
use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{EncodingKey, Header, TokenData, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::alg::SigningAlg;
use super::keydir::{KeyDir, KeyError, KeyInfo, KeyState};
use super::material::KeyMaterial;
use super::provider;
use super::source::KeySource;
use super::verifying::VerifyingKey;
use crate::clock::{SharedClock, SystemClock};

#[derive(Debug, thiserror::Error)]
#[error("signing failed: {0}")]
pub struct SignError(String);

/// Why a token did not verify. Callers mostly answer `invalid_token` whatever the cause;
/// the cause is for logs and for the SimpleJWT messages that name it.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("token is malformed")]
    Malformed,
    #[error("token is not signed with its key's algorithm")]
    WrongAlgorithm,
    #[error("token names no known key")]
    UnknownKey,
    #[error("token has expired")]
    Expired,
    #[error("token is invalid: {0}")]
    Invalid(String),
}

/// The key that signs for one algorithm.
struct ActiveSigner {
    kid: String,
    key: EncodingKey,
}

/// One immutable generation of keys.
pub struct KeySet {
    /// The active RS256 key's kid: RS256 signs whatever does not ask for another algorithm.
    active_kid: String,
    signers: HashMap<SigningAlg, ActiveSigner>,
    /// Every algorithm's active kid, sorted: a reload is due when this changes.
    active_kids: Vec<String>,
    verifiers: HashMap<String, VerifyingKey>,
    infos: Vec<KeyInfo>,
    jwks_body: String,
    jwks_etag: String,
    fingerprint: String,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("active_kid", &self.active_kid)
            .field("published", &self.verifiers.len())
            .finish_non_exhaustive()
    }
}

impl KeySet {
    fn build(material: Vec<KeyMaterial>, fingerprint: String) -> Result<Self, KeyError> {
        if !provider::install() {
            tracing::warn!(
                "another jsonwebtoken crypto provider was installed first; \
                 signing re-parses the key on every token"
            );
        }
        // `material` has the active keys first; the first of each algorithm signs for it.
        let mut signers: HashMap<SigningAlg, ActiveSigner> = HashMap::new();
        let mut live: Vec<&[u8]> = Vec::new();
        for m in &material {
            if m.info.state != KeyState::Active || signers.contains_key(&m.info.alg) {
                continue;
            }
            provider::register(m.info.alg, &m.signing_der).map_err(|reason| KeyError::BadKey {
                kid: m.info.kid.clone(),
                reason,
            })?;
            live.push(&m.signing_der);
            signers.insert(
                m.info.alg,
                ActiveSigner {
                    kid: m.info.kid.clone(),
                    key: m.encoding_key(),
                },
            );
        }
        // A set without RS256 cannot sign what everything defaults to (a folder's keys are
        // all RS256; the database keeps its last RS256 key).
        let Some(active_kid) = signers.get(&SigningAlg::Rs256).map(|s| s.kid.clone()) else {
            return Err(KeyError::NoKeysInDatabase);
        };
        provider::retain(&live);
        let mut active_kids: Vec<String> = signers.values().map(|s| s.kid.clone()).collect();
        active_kids.sort();
        let mut verifiers = HashMap::new();
        let mut parsed = Vec::new();
        let mut jwks = JwkSet { keys: Vec::new() };
        for m in &material {
            let bad = |reason| KeyError::BadKey {
                kid: m.info.kid.clone(),
                reason,
            };
            let key = m.verifying_key().map_err(bad)?;
            parsed.extend(provider::parse_verifying(key.alg(), key.decoding_key()).map_err(bad)?);
            verifiers.insert(m.info.kid.clone(), key);
            jwks.keys.push(m.jwk.clone());
        }
        provider::keep_verifying(parsed);
        let jwks_body = serde_json::to_string(&jwks)
            .map_err(|e| KeyError::Generate(format!("JWKS rendering failed: {e}")))?;
        let jwks_etag = etag(jwks_body.as_bytes());
        Ok(Self {
            active_kid,
            signers,
            active_kids,
            verifiers,
            infos: material.into_iter().map(|m| m.info).collect(),
            jwks_body,
            jwks_etag,
            fingerprint,
        })
    }

    pub fn active_kid(&self) -> &str {
        &self.active_kid
    }

    /// Published keys, the active one first.
    pub fn published(&self) -> &[KeyInfo] {
        &self.infos
    }

    /// The JWKS document and its strong ETag.
    pub fn jwks(&self) -> (&str, &str) {
        (&self.jwks_body, &self.jwks_etag)
    }

    /// The algorithms that have an active key, RS256 first.
    pub fn algorithms(&self) -> Vec<SigningAlg> {
        SigningAlg::ALL
            .into_iter()
            .filter(|a| self.signers.contains_key(a))
            .collect()
    }

    /// Whether a key of `alg` signs in this set.
    pub fn signs(&self, alg: SigningAlg) -> bool {
        self.signers.contains_key(&alg)
    }

    /// Sign `claims` as an RS256 JWT with the active key; `typ` goes in the header
    /// (`at+jwt` for access tokens, `JWT` otherwise).
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, SignError> {
        self.sign_with(SigningAlg::Rs256, typ, claims)
    }

    /// Sign `claims` with the active key of `alg`. With none (no key of that algorithm
    /// was created, or this instance has not reloaded since), it fails: a client set to
    /// `alg` would refuse a token signed otherwise.
    pub fn sign_with<T: Serialize>(
        &self,
        alg: SigningAlg,
        typ: &str,
        claims: &T,
    ) -> Result<String, SignError> {
        let signer = self.signers.get(&alg).ok_or_else(|| {
            SignError(format!(
                "no active {alg} signing key; create one with `{}`",
                alg.rotate_command()
            ))
        })?;
        let mut header = Header::new(alg.jose());
        header.kid = Some(signer.kid.clone());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, &signer.key).map_err(|e| SignError(e.to_string()))
    }

    /// The public key of a published `kid`, with the one algorithm it verifies.
    pub fn verifying_key(&self, kid: &str) -> Option<&VerifyingKey> {
        self.verifiers.get(kid)
    }

    /// Verify a JWT against the published key its header names, with that key's
    /// algorithm: a header naming another (`none`, HS256 keyed with the public key, ES256
    /// over an RSA key) is refused.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        validation: &Validation,
    ) -> Result<TokenData<T>, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.verifiers.get(kid))
            .ok_or(VerifyError::UnknownKey)?;
        if header.alg != key.alg().jose() {
            return Err(VerifyError::WrongAlgorithm);
        }
        let mut validation = validation.clone();
        validation.algorithms = vec![key.alg().jose()];
        jsonwebtoken::decode::<T>(token, key.decoding_key(), &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => VerifyError::Expired,
                ErrorKind::InvalidToken
                | ErrorKind::Base64(_)
                | ErrorKind::Json(_)
                | ErrorKind::Utf8(_) => VerifyError::Malformed,
                other => VerifyError::Invalid(format!("{other:?}")),
            }
        })
    }
}

/// A strong ETag over a response body.
pub fn etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// The live key set of a process and where it comes from.
#[derive(Debug)]
pub struct Keys {
    source: KeySource,
    /// Which key signs depends on the time (activation delay): read from the app's clock.
    clock: SharedClock,
    current: ArcSwap<KeySet>,
    /// The fingerprint of a key state that failed to load (reported once, not on every
    /// poll) and why: until the keys are mended the server is not ready, though it keeps
    /// signing with the last good set.
    failed: std::sync::Mutex<Option<(String, String)>>,
}

impl Keys {
    /// Load the published keys of `dir`; fails if there are none or one is unreadable.
    pub fn load(dir: KeyDir) -> Result<Self, KeyError> {
        Self::load_with_clock(dir, Arc::new(SystemClock))
    }

    /// Like `load`, with the clock that decides when a published key starts signing.
    pub fn load_with_clock(dir: KeyDir, clock: SharedClock) -> Result<Self, KeyError> {
        Self::from_source(KeySource::Folder(dir), clock)
    }

    /// Load the published keys of `source`; fails if there are none or one does not load.
    pub fn from_source(source: KeySource, clock: SharedClock) -> Result<Self, KeyError> {
        provider::install();
        let set = Self::read(&source, clock.now())?;
        Ok(Self {
            clock,
            source,
            current: ArcSwap::from_pointee(set),
            failed: std::sync::Mutex::new(None),
        })
    }

    fn read(source: &KeySource, now: DateTime<Utc>) -> Result<KeySet, KeyError> {
        // Fingerprint first: if the keys change while we read, the next poll sees a
        // different fingerprint and reads again.
        let fingerprint = source.fingerprint()?;
        KeySet::build(source.load_published(now)?, fingerprint)
    }

    /// The current key set; cheap, lock-free.
    pub fn current(&self) -> Arc<KeySet> {
        self.current.load_full()
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// Re-read the keys if they changed, or if a published key's activation time has come.
    /// Returns whether the set was replaced. On error the old set stays in place: a bad
    /// file must not stop a running server signing.
    pub fn reload_if_changed(&self) -> Result<bool, KeyError> {
        let now = self.clock.now();
        let fingerprint = self.source.fingerprint()?;
        let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.current.load();
        if fingerprint == current.fingerprint
            && self.source.active_kids(now)? == current.active_kids
        {
            // Back to the state in use (a broken file was removed): nothing is wrong now.
            *failed = None;
            return Ok(false);
        }
        if failed.as_ref().is_some_and(|(f, _)| *f == fingerprint) {
            return Ok(false);
        }
        match Self::read(&self.source, now) {
            Ok(set) => {
                self.current.store(Arc::new(set));
                *failed = None;
                Ok(true)
            }
            Err(e) => {
                *failed = Some((fingerprint, e.to_string()));
                Err(e)
            }
        }
    }

    /// For each algorithm with published keys, publish a new key if its newest is `every`
    /// old; returns the new kids. Instances sharing the keys may each do so in the same
    /// poll: the extra key is harmless (both are published, the newest signs).
    pub fn rotate_if_due(&self, every: std::time::Duration) -> Result<Vec<String>, KeyError> {
        let now = self.clock.now();
        let every = chrono::Duration::from_std(every).unwrap_or(chrono::Duration::MAX);
        let keys = self.source.list(now)?;
        let mut rotated = Vec::new();
        for alg in SigningAlg::ALL {
            let newest = keys
                .iter()
                .filter(|k| k.state != super::KeyState::Retired && k.alg == alg)
                .map(|k| k.created)
                .max();
            let due = match newest {
                Some(created) => created + every <= now,
                // RS256 always has a key; other algorithms only once one was asked for.
                None => alg == SigningAlg::Rs256,
            };
            if due {
                rotated.push(self.source.generate(alg, now)?.kid);
            }
        }
        Ok(rotated)
    }

    /// Why the keys' present state cannot be loaded, if it cannot: a restart would
    /// fail, so readiness reports it.
    pub fn problem(&self) -> Option<String> {
        let failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        failed.as_ref().map(|(_, why)| why.clone())
    }
}
