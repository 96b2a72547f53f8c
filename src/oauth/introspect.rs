//! Token introspection (RFC 7662) and revocation (RFC 7009), for authenticated clients.
//! A client learns about, and can revoke, only tokens issued to it; anything else is
//! reported inactive and left alone.
use serde_json::{Value, json};

use super::access;
use super::error::OAuthError;
use crate::clients::Client;
use crate::config::Settings;
use crate::family::{self, IssuedAccess, Status};
use crate::secrets;
use crate::signing::KeySet;
use crate::store::{DbConnection, refresh_tokens, users};

pub fn introspect(
    conn: &mut DbConnection,
    keys: &KeySet,
    settings: &Settings,
    client: &Client,
    token: &str,
    now: i64,
) -> Result<Value, OAuthError> {
    let inactive = json!({ "active": false });
    if let Ok(claims) = access::verify_issued(keys, settings, token, now) {
        if claims.client_id.as_deref() != Some(client.id.as_str())
            || family::is_access_revoked(conn, &claims.jti)?
        {
            return Ok(inactive);
        }
        // A disabled or deleted user's token is dead here as at userinfo, though its
        // signature still holds until `exp`.
        let username = if claims.is_users() {
            match users::by_subject(conn, &claims.sub)? {
                Some(u) if u.is_active => Some(u.username),
                _ => return Ok(inactive),
            }
        } else {
            None
        };
        let mut out = json!({
            "active": true,
            "scope": claims.scope,
            "client_id": claims.client_id,
            "sub": claims.sub,
            "exp": claims.exp,
            "iat": claims.iat,
            "iss": claims.iss,
            "aud": claims.aud,
            "jti": claims.jti,
            "token_type": if claims.cnf.is_some() { "DPoP" } else { "Bearer" },
        });
        // RFC 9449 §6.2: the resource server checks the proof's key against this.
        if let Some(cnf) = &claims.cnf {
            out["cnf"] = json!({ "jkt": cnf.jkt });
        }
        if let Some(name) = username {
            out["username"] = name.into();
        }
        return Ok(out);
    }
    let Some(row) = refresh_tokens::by_hash(conn, &secrets::digest(token))? else {
        return Ok(inactive);
    };
    if row.client_id.as_deref() != Some(client.id.as_str())
        || family::status(conn, &row, now)? != Status::Live
    {
        return Ok(inactive);
    }
    let user = match row.user_id {
        Some(id) => match users::by_id(conn, id)? {
            Some(u) if u.is_active => Some(u),
            _ => return Ok(inactive),
        },
        None => None,
    };
    let mut out = json!({
        "active": true,
        "scope": row.scope,
        "client_id": row.client_id,
        "exp": row.expires_at,
        "iat": row.created_at,
        "iss": settings.issuer,
        "token_type": "refresh_token",
    });
    if let Some(user) = user {
        out["sub"] = user.subject.into();
        out["username"] = user.username.into();
    }
    Ok(out)
}

/// Revoke a refresh token (and its whole family) or an access token. Unknown, foreign
/// and already-invalid tokens are not an error (RFC 7009 §2.2).
pub fn revoke(
    conn: &mut DbConnection,
    keys: &KeySet,
    settings: &Settings,
    client: &Client,
    token: &str,
    now: i64,
) -> Result<(), OAuthError> {
    if let Some(row) = refresh_tokens::by_hash(conn, &secrets::digest(token))? {
        if row.client_id.as_deref() == Some(client.id.as_str()) {
            family::revoke(conn, &row.grant_id, now)?;
        }
        return Ok(());
    }
    if let Ok(claims) = access::verify_issued(keys, settings, token, now)
        && claims.client_id.as_deref() == Some(client.id.as_str())
    {
        let issued = IssuedAccess {
            jti: claims.jti,
            exp: claims.exp,
        };
        family::revoke_access(conn, &issued, now)?;
    }
    Ok(())
}
