//! Where a process's signing keys live: the database (servers and the CLI) or a keys
//! folder (a resource server's tests, benchmarks). Both answer the same questions.
use chrono::{DateTime, Utc};

use super::alg::SigningAlg;
use super::keydir::{KeyDir, KeyError, KeyInfo};
use super::keystore::KeyStore;
use super::material::KeyMaterial;

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

    /// A new key of `alg`, published now, signing after the activation delay. A keys
    /// folder holds RS256 keys only.
    pub fn generate(&self, alg: SigningAlg, now: DateTime<Utc>) -> Result<KeyInfo, KeyError> {
        match self {
            KeySource::Folder(d) if alg == SigningAlg::Rs256 => d.generate(now),
            KeySource::Folder(_) => Err(KeyError::FolderAlg(alg)),
            KeySource::Database(s) => s.generate(alg, now),
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

    /// The kids that sign at `now` (one per algorithm that has keys), sorted.
    pub fn active_kids(&self, now: DateTime<Utc>) -> Result<Vec<String>, KeyError> {
        let mut kids: Vec<String> = self
            .list(now)?
            .into_iter()
            .filter(|k| k.state == super::KeyState::Active)
            .map(|k| k.kid)
            .collect();
        kids.sort();
        Ok(kids)
    }

    /// Generate an RS256 key only if none is published (first start): RS256 is the
    /// default for everything, so a server always has one. Other algorithms get keys only
    /// when asked (`tessera keys rotate --alg`).
    pub fn ensure_key(&self, now: DateTime<Utc>) -> Result<Option<KeyInfo>, KeyError> {
        let any_published = self
            .list(now)?
            .iter()
            .any(|k| k.state != super::KeyState::Retired && k.alg == SigningAlg::Rs256);
        if any_published {
            Ok(None)
        } else {
            self.generate(SigningAlg::Rs256, now).map(Some)
        }
    }
}
