//! The state one flow run shares between Tessera's oxide-auth primitives (registrar,
//! authorizer, issuer, solicitor): one database connection, the time, and what each step
//! learned that a later one needs. oxide-auth passes only a `Grant` between steps, which
//! cannot carry a nonce or auth_time across the code exchange; this can.
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use crate::config::Settings;
use crate::secrets::{self, SecretString};
use crate::signing::KeySet;
use crate::store::clients::{self as client_store, ClientRow};
use crate::store::codes::CodeRow;
use crate::store::refresh_tokens::RefreshRow;
use crate::store::{PooledConn, StoreError};

/// Verified client secrets, so a confidential client pays for Argon2id once, not on every
/// token request (that would cap the token endpoint far below the RSA signing rate). An
/// entry holds the stored hash it was verified against, so a rotated secret misses.
#[derive(Debug, Default)]
pub struct SecretCache {
    verified: Mutex<HashMap<String, (String, String)>>,
}

impl SecretCache {
    pub fn verify(&self, client: &ClientRow, secret: &SecretString) -> bool {
        let Some(phc) = client.secret_hash.as_deref() else {
            return false;
        };
        let digest = secrets::digest(secret.expose());
        if let Ok(map) = self.verified.lock()
            && let Some((cached_phc, cached_digest)) = map.get(&client.id)
            && cached_phc == phc
        {
            return secrets::constant_time_eq(cached_digest.as_bytes(), digest.as_bytes());
        }
        if !secrets::verify_secret(secret, phc) {
            return false;
        }
        if let Ok(mut map) = self.verified.lock() {
            map.insert(client.id.clone(), (phc.to_owned(), digest));
        }
        true
    }
}

/// Why a code or refresh token was refused: all answer `invalid_grant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantProblem {
    UnknownCode,
    ExpiredCode,
    ReplayedCode,
    RedirectMismatch,
    ReusedRefreshToken,
    InactiveUser,
}

impl GrantProblem {
    pub fn describe(self) -> &'static str {
        match self {
            GrantProblem::UnknownCode => "the authorization code is invalid",
            GrantProblem::ExpiredCode => "the authorization code has expired",
            GrantProblem::ReplayedCode => {
                "the authorization code was already used; tokens issued from it are revoked"
            }
            GrantProblem::RedirectMismatch => {
                "redirect_uri does not match the one of the authorization request"
            }
            GrantProblem::ReusedRefreshToken => {
                "the refresh token was already used; its whole family is revoked"
            }
            GrantProblem::InactiveUser => "the user is disabled",
        }
    }
}

/// Facts about the signed-in user that the authorization step stores with the code.
#[derive(Debug, Clone)]
pub struct AuthzFacts {
    pub user_id: i64,
    pub auth_time: i64,
    /// The redirect_uri exactly as the request sent it (oxide-auth keeps a parsed URL).
    pub redirect_uri: String,
    /// The scope as requested, whose order the stored grant keeps.
    pub requested_scope: String,
    pub nonce: Option<String>,
    pub claims_request: Option<String>,
    pub session_id: Option<String>,
}

/// What the issuer produced beyond oxide-auth's token response.
#[derive(Debug, Default)]
pub struct Issued {
    pub id_token: Option<String>,
    /// The granted scope in a stable order (oxide-auth's scope is an unordered set).
    pub scope: String,
    /// oxide-auth counts down from `until` and lands a second short; this is exact.
    pub expires_in: i64,
}

pub struct Ctx {
    pub conn: PooledConn,
    pub now: i64,
    pub settings: Arc<Settings>,
    pub keys: Arc<KeySet>,
    pub secrets: Arc<SecretCache>,
    pub client: Option<ClientRow>,
    /// The client credentials flow binds no redirect URI.
    pub client_credentials: bool,
    pub authz: Option<AuthzFacts>,
    pub token_redirect_uri: Option<String>,
    pub code: Option<CodeRow>,
    pub refresh: Option<RefreshRow>,
    pub problem: Option<GrantProblem>,
    pub issued: Option<Issued>,
    /// A storage or signing failure inside a primitive, for the log.
    pub fault: Option<String>,
}

impl Ctx {
    pub fn new(
        conn: PooledConn,
        now: i64,
        settings: Arc<Settings>,
        keys: Arc<KeySet>,
        secrets: Arc<SecretCache>,
    ) -> Shared {
        Rc::new(RefCell::new(Ctx {
            conn,
            now,
            settings,
            keys,
            secrets,
            client: None,
            client_credentials: false,
            authz: None,
            token_redirect_uri: None,
            code: None,
            refresh: None,
            problem: None,
            issued: None,
            fault: None,
        }))
    }

    /// The client row, loaded once per flow.
    pub fn client(&mut self, id: &str) -> Result<Option<ClientRow>, StoreError> {
        if let Some(c) = &self.client
            && c.id == id
        {
            return Ok(Some(c.clone()));
        }
        let row = client_store::by_id(&mut self.conn, id)?;
        self.client = row.clone();
        Ok(row)
    }

    /// Note a fault for the log and return the unit error oxide-auth expects.
    pub fn fail(&mut self, what: impl std::fmt::Display) {
        self.fault = Some(what.to_string());
    }

    pub fn access_ttl(&self, client: Option<&ClientRow>) -> i64 {
        client
            .and_then(|c| c.access_token_ttl)
            .unwrap_or(self.settings.access_token_ttl.as_secs() as i64)
    }

    pub fn refresh_ttl(&self, client: Option<&ClientRow>) -> i64 {
        client
            .and_then(|c| c.refresh_token_ttl)
            .unwrap_or(self.settings.refresh_token_ttl.as_secs() as i64)
    }
}

pub type Shared = Rc<RefCell<Ctx>>;
