//! Pushed authorization requests (RFC 9126): an authenticated client sends the parameters
//! of an authorization request straight to Tessera, which checks them as the
//! authorization endpoint would and hands back a `request_uri` the browser then carries
//! instead. The parameters never pass through the browser, so they cannot be read or
//! altered there, and they come from a client that proved who it is.
use super::authorize::AuthorizeParams;
use super::authorize::params::{Target, single};
use super::client_auth::{self, SecretCache};
use super::error::OAuthError;
use crate::clients::Client;
use crate::config::Settings;
use crate::domain::{GrantType, ScopeSet};
use crate::secrets;
use crate::signing::VerifyingKey;
use crate::store::pushed_requests::{self, PushedRequestRow};
use crate::store::{DbConnection, StoreError};
use crate::throttle::Policy;

/// RFC 9126 §2.2's prefix for the `request_uri`s Tessera hands out.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

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
        None if client.redirect_uris.len() != 1 => return invalid("redirect_uri is required"),
        _ => {}
    }
    match single(params, "response_type").map_err(OAuthError::InvalidRequest)? {
        Some("code") => {}
        None => return invalid("response_type is required"),
        Some(_) => return invalid("response_type must be code"),
    }
    let asked = AuthorizeParams::parse(params)
        .map_err(|refusal| OAuthError::InvalidRequest(refusal.description))?;
    if client.is_public() && asked.code_challenge.is_none() {
        return invalid("public clients must use PKCE (code_challenge with S256)");
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

/// Why a `request_uri` cannot be used; each becomes an error page (the redirect URI it
/// would name is not known to be this client's).
#[derive(Debug, PartialEq, Eq)]
pub enum Unusable {
    /// Never issued, already expired and pruned, or issued to another client: one answer,
    /// so the page does not tell which `request_uri`s exist.
    Unknown,
    Expired,
    Used,
}

/// A pushed request found for `client_id`: its parameters and when it was pushed.
#[derive(Debug)]
pub struct Found {
    pub hash: String,
    pub params: Vec<(String, String)>,
    pub created_at: i64,
}

/// Look a `request_uri` up for `client_id`.
pub fn find(
    conn: &mut DbConnection,
    client_id: &str,
    request_uri: &str,
    now: i64,
) -> Result<Result<Found, Unusable>, StoreError> {
    let hash = secrets::digest(request_uri);
    let Some(row) = pushed_requests::by_hash(conn, &hash)? else {
        return Ok(Err(Unusable::Unknown));
    };
    if row.client_id != client_id {
        return Ok(Err(Unusable::Unknown));
    }
    if row.expires_at <= now {
        return Ok(Err(Unusable::Expired));
    }
    if row.used {
        return Ok(Err(Unusable::Used));
    }
    Ok(Ok(Found {
        hash,
        params: url::form_urlencoded::parse(row.params.as_bytes())
            .into_owned()
            .collect(),
        created_at: row.created_at,
    }))
}
