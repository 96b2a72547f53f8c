//! The SimpleJWT-compatible token API (`/api/token/...`): the same requests, status codes
//! and JSON bodies as djangorestframework-simplejwt 5.5.1 with `ROTATE_REFRESH_TOKENS` and
//! `BLACKLIST_AFTER_ROTATION` on, over Tessera's users, keys and refresh-token families.
//! docs/simplejwt.md lists each behaviour and the deliberate differences.
pub mod input;
pub mod settings;
mod tokens;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use input::{Body, FieldErrors};

use crate::audit::{self, AuditAction};
use crate::config::Settings;
use crate::family::{self, Exchange, IssuedAccess, NewRefresh, Status};
use crate::resource::{self, Expectations, Rejection, TokenProblem};
use crate::secrets::{self, SecretString};
use crate::sessions::{self, LoginError};
use crate::signing::{KeySet, SignError};
use crate::store::grants::GrantRow;
use crate::store::refresh_tokens::{self, RefreshRow};
use crate::store::users::{self, UserRow};
use crate::store::{DbConnection, StoreError};
use settings::{SimpleJwtSettings, UserIdField};
use tokens::Subject;

/// Every way a SimpleJWT request fails; `crate::error` turns each into SimpleJWT's body.
#[derive(Debug, thiserror::Error)]
pub enum SimpleJwtError {
    #[error("invalid fields")]
    Fields(FieldErrors),
    #[error("{0}")]
    Parse(String),
    #[error("unsupported media type {0}")]
    UnsupportedMediaType(String),
    #[error("method {0} not allowed")]
    MethodNotAllowed(String),
    #[error("No active account found with the given credentials")]
    NoActiveAccount,
    /// Too many failed sign-ins: retry after this many seconds.
    #[error("throttled")]
    Throttled(i64),
    #[error("No active account found for the given token.")]
    NoActiveAccountForToken,
    #[error("{0}")]
    Token(TokenProblem),
    /// A rotated refresh token presented again outside the refresh grace: answered as
    /// SimpleJWT answers a blacklisted token, and its family is now revoked. Its own
    /// variant so the reuse can be counted.
    #[error("{}", TokenProblem::Blacklisted)]
    RefreshReused,
    /// `/hello/` and other protected resources: the request was not authenticated.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error("Token contained no recognizable user identification")]
    NoUserIdentification,
    #[error("User not found")]
    UserNotFound,
    #[error("User is inactive")]
    UserInactive,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sign(#[from] SignError),
}

impl From<LoginError> for SimpleJwtError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Invalid => SimpleJwtError::NoActiveAccount,
            LoginError::Throttled(locked) => SimpleJwtError::Throttled(locked.retry_after),
            LoginError::Store(e) => SimpleJwtError::Store(e),
        }
    }
}

impl From<TokenProblem> for SimpleJwtError {
    fn from(p: TokenProblem) -> Self {
        SimpleJwtError::Token(p)
    }
}

/// What the token API works with besides the database.
#[derive(Debug, Clone)]
pub struct Ctx<'a> {
    pub keys: &'a KeySet,
    pub settings: &'a Settings,
    pub now: i64,
}

impl Ctx<'_> {
    fn expect(&self, token_type: Option<&'static str>) -> Expectations {
        Expectations {
            issuer: self.settings.issuer.clone(),
            audience: Some(self.settings.audience().to_owned()),
            token_type,
            leeway: self.settings.simplejwt.leeway,
            accept_expired: false,
        }
    }

    fn access_ttl(&self) -> i64 {
        let s = self.settings;
        s.simplejwt
            .access_token_lifetime
            .unwrap_or(s.access_token_ttl.as_secs() as i64)
    }

    fn refresh_ttl(&self) -> i64 {
        let s = self.settings;
        s.simplejwt
            .refresh_token_lifetime
            .unwrap_or(s.refresh_token_ttl.as_secs() as i64)
    }

    fn refresh_grace(&self) -> i64 {
        self.settings.refresh_grace.as_secs() as i64
    }

    /// Signature and PyJWT's claim checks, against the published key the token names.
    fn decode(
        &self,
        token: &str,
        token_type: Option<&'static str>,
    ) -> Result<Map<String, Value>, TokenProblem> {
        resource::decode_local(self.keys, token, &self.expect(token_type), self.now)
    }
}

