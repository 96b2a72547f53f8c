//! Tessera's own access tokens, checked where Tessera accepts them (userinfo,
//! introspection, revocation) by the one verification resource servers use too.
use serde_json::Value;

use super::tokens::AccessClaims;
use crate::config::Settings;
use crate::resource::{self, Expectations, TokenProblem};
use crate::signing::KeySet;

/// What an access token of this server must say.
pub fn expectations(settings: &Settings) -> Expectations {
    Expectations::access(&settings.issuer).audience(settings.audience())
}

/// Any access token this server issued, whichever API (RFC 8707 resource) it names in
/// `aud`: signature, issuer, `exp`/`nbf`/`iat` at `now`, `jti`, and that it is an access
/// token. For introspection, revocation and token exchange, where Tessera speaks as the
/// issuer; userinfo keeps [`verify`], so a token for another API is refused there.
pub fn verify_issued(
    keys: &KeySet,
    settings: &Settings,
    token: &str,
    now: i64,
) -> Result<AccessClaims, TokenProblem> {
    let mut expect = Expectations::access(&settings.issuer);
    expect.audience = None;
    let claims = resource::decode_local(keys, token, &expect, now)?;
    let claims = resource::verify_claims(claims, &expect)?;
    serde_json::from_value(Value::Object(claims.into_map())).map_err(|_| TokenProblem::Invalid)
}

/// Signature, issuer, audience, `exp`/`nbf`/`iat` at `now`, `jti`, and that it is an
/// access token.
pub fn verify(
    keys: &KeySet,
    settings: &Settings,
    token: &str,
    now: i64,
) -> Result<AccessClaims, TokenProblem> {
    let expect = expectations(settings);
    let claims = resource::decode_local(keys, token, &expect, now)?;
    let claims = resource::verify_claims(claims, &expect)?;
    serde_json::from_value(Value::Object(claims.into_map())).map_err(|_| TokenProblem::Invalid)
}
