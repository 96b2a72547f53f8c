//! Secrets: Argon2id hashing of passwords and client secrets, random tokens, token digests,
//! and sealing a value so that only the holder of a token can read it.
//! Secret values travel in [`SecretString`], whose `Debug` never shows them.
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// A secret string (password, client secret, token). Prints as `SecretString(***)`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretString(***)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

fn argon2() -> Argon2<'static> {
    // OWASP's Argon2id settings trade memory for passes at equal strength (19 MiB x 2,
    // 12 MiB x 3, 9 MiB x 4...); 9 MiB x 4 costs the same CPU as the 19 MiB baseline with
    // half the memory per hash, which keeps a server signing users in on both cores under
    // 50 MB. The PHC string records the parameters, so hashes made with other ones (19 and
    // 12 MiB in earlier versions) still verify with their own, and a user's is replaced
    // at their next sign-in (`PasswordCheck::RightUpgrade`).
    let params = Params::new(9 * 1024, 4, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hash a secret with Argon2id into a PHC string (on the hashing threads: `crate::hashing`).
pub fn hash_secret(secret: &SecretString) -> Result<String, HashError> {
    let secret = secret.clone();
    crate::hashing::run(move || hash_here(&secret))
        .unwrap_or_else(|| Err(HashError("the hashing thread stopped".into())))
}

fn hash_here(secret: &SecretString) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(secret.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Check a secret against a stored PHC string; a malformed hash never verifies.
pub fn verify_secret(secret: &SecretString, phc: &str) -> bool {
    let (secret, phc) = (secret.clone(), phc.to_owned());
    crate::hashing::run(move || verify_here(&secret, &phc)).unwrap_or(false)
}

fn verify_here(secret: &SecretString, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(secret.expose().as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// The outcome of checking a user's password against its stored hash.
#[derive(Debug, PartialEq, Eq)]
pub enum PasswordCheck {
    Wrong,
    Right,
    /// Right, against a hash imported from Django: store a fresh Argon2id hash now.
    RightUpgrade,
}

/// Check a user's password: Tessera's Argon2id PHC string, or a hash imported from Django
/// (verified with Django's algorithm; unusable and malformed hashes never verify).
pub fn check_password(password: &SecretString, stored: &str) -> PasswordCheck {
    let (password, stored) = (password.clone(), stored.to_owned());
    crate::hashing::run(move || check_here(&password, &stored)).unwrap_or(PasswordCheck::Wrong)
}

fn check_here(password: &SecretString, stored: &str) -> PasswordCheck {
    use crate::django::hashers::{DjangoHash, is_django_hash};
    if !is_django_hash(stored) {
        return match verify_here(password, stored) {
            true if outdated(stored) => PasswordCheck::RightUpgrade,
            true => PasswordCheck::Right,
            false => PasswordCheck::Wrong,
        };
    }
    match DjangoHash::parse(stored) {
        Ok(hash) if hash.verify(password.expose()) => PasswordCheck::RightUpgrade,
        _ => PasswordCheck::Wrong,
    }
}

/// Whether a (verified) Argon2 hash was made with other settings than new hashes get.
fn outdated(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let current = argon2();
    let now = current.params();
    parsed.algorithm.as_str() != Algorithm::Argon2id.ident().as_str()
        || Params::try_from(&parsed).map_or(true, |p| {
            (p.m_cost(), p.t_cost(), p.p_cost()) != (now.m_cost(), now.t_cost(), now.p_cost())
        })
}

/// `bytes` of OS randomness, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Hex SHA-256, how tokens, codes and session ids are stored: a database leak yields
/// nothing usable, and 256-bit random inputs need no slow hash.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Sealing under a token failed (aws-lc-rs refused; not expected with these inputs).
#[derive(Debug, thiserror::Error)]
#[error("sealing failed")]
pub struct SealError;

/// Domain separation for keys derived from tokens: a key for this use only.
const SEAL_SALT: &[u8] = b"tessera token seal v1";
const NONCE_LEN: usize = 12;

/// The AES-256-GCM key that `token` (high-entropy: 256 random bits, or a signed JWT)
/// derives through HKDF-SHA256.
fn sealing_key(token: &str) -> Result<aws_lc_rs::aead::LessSafeKey, SealError> {
    use aws_lc_rs::{aead, hkdf};
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, SEAL_SALT).extract(token.as_bytes());
    let okm = prk
        .expand(&[b"aes-256-gcm"], &aead::AES_256_GCM)
        .map_err(|_| SealError)?;
    Ok(aead::LessSafeKey::new(aead::UnboundKey::from(okm)))
}

/// Encrypt `plain` so that only someone presenting `token` can read it; `context` (not
/// secret) binds the result to where it is stored. Output: nonce, ciphertext, tag.
pub fn seal_for_token(token: &str, context: &[u8], plain: &[u8]) -> Result<Vec<u8>, SealError> {
    use aws_lc_rs::aead::{Aad, Nonce};
    let key = sealing_key(token)?;
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let mut sealed = plain.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(context),
        &mut sealed,
    )
    .map_err(|_| SealError)?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Decrypt what [`seal_for_token`] sealed; `None` for another token, another context or
/// tampered bytes.
pub fn open_with_token(token: &str, context: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    use aws_lc_rs::aead::{Aad, Nonce};
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut buf = ciphertext.to_vec();
    let plain = sealing_key(token)
        .ok()?
        .open_in_place(nonce, Aad::from(context), &mut buf)
        .ok()?;
    Some(plain.to_vec())
}

/// Compare two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// A URL with any password replaced, for messages and logs.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_the_right_secret() {
        let pw = SecretString::new("correct horse");
        let phc = hash_secret(&pw).unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_secret(&pw, &phc));
        assert!(!verify_secret(&SecretString::new("wrong horse"), &phc));
        assert!(!verify_secret(&pw, "not a hash"));
    }

    #[test]
    fn new_hashes_use_9_mib_and_earlier_hashes_verify_then_upgrade() {
        let pw = SecretString::new("correct horse");
        let phc = hash_secret(&pw).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=9216,t=4,p=1$"), "{phc}");
        assert_eq!(check_password(&pw, &phc), PasswordCheck::Right);
        // A hash as earlier versions made them (OWASP's 19 MiB, 2 passes).
        let salt = SaltString::generate(&mut OsRng);
        let old = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(19 * 1024, 2, 1, None).unwrap(),
        )
        .hash_password(pw.expose().as_bytes(), &salt)
        .unwrap()
        .to_string();
        assert!(old.contains("m=19456,t=2,p=1"), "{old}");
        assert!(verify_secret(&pw, &old));
        assert!(!verify_secret(&SecretString::new("wrong horse"), &old));
        // Right, and to be stored again with today's settings; a wrong password is wrong.
        assert_eq!(check_password(&pw, &old), PasswordCheck::RightUpgrade);
        assert_eq!(
            check_password(&SecretString::new("wrong horse"), &old),
            PasswordCheck::Wrong
        );
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let s = SecretString::new("hunter2");
        assert_eq!(format!("{s:?}"), "SecretString(***)");
    }

    #[test]
    fn only_the_token_and_context_open_a_seal() {
        let sealed = seal_for_token("old-token", b"row", b"successor").unwrap();
        assert_eq!(
            open_with_token("old-token", b"row", &sealed).as_deref(),
            Some(&b"successor"[..])
        );
        assert!(!sealed.windows(9).any(|w| w == b"successor"));
        assert_eq!(open_with_token("other-token", b"row", &sealed), None);
        assert_eq!(open_with_token("old-token", b"other-row", &sealed), None);
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(open_with_token("old-token", b"row", &tampered), None);
        assert_eq!(open_with_token("old-token", b"row", b"short"), None);
    }

    #[test]
    fn random_tokens_have_the_asked_entropy() {
        let t = random_token(32);
        assert_eq!(t.len(), 43);
        assert_ne!(t, random_token(32));
        assert_eq!(digest("abc").len(), 64);
    }
}
