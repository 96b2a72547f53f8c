//! The token endpoint (RFC 6749 §3.2): picks the grant, normalises client authentication,
//! runs oxide-auth's flow for it, and turns the outcome into RFC 6749 JSON.
use std::sync::Arc;

use oxide_auth::endpoint::{
    AccessTokenFlow, ClientCredentialsFlow, OwnerConsent, OwnerSolicitor, RefreshFlow, Solicitation,
};
use oxide_auth::frontends::simple::endpoint::{Error as FlowError, Generic, Vacant};
use oxide_auth::frontends::simple::extensions::{AddonList, Extended, Pkce};
use serde_json::{Map, Value};

use super::authorizer::CodeStore;
use super::client_auth::{self, Presented};
use super::context::{Ctx, SecretCache, Shared};
use super::issuer::TokenIssuer;
use super::registrar::DbRegistrar;
use super::web::{FlowRequest, FlowResponse};
use crate::config::Settings;
use crate::error::OAuthError;
use crate::signing::KeySet;
use crate::store::PooledConn;

/// A token request: the form fields and the Authorization header.
#[derive(Debug)]
pub struct TokenRequest {
    pub form: Vec<(String, String)>,
    pub authorization: Option<String>,
}

impl TokenRequest {
    /// A field that appears exactly once; a repeated one is an error (RFC 6749 §3.2).
    fn field(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut values = self
            .form
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(OAuthError::InvalidRequest(format!("{name} is repeated")));
        }
        Ok(first.filter(|v| !v.is_empty()))
    }
}

/// The client credentials grant needs an "owner": the client itself.
struct ClientItself;

impl OwnerSolicitor<FlowRequest> for ClientItself {
    fn check_consent(
        &mut self,
        _: &mut FlowRequest,
        s: Solicitation,
    ) -> OwnerConsent<FlowResponse> {
        OwnerConsent::Authorized(s.pre_grant().client_id.clone())
    }
}

/// Everything the token endpoint needs from the app.
pub struct TokenDeps {
    pub conn: PooledConn,
    pub now: i64,
    pub settings: Arc<Settings>,
    pub keys: Arc<KeySet>,
    pub secrets: Arc<SecretCache>,
}

/// Handle one token request. Blocking: storage and signing happen inline.
pub fn exchange(deps: TokenDeps, req: TokenRequest) -> Result<Value, OAuthError> {
    let grant_type = req
        .field("grant_type")?
        .ok_or_else(|| OAuthError::InvalidRequest("grant_type is required".into()))?
        .to_owned();
    if !matches!(
        grant_type.as_str(),
        "authorization_code" | "refresh_token" | "client_credentials"
    ) {
        return Err(OAuthError::UnsupportedGrantType(format!(
            "grant_type '{grant_type}' is not supported"
        )));
    }
    let presented = client_auth::presented(
        req.authorization.as_deref(),
        req.field("client_id")?,
        req.field("client_secret")?,
    )?
    .ok_or_else(|| OAuthError::InvalidClient("client authentication is required".into()))?;

    let ctx = Ctx::new(deps.conn, deps.now, deps.settings, deps.keys, deps.secrets);
    let client = ctx
        .borrow_mut()
        .client(&presented.client_id)?
        .ok_or_else(|| OAuthError::InvalidClient("unknown client or wrong credentials".into()))?;
    if !client.grant_types.split(' ').any(|g| g == grant_type) {
        return Err(OAuthError::UnauthorizedClient(format!(
            "this client may not use the {grant_type} grant"
        )));
    }
    {
        let mut c = ctx.borrow_mut();
        c.client_credentials = grant_type == "client_credentials";
        c.token_redirect_uri = req.field("redirect_uri")?.map(str::to_owned);
    }
    let flow_request = normalise(&req, &presented);
    let result = run(&ctx, &grant_type, flow_request);
    finish(&ctx, result)
}

/// Present the credentials the one way oxide-auth reads them in every flow: a Basic header
/// for clients with a secret, a bare `client_id` in the body for public clients.
fn normalise(req: &TokenRequest, presented: &Presented) -> FlowRequest {
    let mut pairs: Vec<(&str, &str)> = req
        .form
        .iter()
        .filter(|(k, _)| k != "client_id" && k != "client_secret")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let authorization = match &presented.secret {
        Some(secret) => Some(client_auth::basic_header(&presented.client_id, secret)),
        None => {
            pairs.push(("client_id", presented.client_id.as_str()));
            None
        }
    };
    FlowRequest {
        query: FlowRequest::params([]),
        body: Some(FlowRequest::params(pairs)),
        authorization,
    }
}

type FlowResult = Result<FlowResponse, FlowError<FlowRequest>>;

fn run(ctx: &Shared, grant_type: &str, request: FlowRequest) -> FlowResult {
    let endpoint = |solicitor| {
        let mut addons = AddonList::new();
        // Enforced whenever the code carries a challenge; required for public clients at
        // the authorization endpoint, where the challenge is recorded.
        addons.push_code(Pkce::optional());
        Extended::extend_with(
            Generic {
                registrar: DbRegistrar(ctx.clone()),
                authorizer: CodeStore(ctx.clone()),
                issuer: TokenIssuer(ctx.clone()),
                solicitor,
                scopes: Vacant,
                response: Vacant,
            },
            addons,
        )
    };
    match grant_type {
        "authorization_code" => AccessTokenFlow::prepare(endpoint(ClientItself))?.execute(request),
        "refresh_token" => RefreshFlow::prepare(endpoint(ClientItself))?.execute(request),
        _ => ClientCredentialsFlow::prepare(endpoint(ClientItself))?.execute(request),
    }
}

/// Turn the flow's outcome into the JSON body, or an RFC 6749 error.
fn finish(ctx: &Shared, result: FlowResult) -> Result<Value, OAuthError> {
    let c = ctx.borrow();
    let response = match result {
        Ok(r) => r,
        Err(e) => {
            if let Some(problem) = c.problem {
                return Err(OAuthError::InvalidGrant(problem.describe().into()));
            }
            return Err(OAuthError::ServerError(format!(
                "{e:?}; {}",
                c.fault.as_deref().unwrap_or("no detail")
            )));
        }
    };
    let body: Map<String, Value> = response
        .json
        .as_deref()
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();
    if response.status == 200 && body.contains_key("access_token") {
        let mut out = body;
        out.insert("token_type".into(), "Bearer".into());
        if let Some(issued) = &c.issued {
            out.insert("scope".into(), issued.scope.clone().into());
            out.insert("expires_in".into(), issued.expires_in.into());
            if let Some(id_token) = &issued.id_token {
                out.insert("id_token".into(), id_token.clone().into());
            }
        }
        return Ok(Value::Object(out));
    }
    if let Some(problem) = c.problem {
        return Err(OAuthError::InvalidGrant(problem.describe().into()));
    }
    let code = body
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("invalid_request");
    if response.status == 401 || code == "invalid_client" {
        return Err(OAuthError::InvalidClient(
            "unknown client or wrong credentials".into(),
        ));
    }
    // A code was redeemed but refused after that: the only remaining check is PKCE,
    // which RFC 7636 §4.6 answers with invalid_grant.
    if c.code.is_some() && code == "invalid_request" {
        return Err(OAuthError::InvalidGrant("PKCE verification failed".into()));
    }
    let description = match code {
        "invalid_scope" => "the requested scope exceeds what was granted or allowed",
        "invalid_grant" => "the grant is invalid, expired or revoked",
        "unsupported_grant_type" => "this grant type is not supported",
        _ => "the request is missing a parameter or is malformed",
    };
    Err(OAuthError::from_code(code, description.into()))
}
