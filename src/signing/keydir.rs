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
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, LineEnding};

use super::alg::SigningAlg;
pub use super::key::{KeyError, KeyInfo, KeyState};
use super::material::{self, KeyMaterial};

const TIME_FORMAT: &str = "%Y%m%dT%H%M%S%.3fZ";
const RETIRED: &str = "retired";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
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
                alg: SigningAlg::Rs256,
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
        let (kid, der) = material::generate(SigningAlg::Rs256)?;
        let pem = rsa::pkcs8::der::pem::encode_string("PRIVATE KEY", LineEnding::LF, &der)
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
            alg: SigningAlg::Rs256,
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

/// Sort keys newest first and give the published ones their state at `now`, each
/// algorithm on its own: the newest key of an algorithm past its activation delay is that
/// algorithm's active key, newer ones wait, older ones are retiring. When no RS256 key is
/// old enough (a first start), the oldest one signs: something must. Another algorithm's
/// first key waits out the delay like any other: nothing needs it before (no client may
/// be set to an algorithm before one of its keys signs), and resource servers get it first.
pub(crate) fn order(
    mut published: Vec<KeyInfo>,
    mut retired: Vec<KeyInfo>,
    now: DateTime<Utc>,
) -> Vec<KeyInfo> {
    published.sort_by(|a, b| (b.created, &b.kid).cmp(&(a.created, &a.kid)));
    for alg in SigningAlg::ALL {
        let of_alg: Vec<usize> = (0..published.len())
            .filter(|&i| published[i].alg == alg)
            .collect();
        let active = of_alg
            .iter()
            .position(|&i| published[i].activates <= now)
            .or_else(|| (alg == SigningAlg::Rs256).then(|| of_alg.len().saturating_sub(1)))
            .unwrap_or(usize::MAX);
        for (rank, &i) in of_alg.iter().enumerate() {
            published[i].state = match rank.cmp(&active) {
                std::cmp::Ordering::Less => KeyState::Published,
                std::cmp::Ordering::Equal => KeyState::Active,
                std::cmp::Ordering::Greater => KeyState::Retiring,
            };
        }
    }
    retired.sort_by(|a, b| (b.created, &b.kid).cmp(&(a.created, &a.kid)));
    for key in &mut retired {
        key.state = KeyState::Retired;
    }
    published.extend(retired);
    published
}

/// Whether `kid` may be retired from `keys` (as `order` returned them) at `now`. The last
/// published key of its algorithm cannot be: nothing would sign with it (and clients set to
/// it would get no tokens). With `guard` (the longest lifetime of any
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
    let published = keys
        .iter()
        .filter(|k| k.state != KeyState::Retired && k.alg == key.alg)
        .count();
    if published <= 1 {
        return Err(KeyError::LastKey {
            kid: kid.to_owned(),
            alg: key.alg,
        });
    }
    if let Some(lifetime) = guard {
        match key.state {
            KeyState::Active => return Err(KeyError::Signing(kid.to_owned())),
            KeyState::Retiring => {
                // It stopped signing when the first newer key became active.
                let stopped = keys
                    .iter()
                    .filter(|k| k.alg == key.alg && k.created > key.created && k.activates <= now)
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
    material::open_rsa(info, &key).map_err(|reason| KeyError::BadFile { path, reason })
}
