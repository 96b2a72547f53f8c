//! SimpleJWT-shaped tokens: SimpleJWT's claims (`token_type`, `exp`, `iat`, `jti`, the user
//! id claim as a string, as SimpleJWT 5.5 writes it, and any configured extra claims) plus
//! `iss`, `sub` and `aud`, signed RS256 with a `kid` so any resource server can check them
//! against the JWKS.
use serde_json::{Map, Value, json};

use super::settings::{SimpleJwtSettings, UserField};
use crate::oauth::tokens::new_jti;
use crate::signing::{KeySet, SignError};
use crate::store::users::UserRow;

/// What every token of a user shares; `at` is when the pair is made.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub user: &'a UserRow,
    pub settings: &'a SimpleJwtSettings,
}

fn field_value(user: &UserRow, field: UserField) -> Value {
    match field {
        UserField::Username => json!(user.username),
        UserField::Email => json!(user.email.clone().unwrap_or_default()),
        UserField::Name => json!(user.name.clone().unwrap_or_default()),
        UserField::IsAdmin => json!(user.is_admin),
    }
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
    let jti = new_jti();
    // SimpleJWT's order: its own claims, the user id, then what a serializer added.
    let mut claims = Map::new();
    claims.insert("token_type".into(), json!(token_type));
    claims.insert("exp".into(), json!(now + ttl));
    claims.insert("iat".into(), json!(now));
    claims.insert("jti".into(), json!(jti));
    let settings = subject.settings;
    claims.insert(
        settings.user_id_claim.clone(),
        json!(settings.user_id_value(subject.user.id, &subject.user.username)),
    );
    for (claim, field) in &settings.extra_claims {
        claims.insert(claim.clone(), field_value(subject.user, *field));
    }
    claims.insert("iss".into(), json!(subject.issuer));
    claims.insert("sub".into(), json!(subject.user.subject));
    claims.insert("aud".into(), json!(subject.audience));
    // Access tokens say what they are in the header too (RFC 9068); SimpleJWT clients
    // never look at `typ`.
    let typ = if token_type == "access" {
        "at+jwt"
    } else {
        "JWT"
    };
    Ok(Signed {
        jwt: keys.sign(typ, &claims)?,
        jti,
        exp: now + ttl,
    })
}
