//! Signing keys in the database, shared by every instance: the private part sealed under
//! the key-encryption key (`crate::kek`), the state in the row. The rules at start, for the
//! server and the CLI alike: a database holding keys needs the KEK they were sealed with
//! (else a one-line error, never a new key); a KEK file is generated only for a database
//! with no keys yet; PEM files of the keys folder not in the database yet are imported once.
use std::collections::HashSet;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use rsa::pkcs8::EncodePrivateKey;
use sha2::{Digest, Sha256};

use super::alg::SigningAlg;
use super::keydir::{self, KeyDir, KeyError, KeyInfo, KeyState, may_retire, order};
use super::material::{self, KeyMaterial};
use crate::kek::{Kek, Sealed};
use crate::store::signing_keys::{self as rows, PUBLISHED, RETIRED, SigningKeyRow};
use crate::store::{Store, StoreError};

/// Where the KEK in use came from, for error messages.
#[derive(Clone, Debug)]
enum KekOrigin {
    Setting,
    File(std::path::PathBuf),
    Generated(std::path::PathBuf),
}

impl std::fmt::Display for KekOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KekOrigin::Setting => f.write_str("TESSERA_KEY_ENCRYPTION_KEY"),
            KekOrigin::File(p) | KekOrigin::Generated(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The signing keys in a database, with the KEK that opens them.
#[derive(Clone)]
pub struct KeyStore {
    store: Store,
    kek: Kek,
    activation_delay: chrono::Duration,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("kek", &self.kek)
            .finish_non_exhaustive()
    }
}

/// What opening the key store did on the way.
#[derive(Debug, Default)]
pub struct Opened {
    /// PEM files imported from the keys folder, by kid.
    pub imported: Vec<String>,
    /// Where a KEK was generated (first start on a database with no keys).
    pub generated_kek: Option<std::path::PathBuf>,
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn info(row: &SigningKeyRow) -> KeyInfo {
    KeyInfo {
        kid: row.kid.clone(),
        // An algorithm this build does not know is ranked as RS256 and refused when the
        // key is opened (`unseal`), as a damaged row would be.
        alg: SigningAlg::parse(&row.algorithm).unwrap_or_default(),
        created: from_millis(row.created_at_ms),
        activates: from_millis(row.activates_at_ms),
        state: if row.state == RETIRED {
            KeyState::Retired
        } else {
            KeyState::Published
        },
        path: None,
    }
}

fn list_rows(rows: &[SigningKeyRow], now: DateTime<Utc>) -> Result<Vec<KeyInfo>, KeyError> {
    let (retired, published): (Vec<KeyInfo>, Vec<KeyInfo>) = rows
        .iter()
        .map(info)
        .partition(|k| k.state == KeyState::Retired);
    Ok(order(published, retired, now))
}

/// The keys of a database at `now` with their states, read without the key-encryption key
/// (nothing is opened): for checks that only need to know which algorithms sign.
pub fn stored_keys(store: &Store, now: DateTime<Utc>) -> Result<Vec<KeyInfo>, KeyError> {
    let mut conn = store.conn()?;
    list_rows(&rows::all(&mut conn)?, now)
}

impl KeyStore {
    /// The key-encryption key, which also seals other secrets kept in the database (users'
    /// TOTP secrets).
    pub fn kek(&self) -> &Kek {
        &self.kek
    }

