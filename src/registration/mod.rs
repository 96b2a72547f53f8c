//! Dynamic client registration (RFC 7591) and its management (RFC 7592): a client
//! registers itself at `POST /oauth/register`, then reads, replaces or deletes its
//! registration at its `registration_client_uri` with its registration access token.
//! What may register is the policy (`policy`); the metadata is checked as the console
//! checks a client (`metadata`); admins mint initial access tokens (`initial_tokens`).
pub mod initial_tokens;
pub mod metadata;
pub mod policy;

use serde_json::{Map, Value};

use crate::audit::{self, AuditAction, Entry};
use crate::clients::{self as client_domain, Client};
use crate::family;
use crate::secrets::{self, SecretString};
use crate::signing::Keys;
use crate::store::admin as admin_store;
use crate::store::clients::{self as client_store, ClientRow};
use crate::store::registration as store;
use crate::store::{DbConnection, StoreError, transaction};
use crate::throttle::{self, Attempt, Policy};
use metadata::Metadata;
use policy::{Mode, RegistrationPolicy};

/// The largest registration request body: real metadata is a few hundred bytes.
pub const MAX_BODY: usize = 16 * 1024;
/// Where registration is served; a client's registration URI is this plus `/{client_id}`.
pub const PATH: &str = "/oauth/register";

/// Why a registration or management request was refused (RFC 7591 §3.2.2, RFC 7592 §2,
/// RFC 6750 §3.1). `crate::error` turns it into HTTP.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("dynamic client registration is not enabled on this server")]
    NotEnabled,
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    #[error("invalid_redirect_uri: {0}")]
    InvalidRedirectUri(String),
    #[error("invalid_client_metadata: {0}")]
    InvalidClientMetadata(String),
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// Too many registrations from this address; `retry_after` seconds.
    #[error("too many registrations from this address")]
    Throttled { retry_after: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

impl RegistrationError {
    pub fn code(&self) -> &'static str {
        match self {
            RegistrationError::NotEnabled | RegistrationError::InvalidRequest(_) => {
                "invalid_request"
            }
            RegistrationError::InvalidToken(_) => "invalid_token",
            RegistrationError::InvalidRedirectUri(_) => "invalid_redirect_uri",
            RegistrationError::InvalidClientMetadata(_) => "invalid_client_metadata",
            RegistrationError::Throttled { .. } => "temporarily_unavailable",
            RegistrationError::Store(StoreError::Pool(_)) => "temporarily_unavailable",
            RegistrationError::Store(_) | RegistrationError::Internal(_) => "server_error",
        }
    }

    /// The `error_description`: what was wrong, never why the server failed.
    pub fn description(&self) -> String {
        match self {
            RegistrationError::InvalidToken(m)
            | RegistrationError::InvalidRedirectUri(m)
            | RegistrationError::InvalidClientMetadata(m)
            | RegistrationError::InvalidRequest(m) => m.clone(),
            RegistrationError::NotEnabled => self.to_string(),
            RegistrationError::Throttled { retry_after } => {
                format!("too many registrations from this address; try again in {retry_after} s")
            }
            RegistrationError::Store(StoreError::Pool(_)) => {
                "the service is temporarily unavailable".to_owned()
            }
            RegistrationError::Store(_) | RegistrationError::Internal(_) => {
                "The server encountered an internal error.".to_owned()
            }
        }
    }

    /// A refusal of the request (audited), as opposed to a fault of ours.
    fn is_refusal(&self) -> bool {
        !matches!(
            self,
            RegistrationError::Store(_)
                | RegistrationError::Internal(_)
                | RegistrationError::NotEnabled
        )
    }
}

impl From<crate::secrets::HashError> for RegistrationError {
    fn from(e: crate::secrets::HashError) -> Self {
        RegistrationError::Internal(e.to_string())
    }
}

impl From<client_domain::ClientError> for RegistrationError {
    fn from(e: client_domain::ClientError) -> Self {
        match e {
            client_domain::ClientError::Invalid(m) => RegistrationError::InvalidClientMetadata(m),
            client_domain::ClientError::Hash(h) => h.into(),
            client_domain::ClientError::Store(s) => s.into(),
        }
    }
}

