//! oxide-auth's `Issuer`: signs access tokens and ID tokens, stores rotating refresh tokens.
//! A refresh token presented after it was rotated revokes its whole family.
use oxide_auth::endpoint::Issuer;
use oxide_auth::primitives::grant::{Extensions, Grant};
use oxide_auth::primitives::issuer::{IssuedToken, RefreshedToken, TokenType};

use super::claims;
use super::context::{Ctx, GrantProblem, Issued, Shared};
use super::order_like;
use super::registrar::NO_REDIRECT;
use super::tokens::{self, AccessClaims, IdTokenFacts};
use crate::secrets;
use crate::store::clients::ClientRow;
use crate::store::grants;
use crate::store::refresh_tokens::{self, RefreshRow};
use crate::store::users::{self, UserRow};

pub struct TokenIssuer(pub Shared);

fn time(unix: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(unix, 0).unwrap_or_default()
}

/// The signed-in user behind a grant; a disabled or deleted user gets nothing.
fn active_user(ctx: &mut Ctx, user_id: i64) -> Result<UserRow, ()> {
    match users::by_id(&mut ctx.conn, user_id) {
        Ok(Some(u)) if u.is_active => Ok(u),
        Ok(_) => {
            ctx.problem = Some(GrantProblem::InactiveUser);
            Err(())
        }
        Err(e) => {
            ctx.fail(e);
            Err(())
        }
    }
}

fn can_refresh(client: &ClientRow) -> bool {
    client.grant_types.split(' ').any(|g| g == "refresh_token")
}

/// Sign the access token (and, with `openid`, the ID token) for a user grant.
fn sign_user_tokens(
    ctx: &mut Ctx,
    client: &ClientRow,
    user: &UserRow,
    scope: &str,
    auth_time: i64,
    nonce: Option<&str>,
    claims_request: Option<&str>,
) -> Result<(tokens::AccessToken, Option<String>), ()> {
    let now = ctx.now;
    let ttl = ctx.access_ttl(Some(client));
    let access = AccessClaims {
        iss: ctx.settings.issuer.clone(),
        sub: user.subject.clone(),
        aud: ctx.settings.audience().to_owned(),
        exp: now + ttl,
        iat: now,
        jti: tokens::new_jti(),
        client_id: Some(client.id.clone()),
        scope: scope.to_owned(),
        auth_time: Some(auth_time),
        token_type: "access".to_owned(),
        user_id: Some(user.id.to_string()),
    };
    let access = match tokens::sign_access(&ctx.keys, &access) {
        Ok(t) => t,
        Err(e) => {
            ctx.fail(e);
            return Err(());
        }
    };
    let id_token = if scope.split(' ').any(|s| s == "openid") {
        let extra = claims::requested(claims_request, "id_token");
        let facts = IdTokenFacts {
            issuer: &ctx.settings.issuer,
            subject: &user.subject,
            client_id: &client.id,
            now,
            ttl,
            auth_time,
            nonce,
            access_token: &access.jwt,
        };
        match tokens::sign_id_token(&ctx.keys, &facts, claims::user_claims(user, scope, &extra)) {
            Ok(t) => Some(t),
            Err(e) => {
                ctx.fail(e);
                return Err(());
            }
        }
    } else {
        None
    };
    Ok((access, id_token))
}

/// Store a new refresh token in `grant_id`'s family; returns the token.
fn new_refresh(
    ctx: &mut Ctx,
    client: &ClientRow,
    grant_id: &str,
    user_id: i64,
    scope: &str,
    access_jti: &str,
) -> Result<String, ()> {
    let token = secrets::random_token(32);
    let row = RefreshRow {
        token_hash: secrets::digest(&token),
        grant_id: grant_id.to_owned(),
        client_id: Some(client.id.clone()),
        user_id: Some(user_id),
        scope: scope.to_owned(),
        jti: None,
        access_jti: Some(access_jti.to_owned()),
        created_at: ctx.now,
        expires_at: ctx.now + ctx.refresh_ttl(Some(client)),
        rotated_at: None,
        revoked_at: None,
    };
    match refresh_tokens::insert(&mut ctx.conn, &row) {
        Ok(()) => Ok(token),
        Err(e) => {
            ctx.fail(e);
            Err(())
        }
    }
}

fn current_client(ctx: &mut Ctx, id: &str) -> Result<ClientRow, ()> {
    match ctx.client(id) {
        Ok(Some(c)) => Ok(c),
        Ok(None) => {
            ctx.fail(format!("client {id} vanished during the flow"));
            Err(())
        }
        Err(e) => {
            ctx.fail(e);
            Err(())
        }
    }
}

