//! oxide-auth's `Authorizer` over the `authorization_codes` table: issuing a code stores it
//! (by digest) with its grant. Codes live `authorization_code_ttl` (<= 60 s); redeeming one
//! is `grants::authorization_code`'s work.
use oxide_auth::endpoint::Authorizer;
use oxide_auth::primitives::grant::Grant;

use super::context::Shared;
use crate::domain::ScopeSet;
use crate::family;
use crate::secrets;
use crate::store::codes::{self, CodeRow};
use crate::store::grants::GrantRow;

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
            .and_then(|(_, v)| v.and_then(stored_challenge));
        let grant_row = GrantRow {
            id: uuid::Uuid::new_v4().to_string(),
            client_id: Some(grant.client_id.clone()),
            user_id: Some(facts.user_id),
            scope: in_requested_order(&grant.scope.to_string(), &facts.requested_scope),
            auth_time: Some(facts.auth_time),
            created_at: now,
            revoked_at: None,
            claims_request: facts.claims_request.clone(),
            amr: Some(facts.methods.to_stored()),
            acr: Some(facts.methods.acr().to_owned()),
            resources: facts.resources.clone(),
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
            claims_request: facts.claims_request.clone(),
            auth_time: facts.auth_time,
            session_id: facts.session_id.clone(),
            created_at: now,
            expires_at: now + ctx.settings.authorization_code_ttl.as_secs() as i64,
            used_at: None,
            access_jti: None,
            access_exp: None,
            dpop_jkt: facts.dpop_jkt.clone(),
        };
        let stored = family::start(&mut ctx.conn, &grant_row)
            .and_then(|()| codes::insert(&mut ctx.conn, &row));
        match stored {
            Ok(()) => Ok(code),
            Err(e) => {
                ctx.fail(e);
                Err(())
            }
        }
    }

    /// Codes are redeemed by `grants::authorization_code`, not through oxide-auth.
    fn extract(&mut self, _code: &str) -> Result<Option<Grant>, ()> {
        Err(())
    }
}

/// oxide-auth's PKCE addon keeps the challenge with its method appended ("S" for S256, the
/// only method Tessera accepts); the code row stores the challenge alone, which is what
/// `grants::authorization_code` compares the verifier's hash with.
fn stored_challenge(encoded: &str) -> Option<String> {
    // Anything else (there is nothing else) is kept whole, so no verifier can match it.
    Some(encoded.strip_suffix('S').unwrap_or(encoded).to_owned())
}

/// oxide-auth's scope is an unordered set; the grant keeps the order the client asked in.
fn in_requested_order(granted: &str, requested: &str) -> String {
    match (ScopeSet::parse(granted), ScopeSet::parse(requested)) {
        (Ok(granted), Ok(requested)) => granted.ordered_like(&requested).to_string(),
        _ => granted.to_owned(),
    }
}
