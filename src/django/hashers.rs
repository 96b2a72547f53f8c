//! Django's password hashes (`django.contrib.auth.hashers`), verified with Django's own
//! algorithms so users imported from a Django app keep their passwords until their first
//! sign-in replaces the hash with Tessera's Argon2id. Every KDF comes from a crate; every
//! comparison is constant-time. Parameters are capped: a stored hash must not be able to make
//! one sign-in cost minutes or gigabytes.
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// PBKDF2 rounds allowed: ten times Django 5.2's default (1,000,000).
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// bcrypt cost allowed: Django's default is 12; each step doubles the work.
const MAX_BCRYPT_COST: u32 = 16;
/// Memory a stored argon2 or scrypt hash may ask for (Django's argon2 default is 100 MiB,
/// its scrypt default 16 MiB).
const MAX_KDF_MEMORY: u64 = 1 << 30;
/// Passes or lanes a stored argon2 / scrypt hash may ask for.
const MAX_KDF_COST: u32 = 64;

/// Why a stored Django hash cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DjangoHashError {
    #[error(
        "password hasher '{0}' is not supported (supported: pbkdf2_sha256, pbkdf2_sha1, argon2, bcrypt_sha256, bcrypt, scrypt)"
    )]
    Unsupported(String),
    #[error("malformed {algorithm} password hash: {reason}")]
    Malformed {
        algorithm: &'static str,
        reason: &'static str,
    },
    #[error("{algorithm} password hash asks for too much work: {reason}")]
    TooCostly {
        algorithm: &'static str,
        reason: String,
    },
}

fn malformed(algorithm: &'static str, reason: &'static str) -> DjangoHashError {
    DjangoHashError::Malformed { algorithm, reason }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pbkdf2Digest {
    Sha1,
    Sha256,
}

/// A parsed Django password hash.
#[derive(Clone, PartialEq, Eq)]
pub enum DjangoHash {
    /// `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>` (and `pbkdf2_sha1$...`).
    Pbkdf2 {
        digest: Pbkdf2Digest,
        iterations: u32,
        salt: String,
        hash: Vec<u8>,
    },
    /// `argon2$argon2id$v=19$m=...,t=...,p=...$<salt>$<hash>`: a PHC string after `argon2`.
    Argon2 { phc: String },
    /// `bcrypt_sha256$$2b$12$...`: bcrypt over the hex SHA-256 of the password.
    BcryptSha256 { bcrypt: String },
    /// `bcrypt$$2b$12$...`: bcrypt over the password itself.
    Bcrypt { bcrypt: String },
    /// `scrypt$<N>$<salt>$<r>$<p>$<base64 hash>`.
    Scrypt {
        log_n: u8,
        salt: String,
        r: u32,
        p: u32,
        hash: Vec<u8>,
    },
    /// `!...` (`set_unusable_password`) or empty: nobody can sign in with it.
    Unusable,
}

impl std::fmt::Debug for DjangoHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DjangoHash({})", self.algorithm())
    }
}

/// Whether a stored hash is Django's rather than Tessera's own (a PHC string, `$argon2id$...`).
pub fn is_django_hash(stored: &str) -> bool {
    !stored.starts_with('$')
}

fn b64(algorithm: &'static str, text: &str, len: usize) -> Result<Vec<u8>, DjangoHashError> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|_| malformed(algorithm, "the hash is not base64"))?;
    if bytes.len() != len {
        return Err(malformed(algorithm, "the hash has the wrong length"));
    }
    Ok(bytes)
}

fn number<T: std::str::FromStr>(algorithm: &'static str, text: &str) -> Result<T, DjangoHashError> {
    // Python's int() would take "+5" or " 5"; Django never writes them, so neither do we.
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(algorithm, "a parameter is not a number"));
    }
    text.parse()
        .map_err(|_| malformed(algorithm, "a parameter is out of range"))
}

/// A bcrypt string Django wrote (`$2b$12$<53 chars>`), with its cost checked.
fn bcrypt_part(algorithm: &'static str, data: &str) -> Result<String, DjangoHashError> {
    let mut parts = data.split('$');
    let (Some(""), Some(version), Some(cost), Some(rest), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(malformed(algorithm, "expected $2b$<cost>$<salt and hash>"));
    };
    if !matches!(version, "2a" | "2b" | "2x" | "2y") || rest.len() != 53 {
        return Err(malformed(algorithm, "expected $2b$<cost>$<salt and hash>"));
    }
    let cost: u32 = number(algorithm, cost)?;
    if !(4..=MAX_BCRYPT_COST).contains(&cost) {
        return Err(DjangoHashError::TooCostly {
            algorithm,
            reason: format!("cost {cost} (allowed 4 to {MAX_BCRYPT_COST})"),
        });
    }
    Ok(data.to_owned())
}

