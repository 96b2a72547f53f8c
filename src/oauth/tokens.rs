//! The JWTs Tessera issues: access tokens (RFC 9068, plus SimpleJWT's claims) and ID tokens.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha512};

use crate::resource::{self, Expectations, TokenProblem};
use crate::signing::{KeySet, SignError, SigningAlg};

/// Claims of an access token. `token_type`, and the user claim [`sign_access`] adds, are
/// SimpleJWT's, so stock SimpleJWT resource servers accept these tokens too.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub scope: String,
    /// Only user grants set it: a client's own token (client credentials) has none.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth_time: Option<i64>,
    pub token_type: String,
    /// RFC 8693 §4.1: who acts for `sub` (a token exchange with an actor token); nested
    /// `act` inside names the actors before.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub act: Option<Value>,
    /// RFC 9449 §6.1: the DPoP key the token is bound to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cnf: Option<Confirmation>,
}

/// A token's confirmation claim (RFC 7800): the thumbprint of its DPoP key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub jkt: String,
}

impl AccessClaims {
    /// Whether the token was issued to a user (then `sub` is the user's subject).
    pub fn is_users(&self) -> bool {
        self.auth_time.is_some()
    }
}

/// SimpleJWT's user claim of an access token: the claim (`USER_ID_CLAIM`) and its value.
pub type UserClaim = (String, String);

/// A signed access token and the facts callers store about it.
#[derive(Debug)]
pub struct AccessToken {
    pub jwt: String,
    pub jti: String,
    pub exp: i64,
}

pub fn new_jti() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// An access token's claims with SimpleJWT's user claim beside them: its name is a setting
/// (`USER_ID_CLAIM`), so it cannot be a field.
#[derive(Serialize)]
struct WithUser<'a> {
    #[serde(flatten)]
    claims: &'a AccessClaims,
    #[serde(flatten)]
    user: Map<String, Value>,
}

/// Sign an access token with the active key of `alg` (the client's access-token
/// algorithm); `user` is SimpleJWT's user claim, for a user's token.
pub fn sign_access(
    keys: &KeySet,
    alg: SigningAlg,
    claims: &AccessClaims,
    user: Option<UserClaim>,
) -> Result<AccessToken, SignError> {
    let user = user
        .map(|(claim, value)| (claim, Value::String(value)))
        .into_iter()
        .collect();
    Ok(AccessToken {
        jwt: keys.sign_with(alg, "at+jwt", &WithUser { claims, user })?,
        jti: claims.jti.clone(),
        exp: claims.exp,
    })
}

/// OIDC Core §3.1.3.6: base64url of the left half of the hash of the access token, with
/// the hash of the ID token's `alg`: SHA-256 for RS256, PS256 and ES256; SHA-512 for EdDSA
/// over Ed25519 (what relying parties such as the `openidconnect` crate compute).
pub fn at_hash(access_token: &str, id_token_alg: SigningAlg) -> String {
    match id_token_alg {
        SigningAlg::EdDsa => {
            let digest = Sha512::digest(access_token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..32])
        }
        SigningAlg::Rs256 | SigningAlg::Ps256 | SigningAlg::Es256 => {
            let digest = Sha256::digest(access_token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..16])
        }
    }
}

/// What goes into an ID token besides the user claims.
#[derive(Debug)]
pub struct IdTokenFacts<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    pub client_id: &'a str,
    pub now: i64,
    pub ttl: i64,
    pub auth_time: i64,
    pub nonce: Option<&'a str>,
    pub access_token: &'a str,
    /// The session the user signed in with (code exchange only; a refresh has none).
    pub sid: Option<&'a str>,
    /// How the user authenticated (RFC 8176 `amr`) and the resulting `acr`; `None` for
    /// grants stored before Tessera recorded it.
    pub methods: Option<&'a crate::auth_methods::AuthMethods>,
}

/// Sign an ID token with the active key of `alg` (the client's
/// `id_token_signed_response_alg`).
pub fn sign_id_token(
    keys: &KeySet,
    alg: SigningAlg,
    facts: &IdTokenFacts<'_>,
    user_claims: Map<String, Value>,
) -> Result<String, SignError> {
    let mut claims = user_claims;
    claims.insert("iss".into(), facts.issuer.into());
    claims.insert("sub".into(), facts.subject.into());
    claims.insert("aud".into(), facts.client_id.into());
    claims.insert("azp".into(), facts.client_id.into());
    claims.insert("iat".into(), facts.now.into());
    claims.insert("exp".into(), (facts.now + facts.ttl).into());
    claims.insert("auth_time".into(), facts.auth_time.into());
    claims.insert("at_hash".into(), at_hash(facts.access_token, alg).into());
    if let Some(nonce) = facts.nonce {
        claims.insert("nonce".into(), nonce.into());
    }
    if let Some(sid) = facts.sid {
        claims.insert("sid".into(), sid.into());
    }
    if let Some(methods) = facts.methods {
        claims.insert("amr".into(), methods.amr().into());
        claims.insert("acr".into(), methods.acr().into());
    }
    keys.sign_with(alg, "JWT", &Value::Object(claims))
}

/// The claims of an ID token this server signed, offered back as `id_token_hint`
/// (authorization and logout). Expired ones count: a hint is often an old ID token.
pub fn verify_id_token_hint(
    keys: &KeySet,
    issuer: &str,
    hint: &str,
    now: i64,
) -> Result<Map<String, Value>, TokenProblem> {
    let claims = resource::decode_local(keys, hint, &Expectations::id_token_hint(issuer), now)?;
    if !claims.get("sub").is_some_and(Value::is_string) {
        return Err(TokenProblem::Invalid);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_spec_example() {
        // OIDC Core, appendix A.3: access token and at_hash of the example.
        assert_eq!(
            at_hash(
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y",
                SigningAlg::Rs256
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }

    #[test]
    fn at_hash_follows_the_id_token_algorithm() {
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        for alg in [SigningAlg::Ps256, SigningAlg::Es256] {
            assert_eq!(at_hash(token, alg), "77QmUPtjPfzWtF2AnpK9RQ");
        }
        let eddsa = at_hash(token, SigningAlg::EdDsa);
        let digest = Sha512::digest(token.as_bytes());
        assert_eq!(eddsa, URL_SAFE_NO_PAD.encode(&digest[..32]));
        assert_eq!(eddsa.len(), 43);
    }
}
