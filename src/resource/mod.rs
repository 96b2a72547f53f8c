//! Verifying Tessera's access tokens in a resource server: the signature against a JWKS
//! (RS256, PS256, ES256 or EdDSA, whichever the token's key is for: the algorithm is the
//! key's, never the token header's), then the claim checks SimpleJWT makes (so rejections
//! carry SimpleJWT's messages).
//!
//! ```no_run
//! use tessera::resource::{Expectations, JwksCache, Verifier};
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let jwks = JwksCache::new("https://id.example.com/.well-known/jwks.json")?;
//! let verifier = Verifier::new(jwks, Expectations::access("https://id.example.com"));
//! let claims = verifier.verify("eyJ...").await?;
//! println!("hello, {}", claims.sub().unwrap_or("?"));
//! # Ok(()) }
//! ```
//!
//! Put the [`Verifier`] in actix-web's app data and take [`Authenticated`] as a handler
//! argument; a request without a valid token never reaches the handler.
mod claims;
pub mod dpop;
mod extract;
mod jwks;
mod metadata;

use std::sync::Arc;

use jsonwebtoken::Validation;
use serde_json::{Map, Value};

pub use crate::signing::{SigningAlg, VerifyingKey};
pub use claims::Claims;
pub use extract::{Authenticated, Rejection};
pub(crate) use jwks::signing_keys;
pub use jwks::{JwksCache, JwksError, install_crypto_provider};
pub use metadata::{MetadataError, ProtectedResource, challenge, metadata_document};

use crate::clock::{SharedClock, SystemClock};
use crate::signing::Keys;

/// Why a token was refused, with the message SimpleJWT gives for the same fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenProblem {
    /// Malformed, an algorithm other than its key's, unknown key, bad signature, wrong
    /// issuer or audience, not yet valid: SimpleJWT says the same for all of them.
    #[error("Token is invalid")]
    Invalid,
    #[error("Token is expired")]
    Expired,
    #[error("Token has no 'exp' claim")]
    NoExp,
    #[error("Token has no id")]
    NoId,
    #[error("Token has no type")]
    NoType,
    #[error("Token has wrong type")]
    WrongType,
    #[error("Token is blacklisted")]
    Blacklisted,
}

impl TokenProblem {
    /// The user-facing message, exactly as SimpleJWT words it.
    pub fn message(self) -> &'static str {
        match self {
            TokenProblem::Invalid => "Token is invalid",
            TokenProblem::Expired => "Token is expired",
            TokenProblem::NoExp => "Token has no 'exp' claim",
            TokenProblem::NoId => "Token has no id",
            TokenProblem::NoType => "Token has no type",
            TokenProblem::WrongType => "Token has wrong type",
            TokenProblem::Blacklisted => "Token is blacklisted",
        }
    }
}

