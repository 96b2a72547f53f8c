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

#[derive(Debug)]
pub enum LogoutPlan {
    /// The request is not acceptable: show this error.
    Refuse(&'static str),
    /// Ask the user first (no valid `id_token_hint` proves the app asked).
    Confirm { client: Option<Client> },
    /// Sign out now, then go to `redirect` (or show the signed-out page).
    SignOut { redirect: Option<Url> },
}

/// Decide what a logout request may do. An expired ID token is still a fine hint.
pub fn plan(
    conn: &mut DbConnection,
    keys: &KeySet,
    settings: &Settings,
    req: &LogoutRequest,
    confirmed: bool,
    now: i64,
) -> Result<LogoutPlan, StoreError> {
    let mut hinted_client = None;
    let mut hint_valid = false;
    if let Some(hint) = &req.id_token_hint {
        match tokens::verify_id_token_hint(keys, &settings.issuer, hint, now) {
            Ok(claims) if claims.get("aud").is_some_and(|a| a.is_string()) => {
                hint_valid = true;
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
    if hint_valid || confirmed {
        Ok(LogoutPlan::SignOut { redirect })
    } else {
        Ok(LogoutPlan::Confirm { client })
    }
}