fn parse_pbkdf2(
    algorithm: &'static str,
    digest: Pbkdf2Digest,
    rest: &str,
) -> Result<DjangoHash, DjangoHashError> {
    let mut parts = rest.splitn(3, '$');
    let (Some(iterations), Some(salt), Some(hash)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(algorithm, "expected <iterations>$<salt>$<hash>"));
    };
    let iterations: u32 = number(algorithm, iterations)?;
    if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS {
        return Err(DjangoHashError::TooCostly {
            algorithm,
            reason: format!("{iterations} iterations (allowed 1 to {MAX_PBKDF2_ITERATIONS})"),
        });
    }
    if salt.is_empty() {
        return Err(malformed(algorithm, "the salt is empty"));
    }
    let len = match digest {
        Pbkdf2Digest::Sha1 => 20,
        Pbkdf2Digest::Sha256 => 32,
    };
    Ok(DjangoHash::Pbkdf2 {
        digest,
        iterations,
        salt: salt.to_owned(),
        hash: b64(algorithm, hash, len)?,
    })
}

fn parse_argon2(rest: &str) -> Result<DjangoHash, DjangoHashError> {
    const ALG: &str = "argon2";
    // Django stores argon2-cffi's PHC string without its leading `$`, after `argon2`.
    let phc = format!("${rest}");
    let parsed = PasswordHash::new(&phc).map_err(|_| malformed(ALG, "not a PHC string"))?;
    Algorithm::try_from(parsed.algorithm).map_err(|_| malformed(ALG, "unknown variant"))?;
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(malformed(ALG, "no salt or no hash"));
    }
    let params =
        Params::try_from(&parsed).map_err(|_| malformed(ALG, "invalid m, t or p parameters"))?;
    if u64::from(params.m_cost()) * 1024 > MAX_KDF_MEMORY
        || params.t_cost() > MAX_KDF_COST
        || params.p_cost() > MAX_KDF_COST
    {
        return Err(DjangoHashError::TooCostly {
            algorithm: ALG,
            reason: format!(
                "m={} t={} p={}",
                params.m_cost(),
                params.t_cost(),
                params.p_cost()
            ),
        });
    }
    Ok(DjangoHash::Argon2 { phc })
}

fn parse_scrypt(rest: &str) -> Result<DjangoHash, DjangoHashError> {
    const ALG: &str = "scrypt";
    let parts: Vec<&str> = rest.split('$').collect();
    let [n, salt, r, p, hash] = parts[..] else {
        return Err(malformed(ALG, "expected <N>$<salt>$<r>$<p>$<hash>"));
    };
    let n: u64 = number(ALG, n)?;
    let r: u32 = number(ALG, r)?;
    let p: u32 = number(ALG, p)?;
    if n < 2 || !n.is_power_of_two() || r == 0 || p == 0 {
        return Err(malformed(ALG, "N must be a power of two, r and p positive"));
    }
    // scrypt's memory is 128 * r * N bytes (per lane, run one after the other).
    let memory = 128u64.saturating_mul(u64::from(r)).saturating_mul(n);
    if memory > MAX_KDF_MEMORY || p > MAX_KDF_COST {
        return Err(DjangoHashError::TooCostly {
            algorithm: ALG,
            reason: format!("N={n} r={r} p={p}"),
        });
    }
    if salt.is_empty() {
        return Err(malformed(ALG, "the salt is empty"));
    }
    let log_n = u8::try_from(n.trailing_zeros()).map_err(|_| malformed(ALG, "N out of range"))?;
    scrypt::Params::new(log_n, r, p, 64).map_err(|_| malformed(ALG, "invalid N, r or p"))?;
    Ok(DjangoHash::Scrypt {
        log_n,
        salt: salt.to_owned(),
        r,
        p,
        hash: b64(ALG, hash, 64)?,
    })
}

impl DjangoHash {
    /// Parse a value of Django's `auth_user.password`.
    pub fn parse(encoded: &str) -> Result<Self, DjangoHashError> {
        if encoded.is_empty() || encoded.starts_with('!') {
            return Ok(Self::Unusable);
        }
        let (algorithm, rest) = encoded.split_once('$').unwrap_or((encoded, ""));
        match algorithm {
            "pbkdf2_sha256" => parse_pbkdf2("pbkdf2_sha256", Pbkdf2Digest::Sha256, rest),
            "pbkdf2_sha1" => parse_pbkdf2("pbkdf2_sha1", Pbkdf2Digest::Sha1, rest),
            "argon2" => parse_argon2(rest),
            "bcrypt_sha256" => Ok(Self::BcryptSha256 {
                bcrypt: bcrypt_part("bcrypt_sha256", rest)?,
            }),
            "bcrypt" => Ok(Self::Bcrypt {
                bcrypt: bcrypt_part("bcrypt", rest)?,
            }),
            "scrypt" => parse_scrypt(rest),
            // Unsalted and MD5/SHA1 hashes are not worth carrying over: such users reset.
            other => Err(DjangoHashError::Unsupported(
                other.chars().take(40).collect(),
            )),
        }
    }