/// `POST /api/token/` answer. Field order is SimpleJWT's: `refresh` first.
#[derive(Debug, Serialize)]
pub struct Pair {
    pub refresh: String,
    pub access: String,
}

/// `POST /api/token/refresh/` answer: `access` first, then the rotated `refresh` (only when
/// `ROTATE_REFRESH_TOKENS` is on, as in SimpleJWT). Deserialize: the refresh grace keeps a
/// sealed copy to answer a repeat with.
#[derive(Debug, Serialize, Deserialize)]
pub struct Refreshed {
    pub access: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh: Option<String>,
}

/// `{}`: what verify and blacklist answer on success.
#[derive(Debug, Serialize)]
pub struct Empty {}

fn subject<'a>(ctx: &'a Ctx<'_>, user: &'a UserRow) -> Subject<'a> {
    Subject {
        issuer: &ctx.settings.issuer,
        audience: ctx.settings.audience(),
        user,
        settings: &ctx.settings.simplejwt,
    }
}

/// Sign an access token and a refresh token, and add the refresh token to `grant_id`'s
/// family.
fn issue(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    user: &UserRow,
    grant_id: &str,
) -> Result<(String, String), SimpleJwtError> {
    let pair = sign_pair(ctx, user)?;
    record_pair(conn, ctx, user, grant_id, &pair)?;
    Ok((pair.access.jwt, pair.refresh.jwt))
}

/// A new access and refresh token for `user`, signed but not yet stored.
struct SignedPair {
    access: tokens::Signed,
    refresh: tokens::Signed,
}

fn sign_pair(ctx: &Ctx<'_>, user: &UserRow) -> Result<SignedPair, SimpleJwtError> {
    let who = subject(ctx, user);
    Ok(SignedPair {
        access: tokens::sign(ctx.keys, &who, "access", ctx.now, ctx.access_ttl())?,
        refresh: tokens::sign(ctx.keys, &who, "refresh", ctx.now, ctx.refresh_ttl())?,
    })
}

/// Store a signed pair's refresh token in the family, with its access token's jti.
fn record_pair(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    user: &UserRow,
    grant_id: &str,
    pair: &SignedPair,
) -> Result<(), SimpleJwtError> {
    family::add(
        conn,
        NewRefresh {
            dpop_jkt: None,
            token_hash: secrets::digest(&pair.refresh.jwt),
            grant_id,
            client_id: None,
            user_id: user.id,
            scope: "",
            jti: Some(pair.refresh.jti.clone()),
            access: &IssuedAccess {
                jti: pair.access.jti.clone(),
                exp: pair.access.exp,
            },
            now: ctx.now,
            expires_at: pair.refresh.exp,
        },
    )?;
    Ok(())
}

/// `POST /api/token/`: username and password for a new token pair. Both outcomes go to
/// the audit log, as sign-ins on the login page do.
pub fn obtain(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    username: &str,
    password: &SecretString,
    ip: Option<&str>,
) -> Result<Pair, SimpleJwtError> {
    let mut entry = audit::Entry {
        actor: Some(username),
        action: AuditAction::Login,
        target: None,
        detail: Some("via /api/token/"),
        ip,
    };
    let policy = crate::throttle::Policy::from_settings(ctx.settings);
    let user = match sessions::authenticate(conn, ctx.now, policy, username, password, ip) {
        Ok(user) => user,
        Err((LoginError::Store(e), _)) => return Err(e.into()),
        Err((refused, reason)) => {
            let detail = format!("via /api/token/: {reason}");
            entry.action = AuditAction::LoginFailed;
            entry.detail = Some(detail.as_str());
            audit::record(conn, ctx.now, &entry)?;
            return Err(refused.into());
        }
    };
    // The first administrator's printed password opens nothing but the change form: no
    // tokens either, with the answer a wrong password gets (SimpleJWT has no other).
    if user.must_change_password {
        entry.action = AuditAction::LoginFailed;
        entry.detail = Some("via /api/token/: the password must be changed first");
        audit::record(conn, ctx.now, &entry)?;
        return Err(SimpleJwtError::NoActiveAccount);
    }
    // A password alone must not get around a second factor: a user with an authenticator
    // (or one the policy requires one of) signs in through the pages, where the second step
    // is; here they get the answer a wrong password gets.
    if crate::second_factor::step::need(conn, &user, false)?.is_some() {
        entry.action = AuditAction::LoginFailed;
        entry.detail =
            Some("via /api/token/: a second factor is required; sign in through the login page");
        audit::record(conn, ctx.now, &entry)?;
        return Err(SimpleJwtError::NoActiveAccount);
    }
    let grant_id = uuid::Uuid::new_v4().to_string();
    family::start(
        conn,
        &GrantRow {
            id: grant_id.clone(),
            client_id: None,
            user_id: Some(user.id),
            scope: String::new(),
            auth_time: Some(ctx.now),
            created_at: ctx.now,
            revoked_at: None,
            claims_request: None,
            amr: Some(crate::auth_methods::AuthMethods::password().to_stored()),
            acr: None,
            resources: None,
        },
    )?;
    let (access, refresh) = issue(conn, ctx, &user, &grant_id)?;
    if ctx.settings.simplejwt.update_last_login {
        users::touch_login(conn, user.id, ctx.now)?;
    }
    audit::record(conn, ctx.now, &entry)?;
    Ok(Pair { refresh, access })
}

