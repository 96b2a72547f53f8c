//! The actix-web extractor: `Authenticated` in a handler's arguments means the request
//! carried a valid Bearer access token, or a DPoP-bound one with its proof (RFC 9449 §7).
//! The `Authorization` header is read the way SimpleJWT reads it, and refusals answer with
//! SimpleJWT's bodies (DPoP's own with a `DPoP` challenge).
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use super::dpop::ProofRequest;
use super::{Claims, TokenProblem, Verifier};

/// Why a request was not authenticated.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Rejection {
    /// No `Authorization: Bearer ...` header (another scheme counts as none).
    #[error("Authentication credentials were not provided.")]
    NotProvided,
    #[error("Authorization header must contain two space-delimited values")]
    BadHeader,
    #[error("{0}")]
    Token(TokenProblem),
    /// The app data holds no [`Verifier`]: a wiring mistake of the service.
    #[error("no token verifier is configured")]
    Misconfigured,
    /// RFC 9449 §7.1: a DPoP-bound token without its proof or with a wrong one
    /// (`error` is `invalid_dpop_proof`), or a token presented with the wrong scheme for
    /// its binding (`invalid_token`).
    #[error("{description}")]
    Dpop {
        error: &'static str,
        description: &'static str,
    },
}

/// The token of a request, read as SimpleJWT reads it: the header splits on whitespace into
/// exactly one of `types` (matched exactly) and the token; another scheme counts as no
/// header at all. With `dpop`, the `DPoP` scheme (any case) is taken too; the flag says
/// whether it was the one.
fn token_of(req: &HttpRequest, types: &[String], dpop: bool) -> Result<(String, bool), Rejection> {
    let Some(value) = req.headers().get(actix_web::http::header::AUTHORIZATION) else {
        return Err(Rejection::NotProvided);
    };
    let parts: Vec<&[u8]> = value
        .as_bytes()
        .split(|b| b.is_ascii_whitespace())
        .filter(|p| !p.is_empty())
        .collect();
    let is_dpop = |scheme: &[u8]| dpop && scheme.eq_ignore_ascii_case(b"DPoP");
    match parts.as_slice() {
        [] => Err(Rejection::NotProvided),
        [scheme, ..] if !types.iter().any(|t| t.as_bytes() == *scheme) && !is_dpop(scheme) => {
            Err(Rejection::NotProvided)
        }
        [scheme, token] => String::from_utf8(token.to_vec())
            .map(|t| (t, is_dpop(scheme)))
            .map_err(|_| Rejection::Token(TokenProblem::Invalid)),
        _ => Err(Rejection::BadHeader),
    }
}

/// What a DPoP presentation brings besides the token: the proof and the request it is for.
struct DpopRequest {
    proof: Option<String>,
    method: String,
    url: String,
}

/// A request authenticated by a valid access token; holds the token's claims.
#[derive(Clone, Debug)]
pub struct Authenticated(pub Claims);

impl FromRequest for Authenticated {
    type Error = Rejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Rejection>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verifier = req.app_data::<web::Data<Verifier>>().cloned();
        let presented = verifier.as_ref().map(|v| -> Result<_, Rejection> {
            let (token, is_dpop) = token_of(req, v.header_types(), v.dpop_origin().is_some())?;
            let dpop = match (is_dpop, v.dpop_origin()) {
                (true, Some(origin)) => Some(DpopRequest {
                    proof: super::dpop::proof_header(req.headers())
                        .map_err(|e| Rejection::Dpop {
                            error: "invalid_dpop_proof",
                            description: e.0,
                        })?
                        .map(str::to_owned),
                    method: req.method().as_str().to_owned(),
                    url: format!("{}{}", origin.trim_end_matches('/'), req.path()),
                }),
                _ => None,
            };
            Ok((token, dpop))
        });
        Box::pin(async move {
            let (Some(verifier), Some(presented)) = (verifier, presented) else {
                return Err(Rejection::Misconfigured);
            };
            let (token, dpop) = presented?;
            let claims = verifier.verify(&token).await.map_err(Rejection::Token)?;
            check_binding(&verifier, &claims, &token, dpop)?;
            Ok(Authenticated(claims))
        })
    }
}

/// RFC 9449 §7: a token bound to a key (`cnf.jkt`) only with the DPoP scheme and a fresh
/// proof of that key for this request and token; the DPoP scheme only for a bound token.
fn check_binding(
    verifier: &Verifier,
    claims: &Claims,
    token: &str,
    dpop: Option<DpopRequest>,
) -> Result<(), Rejection> {
    let refused = |error, description| Rejection::Dpop { error, description };
    let (jkt, dpop) = match (claims.dpop_jkt(), dpop) {
        (None, None) => return Ok(()),
        (Some(_), None) => {
            return Err(refused(
                "invalid_token",
                "The token is DPoP-bound: present it with the DPoP scheme and a proof.",
            ));
        }
        (None, Some(_)) => {
            return Err(refused(
                "invalid_token",
                "The token is not DPoP-bound: present it with the Bearer scheme.",
            ));
        }
        (Some(jkt), Some(dpop)) => (jkt, dpop),
    };
    let Some(proof) = dpop.proof else {
        return Err(refused("invalid_dpop_proof", "A DPoP proof is required."));
    };
    let now = verifier.now();
    let request = ProofRequest {
        method: &dpop.method,
        url: &dpop.url,
        access_token: Some(token),
        now,
    };
    let proof =
        super::dpop::verify(&proof, &request).map_err(|e| refused("invalid_dpop_proof", e.0))?;
    if proof.jkt != jkt {
        return Err(refused(
            "invalid_dpop_proof",
            "The DPoP proof is signed by another key than the token is bound to.",
        ));
    }
    if !verifier.replay_cache().first_use(&proof, now) {
        return Err(refused(
            "invalid_dpop_proof",
            "The DPoP proof was already used.",
        ));
    }
    Ok(())
}
