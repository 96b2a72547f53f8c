//! The keys folder: one PKCS#8 PEM file per published key, named `<created>_<kid>.pem`,
//! retired keys moved to `retired/`. A key is published from its creation and signs only
//! once it is `activation_delay` old, so resource servers that cache the JWKS have it
//! before the first token it signs: the newest key that old is the active one.
//!
//! File names carry the state, so the CLI and any number of servers sharing the folder
//! agree on it without a lock; new files appear by atomic rename, never half-written.
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, Jwk, KeyAlgorithm, PublicKeyUse, RSAKeyParameters,
    RSAKeyType, ThumbprintHash,
};
use rsa::RsaPrivateKey;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const TIME_FORMAT: &str = "%Y%m%dT%H%M%S%.3fZ";
const RETIRED: &str = "retired";
const KEY_BITS: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("keys folder {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {path}: {reason}")]
    BadFile { path: PathBuf, reason: String },
    #[error("no key with kid '{0}'")]
    UnknownKid(String),
    #[error("key '{0}' is already retired")]
    AlreadyRetired(String),
    #[error("key '{0}' is the only published key; run `tessera keys rotate` first")]
    LastKey(String),
    #[error("key '{0}' signs new tokens; rotate first and retire it once its tokens expired")]
    Signing(String),
    #[error("tokens signed by key '{kid}' may be valid until {until}; retire it after that")]
    StillValid { kid: String, until: DateTime<Utc> },
    #[error("no published signing key in {0}; run `tessera keys rotate` to create one")]
    NoKeys(PathBuf),
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("signing key '{kid}': {reason}")]
    BadKey { kid: String, reason: String },
    #[error("no published signing key in the database; run `tessera keys rotate` to create one")]
    NoKeysInDatabase,
    /// A missing, wrong or unreadable key-encryption key: the message says which and what
    /// to do.
    #[error("{0}")]
    Kek(String),
    #[error("database: {0}")]
    Store(#[from] crate::store::StoreError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where a key stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not signing yet: waiting out the activation delay.
    Published,
    /// Signs new tokens and is published.
    Active,
    /// Published so tokens it signed still verify; no longer signs.
    Retiring,
    /// Neither signs nor is published.
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Published => "published",
            KeyState::Active => "active",
            KeyState::Retiring => "retiring",
            KeyState::Retired => "retired",
        }
    }
}

/// A key as the folder lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    pub kid: String,
    pub created: DateTime<Utc>,
    /// When it signs (or signed) its first token: `created` plus the activation delay.
    pub activates: DateTime<Utc>,
    pub state: KeyState,
    /// The file it is in, for keys in a folder; `None` for keys in the database.
    pub path: Option<PathBuf>,
}

/// A published key, parsed: what the key set is built from.
pub(crate) struct KeyMaterial {
    pub info: KeyInfo,
    pub pkcs1_der: Vec<u8>,
    pub n: Vec<u8>,
    pub e: Vec<u8>,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("kid", &self.info.kid)
            .finish_non_exhaustive()
    }
}

/// The public JWK of a key, and its RFC 7638 thumbprint, which is its `kid`.
pub(crate) fn public_jwk(n: &[u8], e: &[u8], kid: Option<String>) -> Jwk {
    Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(KeyAlgorithm::RS256),
            key_id: kid,
            ..Default::default()
        },
        algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
            key_type: RSAKeyType::RSA,
            n: URL_SAFE_NO_PAD.encode(n),
            e: URL_SAFE_NO_PAD.encode(e),
        }),
    }
}

fn thumbprint(n: &[u8], e: &[u8]) -> Result<String, String> {
    // The thumbprint is jsonwebtoken's first use of a crypto provider in a process.
    super::provider::install();
    public_jwk(n, e, None)
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|e| e.to_string())
}

/// The keys folder.
#[derive(Clone, Debug)]
pub struct KeyDir {
    root: PathBuf,
    activation_delay: chrono::Duration,
}

