//! The key-encryption key (KEK): 32 bytes every instance is given, which seals the private
//! part of each signing key stored in the database (AES-256-GCM through aws-lc-rs, a random
//! nonce per key, the kid as associated data so a sealed key cannot be moved to another row).
//! It comes from `TESSERA_KEY_ENCRYPTION_KEY` or from the file `kek` in the keys folder.
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const KEK_LEN: usize = 32;
/// The KEK's file name in the keys folder.
pub const KEK_FILE: &str = "kek";

/// Why a KEK was not accepted or could not seal or open.
#[derive(Debug, thiserror::Error)]
pub enum KekError {
    #[error(
        "expected 32 bytes as 64 hex digits or as base64 (e.g. the output of `openssl rand -base64 32`)"
    )]
    Malformed,
    #[error("key-encryption key file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("sealing a private key failed")]
    Seal,
}

/// The key-encryption key. `Debug` shows only its id.
#[derive(Clone)]
pub struct Kek {
    bytes: Zeroizing<[u8; KEK_LEN]>,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kek({})", self.id())
    }
}

/// A private key as stored: base64 of the nonce and of the ciphertext with its tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub nonce: String,
    pub ciphertext: String,
}

impl Kek {
    /// Hex (64 digits) or base64 (standard or URL-safe, padded or not) of exactly 32 bytes.
    /// 64 hex digits would also be valid base64 (of 48 bytes): hex is tried first, so the
    /// two spellings never disagree.
    pub fn parse(text: &str) -> Result<Self, KekError> {
        let text = text.trim();
        let decoded = if text.len() == 2 * KEK_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).ok()
        } else {
            [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
                .iter()
                .find_map(|engine| engine.decode(text).ok())
        };
        let bytes = decoded
            .map(Zeroizing::new)
            .and_then(|d| <[u8; KEK_LEN]>::try_from(d.as_slice()).ok())
            .ok_or(KekError::Malformed)?;
        Ok(Self {
            bytes: Zeroizing::new(bytes),
        })
    }

    /// A fresh random KEK.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; KEK_LEN]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        Self { bytes }
    }

    /// A short public name for this KEK, stored beside each sealed key so a wrong KEK is
    /// told apart from a damaged row. A hash of 256 random bits reveals nothing of them.
    pub fn id(&self) -> String {
        let digest = Sha256::new()
            .chain_update(b"tessera key-encryption key id v1\0")
            .chain_update(self.bytes.as_slice())
            .finalize();
        hex::encode(&digest[..8])
    }

    fn key(&self) -> Result<LessSafeKey, KekError> {
        let unbound =
            UnboundKey::new(&AES_256_GCM, self.bytes.as_slice()).map_err(|_| KekError::Seal)?;
        Ok(LessSafeKey::new(unbound))
    }

    /// Seal `plain` (a private key) for the row of `kid`.
    pub fn seal(&self, kid: &str, plain: &[u8]) -> Result<Sealed, KekError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let mut buf = plain.to_vec();
        self.key()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut buf,
            )
            .map_err(|_| KekError::Seal)?;
        Ok(Sealed {
            nonce: STANDARD.encode(nonce),
            ciphertext: STANDARD.encode(buf),
        })
    }

    /// Open what `seal` sealed for `kid`; `None` for another KEK, another kid, or bytes
    /// changed in the database. The private key is wiped from memory when dropped.
    pub fn open(&self, kid: &str, sealed: &Sealed) -> Option<Zeroizing<Vec<u8>>> {
        let nonce = STANDARD.decode(&sealed.nonce).ok()?;
        let nonce = Nonce::try_assume_unique_for_key(&nonce).ok()?;
        let mut buf = Zeroizing::new(STANDARD.decode(&sealed.ciphertext).ok()?);
        let plain = self
            .key()
            .ok()?
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut buf)
            .ok()?;
        Some(Zeroizing::new(plain.to_vec()))
    }

    /// The KEK in `dir/kek`, if that file exists.
    pub fn read_file(dir: &Path) -> Result<Option<Self>, KekError> {
        let path = dir.join(KEK_FILE);
        let fail = |reason: String| KekError::File {
            path: path.clone(),
            reason,
        };
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(fail(e.to_string())),
        };
        let mode = fs::metadata(&path)
            .map_err(|e| fail(e.to_string()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "key-encryption key file is readable by others; chmod 600 it");
        }
        Self::parse(&text)
            .map(Some)
            .map_err(|e| fail(e.to_string()))
    }

    /// Write a new KEK to `dir/kek` (mode 0600), unless another process just did: then
    /// that one is returned, so two first starts never seal under different KEKs.
    pub fn create_file(dir: &Path) -> Result<Self, KekError> {
        let path = dir.join(KEK_FILE);
        let fail = |e: std::io::Error| KekError::File {
            path: path.clone(),
            reason: e.to_string(),
        };
        let kek = Self::generate();
        let tmp = dir.join(format!(".kek-{}", crate::secrets::random_token(8)));
        let write = || -> std::io::Result<()> {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            let text = Zeroizing::new(format!("{}\n", STANDARD.encode(kek.bytes.as_slice())));
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            // A link, unlike a rename, never replaces a KEK another process wrote.
            fs::hard_link(&tmp, &path)
        };
        let written = write();
        let _ = fs::remove_file(&tmp);
        match written {
            Ok(()) => Ok(kek),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::read_file(dir)?.ok_or_else(|| fail(e))
            }
            Err(e) => Err(fail(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_32_bytes_in_hex_or_base64_are_a_kek() {
        let kek = Kek::generate();
        let hex_form = hex::encode(kek.bytes.as_slice());
        let b64 = STANDARD.encode(kek.bytes.as_slice());
        assert_eq!(Kek::parse(&hex_form).unwrap().id(), kek.id());
        assert_eq!(Kek::parse(&hex_form.to_uppercase()).unwrap().id(), kek.id());
        assert_eq!(Kek::parse(&b64).unwrap().id(), kek.id());
        assert_eq!(Kek::parse(&format!(" {b64}\n")).unwrap().id(), kek.id());
        assert_eq!(
            Kek::parse(&URL_SAFE_NO_PAD.encode(kek.bytes.as_slice()))
                .unwrap()
                .id(),
            kek.id()
        );
        let (longer, short_b64, long_b64, not_hex) = (
            format!("{hex_form}00"),
            STANDARD.encode([1u8; 31]),
            STANDARD.encode([1u8; 33]),
            "zz".repeat(32),
        );
        for bad in [
            "",
            "short",
            &hex_form[..62],
            longer.as_str(),
            short_b64.as_str(),
            long_b64.as_str(),
            not_hex.as_str(),
        ] {
            assert!(
                matches!(Kek::parse(bad), Err(KekError::Malformed)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_sealed_key_opens_only_with_its_kek_and_its_kid() {
        let kek = Kek::generate();
        let sealed = kek.seal("kid-a", b"private").unwrap();
        assert_eq!(
            kek.open("kid-a", &sealed).as_deref().map(Vec::as_slice),
            Some(&b"private"[..])
        );
        assert_eq!(kek.open("kid-b", &sealed), None, "moved to another row");
        assert_eq!(Kek::generate().open("kid-a", &sealed), None, "another KEK");
        let again = kek.seal("kid-a", b"private").unwrap();
        assert_ne!(again.nonce, sealed.nonce, "a fresh nonce per seal");
        let mut raw = STANDARD.decode(&sealed.ciphertext).unwrap();
        raw[0] ^= 1;
        let tampered = Sealed {
            ciphertext: STANDARD.encode(raw),
            ..sealed
        };
        assert_eq!(kek.open("kid-a", &tampered), None);
    }

    #[test]
    fn a_kek_never_debug_prints_its_bytes() {
        let kek = Kek::parse(&"ab".repeat(32)).unwrap();
        let shown = format!("{kek:?}");
        assert!(!shown.contains("abab"), "{shown}");
    }

    #[test]
    fn the_kek_file_is_private_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Kek::read_file(dir.path()).unwrap().is_none());
        let first = Kek::create_file(dir.path()).unwrap();
        let mode = fs::metadata(dir.path().join(KEK_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = Kek::create_file(dir.path()).unwrap();
        assert_eq!(second.id(), first.id());
        assert_eq!(
            Kek::read_file(dir.path()).unwrap().unwrap().id(),
            first.id()
        );
    }

    #[test]
    fn first_starts_at_once_all_get_the_one_kek_written() {
        // Many rounds: the race is between one thread's link and another's, so a single
        // round could pass by luck of scheduling.
        for _ in 0..25 {
            let dir = tempfile::tempdir().unwrap();
            let barrier = std::sync::Barrier::new(8);
            let ids: Vec<String> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            Kek::create_file(dir.path()).unwrap().id()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let on_disk = Kek::read_file(dir.path()).unwrap().unwrap().id();
            assert!(ids.iter().all(|id| *id == on_disk), "{ids:?} vs {on_disk}");
            let left: Vec<_> = fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(
                left,
                vec![std::ffi::OsString::from(KEK_FILE)],
                "no temp files left"
            );
        }
    }
}
