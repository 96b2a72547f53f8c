//! The protocol's errors, named as RFC 6749 §5.2, RFC 6750 §3.1 and RFC 7009 name them.
//! `crate::error` turns them into HTTP; nothing here knows about HTTP.
use crate::store::StoreError;

const REFRESH_REUSED: &str = "the refresh token was already used; its whole family is revoked";

/// Protocol errors, named as RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009 and RFC 8628 §3.5
/// name them. The
/// string is the `error_description` shown to the client: say what was wrong, never why
/// the server failed.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    #[error("invalid_client: {0}")]
    InvalidClient(String),
    /// `invalid_client` before the credentials are looked at: too many failed
    /// authentications for this client (from this address); `Retry-After` says when.
    #[error("invalid_client: {description}")]
    ClientThrottled {
        description: String,
        retry_after: i64,
    },
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    /// `invalid_grant` for a rotated refresh token presented again outside the refresh
    /// grace: its family is now revoked. Its own variant so the reuse can be counted.
    #[error("invalid_grant: {REFRESH_REUSED}")]
    RefreshReused,
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    #[error("unsupported_token_type: {0}")]
    UnsupportedTokenType(String),
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    #[error("insufficient_scope: {0}")]
    InsufficientScope(String),
    /// A fault of ours; the cause is logged, the client sees a generic message.
    #[error("server_error: {0}")]
    ServerError(String),
    #[error("temporarily_unavailable: {0}")]
    TemporarilyUnavailable(String),
    /// RFC 8628 §3.5: the user has not answered yet; poll again after the interval.
    #[error("authorization_pending: {0}")]
    AuthorizationPending(String),
    /// RFC 8628 §3.5: polled before the interval passed; the interval grew by 5 s.
    #[error("slow_down: {0}")]
    SlowDown(String),
    /// RFC 8628 §3.5: the user denied the device.
    #[error("access_denied: {0}")]
    AccessDenied(String),
    /// RFC 8628 §3.5: the device code expired before the user answered.
    #[error("expired_token: {0}")]
    ExpiredToken(String),
    /// RFC 8707 §2: the resource asked for is unknown, not this client's, or outside the
    /// grant (RFC 8693 §2.2.2 uses it for token exchange's targets too).
    #[error("invalid_target: {0}")]
    InvalidTarget(String),
    /// RFC 9449 §5: the token request's DPoP proof is missing (for a client that must
    /// send one), malformed, for another request, stale or replayed.
    #[error("invalid_dpop_proof: {0}")]
    InvalidDpopProof(String),
    /// RFC 9449 §8: the proof must carry a nonce of ours; this one (sent in `DPoP-Nonce`).
    #[error("use_dpop_nonce: {DPOP_NONCE}")]
    UseDpopNonce { nonce: String },
    /// RFC 9449 §7.1: a token presented at one of our resources (userinfo) without the
    /// proof its binding needs, or with a wrong one; answered with a `DPoP` challenge.
    /// `error` is `invalid_token` or `invalid_dpop_proof`.
    #[error("{error}: {description}")]
    DpopRefused {
        error: &'static str,
        description: String,
    },
}

const DPOP_NONCE: &str = "Authorization server requires nonce in DPoP proof";

impl OAuthError {
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient(_) | OAuthError::ClientThrottled { .. } => "invalid_client",
            OAuthError::InvalidGrant(_) | OAuthError::RefreshReused => "invalid_grant",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::UnsupportedGrantType(_) => "unsupported_grant_type",
            OAuthError::UnsupportedTokenType(_) => "unsupported_token_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::InvalidToken(_) => "invalid_token",
            OAuthError::InsufficientScope(_) => "insufficient_scope",
            OAuthError::ServerError(_) => "server_error",
            OAuthError::TemporarilyUnavailable(_) => "temporarily_unavailable",
            OAuthError::AuthorizationPending(_) => "authorization_pending",
            OAuthError::SlowDown(_) => "slow_down",
            OAuthError::AccessDenied(_) => "access_denied",
            OAuthError::ExpiredToken(_) => "expired_token",
            OAuthError::InvalidTarget(_) => "invalid_target",
            OAuthError::InvalidDpopProof(_) => "invalid_dpop_proof",
            OAuthError::UseDpopNonce { .. } => "use_dpop_nonce",
            OAuthError::DpopRefused { error, .. } => error,
        }
    }

    pub fn description(&self) -> &str {
        match self {
            OAuthError::ServerError(_) => "The server encountered an internal error.",
            OAuthError::ClientThrottled { description, .. } => description,
            OAuthError::RefreshReused => REFRESH_REUSED,
            OAuthError::UseDpopNonce { .. } => DPOP_NONCE,
            OAuthError::DpopRefused { description, .. } => description,
            OAuthError::InvalidRequest(d)
            | OAuthError::InvalidClient(d)
            | OAuthError::InvalidGrant(d)
            | OAuthError::UnauthorizedClient(d)
            | OAuthError::UnsupportedGrantType(d)
            | OAuthError::UnsupportedTokenType(d)
            | OAuthError::InvalidScope(d)
            | OAuthError::InvalidToken(d)
            | OAuthError::InsufficientScope(d)
            | OAuthError::TemporarilyUnavailable(d)
            | OAuthError::AuthorizationPending(d)
            | OAuthError::SlowDown(d)
            | OAuthError::AccessDenied(d)
            | OAuthError::ExpiredToken(d)
            | OAuthError::InvalidTarget(d)
            | OAuthError::InvalidDpopProof(d) => d,
        }
    }

    /// Build from an error code that oxide-auth produced.
    pub fn from_code(code: &str, description: String) -> Self {
        match code {
            "invalid_client" => OAuthError::InvalidClient(description),
            "invalid_grant" => OAuthError::InvalidGrant(description),
            "unauthorized_client" => OAuthError::UnauthorizedClient(description),
            "unsupported_grant_type" => OAuthError::UnsupportedGrantType(description),
            "invalid_scope" => OAuthError::InvalidScope(description),
            _ => OAuthError::InvalidRequest(description),
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Pool(cause) => OAuthError::TemporarilyUnavailable(cause),
            other => OAuthError::ServerError(other.to_string()),
        }
    }
}