impl KeyDir {
    /// A folder whose new keys sign at once (no activation delay).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            activation_delay: chrono::Duration::zero(),
        }
    }

    /// New keys sign only `delay` after they are published.
    pub fn activating_after(mut self, delay: std::time::Duration) -> Self {
        self.activation_delay =
            chrono::Duration::from_std(delay).unwrap_or_else(|_| chrono::Duration::zero());
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn retired_dir(&self) -> PathBuf {
        self.root.join(RETIRED)
    }

    fn scan(&self, dir: &Path, state: KeyState) -> Result<Vec<KeyInfo>, KeyError> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(dir)(e)),
        };
        let mut keys = Vec::new();
        for entry in entries {
            let path = entry.map_err(io(dir))?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            // README.md, editor backups and our own temp files are not keys.
            let Some(stem) = name.strip_suffix(".pem") else {
                continue;
            };
            let Some((created, kid)) = stem.split_once('_') else {
                return Err(KeyError::BadFile {
                    path,
                    reason: "name is not <created>_<kid>.pem".into(),
                });
            };
            let created = NaiveDateTime::parse_from_str(created, TIME_FORMAT)
                .map_err(|_| KeyError::BadFile {
                    path: path.clone(),
                    reason: format!("'{created}' is not a creation time like 20261123T101500.000Z"),
                })?
                .and_utc();
            keys.push(KeyInfo {
                kid: kid.to_owned(),
                created,
                activates: created + self.activation_delay,
                state,
                path: Some(path),
            });
        }
        Ok(keys)
    }

    /// Every key at `now`, newest first. The newest published key past its activation
    /// delay is active; newer ones are published (waiting), older ones retiring. When none
    /// is old enough (a first key), the oldest one signs: something must.
    pub fn list(&self, now: DateTime<Utc>) -> Result<Vec<KeyInfo>, KeyError> {
        let published = self.scan(&self.root, KeyState::Published)?;
        let retired = self.scan(&self.retired_dir(), KeyState::Retired)?;
        Ok(order(published, retired, now))
    }

    /// A cheap summary of the folder (names, sizes, modification times): when it changes,
    /// the key set is rebuilt.
    pub fn fingerprint(&self) -> Result<String, KeyError> {
        let mut parts = Vec::new();
        for dir in [self.root.clone(), self.retired_dir()] {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&dir)(e)),
            };
            for entry in entries {
                let entry = entry.map_err(io(&dir))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if !name.ends_with(".pem") {
                    continue;
                }
                let meta = entry.metadata().map_err(io(&dir))?;
                parts.push(format!(
                    "{}/{name}:{}:{}.{}",
                    dir.display(),
                    meta.len(),
                    meta.mtime(),
                    meta.mtime_nsec()
                ));
            }
        }
        parts.sort();
        Ok(parts.join("\n"))
    }

    /// The kid that signs at `now`.
    pub fn active_kid(&self, now: DateTime<Utc>) -> Result<Option<String>, KeyError> {
        Ok(self
            .list(now)?
            .into_iter()
            .find(|k| k.state == KeyState::Active)
            .map(|k| k.kid))
    }

    /// Every published key that cannot be used, with why.
    pub fn broken(&self, now: DateTime<Utc>) -> Result<Vec<(KeyInfo, String)>, KeyError> {
        Ok(self
            .list(now)?
            .into_iter()
            .filter(|k| k.state != KeyState::Retired)
            .filter_map(|k| load_key(k.clone()).err().map(|e| (k, e.to_string())))
            .collect())
    }

    /// Parse every published key, the active one first. Fails on the first unreadable or
    /// mislabelled file, so a broken folder is noticed instead of silently signing with a
    /// different key.
    pub(crate) fn load_published(&self, now: DateTime<Utc>) -> Result<Vec<KeyMaterial>, KeyError> {
        let mut out = Vec::new();
        for info in self.list(now)? {
            if info.state == KeyState::Retired {
                continue;
            }
            out.push(load_key(info)?);
        }
        out.sort_by_key(|m| m.info.state != KeyState::Active);
        if out.is_empty() {
            return Err(KeyError::NoKeys(self.root.clone()));
        }
        Ok(out)
    }

    pub(crate) fn ensure_dirs(&self) -> Result<(), KeyError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(io(&self.root))?;
        // A folder that already existed (the one a git checkout brings, 0755) keeps its
        // mode through `create`: private keys must not be listable by other users.
        let mode = fs::metadata(&self.root)
            .map_err(io(&self.root))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            fs::set_permissions(&self.root, fs::Permissions::from_mode(0o700))
                .map_err(io(&self.root))?;
        }
        Ok(())
    }

    /// Generate a new 2048-bit key: published now, signing after the activation delay.
    pub fn generate(&self, now: DateTime<Utc>) -> Result<KeyInfo, KeyError> {
        self.ensure_dirs()?;
        let (kid, key) = new_rsa_key()?;
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        let name = format!("{}_{kid}.pem", now.format(TIME_FORMAT));
        let path = self.root.join(name);
        let tmp = self
            .root
            .join(format!(".tmp-{}", crate::secrets::random_token(8)));
        let write = || -> std::io::Result<()> {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(pem.as_bytes())?;
            file.sync_all()?;
            fs::rename(&tmp, &path)
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(io(&path)(e));
        }
        let activates = now + self.activation_delay;
        Ok(KeyInfo {
            kid,
            created: now,
            activates,
            state: if self.activation_delay.is_zero() {
                KeyState::Active
            } else {
                KeyState::Published
            },
            path: Some(path),
        })
    }

    /// Generate a key only if none is published (first start).
    pub fn ensure_key(&self, now: DateTime<Utc>) -> Result<Option<KeyInfo>, KeyError> {
        let any_published = self.list(now)?.iter().any(|k| k.state != KeyState::Retired);
        if any_published {
            Ok(None)
        } else {
            self.generate(now).map(Some)
        }
    }

    /// Stop publishing a key. The last published key cannot be retired: nothing would sign.
    /// With `guard` (the longest lifetime of any token a key signs), a key is retired only
    /// once every token it signed has expired; `None` retires at once (a leaked key).
    pub fn retire(
        &self,
        kid: &str,
        now: DateTime<Utc>,
        guard: Option<chrono::Duration>,
    ) -> Result<KeyInfo, KeyError> {
        let keys = self.list(now)?;
        let key = may_retire(&keys, kid, now, guard)?;
        let Some(path) = &key.path else {
            return Err(KeyError::UnknownKid(kid.to_owned()));
        };
        let retired_dir = self.retired_dir();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&retired_dir)
            .map_err(io(&retired_dir))?;
        let Some(name) = path.file_name() else {
            return Err(KeyError::UnknownKid(kid.to_owned()));
        };
        let target = retired_dir.join(name);
        fs::rename(path, &target).map_err(io(path))?;
        Ok(KeyInfo {
            state: KeyState::Retired,
            path: Some(target),
            ..key.clone()
        })
    }
}

