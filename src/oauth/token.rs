//! The token endpoint (RFC 6749 §3.2): parse the grant, authenticate the client, run the
//! grant. Each step happens once; `grants` has one module per grant.
use super::client_auth::{self, SecretCache};
use super::dpop;
use super::error::OAuthError;
use super::grants::{self, GrantRequest, Issuing, TokenResponse};
use crate::domain::GrantType;
use crate::signing::VerifyingKey;
use crate::store::DbConnection;
use crate::throttle::Policy;

/// A token request as it arrived: the form fields and the Authorization header.
#[derive(Debug)]
pub struct TokenRequest {
    pub form: Vec<(String, String)>,
    pub authorization: Option<String>,
    /// The caller's address (behind trusted proxies, the forwarded one), for the throttle.
    pub ip: Option<String>,
    /// The key a `jwks_uri` client's assertion names, fetched beforehand.
    pub fetched: Option<VerifyingKey>,
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
    let form = grants::Form(&req.form);
    // Refused exchanges are audited once the client is known, so a malformed exchange
    // waits for client authentication before its refusal is returned.
    let is_exchange = matches!(
        form.field("grant_type"),
        Ok(Some(g)) if g == GrantType::TokenExchange.as_str()
    );
    let parsed = match GrantRequest::parse(&req.form) {
        Err(e) if !is_exchange => return Err(e),
        other => other,
    };
    let auth = client_auth::presented(req.authorization.as_deref(), &req.form)?;
    let origin = client_auth::Origin {
        ip: req.ip.as_deref(),
        now: issuing.now,
        policy: Policy::from_settings(issuing.settings),
        issuer: &issuing.settings.issuer,
        endpoint: "/oauth/token",
        fetched: req.fetched.as_ref(),
    };
    let client = client_auth::authenticate(conn, secrets, auth, origin)?;
    let jkt = dpop::at_token_endpoint(
        conn,
        issuing.settings,
        req.dpop.as_deref(),
        client.profile,
        issuing.now,
    )?;
    if jkt.is_none() && client.requires_dpop() {
        return Err(OAuthError::InvalidDpopProof(
            "this client's tokens are DPoP-bound: send a DPoP proof".into(),
        ));
    }
    let issuing = Issuing {
        dpop_jkt: jkt.as_deref(),
        ..*issuing
    };
    let answer = parsed.and_then(|grant| grants::exchange(conn, &issuing, &client, grant));
    if is_exchange {
        let ip = req.ip.as_deref();
        grants::token_exchange::audit(conn, issuing.now, &client, ip, &req.form, &answer)?;
    }
    answer
}
