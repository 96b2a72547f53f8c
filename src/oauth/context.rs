//! The state one authorization request shares between Tessera's oxide-auth primitives
//! (registrar, authorizer, solicitor): one database connection, the time, and what each step
//! learned that a later one needs. oxide-auth passes only a `Grant` between steps, which
//! cannot carry a nonce or auth_time across the code exchange; this can.
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use crate::clients::{self, Client};
use crate::config::Settings;
use crate::store::{PooledConn, StoreError};

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
    /// How the user authenticated, for the ID token's `amr` and `acr`.
    pub methods: crate::auth_methods::AuthMethods,
    /// The resources (RFC 8707) the request named, space-separated, for the grant.
    pub resources: Option<String>,
    /// RFC 9449 §10: the DPoP key the code is bound to.
    pub dpop_jkt: Option<String>,
}

pub struct Ctx {
    pub conn: PooledConn,
    pub now: i64,
    pub settings: Arc<Settings>,
    pub client: Option<Client>,
    pub authz: Option<AuthzFacts>,
    /// A storage failure inside a primitive, for the log.
    pub fault: Option<String>,
}

impl Ctx {
    pub fn new(conn: PooledConn, now: i64, settings: Arc<Settings>) -> Shared {
        Rc::new(RefCell::new(Ctx {
            conn,
            now,
            settings,
            client: None,
            authz: None,
            fault: None,
        }))
    }

    /// The client, loaded once per flow.
    pub fn client(&mut self, id: &str) -> Result<Option<Client>, StoreError> {
        if let Some(c) = &self.client
            && c.id == id
        {
            return Ok(Some(c.clone()));
        }
        let client = clients::by_id(&mut self.conn, id)?;
        self.client = client.clone();
        Ok(client)
    }

    /// Note a fault for the log and return the unit error oxide-auth expects.
    pub fn fail(&mut self, what: impl std::fmt::Display) {
        self.fault = Some(what.to_string());
    }
}

pub type Shared = Rc<RefCell<Ctx>>;