/// What a token must say to be accepted.
#[derive(Clone, Debug)]
pub struct Expectations {
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud` (one of, when the token has several); `None` skips the check.
    pub audience: Option<String>,
    /// Required `token_type`; `None` accepts any (SimpleJWT's "untyped" tokens).
    pub token_type: Option<&'static str>,
    /// Seconds of clock skew allowed for `exp`, `nbf` and `iat`.
    pub leeway: i64,
    /// Accept a token past its `exp`: only for an `id_token_hint`, which names a user and
    /// grants nothing (OIDC Core §3.1.2.1 allows an expired one).
    pub accept_expired: bool,
}

impl Expectations {
    /// Access tokens from `issuer`, whose audience defaults to the issuer itself.
    pub fn access(issuer: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            audience: Some(issuer.to_owned()),
            token_type: Some("access"),
            leeway: 0,
            accept_expired: false,
        }
    }

    /// An ID token of `issuer` offered as a hint of who the user is: any audience, and
    /// expired ones too.
    pub fn id_token_hint(issuer: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            audience: None,
            token_type: None,
            leeway: 0,
            accept_expired: true,
        }
    }

    pub fn audience(mut self, audience: &str) -> Self {
        self.audience = Some(audience.to_owned());
        self
    }

    pub fn leeway(mut self, seconds: i64) -> Self {
        self.leeway = seconds;
        self
    }
}

/// The `kid` of a JWT signed with one of our algorithms (RS256, PS256, ES256, EdDSA), read
/// from its header. Any other algorithm (`none`, `HS256` keyed with the public key, ...)
/// is refused here, before a key is chosen, and so is a `crit` header: Tessera understands
/// no extension, and RFC 7515 §4.1.11 says a token naming one it does not understand MUST
/// be refused. Whether the algorithm is the key's is checked once the key is found.
pub fn token_kid(token: &str) -> Result<String, TokenProblem> {
    header(token)?.1.ok_or(TokenProblem::Invalid)
}

/// The algorithm and `kid` of a JWT header without `crit`; anything else is refused.
fn header(token: &str) -> Result<(SigningAlg, Option<String>), TokenProblem> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenProblem::Invalid)?;
    if header.crit.is_some() {
        return Err(TokenProblem::Invalid);
    }
    let alg = SigningAlg::from_jose(header.alg).ok_or(TokenProblem::Invalid)?;
    Ok((alg, header.kid))
}

fn numeric(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, TokenProblem> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or(TokenProblem::Invalid),
        Some(_) => Err(TokenProblem::Invalid),
    }
}

/// Check the signature with `key`, then the claims in the order PyJWT and SimpleJWT check
/// them, so the first fault found is the one SimpleJWT would report.
pub fn check(
    token: &str,
    key: &VerifyingKey,
    expect: &Expectations,
    now: i64,
) -> Result<Claims, TokenProblem> {
    let claims = decode(token, key, expect, now)?;
    verify_claims(claims, expect)
}

/// The first half of [`check`], what PyJWT does while decoding: signature, then `iat`,
/// `nbf`, `exp` (when present), `iss`, `aud`. SimpleJWT looks a token up in its blacklist
/// between this and [`verify_claims`].
///
/// This is the one verification every token Tessera accepts goes through: its own
/// endpoints (userinfo, introspection, `/hello/`, the SimpleJWT API, `id_token_hint`) and
/// resource servers over a JWKS, all with the clock passed in as `now`. `exp == now` is
/// expired, as PyJWT has it; `leeway` widens `exp`, `nbf` and `iat` alike.
///
/// The signature is checked with `key`'s own algorithm: a token whose header names
/// another is refused, whatever it is signed with.
pub fn decode(
    token: &str,
    key: &VerifyingKey,
    expect: &Expectations,
    now: i64,
) -> Result<Map<String, Value>, TokenProblem> {
    let (alg, _) = header(token)?;
    decode_checked_header(token, alg, key, expect, now)
}

/// [`decode`] once [`header`] accepted the header (`alg` is what it names): it is not
/// parsed twice on the verification path.
fn decode_checked_header(
    token: &str,
    alg: SigningAlg,
    key: &VerifyingKey,
    expect: &Expectations,
    now: i64,
) -> Result<Map<String, Value>, TokenProblem> {
    if alg != key.alg() {
        return Err(TokenProblem::Invalid);
    }
    let mut validation = Validation::new(key.alg().jose());
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, key.decoding_key(), &validation)
        .map_err(|_| TokenProblem::Invalid)?;
    let claims = data.claims;
    let leeway = expect.leeway;
    if let Some(iat) = numeric(&claims, "iat")?
        && iat > now + leeway
    {
        return Err(TokenProblem::Invalid);
    }
    if let Some(nbf) = numeric(&claims, "nbf")?
        && nbf > now + leeway
    {
        return Err(TokenProblem::Invalid);
    }
    if let Some(exp) = numeric(&claims, "exp")?
        && exp <= now - leeway
        && !expect.accept_expired
    {
        return Err(TokenProblem::Expired);
    }
    if claims.get("iss").and_then(Value::as_str) != Some(expect.issuer.as_str()) {
        return Err(TokenProblem::Invalid);
    }
    if let Some(audience) = &expect.audience {
        let ok = match claims.get("aud") {
            Some(Value::String(a)) => a == audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        };
        if !ok {
            return Err(TokenProblem::Invalid);
        }
    }
    if matches!(claims.get("sub"), Some(v) if !v.is_string())
        || matches!(claims.get("jti"), Some(v) if !v.is_string())
    {
        return Err(TokenProblem::Invalid);
    }
    Ok(claims)
}

/// [`decode`] against Tessera's own key set, by the token's `kid`.
pub fn decode_local(
    keys: &crate::signing::KeySet,
    token: &str,
    expect: &Expectations,
    now: i64,
) -> Result<Map<String, Value>, TokenProblem> {
    let (alg, kid) = header(token)?;
    let kid = kid.ok_or(TokenProblem::Invalid)?;
    let key = keys.verifying_key(&kid).ok_or(TokenProblem::Invalid)?;
    decode_checked_header(token, alg, key, expect, now)
}

/// The second half of [`check`], SimpleJWT's own checks: `exp` present, `jti` present,
/// and `token_type` as expected.
pub fn verify_claims(
    claims: Map<String, Value>,
    expect: &Expectations,
) -> Result<Claims, TokenProblem> {
    if !claims.contains_key("exp") {
        return Err(TokenProblem::NoExp);
    }
    if !claims.contains_key("jti") {
        return Err(TokenProblem::NoId);
    }
    if let Some(wanted) = expect.token_type {
        match claims.get("token_type") {
            None => return Err(TokenProblem::NoType),
            Some(t) if t.as_str() != Some(wanted) => return Err(TokenProblem::WrongType),
            Some(_) => {}
        }
    }
    Ok(Claims::new(claims))
}

/// Where a verifier gets its public keys.
#[derive(Clone, Debug)]
enum KeySource {
    /// A JWKS fetched over HTTP and cached: what a separate resource server uses.
    Jwks(Arc<JwksCache>),
    /// Tessera's own key set, for resources served by Tessera itself (`/hello/`).
    Local(Arc<Keys>),
}

/// Verifies access tokens. Cheap to clone; clones share the key cache.
#[derive(Clone, Debug)]
pub struct Verifier {
    keys: KeySource,
    expect: Expectations,
    clock: SharedClock,
    /// The `Authorization` schemes taken (SimpleJWT's `AUTH_HEADER_TYPES`).
    header_types: Arc<[String]>,
    /// The public origin (scheme, host, port and any path prefix) requests reach this
    /// service at: a DPoP proof's `htu` is this plus the request's path. `None` takes no
    /// DPoP scheme (DPoP-bound tokens are then refused).
    dpop_origin: Option<Arc<str>>,
    /// DPoP proofs seen by this verifier (and its clones), against replay.
    replay: Arc<dpop::ReplayCache>,
}

fn bearer_only() -> Arc<[String]> {
    Arc::new(["Bearer".to_owned()])
}

impl Verifier {
    pub fn new(jwks: JwksCache, expect: Expectations) -> Self {
        Self {
            keys: KeySource::Jwks(Arc::new(jwks)),
            expect,
            clock: Arc::new(SystemClock),
            header_types: bearer_only(),
            dpop_origin: None,
            replay: Arc::default(),
        }
    }

    /// A verifier over Tessera's in-memory key set; it takes DPoP proofs for URLs under
    /// the issuer.
    pub fn local(keys: Arc<Keys>, expect: Expectations, clock: SharedClock) -> Self {
        Self {
            keys: KeySource::Local(keys),
            dpop_origin: Some(expect.issuer.as_str().into()),
            expect,
            clock,
            header_types: bearer_only(),
            replay: Arc::default(),
        }
    }

    /// Take DPoP-bound tokens (RFC 9449) with the `DPoP` scheme, their proofs checked for
    /// URLs under `origin`: the public URL of this service as clients call it (e.g.
    /// `https://api.example.com`), not what a proxy forwards.
    pub fn with_dpop(mut self, origin: &str) -> Self {
        self.dpop_origin = Some(origin.into());
        self
    }

