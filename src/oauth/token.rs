//! The token endpoint (RFC 6749 §3.2): parse the grant, authenticate the client, run the
//! grant. Each step happens once; `grants` has one module per grant.
use super::client_auth::{self, SecretCache};
use super::error::OAuthError;
use super::grants::{self, GrantRequest, Issuing, TokenResponse};
use crate::store::DbConnection;

/// A token request as it arrived: the form fields and the Authorization header.
#[derive(Debug)]
pub struct TokenRequest {
    pub form: Vec<(String, String)>,
    pub authorization: Option<String>,
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
    let client = client_auth::authenticate(conn, secrets, auth)?;
    grants::exchange(conn, issuing, &client, grant)
}