    /// Django's name for the hasher.
    pub fn algorithm(&self) -> &'static str {
        match self {
            Self::Pbkdf2 {
                digest: Pbkdf2Digest::Sha1,
                ..
            } => "pbkdf2_sha1",
            Self::Pbkdf2 { .. } => "pbkdf2_sha256",
            Self::Argon2 { .. } => "argon2",
            Self::BcryptSha256 { .. } => "bcrypt_sha256",
            Self::Bcrypt { .. } => "bcrypt",
            Self::Scrypt { .. } => "scrypt",
            Self::Unusable => "unusable",
        }
    }

    /// Whether `password` is the one this hash was made from, as Django's `check_password`
    /// decides it. Any failure inside a KDF is a mismatch.
    pub fn verify(&self, password: &str) -> bool {
        let password = password.as_bytes();
        match self {
            Self::Pbkdf2 {
                digest,
                iterations,
                salt,
                hash,
            } => {
                let mut out = vec![0u8; hash.len()];
                match digest {
                    Pbkdf2Digest::Sha1 => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(
                        password,
                        salt.as_bytes(),
                        *iterations,
                        &mut out,
                    ),
                    Pbkdf2Digest::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(
                        password,
                        salt.as_bytes(),
                        *iterations,
                        &mut out,
                    ),
                }
                bool::from(out.ct_eq(hash))
            }
            Self::Argon2 { phc } => verify_argon2(password, phc),
            Self::BcryptSha256 { bcrypt } => {
                // Django hashes first so passwords longer than bcrypt's 72 bytes still count
                // in full, and feeds bcrypt the lowercase hex digest.
                let digest = Sha256::digest(password);
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                bcrypt::verify(hex.as_bytes(), bcrypt).unwrap_or(false)
            }
            Self::Bcrypt { bcrypt } => bcrypt::verify(password, bcrypt).unwrap_or(false),
            Self::Scrypt {
                log_n,
                salt,
                r,
                p,
                hash,
            } => {
                let Ok(params) = scrypt::Params::new(*log_n, *r, *p, hash.len()) else {
                    return false;
                };
                let mut out = vec![0u8; hash.len()];
                if scrypt::scrypt(password, salt.as_bytes(), &params, &mut out).is_err() {
                    return false;
                }
                bool::from(out.ct_eq(hash))
            }
            Self::Unusable => false,
        }
    }
}