/// What one registration request brings along.
#[derive(Debug)]
pub struct Request<'a> {
    pub policy: &'a RegistrationPolicy,
    pub throttle: Policy,
    pub keys: &'a Keys,
    /// The issuer's URL for `path`, e.g. `settings.endpoint`.
    pub issuer: &'a str,
    pub clock: &'a dyn crate::clock::Clock,
    /// `clock`'s time when the request arrived, the one time every step uses.
    pub now: i64,
    pub ip: Option<&'a str>,
    /// The Bearer token of the `Authorization` header, if any; `Err` for another scheme.
    pub bearer: Result<Option<&'a str>, ()>,
    pub body: &'a [u8],
}

impl Request<'_> {
    /// The Bearer token, if one was sent; another scheme is refused.
    fn token(&self) -> Result<Option<&str>, RegistrationError> {
        self.bearer.map_err(|()| {
            RegistrationError::InvalidToken("use the Bearer authentication scheme".into())
        })
    }

    fn registration_uri(&self, client_id: &str) -> String {
        format!("{}{PATH}/{client_id}", self.issuer.trim_end_matches('/'))
    }

    /// Write a refusal to the audit log (what was refused, and why).
    fn audit_refusal(
        &self,
        conn: &mut DbConnection,
        target: &str,
        e: &RegistrationError,
    ) -> Result<(), StoreError> {
        let detail = format!("{}: {}", e.code(), e.description());
        audit::record(
            conn,
            self.now,
            &Entry {
                actor: None,
                action: AuditAction::ClientRegistrationRefused,
                target: Some(target),
                detail: Some(&detail),
                ip: self.ip,
            },
        )
    }
}

fn enabled(policy: &RegistrationPolicy) -> Result<(), RegistrationError> {
    if policy.mode == Mode::Off {
        return Err(RegistrationError::NotEnabled);
    }
    Ok(())
}

/// Audit a refusal on its way out.
fn audited<T>(
    conn: &mut DbConnection,
    req: &Request<'_>,
    target: &str,
    result: Result<T, RegistrationError>,
) -> Result<T, RegistrationError> {
    if let Err(e) = &result
        && e.is_refusal()
    {
        req.audit_refusal(conn, target, e)?;
    }
    result
}

/// Refuse an address whose registration bucket is locked. Not audited: the lock itself
/// was, and a locked address must not be able to fill the audit log instead.
fn admit(conn: &mut DbConnection, req: &Request<'_>) -> Result<(), RegistrationError> {
    let Some(ip) = req.ip else { return Ok(()) };
    let attempt = Attempt::registration(ip);
    match throttle::check(conn, req.throttle, &attempt, req.now)?.locked {
        Some(locked) => Err(RegistrationError::Throttled {
            retry_after: locked.retry_after,
        }),
        None => Ok(()),
    }
}

/// Count an attempt against its address's registration bucket.
fn count(conn: &mut DbConnection, req: &Request<'_>) -> Result<(), RegistrationError> {
    if let Some(ip) = req.ip {
        throttle::failed(conn, req.throttle, &Attempt::registration(ip), req.now)?;
    }
    Ok(())
}

/// Audit a management refusal, and count a wrong token against the address, so
/// registration access tokens cannot be tried (or the log filled) without limit.
fn managed<T>(
    conn: &mut DbConnection,
    req: &Request<'_>,
    client_id: &str,
    result: Result<T, RegistrationError>,
) -> Result<T, RegistrationError> {
    if matches!(result, Err(RegistrationError::InvalidToken(_))) {
        count(conn, req)?;
    }
    audited(conn, req, client_id, result)
}

/// `POST /oauth/register`: the 201 answer's body.
pub fn register(conn: &mut DbConnection, req: &Request<'_>) -> Result<Value, RegistrationError> {
    enabled(req.policy)?;
    admit(conn, req)?;
    // Every attempt counts against its address, so one address cannot fill the table.
    count(conn, req)?;
    let result = register_checked(conn, req);
    audited(conn, req, "registration", result)
}

