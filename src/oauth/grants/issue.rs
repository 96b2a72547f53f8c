//! What the user grants (code and refresh) hand out: a signed access token, an ID token
//! when `openid` was granted, and a refresh token in the grant's family.
use super::{Issuing, TokenResponse};
use crate::clients::Client;
use crate::domain::{GrantType, ScopeSet};
use crate::family::{self, IssuedAccess, NewRefresh};
use crate::oauth::OAuthError;
use crate::oauth::claims;
use crate::oauth::target;
use crate::oauth::tokens::{self, AccessClaims, Confirmation, IdTokenFacts};
use crate::resources::Resource;
use crate::secrets;
use crate::store::DbConnection;
use crate::store::users::{self, UserRow};

/// The OAuth answer for a code or refresh token that cannot be used.
pub fn invalid_grant(why: &str) -> OAuthError {
    OAuthError::InvalidGrant(why.to_owned())
}

/// The signed-in user behind a grant; a disabled or deleted user gets nothing.
pub fn active_user(conn: &mut DbConnection, user_id: i64) -> Result<UserRow, OAuthError> {
    match users::by_id(conn, user_id)? {
        Some(user) if user.is_active => Ok(user),
        _ => Err(invalid_grant("the user is disabled")),
    }
}

/// The facts of one user grant's tokens.
pub struct UserGrant<'a> {
    pub client: &'a Client,
    pub user: &'a UserRow,
    pub scope: &'a ScopeSet,
    pub auth_time: i64,
    pub nonce: Option<&'a str>,
    pub claims_request: Option<&'a str>,
    /// The `sid` of the session the user signed in with, when known.
    pub sid: Option<String>,
    /// How the user authenticated (from the grant), when known.
    pub methods: Option<crate::auth_methods::AuthMethods>,
    /// The API the access token is for (RFC 8707), already checked; `None`: Tessera's
    /// own audience.
    pub resource: Option<&'a Resource>,
}

/// The signed tokens of a user grant, before any refresh token is added.
pub struct Signed {
    pub access_token: String,
    pub access: IssuedAccess,
    pub id_token: Option<String>,
    pub expires_in: i64,
    /// The access token's scope (narrowed to the resource's, when it has one).
    pub scope: String,
}

pub fn sign(issuing: &Issuing<'_>, grant: &UserGrant<'_>) -> Result<Signed, OAuthError> {
    let now = issuing.now;
    let ttl = grant.client.access_ttl(issuing.settings.access_token_ttl);
    let scope = grant.scope.to_string();
    let aimed = Aimed::at(grant.resource, grant.client, issuing, grant.scope)?;
    let claims = AccessClaims {
        iss: issuing.settings.issuer.clone(),
        sub: grant.user.subject.clone(),
        aud: aimed.aud,
        exp: now + aimed.ttl,
        iat: now,
        jti: tokens::new_jti(),
        client_id: Some(grant.client.id.clone()),
        scope: aimed.scope.clone(),
        auth_time: Some(grant.auth_time),
        token_type: "access".to_owned(),
        act: None,
        cnf: issuing.dpop_jkt.map(|jkt| Confirmation {
            jkt: jkt.to_owned(),
        }),
    };
    let simplejwt = &issuing.settings.simplejwt;
    let user_claim = (
        simplejwt.user_id_claim.clone(),
        simplejwt.user_id_value(grant.user.id, &grant.user.username),
    );
    let access = tokens::sign_access(issuing.keys, aimed.alg, &claims, Some(user_claim))
        .map_err(server_error)?;
    let id_token = if grant.scope.contains("openid") {
        let extra = claims::requested(grant.claims_request, "id_token");
        let facts = IdTokenFacts {
            issuer: &issuing.settings.issuer,
            subject: &grant.user.subject,
            client_id: &grant.client.id,
            now,
            ttl,
            auth_time: grant.auth_time,
            nonce: grant.nonce,
            access_token: &access.jwt,
            sid: grant.sid.as_deref(),
            methods: grant.methods.as_ref(),
        };
        let user_claims = claims::user_claims(grant.user, &scope, &extra);
        Some(
            tokens::sign_id_token(
                issuing.keys,
                grant.client.algs.id_token,
                &facts,
                user_claims,
            )
            .map_err(server_error)?,
        )
    } else {
        None
    };
    Ok(Signed {
        access: IssuedAccess {
            jti: access.jti,
            exp: access.exp,
        },
        access_token: access.jwt,
        id_token,
        expires_in: aimed.ttl,
        scope: aimed.scope,
    })
}

/// Where an access token points and what follows from it: its `aud`, scope, lifetime
/// and algorithm, the resource's (RFC 8707) when it names one, else the client's.
pub struct Aimed {
    pub aud: String,
    pub scope: String,
    pub ttl: i64,
    pub alg: crate::signing::SigningAlg,
}

impl Aimed {
    pub fn at(
        resource: Option<&Resource>,
        client: &Client,
        issuing: &Issuing<'_>,
        scope: &ScopeSet,
    ) -> Result<Self, OAuthError> {
        let ttl = client.access_ttl(issuing.settings.access_token_ttl);
        Ok(match resource {
            None => Self {
                aud: issuing.settings.audience().to_owned(),
                scope: scope.to_string(),
                ttl,
                alg: client.algs.access_token,
            },
            Some(resource) => Self {
                aud: resource.identifier.clone(),
                scope: target::narrow(scope, resource)?.to_string(),
                ttl: resource.access_ttl(ttl),
                alg: resource.alg,
            },
        })
    }
}

/// Finish a user grant: add a refresh token to the family when the client may refresh
/// (carrying `family_scope`, so a later refresh may ask for all of it again).
pub fn respond(
    conn: &mut DbConnection,
    issuing: &Issuing<'_>,
    grant: &UserGrant<'_>,
    grant_id: &str,
    family_scope: &ScopeSet,
    signed: Signed,
) -> Result<TokenResponse, OAuthError> {
    let refresh_token = if grant.client.may_use(GrantType::RefreshToken) {
        let token = secrets::random_token(32);
        let ttl = grant.client.refresh_ttl(issuing.settings.refresh_token_ttl);
        family::add(
            conn,
            NewRefresh {
                token_hash: secrets::digest(&token),
                grant_id,
                client_id: Some(&grant.client.id),
                user_id: grant.user.id,
                scope: &family_scope.to_string(),
                jti: None,
                access: &signed.access,
                now: issuing.now,
                expires_at: issuing.now + ttl,
                // RFC 9449 §5: a public client's refresh token is bound to its key; a
                // confidential client's is bound to the client already (unless its
                // profile binds it to the key as well).
                dpop_jkt: if grant.client.binds_refresh_to_dpop() {
                    issuing.dpop_jkt
                } else {
                    None
                },
            },
        )?;
        Some(token)
    } else {
        None
    };
    Ok(TokenResponse {
        access_token: signed.access_token,
        token_type: issuing.token_type().to_owned(),
        expires_in: signed.expires_in,
        refresh_token,
        scope: signed.scope,
        id_token: signed.id_token,
        issued_token_type: None,
    })
}

fn server_error(e: impl std::fmt::Display) -> OAuthError {
    OAuthError::ServerError(e.to_string())
}