/// Sort keys newest first and give the published ones their state at `now`: the newest
/// past its activation delay is active, newer ones wait, older ones are retiring. When none
/// is old enough (a first key), the oldest one signs: something must.
pub(crate) fn order(
    mut published: Vec<KeyInfo>,
    mut retired: Vec<KeyInfo>,
    now: DateTime<Utc>,
) -> Vec<KeyInfo> {
    published.sort_by(|a, b| (b.created, &b.kid).cmp(&(a.created, &a.kid)));
    let active = published
        .iter()
        .position(|k| k.activates <= now)
        .unwrap_or(published.len().saturating_sub(1));
    for (i, key) in published.iter_mut().enumerate() {
        key.state = match i.cmp(&active) {
            std::cmp::Ordering::Less => KeyState::Published,
            std::cmp::Ordering::Equal => KeyState::Active,
            std::cmp::Ordering::Greater => KeyState::Retiring,
        };
    }
    retired.sort_by(|a, b| (b.created, &b.kid).cmp(&(a.created, &a.kid)));
    for key in &mut retired {
        key.state = KeyState::Retired;
    }
    published.extend(retired);
    published
}

/// Whether `kid` may be retired from `keys` (as `order` returned them) at `now`. The last
/// published key cannot be: nothing would sign. With `guard` (the longest lifetime of any
/// token a key signs), only once every token it signed has expired; `None` retires at once.
pub(crate) fn may_retire<'a>(
    keys: &'a [KeyInfo],
    kid: &str,
    now: DateTime<Utc>,
    guard: Option<chrono::Duration>,
) -> Result<&'a KeyInfo, KeyError> {
    let Some(key) = keys.iter().find(|k| k.kid == kid) else {
        return Err(KeyError::UnknownKid(kid.to_owned()));
    };
    if key.state == KeyState::Retired {
        return Err(KeyError::AlreadyRetired(kid.to_owned()));
    }
    let published = keys.iter().filter(|k| k.state != KeyState::Retired).count();
    if published <= 1 {
        return Err(KeyError::LastKey(kid.to_owned()));
    }
    if let Some(lifetime) = guard {
        match key.state {
            KeyState::Active => return Err(KeyError::Signing(kid.to_owned())),
            KeyState::Retiring => {
                // It stopped signing when the first newer key became active.
                let stopped = keys
                    .iter()
                    .filter(|k| k.created > key.created && k.activates <= now)
                    .map(|k| k.activates)
                    .min()
                    .unwrap_or(now);
                let until = stopped + lifetime;
                if until > now {
                    return Err(KeyError::StillValid {
                        kid: kid.to_owned(),
                        until,
                    });
                }
            }
            // Never signed anything.
            KeyState::Published | KeyState::Retired => {}
        }
    }
    Ok(key)
}