/// A refresh token that verified, with its stored row (if Tessera issued it).
struct Presented {
    row: Option<RefreshRow>,
    claims: Map<String, Value>,
    /// A rotated token presented again within the refresh grace: its rotation's answer.
    replayed: Option<Refreshed>,
}

/// Decode a refresh token and check SimpleJWT's blacklist, in SimpleJWT's order: signature
/// and expiry, then the blacklist, then `jti` and `token_type`. A rotated token presented
/// to be exchanged (`exchanging`) is a reuse: its family is revoked, as at the OAuth
/// refresh grant — unless it is a repeat within the refresh grace.
fn presented_refresh(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    token: &str,
    exchanging: bool,
) -> Result<Presented, SimpleJwtError> {
    let claims = ctx.decode(token, Some("refresh"))?;
    let row = match claims.get("jti").and_then(Value::as_str) {
        Some(jti) => refresh_tokens::by_jti(conn, jti)?,
        None => None,
    };
    let mut replayed = None;
    if let Some(row) = &row {
        match family::status(conn, row, ctx.now)? {
            Status::Rotated if exchanging => {
                match family::replay(conn, row, token, ctx.now, ctx.refresh_grace())? {
                    Exchange::Replayed(again) => replayed = Some(again),
                    Exchange::Reused => return Err(SimpleJwtError::RefreshReused),
                    // `replay` never rotates; were it to, the token is spent all the same.
                    Exchange::Rotated(_) => return Err(TokenProblem::Blacklisted.into()),
                }
            }
            Status::Rotated => return Err(TokenProblem::Blacklisted.into()),
            Status::Revoked => return Err(TokenProblem::Blacklisted.into()),
            Status::Live | Status::Expired => {}
        }
    }
    let claims = resource::verify_claims(claims, &ctx.expect(Some("refresh")))?.into_map();
    Ok(Presented {
        row,
        claims,
        replayed,
    })
}

/// `POST /api/token/refresh/`: a new access token and a rotated refresh token. The old one
/// is blacklisted; presenting it again revokes its whole family.
pub fn refresh(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    token: &str,
) -> Result<Refreshed, SimpleJwtError> {
    let presented = presented_refresh(conn, ctx, token, true)?;
    // A refresh token that verifies but was never stored was not issued by this server.
    let Some(row) = presented.row else {
        return Err(TokenProblem::Invalid.into());
    };
    let user = match row.user_id {
        Some(id) => users::by_id(conn, id)?,
        None => None,
    };
    let user = match user {
        Some(u) if u.is_active => u,
        _ => return Err(SimpleJwtError::NoActiveAccountForToken),
    };
    if presented.claims.get("sub").and_then(Value::as_str) != Some(user.subject.as_str()) {
        return Err(TokenProblem::Invalid.into());
    }
    if let Some(again) = presented.replayed {
        return Ok(again);
    }
    let options = &ctx.settings.simplejwt;
    if !options.rotate_refresh_tokens {
        // SimpleJWT's defaults: a new access token only; the refresh token stays valid
        // until it expires or is blacklisted. The family learns of the access token so that
        // revoking the family still revokes it.
        let who = subject(ctx, &user);
        let access = tokens::sign(ctx.keys, &who, "access", ctx.now, ctx.access_ttl())?;
        family::reissue_access(
            conn,
            &row,
            &IssuedAccess {
                jti: access.jti,
                exp: access.exp,
            },
        )?;
        return Ok(Refreshed {
            access: access.jwt,
            refresh: None,
        });
    }
    if !options.blacklist_after_rotation {
        // Without BLACKLIST_AFTER_ROTATION the presented token stays live beside its
        // successor, as in SimpleJWT.
        let (access, refresh) = issue(conn, ctx, &user, &row.grant_id)?;
        return Ok(Refreshed {
            access,
            refresh: Some(refresh),
        });
    }
    // The family rule: rotate (a repeat within the grace gets the same answer), and a
    // reuse revokes the family.
    // Signed before the exchange's transaction: on SQLite that transaction holds the one
    // write lock, and two RSA signatures inside it made every other writer wait for them.
    // A request that loses the race (a repeat in the grace) throws its pair away.
    let pair = sign_pair(ctx, &user)?;
    let outcome = family::exchange(conn, &row, token, ctx.now, ctx.refresh_grace(), |conn| {
        record_pair(conn, ctx, &user, &row.grant_id, &pair)?;
        let refresh = pair.refresh.jwt.clone();
        Ok::<_, SimpleJwtError>((
            Refreshed {
                access: pair.access.jwt.clone(),
                refresh: Some(refresh.clone()),
            },
            Some(refresh),
        ))
    })?;
    match outcome {
        Exchange::Rotated(answer) | Exchange::Replayed(answer) => Ok(answer),
        Exchange::Reused => Err(SimpleJwtError::RefreshReused),
    }
}

