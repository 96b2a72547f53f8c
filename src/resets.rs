//! One-time password reset links, without outside services: an administrator (console or
//! CLI) issues one for a user and hands it over; its holder sets a new password once,
//! before it expires. Only the SHA-256 digest of the link's 256-bit token is stored, so the
//! database alone opens no account. Using a link ends all of the user's sessions.
use crate::account::{AccountError, LinkProblem};
use crate::audit::{self, AuditAction, Entry};
use crate::domain::Password;
use crate::secrets;
use crate::store::admin as admin_store;
use crate::store::password_resets::{self as reset_store, ResetRow};
use crate::store::users::{self as user_store, UserRow};
use crate::store::{DbConnection, StoreError, transaction};

/// How long a link works unless its issuer says otherwise.
pub const DEFAULT_TTL: i64 = 3600;
/// The longest a link may work: a forgotten link should not stay a way in.
pub const MAX_TTL: i64 = 7 * 24 * 3600;

/// The path a link's token is read at; the issuer's URL goes in front.
pub fn path(token: &str) -> String {
    format!("/reset/{token}")
}

/// A link lifetime as given (`--ttl`, the console's field): 60 s to seven days.
pub fn parse_ttl(raw: &str) -> Result<i64, String> {
    let ttl: i64 = raw
        .trim()
        .parse()
        .map_err(|_| format!("'{raw}' is not a number of seconds"))?;
    if !(60..=MAX_TTL).contains(&ttl) {
        return Err(format!(
            "a reset link must work between 60 and {MAX_TTL} seconds (got {ttl})"
        ));
    }
    Ok(ttl)
}

/// Issue a link for `user_id`, valid `ttl` seconds; returns the token (shown once, never
/// stored). Older unused links of the user stop working. The caller audits who issued it.
pub fn issue(
    conn: &mut DbConnection,
    now: i64,
    user_id: i64,
    ttl: i64,
    created_by: &str,
) -> Result<String, StoreError> {
    let token = secrets::random_token(32);
    reset_store::retire_unused_of(conn, user_id, now)?;
    reset_store::insert(
        conn,
        &ResetRow {
            token_hash: secrets::digest(&token),
            user_id,
            created_by: created_by.chars().take(200).collect(),
            created_at: now,
            expires_at: now + ttl,
            used_at: None,
        },
    )?;
    Ok(token)
}

/// The active user a link is for, if the link can still be used.
pub fn check(conn: &mut DbConnection, token: &str, now: i64) -> Result<UserRow, AccountError> {
    let row = usable(conn, token, now)?;
    user_store::by_id(conn, row.user_id)?
        .filter(|u| u.is_active)
        .ok_or(AccountError::ResetLink(LinkProblem::Unknown))
}

fn usable(conn: &mut DbConnection, token: &str, now: i64) -> Result<ResetRow, AccountError> {
    // Tokens are URL-safe base64 of 32 bytes; anything else was never issued, and is not
    // worth a lookup.
    let well_formed = token.len() <= 64
        && !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(AccountError::ResetLink(LinkProblem::Unknown));
    }
    let row = reset_store::by_hash(conn, &secrets::digest(token))?
        .ok_or(AccountError::ResetLink(LinkProblem::Unknown))?;
    if row.used_at.is_some() {
        return Err(AccountError::ResetLink(LinkProblem::Used));
    }
    if now >= row.expires_at {
        return Err(AccountError::ResetLink(LinkProblem::Expired));
    }
    Ok(row)
}

/// Set the new password through a link: the link is spent (one of two racing submissions
/// wins), the user's sessions end, the forced-change flag is cleared, and it is audited.
/// Returns the username.
pub fn complete(
    conn: &mut DbConnection,
    now: i64,
    token: &str,
    password: &Password,
    ip: Option<&str>,
) -> Result<String, AccountError> {
    let hash = secrets::hash_secret(password.secret())?;
    transaction(conn, |conn| {
        let user = check(conn, token, now)?;
        if !reset_store::mark_used(conn, &secrets::digest(token), now)? {
            return Err(AccountError::ResetLink(LinkProblem::Used));
        }
        admin_store::set_password_hash(conn, user.id, &hash, now)?;
        user_store::set_must_change_password(conn, user.id, false)?;
        let ended = admin_store::delete_sessions_of(conn, user.id)?;
        let detail = format!("reset link; {ended} session(s) ended");
        audit::record(
            conn,
            now,
            &Entry {
                actor: Some(&user.username),
                action: AuditAction::AccountPasswordReset,
                target: Some(&user.username),
                detail: Some(&detail),
                ip,
            },
        )?;
        Ok(user.username)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_lifetimes_are_bounded() {
        assert_eq!(parse_ttl("600"), Ok(600));
        assert!(parse_ttl("59").is_err());
        assert!(parse_ttl(&(MAX_TTL + 1).to_string()).is_err());
        assert!(parse_ttl("ten").is_err());
        assert!(parse_ttl("-5").is_err());
    }
}