fn register_checked(
    conn: &mut DbConnection,
    req: &Request<'_>,
) -> Result<Value, RegistrationError> {
    let initial_token = match req.policy.mode {
        Mode::Token => {
            let presented = req.token()?.ok_or_else(|| {
                RegistrationError::InvalidToken(
                    "registration needs an initial access token (Bearer)".into(),
                )
            })?;
            Some(
                initial_tokens::accept(conn, presented, req.now)?.ok_or_else(|| {
                    RegistrationError::InvalidToken(
                        "the initial access token is unknown, expired or revoked".into(),
                    )
                })?,
            )
        }
        Mode::Open | Mode::Off => None,
    };
    let mut checked = Metadata::from_body(req.body)?.check(req.policy)?;
    // The policy's APIs that exist now: one deleted since the setting was written is left
    // out rather than failing every registration.
    checked.spec.client.resources =
        crate::resources::registered_among(conn, &req.policy.resources)?;
    crate::admin::clients::check_keys(req.keys, req.now, &checked.spec.client.algs)
        .map_err(metadata::from_console)?;
    let access_token = SecretString::new(secrets::random_token(32));
    let kept = Value::Object(checked.kept.clone()).to_string();
    let (registered, row) = transaction(conn, |conn| {
        let registered = client_domain::register_with(
            conn,
            req.clock,
            &checked.spec.client,
            &checked.spec.auth,
        )?;
        store::set_registration(
            conn,
            &registered.client_id,
            &secrets::digest(access_token.expose()),
            &kept,
        )?;
        let detail = match &initial_token {
            Some(id) => {
                store::token_used(conn, id, req.now)?;
                format!("with initial access token {id}")
            }
            None => "open registration".to_owned(),
        };
        let target = format!(
            "{} ({})",
            checked.spec.client.name.trim(),
            registered.client_id
        );
        audit::record(
            conn,
            req.now,
            &Entry {
                actor: None,
                action: AuditAction::ClientRegistered,
                target: Some(&target),
                detail: Some(&detail),
                ip: req.ip,
            },
        )?;
        let row = client_store::by_id(conn, &registered.client_id)?.ok_or(StoreError::NotFound)?;
        Ok::<_, RegistrationError>((registered, row))
    })?;
    answer(req, row, registered.client_secret, &access_token)
}

/// The registered metadata plus the credentials handed over once.
fn answer(
    req: &Request<'_>,
    row: ClientRow,
    secret: Option<SecretString>,
    access_token: &SecretString,
) -> Result<Value, RegistrationError> {
    let mut body = read_back(row)?;
    let id = body
        .get("client_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if let Some(secret) = secret {
        body.insert("client_secret".into(), secret.expose().into());
        // RFC 7591 §3.2.1: 0 means it does not expire.
        body.insert("client_secret_expires_at".into(), 0.into());
    }
    body.insert(
        "registration_access_token".into(),
        access_token.expose().into(),
    );
    body.insert(
        "registration_client_uri".into(),
        req.registration_uri(&id).into(),
    );
    Ok(Value::Object(body))
}

fn read_back(row: ClientRow) -> Result<Map<String, Value>, RegistrationError> {
    let kept: Map<String, Value> =
        serde_json::from_str(&row.registration_metadata).map_err(|e| {
            StoreError::Corrupt(format!("client {}: registration metadata: {e}", row.id))
        })?;
    let created_at = row.created_at;
    let client = Client::from_row(row)?;
    Ok(metadata::describe(&client, &kept, created_at))
}

/// The self-registered client `client_id` whose registration access token is `bearer`.
/// Every failure is the same 401 (RFC 7592 §2): a console client, a deleted one, an
/// unknown id and a wrong token look alike.
fn refused() -> RegistrationError {
    RegistrationError::InvalidToken(
        "the registration access token is not valid for this client".into(),
    )
}

/// A client gone between the token check and the write (a concurrent DELETE) is the
/// same refusal as a wrong token.
fn gone(e: StoreError) -> RegistrationError {
    match e {
        StoreError::NotFound => refused(),
        other => other.into(),
    }
}

fn authorised(
    conn: &mut DbConnection,
    client_id: &str,
    bearer: Option<&str>,
) -> Result<ClientRow, RegistrationError> {
    let bearer = bearer.ok_or_else(|| {
        RegistrationError::InvalidToken("a registration access token (Bearer) is required".into())
    })?;
    let row = client_store::by_id(conn, client_id)?.ok_or_else(refused)?;
    let presented = secrets::digest(bearer);
    let matches = row.self_registered
        && row
            .registration_token_hash
            .as_deref()
            .is_some_and(|stored| {
                secrets::constant_time_eq(stored.as_bytes(), presented.as_bytes())
            });
    if matches { Ok(row) } else { Err(refused()) }
}

