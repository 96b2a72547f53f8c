//! TOTP (RFC 6238) through the `totp-rs` crate: enrolment (a random 160-bit secret, sealed
//! under the key-encryption key with the user id as associated data, shown once as text, an
//! `otpauth://` URI and a QR code rendered here), confirmation by a current code, checking a
//! code at sign-in (never the same time step twice), removal.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use totp_rs::{Algorithm, Secret, Totp};
use zeroize::Zeroizing;

use super::SecondFactorError;
use crate::kek::{Kek, Sealed};
use crate::store::DbConnection;
use crate::store::second_factors::{self as store, TotpRow};

/// The name authenticator apps show beside the account.
pub const ISSUER: &str = "Tessera";
/// 160 bits, the size RFC 4226 recommends for HMAC-SHA-1.
const SECRET_LEN: usize = 20;
/// One step (30 s) either side is accepted, for clocks a little apart.
const SKEW: u16 = 1;

/// What the enrolment page shows: the secret three ways.
pub struct Enrolment {
    pub secret_base32: String,
    pub uri: String,
    /// A `data:` URI of an SVG QR code of `uri` (the pages' CSP allows `data:` images).
    pub qr: String,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enrolment(..)")
    }
}

/// The associated data binding a sealed secret to its user's row.
fn aad(user_id: i64) -> String {
    format!("totp:{user_id}")
}

fn build(secret: Vec<u8>, account: &str) -> Result<Totp, SecondFactorError> {
    // The otpauth label separates issuer and account with ':'; none may contain one.
    let account = account.replace(':', "_");
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(SKEW)
        .with_secret(Secret::from(secret))
        .with_account_name(account)
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| SecondFactorError::Sealed(e.to_string()))
}

fn open(kek: &Kek, row: &TotpRow) -> Result<Zeroizing<Vec<u8>>, SecondFactorError> {
    if row.kek_id != kek.id() {
        return Err(SecondFactorError::Sealed(format!(
            "sealed under key-encryption key {}, this server has {}",
            row.kek_id,
            kek.id()
        )));
    }
    let sealed = Sealed {
        nonce: row.nonce.clone(),
        ciphertext: row.secret.clone(),
    };
    kek.open(&aad(row.user_id), &sealed)
        .ok_or_else(|| SecondFactorError::Sealed("the sealed secret does not open".into()))
}

fn enrolment(totp: &Totp) -> Result<Enrolment, SecondFactorError> {
    let uri = totp
        .to_url()
        .map_err(|e| SecondFactorError::Sealed(e.to_string()))?;
    let code = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| SecondFactorError::Sealed(e.to_string()))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(Enrolment {
        secret_base32: totp.secret().to_base32(),
        qr: format!("data:image/svg+xml;base64,{}", STANDARD.encode(svg)),
        uri,
    })
}

/// Whether the user has an active (confirmed) authenticator.
pub fn is_active(conn: &mut DbConnection, user_id: i64) -> Result<bool, SecondFactorError> {
    Ok(store::totp_of(conn, user_id)?.is_some_and(|r| r.confirmed_at.is_some()))
}

/// Start (or show again) an enrolment: the unconfirmed secret the user is setting up, a new
/// one when there is none. Refused when an authenticator is already active.
pub fn begin(
    conn: &mut DbConnection,
    kek: &Kek,
    user_id: i64,
    account: &str,
    now: i64,
) -> Result<Enrolment, SecondFactorError> {
    if let Some(row) = store::totp_of(conn, user_id)? {
        if row.confirmed_at.is_some() {
            return Err(SecondFactorError::AlreadyEnrolled);
        }
        if let Ok(secret) = open(kek, &row) {
            return enrolment(&build(secret.to_vec(), account)?);
        }
    }
    let mut secret = Zeroizing::new(vec![0u8; SECRET_LEN]);
    rand::rngs::OsRng.fill_bytes(secret.as_mut_slice());
    let sealed = kek
        .seal(&aad(user_id), &secret)
        .map_err(|e| SecondFactorError::Sealed(e.to_string()))?;
    store::put_unconfirmed(
        conn,
        &TotpRow {
            user_id,
            secret: sealed.ciphertext,
            nonce: sealed.nonce,
            kek_id: kek.id(),
            created_at: now,
            confirmed_at: None,
            last_step: None,
        },
    )?;
    enrolment(&build(secret.to_vec(), account)?)
}

/// Only six digits (spaces allowed, as apps show "123 456") can be a TOTP code.
pub fn looks_like_code(input: &str) -> bool {
    let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Check a code against the user's secret (confirmed or being confirmed) at `now`. A right
/// code whose time step was already accepted is refused like a wrong one (RFC 6238 §5.2);
/// a right code of an unconfirmed secret confirms it.
pub fn verify(
    conn: &mut DbConnection,
    kek: &Kek,
    user_id: i64,
    code: &str,
    now: i64,
) -> Result<(), SecondFactorError> {
    let row = store::totp_of(conn, user_id)?.ok_or(SecondFactorError::NotEnrolled)?;
    let secret = open(kek, &row)?;
    let totp = build(secret.to_vec(), "")?;
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let Ok(time) = u64::try_from(now) else {
        return Err(SecondFactorError::WrongCode);
    };
    let Some(step) = totp.check(&code, time).and_then(|s| i64::try_from(s).ok()) else {
        return Err(SecondFactorError::WrongCode);
    };
    if store::accept_step(conn, user_id, step, now)? {
        Ok(())
    } else {
        Err(SecondFactorError::WrongCode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        assert!(looks_like_code("123456"));
        assert!(looks_like_code(" 123 456 "));
        assert!(!looks_like_code("12345"));
        assert!(!looks_like_code("ABCD-EFGH"));
    }

    #[test]
    fn enrolment_shows_the_secret_as_uri_and_qr() {
        let totp = build(vec![7u8; SECRET_LEN], "alice:x").unwrap();
        let e = enrolment(&totp).unwrap();
        assert!(e.uri.starts_with("otpauth://totp/Tessera:alice_x?"));
        assert!(e.uri.contains(&format!("secret={}", e.secret_base32)));
        assert!(e.qr.starts_with("data:image/svg+xml;base64,"));
    }
}
