//! The UserInfo endpoint (OIDC Core §5.3).
use serde_json::Value;

use super::dpop::{self, Presented};
use super::error::OAuthError;
use super::{access, claims};
use crate::config::Settings;
use crate::family;
use crate::signing::KeySet;
use crate::store::{DbConnection, grants, users};

pub fn userinfo(
    conn: &mut DbConnection,
    keys: &KeySet,
    settings: &Settings,
    token: &str,
    presented: &Presented,
    now: i64,
) -> Result<Value, OAuthError> {
    let invalid = |why: &str| OAuthError::InvalidToken(why.to_owned());
    let claims = access::verify(keys, settings, token, now).map_err(|e| {
        tracing::debug!(error = %e, "userinfo: token refused");
        invalid("the access token is invalid or expired")
    })?;
    dpop::check_presented(conn, presented, claims.cnf.as_ref(), token, now)?;
    if family::is_access_revoked(conn, &claims.jti)? {
        return Err(invalid("the access token was revoked"));
    }
    if !claims.scope.split(' ').any(|s| s == "openid") {
        return Err(OAuthError::InsufficientScope(
            "the access token lacks the openid scope".into(),
        ));
    }
    if !claims.is_users() {
        return Err(OAuthError::InsufficientScope(
            "the access token has no user".into(),
        ));
    }
    // By subject: the SimpleJWT user claim's name and value are settings.
    let user = match users::by_subject(conn, &claims.sub)? {
        Some(u) if u.is_active => u,
        _ => return Err(invalid("the user is no longer active")),
    };
    // OIDC Core §5.5: claims asked for by name under "userinfo", beyond the scopes'.
    let request = grants::claims_request_for_access(conn, &claims.jti)?;
    let extra = claims::requested(request.as_deref(), "userinfo");
    let mut out = claims::user_claims(&user, &claims.scope, &extra);
    out.insert("sub".into(), user.subject.into());
    Ok(Value::Object(out))
}