impl Issuer for TokenIssuer {
    fn issue(&mut self, grant: Grant) -> Result<IssuedToken, ()> {
        let mut guard = self.0.borrow_mut();
        let ctx = &mut *guard;
        let client = current_client(ctx, &grant.client_id)?;
        let scope = ctx.code.as_ref().map_or_else(
            || order_like(&grant.scope.to_string(), &client.scopes),
            |c| c.scope.clone(),
        );
        let ttl = ctx.access_ttl(Some(&client));
        let Some(code) = ctx.code.clone() else {
            // Client credentials: the client acts for itself.
            let claims = AccessClaims {
                iss: ctx.settings.issuer.clone(),
                sub: client.id.clone(),
                aud: ctx.settings.audience().to_owned(),
                exp: ctx.now + ttl,
                iat: ctx.now,
                jti: tokens::new_jti(),
                client_id: Some(client.id.clone()),
                scope: scope.clone(),
                auth_time: None,
                token_type: "access".to_owned(),
                user_id: None,
            };
            let access = tokens::sign_access(&ctx.keys, &claims).map_err(|e| ctx.fail(e))?;
            ctx.issued = Some(Issued {
                id_token: None,
                scope,
                expires_in: ttl,
            });
            return Ok(IssuedToken::without_refresh(access.jwt, time(access.exp)));
        };
        let user = active_user(ctx, code.user_id)?;
        let (access, id_token) = sign_user_tokens(
            ctx,
            &client,
            &user,
            &scope,
            code.auth_time,
            code.nonce.as_deref(),
            code.claims_request.as_deref(),
        )?;
        crate::store::codes::set_access_jti(&mut ctx.conn, &code.code_hash, &access.jti)
            .map_err(|e| ctx.fail(e))?;
        let refresh = if can_refresh(&client) {
            Some(new_refresh(
                ctx,
                &client,
                &code.grant_id,
                user.id,
                &scope,
                &access.jti,
            )?)
        } else {
            None
        };
        ctx.issued = Some(Issued {
            id_token,
            scope,
            expires_in: ttl,
        });
        Ok(IssuedToken {
            token: access.jwt,
            refresh,
            until: time(access.exp),
            token_type: TokenType::Bearer,
        })
    }

    fn refresh(&mut self, _refresh: &str, grant: Grant) -> Result<RefreshedToken, ()> {
        let mut guard = self.0.borrow_mut();
        let ctx = &mut *guard;
        let Some(old) = ctx.refresh.clone() else {
            ctx.fail("refresh called without a recovered token");
            return Err(());
        };
        let now = ctx.now;
        match refresh_tokens::mark_rotated(&mut ctx.conn, &old.token_hash, now) {
            Ok(true) => {}
            Ok(false) => {
                // Another request rotated it first: that is reuse too.
                let until = now + ctx.access_ttl(None).max(3600);
                grants::revoke(&mut ctx.conn, &old.grant_id, now, until)
                    .map_err(|e| ctx.fail(e))?;
                ctx.problem = Some(GrantProblem::ReusedRefreshToken);
                return Err(());
            }
            Err(e) => {
                ctx.fail(e);
                return Err(());
            }
        }
        let client = current_client(ctx, &grant.client_id)?;
        let Some(user_id) = old.user_id else {
            ctx.fail("OAuth refresh token without a user");
            return Err(());
        };
        let user = active_user(ctx, user_id)?;
        let auth_time = match grants::by_id(&mut ctx.conn, &old.grant_id) {
            Ok(g) => g.and_then(|g| g.auth_time).unwrap_or(old.created_at),
            Err(e) => {
                ctx.fail(e);
                return Err(());
            }
        };
        // The access token gets the (possibly narrowed) scope asked for; the new refresh
        // token keeps the family's scope, so a later refresh may ask for it all again.
        let scope = grant.scope.to_string();
        let scope = order_like(&scope, &old.scope);
        let (access, id_token) =
            sign_user_tokens(ctx, &client, &user, &scope, auth_time, None, None)?;
        let refresh = new_refresh(
            ctx,
            &client,
            &old.grant_id,
            user.id,
            &old.scope,
            &access.jti,
        )?;
        let expires_in = ctx.access_ttl(Some(&client));
        ctx.issued = Some(Issued {
            id_token,
            scope,
            expires_in,
        });
        Ok(RefreshedToken {
            token: access.jwt,
            refresh: Some(refresh),
            until: time(access.exp),
            token_type: TokenType::Bearer,
        })
    }

    fn recover_token<'a>(&'a self, _token: &'a str) -> Result<Option<Grant>, ()> {
        // Access tokens are JWTs verified against the key set, not looked up here.
        Ok(None)
    }

    fn recover_refresh<'a>(&'a self, token: &'a str) -> Result<Option<Grant>, ()> {
        let mut guard = self.0.borrow_mut();
        let ctx = &mut *guard;
        let now = ctx.now;
        let row = match refresh_tokens::by_hash(&mut ctx.conn, &secrets::digest(token)) {
            Ok(Some(row)) if row.jti.is_none() => row,
            Ok(_) => return Ok(None),
            Err(e) => {
                ctx.fail(e);
                return Err(());
            }
        };
        let grant_revoked = match grants::by_id(&mut ctx.conn, &row.grant_id) {
            Ok(g) => g.is_none_or(|g| g.revoked_at.is_some()),
            Err(e) => {
                ctx.fail(e);
                return Err(());
            }
        };
        if row.revoked_at.is_some() || grant_revoked {
            return Ok(None);
        }
        if row.rotated_at.is_some() {
            let until = now + ctx.access_ttl(None).max(3600);
            grants::revoke(&mut ctx.conn, &row.grant_id, now, until).map_err(|e| ctx.fail(e))?;
            tracing::warn!(client_id = ?row.client_id, "rotated refresh token reused; family revoked");
            ctx.problem = Some(GrantProblem::ReusedRefreshToken);
            return Ok(None);
        }
        if row.expires_at <= now {
            return Ok(None);
        }
        let (Some(client_id), Some(user_id)) = (row.client_id.clone(), row.user_id) else {
            return Ok(None);
        };
        let Ok(scope) = row.scope.parse() else {
            ctx.fail("stored refresh token has an unparsable scope");
            return Err(());
        };
        let Ok(redirect_uri) = NO_REDIRECT.parse() else {
            return Err(());
        };
        let grant = Grant {
            owner_id: user_id.to_string(),
            client_id,
            scope,
            redirect_uri,
            until: time(row.expires_at),
            extensions: Extensions::new(),
        };
        ctx.refresh = Some(row);
        Ok(Some(grant))
    }
}
