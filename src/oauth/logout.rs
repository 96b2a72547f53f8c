//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
use url::Url;

use super::tokens;
use crate::clients::{self, Client};
use crate::config::Settings;
use crate::signing::KeySet;
use crate::store::{DbConnection, StoreError};

#[derive(Debug, Default)]
pub struct LogoutRequest {
    pub id_token_hint: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub client_id: Option<String>,
}

/// The session a logout request would end: who is signed in, and the `sid` its ID
/// tokens carry.
#[derive(Debug)]
pub struct CurrentSession {
    pub subject: String,
    pub sid: String,
}

#[derive(Debug)]
pub enum LogoutPlan {
    /// The request is not acceptable: show this error.
    Refuse(&'static str),
    /// Ask the user first: no valid `id_token_hint` of this user's session proves that
    /// an app of theirs asked.
    Confirm { client: Option<Client> },
    /// Sign out now, then go to `redirect` (or show the signed-out page).
    SignOut { redirect: Option<Url> },
}

/// Decide what a logout request may do for the `current` session. An expired ID token is
/// still a fine hint; one of another user, or of another session of the same user, is
/// not (RP-Initiated Logout §2: the OP must then ask the user).
pub fn plan(
    conn: &mut DbConnection,
    keys: &KeySet,
    settings: &Settings,
    req: &LogoutRequest,
    current: Option<&CurrentSession>,
    confirmed: bool,
    now: i64,
) -> Result<LogoutPlan, StoreError> {
    let mut hinted_client = None;
    let mut hint_proves = false;
    if let Some(hint) = &req.id_token_hint {
        match tokens::verify_id_token_hint(keys, &settings.issuer, hint, now) {
            Ok(claims) if claims.get("aud").is_some_and(|a| a.is_string()) => {
                // ID tokens from a refresh carry no sid: the user alone must match then.
                let str_claim = |name: &str| claims.get(name).and_then(|v| v.as_str());
                hint_proves = current.is_none_or(|c| {
                    str_claim("sub") == Some(c.subject.as_str())
                        && str_claim("sid").is_none_or(|sid| sid == c.sid)
                });
                hinted_client = claims["aud"].as_str().map(str::to_owned);
            }
            _ => {
                return Ok(LogoutPlan::Refuse(
                    "The id_token_hint is not a valid ID token from Tessera.",
                ));
            }
        }
    }
    let client_id = match (&hinted_client, &req.client_id) {
        (Some(a), Some(b)) if a != b => {
            return Ok(LogoutPlan::Refuse(
                "client_id does not match the id_token_hint.",
            ));
        }
        (Some(a), _) => Some(a.clone()),
        (None, b) => b.clone(),
    };
    let client = match &client_id {
        Some(id) => clients::by_id(conn, id)?,
        None => None,
    };
    let redirect = match &req.post_logout_redirect_uri {
        None => None,
        Some(uri) => {
            let registered = client
                .as_ref()
                .is_some_and(|c| c.has_post_logout_redirect_uri(uri));
            if !registered {
                return Ok(LogoutPlan::Refuse(
                    "The post_logout_redirect_uri is not registered for this application.",
                ));
            }
            let Ok(mut url) = Url::parse(uri) else {
                return Ok(LogoutPlan::Refuse(
                    "The post_logout_redirect_uri is not a valid URL.",
                ));
            };
            if let Some(state) = &req.state {
                url.query_pairs_mut().append_pair("state", state);
            }
            Some(url)
        }
    };
    if hint_proves || confirmed {
        Ok(LogoutPlan::SignOut { redirect })
    } else {
        Ok(LogoutPlan::Confirm { client })
    }
}