    /// Open the keys of a migrated database: find the KEK (`kek` from the settings, else
    /// the file `kek` in `keys_dir`, else a new file, only when the database holds no key),
    /// check it is the one the stored keys were sealed with, and import the folder's PEM
    /// files not in the database yet.
    pub fn open(
        store: Store,
        kek: Option<Kek>,
        keys_dir: &Path,
        activation_delay: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<(Self, Opened), KeyError> {
        let folder = KeyDir::new(keys_dir).activating_after(activation_delay);
        let kek_error = |e: crate::kek::KekError| KeyError::Kek(e.to_string());
        let stored = {
            let mut conn = store.conn()?;
            rows::all(&mut conn)?
        };
        let mut opened = Opened::default();
        let (kek, origin) = match kek {
            Some(kek) => (kek, KekOrigin::Setting),
            None => match Kek::read_file(keys_dir).map_err(kek_error)? {
                Some(kek) => (kek, KekOrigin::File(keys_dir.join(crate::kek::KEK_FILE))),
                None if stored.is_empty() => {
                    folder.ensure_dirs()?;
                    let kek = Kek::create_file(keys_dir).map_err(kek_error)?;
                    let path = keys_dir.join(crate::kek::KEK_FILE);
                    opened.generated_kek = Some(path.clone());
                    (kek, KekOrigin::Generated(path))
                }
                None => {
                    return Err(KeyError::Kek(format!(
                        "the database holds {} signing key(s) but no key-encryption key was \
                         given: set TESSERA_KEY_ENCRYPTION_KEY or restore {} from your backup",
                        stored.len(),
                        keys_dir.join(crate::kek::KEK_FILE).display()
                    )));
                }
            },
        };
        // Every row sealed under another KEK: this is the wrong KEK, not a damaged row.
        if let Some(first) = stored.first()
            && stored.iter().all(|r| r.kek_id != kek.id())
        {
            return Err(KeyError::Kek(format!(
                "the key-encryption key from {origin} (id {}) is not the one the database's \
                 signing keys are sealed with (id {}); give the right TESSERA_KEY_ENCRYPTION_KEY",
                kek.id(),
                first.kek_id
            )));
        }
        let this = Self {
            store,
            kek,
            activation_delay: chrono::Duration::from_std(activation_delay)
                .unwrap_or_else(|_| chrono::Duration::zero()),
        };
        let known: HashSet<String> = stored.into_iter().map(|r| r.kid).collect();
        opened.imported = this.import(&folder, &known, now)?;
        Ok((this, opened))
    }

    fn rows(&self) -> Result<Vec<SigningKeyRow>, KeyError> {
        let mut conn = self.store.conn()?;
        Ok(rows::all(&mut conn)?)
    }

    /// Import the folder's keys (published and retired) whose kid the database lacks. The
    /// files stay where they are; Tessera no longer reads them once imported.
    fn import(
        &self,
        folder: &KeyDir,
        known: &HashSet<String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, KeyError> {
        let mut imported = Vec::new();
        for file in folder.list(now)? {
            if known.contains(&file.kid) {
                continue;
            }
            let key = keydir::read_private(&file)?;
            let retired = file.state == KeyState::Retired;
            let path = file.path.clone().unwrap_or_default();
            let info = KeyInfo {
                state: KeyState::Published,
                ..file
            };
            let kid = info.kid.clone();
            let der = key
                .to_pkcs8_der()
                .map_err(|e| KeyError::Generate(e.to_string()))?;
            material::open(info.clone(), der.as_bytes())
                .map_err(|reason| KeyError::BadFile { path, reason })?;
            let mut row = self.seal(&info, der.as_bytes())?;
            if retired {
                row.state = RETIRED.to_owned();
                row.retired_at_ms = Some(millis(now));
            }
            let mut conn = self.store.conn()?;
            match rows::insert(&mut conn, &row) {
                Ok(()) => imported.push(kid),
                // Another instance starting beside us imported it first.
                Err(StoreError::Conflict) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(imported)
    }

    /// The row of a key: its PKCS#8 DER sealed, its public key in clear.
    fn seal(&self, info: &KeyInfo, pkcs8: &[u8]) -> Result<SigningKeyRow, KeyError> {
        let public_key = material::public_pem(info.alg, pkcs8).map_err(KeyError::Generate)?;
        let sealed = self
            .kek
            .seal(&info.kid, pkcs8)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        Ok(SigningKeyRow {
            kid: info.kid.clone(),
            algorithm: info.alg.as_str().to_owned(),
            public_key,
            private_key: sealed.ciphertext,
            nonce: sealed.nonce,
            kek_id: self.kek.id(),
            state: PUBLISHED.to_owned(),
            created_at_ms: millis(info.created),
            activates_at_ms: millis(info.activates),
            retired_at_ms: None,
        })
    }

    /// Open a stored key: right KEK, untouched ciphertext, and a private key of the row's
    /// algorithm that is the row's public key and kid.
    fn unseal(&self, row: &SigningKeyRow, info: KeyInfo) -> Result<KeyMaterial, String> {
        if SigningAlg::parse(&row.algorithm).is_err() {
            return Err(format!("algorithm '{}' is not supported", row.algorithm));
        }
        if row.kek_id != self.kek.id() {
            return Err(format!(
                "sealed under another key-encryption key (id {})",
                row.kek_id
            ));
        }
        let sealed = Sealed {
            nonce: row.nonce.clone(),
            ciphertext: row.private_key.clone(),
        };
        let der = self.kek.open(&row.kid, &sealed).ok_or_else(|| {
            "the private key does not open with the key-encryption key \
             (changed in the database, or moved from another row)"
                .to_owned()
        })?;
        let public = material::public_pem(info.alg, &der)
            .map_err(|why| format!("the sealed private key: {why}"))?;
        if public.trim() != row.public_key.trim() {
            return Err("the stored public key is not the private key's".to_owned());
        }
        material::open(info, &der)
    }

    /// Every key at `now`, newest first, with its state.
    pub fn list(&self, now: DateTime<Utc>) -> Result<Vec<KeyInfo>, KeyError> {
        list_rows(&self.rows()?, now)
    }

    /// A digest of every row: when it changes, the key set is rebuilt.
    pub fn fingerprint(&self) -> Result<String, KeyError> {
        let mut rows = self.rows()?;
        rows.sort_by(|a, b| a.kid.cmp(&b.kid));
        let mut digest = Sha256::new();
        for r in &rows {
            let times = format!(
                "{} {} {:?}",
                r.created_at_ms, r.activates_at_ms, r.retired_at_ms
            );
            for part in [
                r.kid.as_str(),
                r.algorithm.as_str(),
                r.public_key.as_str(),
                r.private_key.as_str(),
                r.nonce.as_str(),
                r.kek_id.as_str(),
                r.state.as_str(),
                times.as_str(),
            ] {
                digest.update(part.as_bytes());
                digest.update([0]);
            }
        }
        Ok(STANDARD.encode(digest.finalize()))
    }

    /// Open every published key, the active one first. Fails on the first that does not
    /// open, so a damaged row is noticed instead of silently signing with another key.
    pub(crate) fn load_published(&self, now: DateTime<Utc>) -> Result<Vec<KeyMaterial>, KeyError> {
        let rows = self.rows()?;
        let (retired, published): (Vec<KeyInfo>, Vec<KeyInfo>) = rows
            .iter()
            .map(info)
            .partition(|k| k.state == KeyState::Retired);
        let mut out = Vec::new();
        for key in order(published, retired, now) {
            if key.state == KeyState::Retired {
                continue;
            }
            let Some(row) = rows.iter().find(|r| r.kid == key.kid) else {
                continue;
            };
            let kid = key.kid.clone();
            out.push(
                self.unseal(row, key)
                    .map_err(|reason| KeyError::BadKey { kid, reason })?,
            );
        }
        out.sort_by_key(|m| m.info.state != KeyState::Active);
        if !out.iter().any(|m| m.info.alg == SigningAlg::Rs256) {
            return Err(KeyError::NoKeysInDatabase);
        }
        Ok(out)
    }

    /// Every published key that cannot be used, with why.
    pub fn broken(&self, now: DateTime<Utc>) -> Result<Vec<(KeyInfo, String)>, KeyError> {
        let rows = self.rows()?;
        Ok(self
            .list(now)?
            .into_iter()
            .filter(|k| k.state != KeyState::Retired)
            .filter_map(|k| {
                let row = rows.iter().find(|r| r.kid == k.kid)?;
                self.unseal(row, k.clone()).err().map(|why| (k, why))
            })
            .collect())
    }

    /// A new key of `alg`: published now, signing after the activation delay.
    pub fn generate(&self, alg: SigningAlg, now: DateTime<Utc>) -> Result<KeyInfo, KeyError> {
        let (kid, der) = material::generate(alg)?;
        let info = KeyInfo {
            kid,
            alg,
            created: now,
            activates: now + self.activation_delay,
            state: if self.activation_delay.is_zero() {
                KeyState::Active
            } else {
                KeyState::Published
            },
            path: None,
        };
        let row = self.seal(&info, &der)?;
        let mut conn = self.store.conn()?;
        rows::insert(&mut conn, &row)?;
        Ok(info)
    }

    /// Stop publishing a key, under the same rules as a keys folder (see
    /// `keydir::may_retire`).
    pub fn retire(
        &self,
        kid: &str,
        now: DateTime<Utc>,
        guard: Option<chrono::Duration>,
    ) -> Result<KeyInfo, KeyError> {
        let keys = self.list(now)?;
        let key = may_retire(&keys, kid, now, guard)?;
        let mut conn = self.store.conn()?;
        if !rows::retire(&mut conn, kid, millis(now))? {
            return Err(KeyError::AlreadyRetired(kid.to_owned()));
        }
        Ok(KeyInfo {
            state: KeyState::Retired,
            ..key.clone()
        })
    }
}
