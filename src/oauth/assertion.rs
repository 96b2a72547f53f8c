//! `private_key_jwt` client assertions (RFC 7523 §3, OIDC Core §9): a JWT the client signs
//! with its own key, checked with the key its registered JWKS names by `kid`, through the
//! one verifier (`resource::decode`: the key's algorithm only, so never `none` or an HMAC
//! keyed with a public key), then the claims RFC 7523 asks for, then its `jti` is
//! remembered until it expires so it is taken once, on any instance.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::clients::{Client, ClientKeys};
use crate::resource::{self, Expectations, TokenProblem};
use crate::signing::VerifyingKey;
use crate::store::{DbConnection, StoreError, client_assertions};

/// RFC 7523 §2.2's `client_assertion_type`.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest an assertion may still be valid for: it is made for one request, and its
/// `jti` is kept until then.
pub const MAX_LIFETIME: i64 = 300;

/// Clock skew allowed between the client and Tessera for `exp`, `nbf` and `iat`.
pub const LEEWAY: i64 = 30;

/// The most an assertion may be; a few keys' worth of JWT is far below this.
pub const MAX_LENGTH: usize = 8 * 1024;

/// Why an assertion was refused: logged, never shown (the client sees `invalid_client`).
#[derive(Debug, thiserror::Error)]
pub enum AssertionError {
    #[error("malformed assertion")]
    Malformed,
    #[error("no registered key has the assertion's kid")]
    UnknownKey,
    #[error("signature, algorithm or time claims refused: {0}")]
    Token(TokenProblem),
    #[error("iss and sub must both be the client_id")]
    WrongSubject,
    #[error("aud does not name this server")]
    WrongAudience,
    #[error("the client's profile does not allow the assertion's algorithm")]
    AlgorithmNotAllowed,
    #[error("exp is missing or too far ahead")]
    BadExpiry,
    #[error("jti is missing")]
    NoJti,
    #[error("the assertion was already used")]
    Replayed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an assertion says about itself before it is verified: the client it claims to
/// be (its `sub`) and the key it names. Only for finding the client and its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unverified {
    pub client_id: String,
    pub kid: String,
}

/// Read an assertion's `kid` and `sub` without trusting them.
pub fn peek(assertion: &str) -> Result<Unverified, AssertionError> {
    if assertion.len() > MAX_LENGTH {
        return Err(AssertionError::Malformed);
    }
    let kid = resource::token_kid(assertion).map_err(AssertionError::Token)?;
    let payload = assertion
        .split('.')
        .nth(1)
        .ok_or(AssertionError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| AssertionError::Malformed)?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|_| AssertionError::Malformed)?;
    let client_id = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or(AssertionError::Malformed)?
        .to_owned();
    Ok(Unverified { client_id, kid })
}

/// The URLs an assertion's `aud` may name: the issuer first (RFC 7523 §3, FAPI 2.0), the
/// token endpoint (OIDC Core §9), and the endpoint it is presented at (RFC 9126 §2 for PAR).
pub fn audiences(issuer: &str, endpoint: &str) -> [String; 3] {
    let base = issuer.trim_end_matches('/');
    [
        issuer.to_owned(),
        format!("{base}/oauth/token"),
        format!("{base}{endpoint}"),
    ]
}

/// Verify `assertion` as `client`'s. `fetched` is the key a `jwks_uri` client's JWKS has
/// for the assertion's `kid` (fetched before this, off the blocking pool).
pub fn verify(
    conn: &mut DbConnection,
    client: &Client,
    assertion: &str,
    fetched: Option<&VerifyingKey>,
    audiences: &[String],
    now: i64,
) -> Result<(), AssertionError> {
    let unverified = peek(assertion)?;
    if unverified.client_id != client.id {
        return Err(AssertionError::WrongSubject);
    }
    let registered;
    let key = match &client.keys {
        Some(keys @ ClientKeys::Jwks(_)) => {
            registered = keys.registered_keys();
            registered.get(&unverified.kid)
        }
        Some(ClientKeys::JwksUri(_)) => fetched,
        None => None,
    }
    .ok_or(AssertionError::UnknownKey)?;
    // The key's algorithm is the only one its signature is checked with.
    if !client.profile.accepts_client_alg(key.alg()) {
        return Err(AssertionError::AlgorithmNotAllowed);
    }
    let expect = Expectations {
        issuer: client.id.clone(),
        audience: None,
        token_type: None,
        leeway: LEEWAY,
        accept_expired: false,
    };
    let claims = resource::decode(assertion, key, &expect, now).map_err(AssertionError::Token)?;
    if claims.get("sub").and_then(Value::as_str) != Some(client.id.as_str()) {
        return Err(AssertionError::WrongSubject);
    }
    let names_us = match claims.get("aud") {
        // FAPI 2.0 §5.3.2.1: only the issuer, as a string, so an assertion made for another
        // endpoint or server cannot be replayed here (the audience injection attack).
        Some(Value::String(a)) if client.profile.is_fapi2() => audiences.first() == Some(a),
        _ if client.profile.is_fapi2() => false,
        Some(Value::String(a)) => audiences.contains(a),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| audiences.iter().any(|ours| ours == a)),
        _ => false,
    };
    if !names_us {
        return Err(AssertionError::WrongAudience);
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(AssertionError::BadExpiry)?;
    if exp > now + MAX_LIFETIME {
        return Err(AssertionError::BadExpiry);
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or(AssertionError::NoJti)?;
    // Kept past `exp` by the leeway: an assertion is accepted that long after it.
    if !client_assertions::remember(conn, &client.id, jti, exp + LEEWAY, now)? {
        return Err(AssertionError::Replayed);
    }
    Ok(())
}