/// `GET` on the registration URI (RFC 7592 §2.1). The secret is stored hashed, so it is
/// not in the answer.
pub fn read(
    conn: &mut DbConnection,
    req: &Request<'_>,
    client_id: &str,
) -> Result<Value, RegistrationError> {
    enabled(req.policy)?;
    admit(conn, req)?;
    let result = req
        .token()
        .and_then(|t| authorised(conn, client_id, t))
        .and_then(|row| {
            let mut body = read_back(row)?;
            body.insert(
                "registration_client_uri".into(),
                req.registration_uri(client_id).into(),
            );
            Ok(Value::Object(body))
        });
    managed(conn, req, client_id, result)
}

/// `PUT` on the registration URI (RFC 7592 §2.2): the whole registration is replaced,
/// checked as a new one. The registration access token is rotated: the answer carries the
/// new one and the old one stops working.
pub fn update(
    conn: &mut DbConnection,
    req: &Request<'_>,
    client_id: &str,
) -> Result<Value, RegistrationError> {
    enabled(req.policy)?;
    admit(conn, req)?;
    let result = update_checked(conn, req, client_id);
    managed(conn, req, client_id, result)
}

fn update_checked(
    conn: &mut DbConnection,
    req: &Request<'_>,
    client_id: &str,
) -> Result<Value, RegistrationError> {
    let row = authorised(conn, client_id, req.token()?)?;
    // Its settings were chosen by an administrator for the profile; an update that knows
    // nothing of it would undo them.
    if row.profile != crate::clients::Profile::None.as_str() {
        return Err(RegistrationError::InvalidClientMetadata(format!(
            "this client is held to the {} profile by an administrator; its registration \
             is changed in the console only",
            row.profile
        )));
    }
    let sent = Metadata::from_body(req.body)?;
    if sent.client_id.as_deref() != Some(client_id) {
        return Err(RegistrationError::InvalidRequest(
            "client_id must be present and name this client".into(),
        ));
    }
    if let Some(secret) = &sent.client_secret {
        let matches = row
            .secret_hash
            .as_deref()
            .is_some_and(|h| secrets::verify_secret(&SecretString::new(secret.clone()), h));
        if !matches {
            return Err(RegistrationError::InvalidRequest(
                "client_secret does not match this client's secret".into(),
            ));
        }
    }
    let checked = sent.check(req.policy)?;
    crate::admin::clients::check_keys(req.keys, req.now, &checked.spec.client.algs)
        .map_err(metadata::from_console)?;
    let c = &checked.spec.client;
    let mut updated = row.clone();
    let new_secret = client_domain::set_auth(&mut updated, &checked.spec.auth)?;
    client_domain::set_described(&mut updated, c);
    updated.updated_at = req.now;
    let access_token = SecretString::new(secrets::random_token(32));
    let kept = Value::Object(checked.kept).to_string();
    let old_hash = row.registration_token_hash.clone().unwrap_or_default();
    let row = transaction(conn, |conn| {
        if !store::rotate_registration(
            conn,
            client_id,
            &old_hash,
            &secrets::digest(access_token.expose()),
            &kept,
        )? {
            return Err(refused());
        }
        admin_store::update_client(conn, &updated).map_err(gone)?;
        let target = format!("{} ({client_id})", updated.name);
        audit::record(
            conn,
            req.now,
            &Entry {
                actor: None,
                action: AuditAction::ClientRegistrationUpdated,
                target: Some(&target),
                detail: None,
                ip: req.ip,
            },
        )?;
        client_store::by_id(conn, client_id)?.ok_or_else(refused)
    })?;
    answer(req, row, new_secret, &access_token)
}

/// `DELETE` on the registration URI (RFC 7592 §2.3): everything issued to the client is
/// revoked, then the client is gone, and its registration access token with it.
pub fn delete(
    conn: &mut DbConnection,
    req: &Request<'_>,
    client_id: &str,
) -> Result<(), RegistrationError> {
    enabled(req.policy)?;
    admit(conn, req)?;
    let result = req
        .token()
        .and_then(|t| authorised(conn, client_id, t))
        .and_then(|row| {
            transaction(conn, |conn| {
                for grant in admin_store::live_grant_ids(conn, client_id, None)? {
                    family::revoke(conn, &grant, req.now)?;
                }
                admin_store::delete_client(conn, client_id).map_err(gone)?;
                let target = format!("{} ({client_id})", row.name);
                audit::record(
                    conn,
                    req.now,
                    &Entry {
                        actor: None,
                        action: AuditAction::ClientUnregistered,
                        target: Some(&target),
                        detail: None,
                        ip: req.ip,
                    },
                )?;
                Ok::<_, RegistrationError>(())
            })
        });
    managed(conn, req, client_id, result)
}
