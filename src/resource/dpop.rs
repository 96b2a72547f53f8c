//! DPoP proofs (RFC 9449 §4.3): the checks any receiver makes — the token endpoint, the
//! userinfo endpoint, `/hello/` and resource servers using this crate. Replay memory and
//! server nonces are the receiver's: this module says whether a proof is well-formed,
//! signed by the key it carries, for this request and fresh, and hands back what the
//! receiver remembers (the key's thumbprint, `jti`, `nonce`).
use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::signing::SigningAlg;

/// How far a proof's `iat` may lie from our clock, either way (RFC 9449 §11.1: a short
/// window, so a captured proof is useless soon after).
pub const IAT_WINDOW: i64 = 60;

/// The longest proof taken: an RSA-4096 key and the claims fit well within it; anything
/// longer is not a proof of ours to parse.
const MAX_PROOF: usize = 8 * 1024;

/// The longest `jti` taken (RFC 9449 asks for 96 bits of randomness; UUIDs and 43-character
/// tokens are common).
const MAX_JTI: usize = 256;

/// JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2):
/// a proof carrying one leaks its key, and is refused.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The `WWW-Authenticate: DPoP` challenge's `algs`, and discovery's
/// `dpop_signing_alg_values_supported`: the asymmetric algorithms we verify.
pub fn algorithms() -> [&'static str; 4] {
    SigningAlg::ALL.map(SigningAlg::as_str)
}

/// What a proof must match: the request it came with.
#[derive(Clone, Copy, Debug)]
pub struct ProofRequest<'a> {
    /// The HTTP method, as sent (`POST`, `GET`).
    pub method: &'a str,
    /// The URL the request was for, as the public sees it (behind proxies: built from the
    /// configured public origin, never from forwarded headers).
    pub url: &'a str,
    /// The access token presented with the proof, at a resource (`ath` must hash it).
    pub access_token: Option<&'a str>,
    pub now: i64,
}

/// A proof that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// The RFC 7638 SHA-256 thumbprint of the proof's key, base64url: what `cnf.jkt` holds.
    pub jkt: String,
    pub jti: String,
    pub iat: i64,
    /// What it is signed with, for receivers that accept fewer algorithms than all of ours.
    pub alg: SigningAlg,
    /// The server nonce the proof carries, if any; the receiver decides whether it is one
    /// of its own.
    pub nonce: Option<String>,
}

impl Proof {
    /// The replay key: the `jti` under the key that signed it, so no client can spoil
    /// another's `jti` (it cannot sign with the other's key).
    pub fn replay_key(&self) -> String {
        format!("{}:{}", self.jkt, self.jti)
    }
}

/// Why a proof was refused; the text is the `error_description` shown to the client.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProofError(pub &'static str);

/// The one `DPoP` header of a request: none is `None`, two are refused (RFC 9449 §4.3
/// point 1).
pub fn proof_header(
    headers: &actix_web::http::header::HeaderMap,
) -> Result<Option<&str>, ProofError> {
    let mut values = headers.get_all("dpop");
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ProofError("send exactly one DPoP header"));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| ProofError("the DPoP header is not a JWT"))
}

/// base64url(SHA-256(token)): the `ath` a proof sent with `token` carries (RFC 9449 §4.2).
pub fn access_token_hash(token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// Check one proof against the request it came with (RFC 9449 §4.3, points 2 to 12 but the
/// nonce's and the replay's, which need the receiver's memory).
pub fn verify(proof: &str, request: &ProofRequest<'_>) -> Result<Proof, ProofError> {
    if proof.len() > MAX_PROOF {
        return Err(ProofError("the DPoP proof is too long"));
    }
    let header = raw_header(proof)?;
    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(ProofError("the DPoP proof's typ must be dpop+jwt"));
    }
    let jwk_value = header
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or(ProofError("the DPoP proof has no jwk header"))?;
    if PRIVATE_MEMBERS.iter().any(|m| jwk_value.contains_key(*m)) {
        return Err(ProofError(
            "the DPoP proof's jwk holds private key material",
        ));
    }
    // Only asymmetric algorithms: `none` and the HMACs are refused here, before a key is
    // built (jsonwebtoken would otherwise take an `oct` JWK as an HMAC secret).
    let parsed = jsonwebtoken::decode_header(proof)
        .map_err(|_| ProofError("the DPoP proof's header is malformed"))?;
    let alg = SigningAlg::from_jose(parsed.alg)
        .ok_or(ProofError("the DPoP proof's alg is not one we accept"))?;
    let jwk: Jwk = serde_json::from_value(Value::Object(jwk_value.clone()))
        .map_err(|_| ProofError("the DPoP proof's jwk is not a public key we understand"))?;
    if !key_fits(&jwk, alg) {
        return Err(ProofError("the DPoP proof's jwk does not fit its alg"));
    }
    let key = DecodingKey::from_jwk(&jwk)
        .map_err(|_| ProofError("the DPoP proof's jwk is not a public key we understand"))?;
    let mut validation = Validation::new(alg.jose());
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Map<String, Value>>(proof, &key, &validation)
        .map_err(|_| ProofError("the DPoP proof's signature does not verify with its jwk"))?
        .claims;
    let jkt = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|_| ProofError("the DPoP proof's jwk is not a public key we understand"))?;
    let jti = match claims.get("jti").and_then(Value::as_str) {
        Some(j) if !j.is_empty() && j.len() <= MAX_JTI => j.to_owned(),
        _ => return Err(ProofError("the DPoP proof needs a jti")),
    };
    if claims.get("htm").and_then(Value::as_str) != Some(request.method) {
        return Err(ProofError(
            "the DPoP proof's htm is not this request's method",
        ));
    }
    let htu = claims
        .get("htu")
        .and_then(Value::as_str)
        .ok_or(ProofError("the DPoP proof needs an htu"))?;
    if !same_target(htu, request.url) {
        return Err(ProofError("the DPoP proof's htu is not this request's URL"));
    }
    let iat = match claims.get("iat") {
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or(ProofError("the DPoP proof's iat is not a time"))?,
        _ => return Err(ProofError("the DPoP proof needs an iat")),
    };
    if iat > request.now + IAT_WINDOW {
        return Err(ProofError("the DPoP proof's iat is in the future"));
    }
    if iat < request.now - IAT_WINDOW {
        return Err(ProofError("the DPoP proof is too old"));
    }
    if let Some(token) = request.access_token {
        let Some(ath) = claims.get("ath").and_then(Value::as_str) else {
            return Err(ProofError(
                "the DPoP proof needs an ath for the access token",
            ));
        };
        let expected = access_token_hash(token);
        if !crate::secrets::constant_time_eq(ath.as_bytes(), expected.as_bytes()) {
            return Err(ProofError(
                "the DPoP proof's ath does not match the access token",
            ));
        }
    }
    let nonce = match claims.get("nonce") {
        None => None,
        Some(Value::String(n)) => Some(n.clone()),
        Some(_) => return Err(ProofError("the DPoP proof's nonce is not a string")),
    };
    Ok(Proof {
        jkt,
        jti,
        iat,
        alg,
        nonce,
    })
}

