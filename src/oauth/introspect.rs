//! Token introspection (RFC 7662) and revocation (RFC 7009), for authenticated clients.
//! A client learns about, and can revoke, only tokens issued to it; anything else is
//! reported inactive and left alone.
use serde_json::{Value, json};

use super::access;
use super::client_auth::Presented;
use super::context::SecretCache;
use crate::config::Settings;
use crate::error::OAuthError;
use crate::secrets;
use crate::signing::KeySet;
use crate::store::clients::{self, ClientRow};
use crate::store::{DbConnection, grants, refresh_tokens, users};

/// Check a confidential client's credentials (introspection and revocation need them).
pub fn authenticate(
    conn: &mut DbConnection,
    cache: &SecretCache,
    presented: Option<Presented>,
) -> Result<ClientRow, OAuthError> {
    let fail = || OAuthError::InvalidClient("unknown client or wrong credentials".into());
    let presented = presented.ok_or_else(fail)?;
    let client = clients::by_id(conn, &presented.client_id)?.ok_or_else(fail)?;
    match &presented.secret {
        Some(secret) if cache.verify(&client, secret) => Ok(client),
        None if client.is_public => Ok(client),
        _ => Err(fail()),
    }
}

pub fn introspect(
    conn: &mut DbConnection,
    keys: &KeySet,
    settings: &Settings,
    client: &ClientRow,
    token: &str,
    now: i64,
) -> Result<Value, OAuthError> {
    let inactive = json!({ "active": false });
    if let Ok(claims) = access::verify(keys, settings, token) {
        if claims.client_id.as_deref() != Some(client.id.as_str())
            || access::is_revoked(conn, &claims)?
        {
            return Ok(inactive);
        }
        let username = match claims.user_id() {
            Some(id) => users::by_id(conn, id)?.map(|u| u.username),
            None => None,
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
            "token_type": "Bearer",
        });
        if let Some(name) = username {
            out["username"] = name.into();
        }
        return Ok(out);
    }
    let Some(row) = refresh_tokens::by_hash(conn, &secrets::digest(token))? else {
        return Ok(inactive);
    };
    let grant_live = grants::by_id(conn, &row.grant_id)?.is_some_and(|g| g.revoked_at.is_none());
    if row.client_id.as_deref() != Some(client.id.as_str())
        || row.revoked_at.is_some()
        || row.rotated_at.is_some()
        || row.expires_at <= now
        || !grant_live
    {
        return Ok(inactive);
    }
    let user = match row.user_id {
        Some(id) => users::by_id(conn, id)?,
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
    client: &ClientRow,
    token: &str,
    now: i64,
) -> Result<(), OAuthError> {
    if let Some(row) = refresh_tokens::by_hash(conn, &secrets::digest(token))? {
        if row.client_id.as_deref() == Some(client.id.as_str()) {
            let until = now + settings.access_token_ttl.as_secs() as i64 * 12;
            grants::revoke(conn, &row.grant_id, now, until)?;
        }
        return Ok(());
    }
    if let Ok(claims) = access::verify(keys, settings, token)
        && claims.client_id.as_deref() == Some(client.id.as_str())
    {
        grants::insert_revoked_jti(conn, &claims.jti, claims.exp, now)
            .map_err(|e| OAuthError::ServerError(e.to_string()))?;
    }
    Ok(())
}