/// `POST /api/token/verify/`: any token type; a blacklisted one is a 400, as SimpleJWT has it.
pub fn verify(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    token: &str,
) -> Result<Empty, SimpleJwtError> {
    let claims = ctx.decode(token, None)?;
    let claims = resource::verify_claims(claims, &ctx.expect(None))?;
    let jti = claims.jti().unwrap_or_default();
    // The common case, an access token, has no refresh row to look up: its (signed) type
    // says so, which spares a query on every verify.
    let blacklisted = if claims.str("token_type") == Some("access") {
        family::is_access_revoked(conn, jti)?
    } else {
        match refresh_tokens::by_jti(conn, jti)? {
            // SimpleJWT's verify consults its blacklist only under BLACKLIST_AFTER_ROTATION
            // (refresh and blacklist always do).
            Some(_) if !ctx.settings.simplejwt.blacklist_after_rotation => false,
            Some(row) => family::status(conn, &row, ctx.now)?.is_spent(),
            None => family::is_access_revoked(conn, jti)?,
        }
    };
    if blacklisted {
        return Err(SimpleJwtError::Fields(FieldErrors::non_field(
            TokenProblem::Blacklisted.message(),
        )));
    }
    Ok(Empty {})
}

/// `POST /api/token/blacklist/`: revoke a refresh token (log out).
pub fn blacklist(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    token: &str,
) -> Result<Empty, SimpleJwtError> {
    let presented = presented_refresh(conn, ctx, token, false)?;
    let Some(row) = presented.row else {
        return Err(TokenProblem::Invalid.into());
    };
    if !family::revoke_one(conn, &row, ctx.now)? {
        return Err(TokenProblem::Blacklisted.into());
    }
    Ok(Empty {})
}

/// `GET /hello/` after the token verified: SimpleJWT's `JWTAuthentication.get_user`
/// checks (the user exists and is active), plus Tessera's revocation list.
pub fn hello_user(
    conn: &mut DbConnection,
    settings: &SimpleJwtSettings,
    claims: &resource::Claims,
) -> Result<UserRow, SimpleJwtError> {
    // SimpleJWT reads USER_ID_CLAIM (a string since 5.4, a number before).
    let user_id = match claims.get(&settings.user_id_claim) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(SimpleJwtError::NoUserIdentification),
    };
    let user = match settings.user_id_field {
        UserIdField::Id => match user_id.parse::<i64>() {
            Ok(id) => users::by_id(conn, id)?,
            Err(_) => None,
        },
        UserIdField::Username => users::by_username(conn, &user_id)?,
    };
    let Some(user) = user else {
        return Err(SimpleJwtError::UserNotFound);
    };
    if !user.is_active {
        return Err(SimpleJwtError::UserInactive);
    }
    if claims.sub() != Some(user.subject.as_str()) {
        return Err(SimpleJwtError::UserNotFound);
    }
    if family::is_access_revoked(conn, claims.jti().unwrap_or_default())? {
        return Err(Rejection::Token(TokenProblem::Blacklisted).into());
    }
    Ok(user)
}