/// A new 2048-bit RSA key and its kid.
pub(crate) fn new_rsa_key() -> Result<(String, RsaPrivateKey), KeyError> {
    let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, KEY_BITS)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let kid =
        thumbprint(&key.n().to_bytes_be(), &key.e().to_bytes_be()).map_err(KeyError::Generate)?;
    Ok((kid, key))
}

/// Check a parsed key against what it is listed as (size, kid) and keep what signing needs.
pub(crate) fn material(info: KeyInfo, key: &RsaPrivateKey) -> Result<KeyMaterial, String> {
    if key.size() * 8 < KEY_BITS {
        return Err(format!(
            "RSA key has {} bits; at least {KEY_BITS} are required",
            key.size() * 8
        ));
    }
    let n = key.n().to_bytes_be();
    let e = key.e().to_bytes_be();
    let kid = thumbprint(&n, &e)?;
    if kid != info.kid {
        return Err(format!(
            "listed as kid '{}' but the key's thumbprint is '{kid}'",
            info.kid
        ));
    }
    let pkcs1_der = key
        .to_pkcs1_der()
        .map_err(|e| e.to_string())?
        .as_bytes()
        .to_vec();
    Ok(KeyMaterial {
        info,
        pkcs1_der,
        n,
        e,
    })
}

/// The private key in a key file (for the import into the database, and for loading).
pub(crate) fn read_private(info: &KeyInfo) -> Result<RsaPrivateKey, KeyError> {
    let Some(path) = &info.path else {
        return Err(KeyError::UnknownKid(info.kid.clone()));
    };
    let meta = fs::metadata(path).map_err(io(path))?;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "private key file is readable by others; chmod 600 it");
    }
    let pem = fs::read_to_string(path).map_err(io(path))?;
    RsaPrivateKey::from_pkcs8_pem(&pem)
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(&pem))
        .map_err(|_| KeyError::BadFile {
            path: path.clone(),
            reason: "not an unencrypted RSA private key in PEM (PKCS#8 or PKCS#1)".into(),
        })
}

fn load_key(info: KeyInfo) -> Result<KeyMaterial, KeyError> {
    let key = read_private(&info)?;
    let path = info.path.clone().unwrap_or_default();
    material(info, &key).map_err(|reason| KeyError::BadFile { path, reason })
}
