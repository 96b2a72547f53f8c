//! SimpleJWT-shaped tokens: SimpleJWT's claims (`token_type`, `exp`, `iat`, `jti`,
//! `user_id` as a string, as SimpleJWT 5.5 writes it) plus `iss`, `sub` and `aud`, signed
//! RS256 with a `kid` so any resource server can check them against the JWKS.
use serde::Serialize;

use crate::oauth::tokens::new_jti;
use crate::signing::{KeySet, SignError};
use crate::store::users::UserRow;

#[derive(Debug, Serialize)]
pub struct SimpleClaims {
    pub token_type: &'static str,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub user_id: String,
    pub iss: String,
    pub sub: String,
    pub aud: String,
}

/// What every token of a user shares; `at` is when the pair is made.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub user: &'a UserRow,
}

#[derive(Debug)]
pub struct Signed {
    pub jwt: String,
    pub jti: String,
    pub exp: i64,
}

pub fn sign(
    keys: &KeySet,
    subject: &Subject<'_>,
    token_type: &'static str,
    now: i64,
    ttl: i64,
) -> Result<Signed, SignError> {
    let claims = SimpleClaims {
        token_type,
        exp: now + ttl,
        iat: now,
        jti: new_jti(),
        user_id: subject.user.id.to_string(),
        iss: subject.issuer.to_owned(),
        sub: subject.user.subject.clone(),
        aud: subject.audience.to_owned(),
    };
    // Access tokens say what they are in the header too (RFC 9068); SimpleJWT clients
    // never look at `typ`.
    let typ = if token_type == "access" {
        "at+jwt"
    } else {
        "JWT"
    };
    Ok(Signed {
        jwt: keys.sign(typ, &claims)?,
        jti: claims.jti,
        exp: claims.exp,
    })
}
