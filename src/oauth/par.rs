//! Pushed authorization requests (RFC 9126): an authenticated client sends the parameters
//! of an authorization request straight to Tessera, which checks them as the
//! authorization endpoint would and hands back a `request_uri` the browser then carries
//! instead. The parameters never pass through the browser, so they cannot be read or
//! altered there, and they come from a client that proved who it is.
use super::authorize::AuthorizeParams;
use super::authorize::params::{Target, single};
use super::authorize::pushed::REQUEST_URI_PREFIX;
use super::client_auth::{self, SecretCache};
use super::error::OAuthError;
use crate::clients::Client;
use crate::config::Settings;
use crate::domain::{GrantType, ScopeSet};
use crate::secrets;
use crate::signing::VerifyingKey;
use crate::store::DbConnection;
use crate::store::pushed_requests::{self, PushedRequestRow};
use crate::throttle::Policy;

/// How long a `request_uri` may be used: long enough to send the browser on its way,
/// short enough that a leaked one is soon worthless (RFC 9126 §2.2 suggests 5 to 600 s).
pub const LIFETIME: i64 = 60;

/// Form fields that authenticate the client and are not part of the authorization request.
const CREDENTIALS: [&str; 3] = ["client_secret", "client_assertion", "client_assertion_type"];

/// A pushed request as it arrived.
#[derive(Debug)]
pub struct PushRequest {
    pub form: Vec<(String, String)>,
    pub authorization: Option<String>,
    pub ip: Option<String>,
    /// The key a `jwks_uri` client's assertion names, fetched beforehand.
    pub fetched: Option<VerifyingKey>,
    /// The `DPoP` header (RFC 9449 §10.1): the code is bound to its key.
    pub dpop: Option<String>,
}

/// RFC 9126 §2.2's answer.
#[derive(Debug, serde::Serialize)]
pub struct Pushed {
    pub request_uri: String,
    pub expires_in: i64,
}

/// Authenticate the client, check the request as the authorization endpoint would, and
/// store it.
pub fn push(
    conn: &mut DbConnection,
    settings: &Settings,
    cache: &SecretCache,
    req: PushRequest,
    now: i64,
) -> Result<Pushed, OAuthError> {
    let auth = client_auth::presented(req.authorization.as_deref(), &req.form)?;
    let origin = client_auth::Origin {
        ip: req.ip.as_deref(),
        now,
        policy: Policy::from_settings(settings),
        issuer: &settings.issuer,
        endpoint: "/oauth/par",
        fetched: req.fetched.as_ref(),
    };
    let client = client_auth::authenticate(conn, cache, auth, origin)?;
    let mut params: Vec<(String, String)> = req
        .form
        .into_iter()
        .filter(|(k, _)| !CREDENTIALS.contains(&k.as_str()))
        .collect();
    // With HTTP Basic the body may leave client_id out; the stored request names it.
    if single(&params, "client_id")
        .map_err(OAuthError::InvalidRequest)?
        .is_none()
    {
        params.retain(|(k, _)| k != "client_id");
        params.push(("client_id".to_owned(), client.id.clone()));
    }
    if let Some(proof) = &req.dpop {
        let jkt = super::dpop::at_par(conn, settings, proof, client.profile, now)?;
        // RFC 9449 §10.1: dpop_jkt may be sent too, and must then name the same key.
        match single(&params, "dpop_jkt").map_err(OAuthError::InvalidRequest)? {
            Some(named) if named != jkt => {
                return Err(OAuthError::InvalidDpopProof(
                    "dpop_jkt is not the thumbprint of the DPoP proof's key".into(),
                ));
            }
            Some(_) => {}
            None => {
                params.retain(|(k, _)| k != "dpop_jkt");
                params.push(("dpop_jkt".to_owned(), jkt));
            }
        }
    }
    check(&client, &params)?;
    let request_uri = format!("{REQUEST_URI_PREFIX}{}", secrets::random_token(32));
    let params_text = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    pushed_requests::insert(
        conn,
        &PushedRequestRow {
            request_uri_hash: secrets::digest(&request_uri),
            client_id: client.id.clone(),
            params: params_text,
            created_at: now,
            expires_at: now + LIFETIME,
            used: false,
        },
    )?;
    Ok(Pushed {
        request_uri,
        expires_in: LIFETIME,
    })
}

/// What the authorization endpoint would refuse, refused now, as JSON to the client.
fn check(client: &Client, params: &[(String, String)]) -> Result<(), OAuthError> {
    let invalid = |m: &str| Err(OAuthError::InvalidRequest(m.to_owned()));
    // RFC 9126 §2.1: a pushed request cannot point at another one.
    if params.iter().any(|(k, _)| k == "request_uri") {
        return invalid("request_uri must not be pushed");
    }
    let target = Target::parse(params).map_err(OAuthError::InvalidRequest)?;
    if target.client_id != client.id {
        return Err(OAuthError::InvalidClient(
            "client_id differs from the authenticated client".into(),
        ));
    }
    if !client.may_use(GrantType::AuthorizationCode) {
        return Err(OAuthError::UnauthorizedClient(
            "this client may not use the authorization code grant".into(),
        ));
    }
    match target.redirect_uri {
        Some(uri) if !client.has_redirect_uri(&uri) => {
            return invalid("redirect_uri is not registered for this client");
        }
        // FAPI 2.0 §5.3.2.2: required in the pushed request even with one registered URI.
        None if client.redirect_uris.len() != 1 || client.profile.is_fapi2() => {
            return invalid("redirect_uri is required");
        }
        _ => {}
    }
    match single(params, "response_type").map_err(OAuthError::InvalidRequest)? {
        Some("code") => {}
        None => return invalid("response_type is required"),
        Some(_) => return invalid("response_type must be code"),
    }
    let asked = AuthorizeParams::parse(params)
        .map_err(|refusal| OAuthError::InvalidRequest(refusal.description))?;
    if client.requires_pkce() && asked.code_challenge.is_none() {
        return invalid(super::authorize::pkce_required(client));
    }
    if let Some(scope) = &asked.scope {
        let scope = ScopeSet::parse(scope).map_err(OAuthError::InvalidScope)?;
        if !scope.is_subset(&client.scopes) {
            return Err(OAuthError::InvalidScope(
                "the requested scope exceeds what this client may ask for".into(),
            ));
        }
    }
    Ok(())
}
