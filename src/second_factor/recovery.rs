//! Recovery codes: ten single-use codes shown once when an authenticator is set up (or the
//! user asks for new ones), stored only as digests. Each has about 78 bits of randomness,
//! so a digest is as safe at rest as a stored token's.
use rand::Rng;

use crate::secrets;
use crate::store::DbConnection;
use crate::store::second_factors as store;

use super::SecondFactorError;

pub const COUNT: usize = 10;
/// No 0/O, 1/I/L or U: codes are read off paper and typed by hand.
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTVWXYZ23456789";
const GROUPS: usize = 4;
const GROUP_LEN: usize = 4;

/// The codes as shown (in groups of four); the digests are what is kept.
pub struct Codes(pub Vec<String>);

impl std::fmt::Debug for Codes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Codes({})", self.0.len())
    }
}

fn one() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..GROUPS)
        .map(|_| {
            (0..GROUP_LEN)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// A code as typed, in the one spelling its digest is of: upper case, no separators.
pub fn normalise(input: &str) -> String {
    input
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn digest(normalised: &str) -> String {
    secrets::digest(&format!("tessera recovery code:{normalised}"))
}

/// New codes for the user, replacing any old ones.
pub fn issue(conn: &mut DbConnection, user_id: i64, now: i64) -> Result<Codes, SecondFactorError> {
    let codes: Vec<String> = (0..COUNT).map(|_| one()).collect();
    let digests: Vec<String> = codes.iter().map(|c| digest(&normalise(c))).collect();
    store::replace_recovery_codes(conn, user_id, &digests, now)?;
    Ok(Codes(codes))
}

/// Use a recovery code of this user: once, and only the user's own.
pub fn redeem(
    conn: &mut DbConnection,
    user_id: i64,
    input: &str,
    now: i64,
) -> Result<(), SecondFactorError> {
    let code = normalise(input);
    if code.len() != GROUPS * GROUP_LEN {
        return Err(SecondFactorError::WrongCode);
    }
    if store::use_recovery_code(conn, user_id, &digest(&code), now)? {
        Ok(())
    } else {
        Err(SecondFactorError::WrongCode)
    }
}

pub fn left(conn: &mut DbConnection, user_id: i64) -> Result<i64, SecondFactorError> {
    Ok(store::recovery_codes_left(conn, user_id)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_typed_forgivingly() {
        let c = one();
        assert_eq!(c.len(), 19);
        assert_eq!(normalise(&c.to_lowercase()), normalise(&c));
        assert_eq!(normalise(" abcd efgh-jkmn-pqrs "), "ABCDEFGHJKMNPQRS");
    }
}
