//! Initial access tokens (RFC 7591 §3): what an administrator mints, in the console or with
//! `tessera registration-token create`, so a client may register when registration is
//! `token`. Shown once, stored as a digest, usable until it expires or is revoked.
use crate::audit::{self, AuditAction};
use crate::secrets::{self, SecretString};
use crate::store::registration::{self as store, RegistrationTokenRow};
use crate::store::{DbConnection, StoreError, transaction};

/// The longest lifetime a token may be given: a year.
pub const MAX_EXPIRES: i64 = 366 * 86_400;

/// A token just minted: its id (for the list and revoking) and the token, shown once.
#[derive(Debug)]
pub struct Minted {
    pub id: String,
    pub token: SecretString,
    pub expires_at: Option<i64>,
}

/// Why a token was not minted or revoked.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    Invalid(String),
    #[error("no live initial access token '{0}'")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A lifetime in seconds, from a form or the command line: empty means no expiry.
pub fn parse_expires(raw: &str) -> Result<Option<i64>, TokenError> {
    match raw.trim() {
        "" => Ok(None),
        s => match s.parse::<i64>() {
            Ok(n) if (60..=MAX_EXPIRES).contains(&n) => Ok(Some(n)),
            _ => Err(TokenError::Invalid(format!(
                "the lifetime must be a number of seconds from 60 to {MAX_EXPIRES}, or empty for none"
            ))),
        },
    }
}

/// Mint a token; `by` is who acts and from where, for the audit log.
pub fn mint(
    conn: &mut DbConnection,
    now: i64,
    by: (&str, Option<&str>),
    expires_in: Option<i64>,
) -> Result<Minted, TokenError> {
    let token = SecretString::new(secrets::random_token(32));
    let row = RegistrationTokenRow {
        id: secrets::random_token(9),
        token_hash: secrets::digest(token.expose()),
        created_by: by.0.chars().take(200).collect(),
        created_at: now,
        expires_at: expires_in.map(|s| now + s),
        revoked_at: None,
        last_used_at: None,
        uses: 0,
    };
    transaction(conn, |conn| {
        store::insert_token(conn, &row)?;
        let detail = match row.expires_at {
            Some(at) => format!("expires at {at}"),
            None => "no expiry".to_owned(),
        };
        audit::record_by(
            conn,
            now,
            by,
            AuditAction::RegistrationTokenCreated,
            &row.id,
            Some(&detail),
        )?;
        Ok::<_, TokenError>(())
    })?;
    Ok(Minted {
        id: row.id,
        token,
        expires_at: row.expires_at,
    })
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<RegistrationTokenRow>, StoreError> {
    store::tokens_all(conn)
}

pub fn revoke(
    conn: &mut DbConnection,
    now: i64,
    by: (&str, Option<&str>),
    id: &str,
) -> Result<(), TokenError> {
    transaction(conn, |conn| {
        if !store::revoke_token(conn, id, now)? {
            return Err(TokenError::NotFound(id.to_owned()));
        }
        audit::record_by(
            conn,
            now,
            by,
            AuditAction::RegistrationTokenRevoked,
            id,
            None,
        )?;
        Ok(())
    })
}

/// Whether a token still admits registrations at `now`.
pub fn is_live(row: &RegistrationTokenRow, now: i64) -> bool {
    row.revoked_at.is_none() && row.expires_at.is_none_or(|at| at > now)
}

/// The live token `presented` is, if any (its id).
pub(super) fn accept(
    conn: &mut DbConnection,
    presented: &str,
    now: i64,
) -> Result<Option<String>, StoreError> {
    Ok(store::token_by_hash(conn, &secrets::digest(presented))?
        .filter(|row| is_live(row, now))
        .map(|row| row.id))
}
