//! The token endpoint's grants (RFC 6749 §4, §6). A request is parsed once, at the edge,
//! into a [`GrantRequest`]; the client is authenticated once; then one match arm hands
//! it to the grant's own module, which answers a [`TokenResponse`] or an [`OAuthError`].
//!
//! Adding a grant: a module here with an `exchange` function, a variant in
//! [`GrantRequest`] (and its parsing), an arm in [`exchange`], and the `GrantType`.
mod authorization_code;
mod client_credentials;
mod device_code;
mod issue;
mod refresh_token;
mod request;
pub mod token_exchange;

use serde::{Deserialize, Serialize};

pub use request::{Form, GrantRequest, PkceVerifier};

use super::error::OAuthError;
use crate::clients::Client;
use crate::config::Settings;
use crate::domain::GrantType;
use crate::signing::KeySet;
use crate::store::DbConnection;

/// The grants Tessera serves, in the order discovery lists them.
pub const SUPPORTED: [GrantType; 5] = [
    GrantType::AuthorizationCode,
    GrantType::RefreshToken,
    GrantType::ClientCredentials,
    GrantType::DeviceCode,
    GrantType::TokenExchange,
];

/// What every grant signs with and checks against.
#[derive(Clone, Copy, Debug)]
pub struct Issuing<'a> {
    pub settings: &'a Settings,
    pub keys: &'a KeySet,
    pub now: i64,
    /// The thumbprint of the key of the request's valid DPoP proof: the access token is
    /// bound to it (`cnf.jkt`, token type `DPoP`).
    pub dpop_jkt: Option<&'a str>,
}

impl Issuing<'_> {
    /// RFC 9449 §5: `DPoP` for a bound access token, `Bearer` otherwise.
    pub fn token_type(&self) -> &'static str {
        if self.dpop_jkt.is_some() {
            "DPoP"
        } else {
            "Bearer"
        }
    }
}

/// A successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3), serialised once (and
/// read back when a refresh within the grace repeats it).
#[derive(Debug, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// RFC 8693 §2.2.1: what a token exchange issued.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub issued_token_type: Option<String>,
}

/// Run one grant for an authenticated client.
pub fn exchange(
    conn: &mut DbConnection,
    issuing: &Issuing<'_>,
    client: &Client,
    request: GrantRequest,
) -> Result<TokenResponse, OAuthError> {
    let grant = request.grant_type();
    if !client.may_use(grant) {
        return Err(OAuthError::UnauthorizedClient(format!(
            "this client may not use the {grant} grant"
        )));
    }
    match request {
        GrantRequest::AuthorizationCode(r) => {
            authorization_code::exchange(conn, issuing, client, r)
        }
        GrantRequest::RefreshToken(r) => refresh_token::exchange(conn, issuing, client, r),
        GrantRequest::ClientCredentials(r) => {
            client_credentials::exchange(conn, issuing, client, r)
        }
        GrantRequest::DeviceCode(r) => device_code::exchange(conn, issuing, client, r),
        GrantRequest::TokenExchange(r) => token_exchange::exchange(conn, issuing, client, r),
    }
}
