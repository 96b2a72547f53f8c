//! The actix-web extractor: `Authenticated` in a handler's arguments means the request
//! carried a valid Bearer access token. The `Authorization` header is read the way
//! SimpleJWT reads it, and refusals answer with SimpleJWT's bodies.
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

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
}

/// The token of a request, read as SimpleJWT reads it: the header splits on whitespace into
/// exactly one of `types` (matched exactly) and the token; another scheme counts as no
/// header at all.
pub fn bearer_token(req: &HttpRequest, types: &[String]) -> Result<String, Rejection> {
    let Some(value) = req.headers().get(actix_web::http::header::AUTHORIZATION) else {
        return Err(Rejection::NotProvided);
    };
    let parts: Vec<&[u8]> = value
        .as_bytes()
        .split(|b| b.is_ascii_whitespace())
        .filter(|p| !p.is_empty())
        .collect();
    match parts.as_slice() {
        [] => Err(Rejection::NotProvided),
        [scheme, ..] if !types.iter().any(|t| t.as_bytes() == *scheme) => {
            Err(Rejection::NotProvided)
        }
        [_, token] => {
            String::from_utf8(token.to_vec()).map_err(|_| Rejection::Token(TokenProblem::Invalid))
        }
        _ => Err(Rejection::BadHeader),
    }
}

/// A request authenticated by a valid access token; holds the token's claims.
#[derive(Clone, Debug)]
pub struct Authenticated(pub Claims);

impl FromRequest for Authenticated {
    type Error = Rejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Rejection>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verifier = req.app_data::<web::Data<Verifier>>().cloned();
        let token = verifier
            .as_ref()
            .map(|v| bearer_token(req, v.header_types()));
        Box::pin(async move {
            let (Some(verifier), Some(token)) = (verifier, token) else {
                return Err(Rejection::Misconfigured);
            };
            let token = token?;
            verifier
                .verify(&token)
                .await
                .map(Authenticated)
                .map_err(Rejection::Token)
        })
    }
}