/// argon2-cffi's PHC string; one without `v=` predates version 1.3 (argon2-cffi wrote 0x10).
fn verify_argon2(password: &[u8], phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let version = if parsed.version.is_some() {
        Version::V0x13
    } else {
        Version::V0x10
    };
    // The crate recomputes with the hash's own variant, version and parameters and compares
    // the outputs in constant time.
    Argon2::new(algorithm, version, params)
        .verify_password(password, &parsed)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by Django 5.2.19's own hashers (each hasher's encode with a fixed salt and low
    // costs, so the test is quick) for this password: the reference the formats are held to.
    const PW: &str = "correct horse battery";

    const MADE_BY_DJANGO: [&str; 6] = [
        "pbkdf2_sha256$1000$seasalt1$0UvS6l9UWQG4zEMeKWDwJFnUyGmC4VWfwUskGdk54Es=",
        "pbkdf2_sha1$1000$seasalt1$+BarNr3jpIAa8nSPCUmIoK6ByVQ=",
        "argon2$argon2id$v=19$m=64,t=1,p=2$c2Vhc2FsdHNlYXNhbHQ$hTPgb2IkoaFwkiVtOZfiI0aPTyzXgKGUgTuJaXIun7I",
        "bcrypt_sha256$$2b$05$6L3CSylTg.dE3Pr0pAcKp.E1rnB4VDL1jJCbcUJgtWkFu1SNbbF2G",
        "bcrypt$$2b$05$d8oyYonwj0XOuSZP0wttW.gFwtjSCL/gmoMonqmDLzx0xa7pBxj.6",
        "scrypt$1024$seasalt1$8$2$bh6wiFnjb3h+TOwiuA17I4IpmrVka8wasQJ8RS8wGfHHQPR54Yl7aGRdqxuluYVATT9GeZq3NtS86CjPoRS1Cg==",
    ];

    #[test]
    fn each_hasher_refuses_wrong_passwords() {
        for encoded in MADE_BY_DJANGO {
            let hash = DjangoHash::parse(encoded).unwrap();
            for wrong in [
                "",
                "correct horse batter",
                "correct horse battery ",
                "CORRECT HORSE BATTERY",
            ] {
                assert!(!hash.verify(wrong), "{encoded} took {wrong:?}");
            }
        }
    }

    #[test]
    fn each_hasher_verifies_what_django_made() {
        for encoded in MADE_BY_DJANGO {
            let hash = DjangoHash::parse(encoded).unwrap();
            assert_eq!(encoded.split('$').next(), Some(hash.algorithm()));
            assert!(hash.verify(PW), "{encoded}");
        }
        let unicode = DjangoHash::parse(
            "pbkdf2_sha256$1000$seasalt1$FPi0rCbwELakDEPq7ZvLeVGKxORRqvpw/OPfmfIniJk=",
        )
        .unwrap();
        assert!(unicode.verify("pässwörd ✓ long"));
    }

    #[test]
    fn a_tampered_hash_does_not_verify() {
        // One character of the digest changed: still well-formed, never a match.
        let tampered = "pbkdf2_sha256$1000$seasalt1$1UvS6l9UWQG4zEMeKWDwJFnUyGmC4VWfwUskGdk54Es=";
        assert!(!DjangoHash::parse(tampered).unwrap().verify(PW));
        // The same digest under another salt or iteration count is another hash.
        let salted = "pbkdf2_sha256$1000$seasalt2$0UvS6l9UWQG4zEMeKWDwJFnUyGmC4VWfwUskGdk54Es=";
        assert!(!DjangoHash::parse(salted).unwrap().verify(PW));
        let rounds = "pbkdf2_sha256$1001$seasalt1$0UvS6l9UWQG4zEMeKWDwJFnUyGmC4VWfwUskGdk54Es=";
        assert!(!DjangoHash::parse(rounds).unwrap().verify(PW));
    }

    fn refused(encoded: &str) -> DjangoHashError {
        DjangoHash::parse(encoded).expect_err(encoded)
    }

    #[test]
    fn unusable_and_empty_hashes_never_verify() {
        for encoded in ["!", "!abcdefghijklmnopqrstuvwxyz0123456789ABCD", ""] {
            let hash = DjangoHash::parse(encoded).unwrap();
            assert_eq!(hash, DjangoHash::Unusable);
            assert!(!hash.verify(""));
            assert!(!hash.verify(PW));
        }
    }

    #[test]
    fn malformed_hashes_are_refused_with_a_reason() {
        for encoded in [
            "pbkdf2_sha256",
            "pbkdf2_sha256$",
            "pbkdf2_sha256$abc$salt$aGFzaA==",
            "pbkdf2_sha256$+5$salt$aGFzaA==",
            "pbkdf2_sha256$1000$salt$not base64!",
            "pbkdf2_sha256$1000$salt$aGFzaA==",
            "pbkdf2_sha256$1000$$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "argon2$notphc",
            "argon2$argon2id$v=19$m=x,t=2,p=8$c2FsdHNhbHQ$aGFzaA",
            "argon2$scrypt$v=19$m=8,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "bcrypt_sha256$",
            "bcrypt_sha256$$2b$12$short",
            "bcrypt_sha256$$3b$12$abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyza",
            "scrypt$16384$salt$8$1",
            "scrypt$1000$salt$8$1$aGFzaA==",
            "scrypt$16384$salt$0$1$aGFzaA==",
            "scrypt$16384$salt$8$1$aGFzaA==",
        ] {
            assert!(
                matches!(refused(encoded), DjangoHashError::Malformed { .. }),
                "{encoded}"
            );
        }
    }

    #[test]
    fn costly_hashes_are_refused() {
        for encoded in [
            "pbkdf2_sha256$4000000000$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "pbkdf2_sha256$0$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "bcrypt_sha256$$2b$31$abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyza",
            "argon2$argon2id$v=19$m=4194304,t=2,p=8$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "scrypt$1073741824$salt$8$1$aGFzaA==",
        ] {
            assert!(
                matches!(refused(encoded), DjangoHashError::TooCostly { .. }),
                "{encoded}"
            );
        }
    }

    #[test]
    fn other_hashers_are_named_as_unsupported() {
        assert_eq!(
            refused("md5$salt$abc"),
            DjangoHashError::Unsupported("md5".into())
        );
        assert_eq!(
            refused("5f4dcc3b5aa765d61d8327deb882cf99"),
            DjangoHashError::Unsupported("5f4dcc3b5aa765d61d8327deb882cf99".into())
        );
        assert!(is_django_hash("pbkdf2_sha256$1$a$b"));
        assert!(!is_django_hash("$argon2id$v=19$m=19456,t=2,p=1$x$y"));
    }

    #[test]
    fn debug_shows_only_the_algorithm() {
        let hash = DjangoHash::parse(
            "pbkdf2_sha256$1000$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        .unwrap();
        assert_eq!(format!("{hash:?}"), "DjangoHash(pbkdf2_sha256)");
    }
}
