//! The token endpoint (RFC 6749 §3.2): parse the grant, authenticate the client, run the
//! grant. Each step happens once; `grants` has one module per grant.
use super::client_auth::{self, SecretCache};
use super::dpop;
use super::error::OAuthError;
use super::grants::{self, GrantRequest, Issuing, TokenResponse};
use crate::store::DbConnection;
use crate::throttle::Policy;

/// A token request as it arrived: the form fields and the Authorization header.
#[derive(Debug)]
pub struct TokenRequest {
    pub form: Vec<(String, String)>,
    pub authorization: Option<String>,
    /// The caller's address (behind trusted proxies, the forwarded one), for the throttle.
    pub ip: Option<String>,
    /// The `DPoP` header (RFC 9449), if one was sent.
    pub dpop: Option<String>,
}

/// Handle one token request. Blocking: storage and signing happen inline.
pub fn exchange(
    conn: &mut DbConnection,
    issuing: &Issuing<'_>,
    secrets: &SecretCache,
    req: TokenRequest,
) -> Result<TokenResponse, OAuthError> {
    let grant = GrantRequest::parse(&req.form)?;
    let form = grants::Form(&req.form);
    let auth = client_auth::presented(
        req.authorization.as_deref(),
        form.field("client_id")?,
        form.field("client_secret")?,
    )?;
    let origin = client_auth::Origin {
        ip: req.ip.as_deref(),
        now: issuing.now,
        policy: Policy::from_settings(issuing.settings),
    };
    let client = client_auth::authenticate(conn, secrets, auth, origin)?;
    let jkt = dpop::at_token_endpoint(conn, issuing.settings, req.dpop.as_deref(), issuing.now)?;
    if jkt.is_none() && client.dpop_bound_access_tokens {
        return Err(OAuthError::InvalidDpopProof(
            "this client's tokens are DPoP-bound: send a DPoP proof".into(),
        ));
    }
    let issuing = Issuing {
        dpop_jkt: jkt.as_deref(),
        ..*issuing
    };
    grants::exchange(conn, &issuing, &client, grant)
}
