//! Token exchange (RFC 8693): a client holding an access token Tessera issued (the
//! subject token, e.g. one a user's app sent to it) gets another one, for one API the
//! client may use, with the same subject and at most the same scopes; with an actor token
//! the new token says who acts for the subject (`act`). No refresh token: the new token
//! lives no longer than the subject token.
use serde_json::{Map, Value};

use super::issue::Aimed;
use super::request::{ACCESS_TOKEN_TYPE, ExchangeRequest};
use super::{Issuing, TokenResponse};
use crate::audit::{self, AuditAction, Entry};
use crate::clients::Client;
use crate::domain::ScopeSet;
use crate::family;
use crate::oauth::tokens::{self, AccessClaims, Confirmation};
use crate::oauth::{OAuthError, access, target};
use crate::store::{DbConnection, StoreError, users};

pub fn exchange(
    conn: &mut DbConnection,
    issuing: &Issuing<'_>,
    client: &Client,
    request: ExchangeRequest,
) -> Result<TokenResponse, OAuthError> {
    let subject = presented(conn, issuing, &request.subject_token, "subject_token")?;
    let actor = request
        .actor_token
        .as_deref()
        .map(|t| presented(conn, issuing, t, "actor_token"))
        .transpose()?;
    // Tessera's policy: an exchange always aims at one registered API the client may use,
    // so what a client can reach by exchanging is exactly what its registration lists.
    let Some(asked) = &request.target else {
        return Err(OAuthError::InvalidTarget(
            "name the API the token is for with resource (or audience)".into(),
        ));
    };
    let resource = target::resolve(conn, client, asked, None)?;
    let held = ScopeSet::parse(&subject.scope)
        .map_err(|_| OAuthError::InvalidRequest("subject_token has an unreadable scope".into()))?;
    let scope = match request.scope {
        Some(scope) if !scope.is_subset(&held) => {
            return Err(OAuthError::InvalidScope(
                "the requested scope exceeds the subject token's".into(),
            ));
        }
        Some(scope) => scope.ordered_like(&held),
        None => held,
    };
    let aimed = Aimed::at(Some(&resource), client, issuing, &scope)?;
    let now = issuing.now;
    // An exchange never extends access: the new token ends when the subject token does.
    let exp = (now + aimed.ttl).min(subject.exp);
    let user_claim = match subject.auth_time {
        Some(_) => {
            let Some(user) = users::by_subject(conn, &subject.sub)?.filter(|u| u.is_active) else {
                return Err(OAuthError::InvalidRequest(
                    "subject_token's user is disabled or gone".into(),
                ));
            };
            let simplejwt = &issuing.settings.simplejwt;
            Some((
                simplejwt.user_id_claim.clone(),
                simplejwt.user_id_value(user.id, &user.username),
            ))
        }
        None => None,
    };
    let act = match actor {
        Some(actor) => {
            let mut act = Map::new();
            act.insert("sub".into(), actor.sub.into());
            // RFC 8693 §4.1: the earlier chain of actors nests inside the current one.
            if let Some(prior) = subject.act {
                act.insert("act".into(), prior);
            }
            Some(Value::Object(act))
        }
        None => subject.act,
    };
    let claims = AccessClaims {
        iss: issuing.settings.issuer.clone(),
        sub: subject.sub,
        aud: aimed.aud,
        exp,
        iat: now,
        jti: tokens::new_jti(),
        client_id: Some(client.id.clone()),
        scope: aimed.scope.clone(),
        auth_time: subject.auth_time,
        token_type: "access".to_owned(),
        act,
        cnf: issuing.dpop_jkt.map(|jkt| Confirmation {
            jkt: jkt.to_owned(),
        }),
    };
    let access = tokens::sign_access(issuing.keys, aimed.alg, &claims, user_claim)
        .map_err(|e| OAuthError::ServerError(e.to_string()))?;
    Ok(TokenResponse {
        access_token: access.jwt,
        token_type: issuing.token_type().to_owned(),
        expires_in: exp - now,
        refresh_token: None,
        scope: aimed.scope,
        id_token: None,
        issued_token_type: Some(ACCESS_TOKEN_TYPE.to_owned()),
    })
}

/// An access token this server issued and still honours, whichever API it was for:
/// signature, issuer, time and type, then that it was not revoked.
fn presented(
    conn: &mut DbConnection,
    issuing: &Issuing<'_>,
    token: &str,
    which: &str,
) -> Result<AccessClaims, OAuthError> {
    let unusable = || {
        OAuthError::InvalidRequest(format!(
            "{which} is not a valid, unexpired access token issued by this server"
        ))
    };
    let claims = access::verify_issued(issuing.keys, issuing.settings, token, issuing.now)
        .map_err(|_| unusable())?;
    if family::is_access_revoked(conn, &claims.jti)? {
        return Err(unusable());
    }
    Ok(claims)
}

/// Write an exchange's outcome to the audit trail: who asked (the authenticated client),
/// for which API, and on refusal why. Every refusal after the client authenticated is
/// recorded; unauthenticated noise is not (client authentication has its own throttle).
pub fn audit(
    conn: &mut DbConnection,
    now: i64,
    client: &Client,
    ip: Option<&str>,
    form: &[(String, String)],
    answer: &Result<TokenResponse, OAuthError>,
) -> Result<(), StoreError> {
    let asked = form
        .iter()
        .filter(|(k, _)| k == "resource" || k == "audience")
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let actor = format!("client:{}", client.id);
    let (action, detail) = match answer {
        Ok(issued) => (
            AuditAction::TokenExchanged,
            format!("scope {}", issued.scope),
        ),
        Err(refused) => (
            AuditAction::TokenExchangeRefused,
            format!("{}: {}", refused.code(), refused.description()),
        ),
    };
    audit::record(
        conn,
        now,
        &Entry {
            actor: Some(&actor),
            action,
            target: Some(if asked.is_empty() { "-" } else { &asked }),
            detail: Some(&detail),
            ip,
        },
    )
}
