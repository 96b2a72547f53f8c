//! Verifying Tessera's own access tokens (userinfo, introspection, revocation).
use jsonwebtoken::Validation;

use super::tokens::AccessClaims;
use crate::config::Settings;
use crate::signing::{KeySet, VerifyError};
use crate::store::{DbConnection, StoreError, grants};

/// Signature (RS256 only), issuer, audience, expiry, and that it is an access token.
pub fn verify(
    keys: &KeySet,
    settings: &Settings,
    token: &str,
) -> Result<AccessClaims, VerifyError> {
    let mut v = Validation::new(jsonwebtoken::Algorithm::RS256);
    v.leeway = 0;
    v.set_issuer(&[settings.issuer.as_str()]);
    v.set_audience(&[settings.audience()]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data = keys.verify::<AccessClaims>(token, &v)?;
    if data.claims.token_type != "access" {
        return Err(VerifyError::Invalid("not an access token".into()));
    }
    Ok(data.claims)
}

/// Whether an access token was revoked before it expired.
pub fn is_revoked(conn: &mut DbConnection, claims: &AccessClaims) -> Result<bool, StoreError> {
    grants::is_jti_revoked(conn, &claims.jti)
}
