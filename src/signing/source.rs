//! Where a process's signing keys live: the database (servers and the CLI) or a keys
//! folder (a resource server's tests, benchmarks). Both answer the same questions.
use chrono::{DateTime, Utc};

use super::keydir::{KeyDir, KeyError, KeyInfo, KeyMaterial};
use super::keystore::KeyStore;

#[derive(Clone, Debug)]
pub enum KeySource {
    Folder(KeyDir),
    Database(KeyStore),
}

impl KeySource {
    /// The key-encryption key of keys kept in a database; a keys folder has none.
    pub fn kek(&self) -> Option<&crate::kek::Kek> {
        match self {
            KeySource::Folder(_) => None,
            KeySource::Database(s) => Some(s.kek()),
        }
    }

    /// Every key at `now`, newest first, with its state.
    pub fn list(&self, now: DateTime<Utc>) -> Result<Vec<KeyInfo>, KeyError> {
        match self {
            KeySource::Folder(d) => d.list(now),
            KeySource::Database(s) => s.list(now),
        }
    }

    /// Changes whenever the keys do.
    pub fn fingerprint(&self) -> Result<String, KeyError> {
        match self {
            KeySource::Folder(d) => d.fingerprint(),
            KeySource::Database(s) => s.fingerprint(),
        }
    }

    pub(crate) fn load_published(&self, now: DateTime<Utc>) -> Result<Vec<KeyMaterial>, KeyError> {
        match self {
            KeySource::Folder(d) => d.load_published(now),
            KeySource::Database(s) => s.load_published(now),
        }
    }

    /// Every published key that cannot be used, with why.
    pub fn broken(&self, now: DateTime<Utc>) -> Result<Vec<(KeyInfo, String)>, KeyError> {
        match self {
            KeySource::Folder(d) => d.broken(now),
            KeySource::Database(s) => s.broken(now),
        }
    }

    /// A new key, published now, signing after the activation delay.
    pub fn generate(&self, now: DateTime<Utc>) -> Result<KeyInfo, KeyError> {
        match self {
            KeySource::Folder(d) => d.generate(now),
            KeySource::Database(s) => s.generate(now),
        }
    }

    /// Stop publishing a key (see `keydir::may_retire` for the rules).
    pub fn retire(
        &self,
        kid: &str,
        now: DateTime<Utc>,
        guard: Option<chrono::Duration>,
    ) -> Result<KeyInfo, KeyError> {
        match self {
            KeySource::Folder(d) => d.retire(kid, now, guard),
            KeySource::Database(s) => s.retire(kid, now, guard),
        }
    }

    /// The kid that signs at `now`.
    pub fn active_kid(&self, now: DateTime<Utc>) -> Result<Option<String>, KeyError> {
        Ok(self
            .list(now)?
            .into_iter()
            .find(|k| k.state == super::KeyState::Active)
            .map(|k| k.kid))
    }

    /// Generate a key only if none is published (first start).
    pub fn ensure_key(&self, now: DateTime<Utc>) -> Result<Option<KeyInfo>, KeyError> {
        let any_published = self
            .list(now)?
            .iter()
            .any(|k| k.state != super::KeyState::Retired);
        if any_published {
            Ok(None)
        } else {
            self.generate(now).map(Some)
        }
    }
}