/// The JOSE header as JSON: jsonwebtoken's `Header` drops members it does not know, and
/// a private key member in `jwk` must be seen to be refused.
fn raw_header(proof: &str) -> Result<Map<String, Value>, ProofError> {
    let malformed = ProofError("the DPoP proof is not a JWT");
    let (encoded, _) = proof.split_once('.').ok_or(malformed.clone())?;
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| malformed.clone())?;
    serde_json::from_slice(&bytes).map_err(|_| malformed)
}

/// Whether the proof's key is of the kind its algorithm signs with; an RSA key must have
/// at least 2048 bits (RFC 7518 §3.3).
fn key_fits(jwk: &Jwk, alg: SigningAlg) -> bool {
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve};
    match (&jwk.algorithm, alg) {
        (AlgorithmParameters::RSA(rsa), SigningAlg::Rs256 | SigningAlg::Ps256) => URL_SAFE_NO_PAD
            .decode(&rsa.n)
            .map(|n| n.iter().skip_while(|b| **b == 0).count() >= 256)
            .unwrap_or(false),
        (AlgorithmParameters::EllipticCurve(ec), SigningAlg::Es256) => {
            ec.curve == EllipticCurve::P256
        }
        (AlgorithmParameters::OctetKeyPair(okp), SigningAlg::EdDsa) => {
            okp.curve == EllipticCurve::Ed25519
        }
        _ => false,
    }
}

/// RFC 9449 §4.3 point 9: the URIs compared without query and fragment, after the
/// normalisation URL parsing does (scheme and host case, default port, dot segments).
pub fn same_target(htu: &str, expected: &str) -> bool {
    let strip = |raw: &str| {
        let mut url = url::Url::parse(raw).ok()?;
        url.set_query(None);
        url.set_fragment(None);
        Some(url)
    };
    match (strip(htu), strip(expected)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Proofs already seen, kept in memory until their `iat` leaves the window: the replay
/// check of a resource server on one instance. (Tessera's own endpoints remember proofs in
/// the database, so every instance sees them.)
#[derive(Debug, Default)]
pub struct ReplayCache {
    seen: Mutex<HashMap<String, i64>>,
}

impl ReplayCache {
    /// Whether this is the first time the proof is seen (and remember it if so).
    pub fn first_use(&self, proof: &Proof, now: i64) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            // A poisoned lock means a panic mid-update; refusing is the safe answer.
            return false;
        };
        seen.retain(|_, until| *until > now);
        let until = proof.iat + IAT_WINDOW + 1;
        seen.insert(proof.replay_key(), until).is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htu_ignores_query_and_fragment_and_normalises() {
        assert!(same_target(
            "https://ID.example.com:443/oauth/token?x=1#f",
            "https://id.example.com/oauth/token"
        ));
        assert!(!same_target(
            "https://id.example.com/oauth/token/",
            "https://id.example.com/oauth/token"
        ));
        assert!(!same_target(
            "http://id.example.com/oauth/token",
            "https://id.example.com/oauth/token"
        ));
        assert!(!same_target(
            "not a url",
            "https://id.example.com/oauth/token"
        ));
    }

    #[test]
    fn ath_is_base64url_sha256() {
        // RFC 9449 §7.1's example token and its ath.
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }
}
