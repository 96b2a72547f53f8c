//! oxide-auth's `Authorizer` over the `authorization_codes` table. Codes are single use,
//! live `authorization_code_ttl` (<= 60 s), and a replayed code revokes its grant.
use oxide_auth::endpoint::Authorizer;
use oxide_auth::primitives::grant::{Extensions, Grant, Value};

use super::context::{GrantProblem, Shared};
use crate::secrets;
use crate::store::codes::{self, CodeRow};
use crate::store::grants::{self, GrantRow};

/// The grant-extension name oxide-auth's PKCE addon uses.
const PKCE: &str = "pkce";

pub struct CodeStore(pub Shared);

impl Authorizer for CodeStore {
    fn authorize(&mut self, grant: Grant) -> Result<String, ()> {
        let mut ctx = self.0.borrow_mut();
        let Some(facts) = ctx.authz.clone() else {
            ctx.fail("authorize called without a signed-in user");
            return Err(());
        };
        let code = secrets::random_token(32);
        let now = ctx.now;
        let challenge = grant
            .extensions
            .private()
            .find(|(k, _)| *k == PKCE)
            .and_then(|(_, v)| v.map(str::to_owned));
        let grant_row = GrantRow {
            id: uuid::Uuid::new_v4().to_string(),
            client_id: Some(grant.client_id.clone()),
            user_id: Some(facts.user_id),
            scope: super::order_like(&grant.scope.to_string(), &facts.requested_scope),
            auth_time: Some(facts.auth_time),
            created_at: now,
            revoked_at: None,
            claims_request: facts.claims_request.clone(),
        };
        let row = CodeRow {
            code_hash: secrets::digest(&code),
            grant_id: grant_row.id.clone(),
            client_id: grant.client_id.clone(),
            user_id: facts.user_id,
            redirect_uri: facts.redirect_uri.clone(),
            scope: grant_row.scope.clone(),
            nonce: facts.nonce.clone(),
            code_challenge: challenge,
            code_challenge_method: None,
            claims_request: facts.claims_request.clone(),
            auth_time: facts.auth_time,
            session_id: facts.session_id.clone(),
            created_at: now,
            expires_at: now + ctx.settings.authorization_code_ttl.as_secs() as i64,
            used_at: None,
            access_jti: None,
        };
        let stored = grants::insert(&mut ctx.conn, &grant_row)
            .and_then(|()| codes::insert(&mut ctx.conn, &row));
        match stored {
            Ok(()) => Ok(code),
            Err(e) => {
                ctx.fail(e);
                Err(())
            }
        }
    }

    fn extract(&mut self, code: &str) -> Result<Option<Grant>, ()> {
        let mut ctx = self.0.borrow_mut();
        let now = ctx.now;
        let row = match codes::take(&mut ctx.conn, &secrets::digest(code), now) {
            Ok(Some(row)) => row,
            Ok(None) => {
                ctx.problem = Some(GrantProblem::UnknownCode);
                return Ok(None);
            }
            Err(e) => {
                ctx.fail(e);
                return Err(());
            }
        };
        if row.used_at.is_some() {
            // RFC 6749 §4.1.2: a second use revokes what the first one issued.
            let until = now + ctx.access_ttl(None).max(3600);
            if let Err(e) = grants::revoke(&mut ctx.conn, &row.grant_id, now, until) {
                ctx.fail(e);
                return Err(());
            }
            tracing::warn!(client_id = %row.client_id, "authorization code replayed; grant revoked");
            ctx.problem = Some(GrantProblem::ReplayedCode);
            return Ok(None);
        }
        if row.expires_at <= now {
            ctx.problem = Some(GrantProblem::ExpiredCode);
            return Ok(None);
        }
        // oxide-auth compares redirect URIs as parsed URLs; the RFC wants the same string.
        if ctx.token_redirect_uri.as_deref() != Some(row.redirect_uri.as_str()) {
            ctx.problem = Some(GrantProblem::RedirectMismatch);
            return Ok(None);
        }
        let (Ok(scope), Ok(redirect_uri)) = (row.scope.parse(), row.redirect_uri.parse()) else {
            ctx.fail("stored code has an unparsable scope or redirect_uri");
            return Err(());
        };
        let mut extensions = Extensions::new();
        if let Some(challenge) = &row.code_challenge {
            extensions.set_raw(PKCE.to_owned(), Value::private(Some(challenge.clone())));
        }
        let grant = Grant {
            owner_id: row.user_id.to_string(),
            client_id: row.client_id.clone(),
            scope,
            redirect_uri,
            until: chrono::DateTime::from_timestamp(row.expires_at, 0).unwrap_or_default(),
            extensions,
        };
        ctx.code = Some(row);
        Ok(Some(grant))
    }
}