    pub fn dpop_origin(&self) -> Option<&str> {
        self.dpop_origin.as_deref()
    }

    pub(crate) fn replay_cache(&self) -> &dpop::ReplayCache {
        &self.replay
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.unix()
    }

    /// Take these `Authorization` schemes instead of `Bearer` alone, matched exactly, as
    /// SimpleJWT's `AUTH_HEADER_TYPES` are; a header with another scheme counts as none.
    /// An empty list keeps `Bearer`.
    pub fn with_header_types(mut self, types: &[String]) -> Self {
        if !types.is_empty() {
            self.header_types = types.into();
        }
        self
    }

    pub fn header_types(&self) -> &[String] {
        &self.header_types
    }

    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    pub fn expectations(&self) -> &Expectations {
        &self.expect
    }

    pub async fn verify(&self, token: &str) -> Result<Claims, TokenProblem> {
        let now = self.clock.unix();
        match &self.keys {
            KeySource::Local(keys) => {
                let claims = decode_local(&keys.current(), token, &self.expect, now)?;
                verify_claims(claims, &self.expect)
            }
            KeySource::Jwks(cache) => {
                let (alg, kid) = header(token)?;
                let kid = kid.ok_or(TokenProblem::Invalid)?;
                let key = cache.key(&kid).await.ok_or(TokenProblem::Invalid)?;
                let claims = decode_checked_header(token, alg, &key, &self.expect, now)?;
                verify_claims(claims, &self.expect)
            }
        }
    }
}
