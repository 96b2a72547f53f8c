//! The authorization endpoint's side of RFC 9126: a request naming a `request_uri` is
//! answered with the parameters pushed for it, for the client that pushed them, once,
//! before it expires. Each refusal is a page: the redirect URI is not yet trusted.
use super::{Outcome, error_page};
use crate::clients::Client;
use crate::secrets;
use crate::store::{DbConnection, StoreError, pushed_requests};

/// RFC 9126 §2.2's prefix for the `request_uri`s Tessera hands out.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

const START_AGAIN: &str = "Go back to the application and start signing in again.";

/// The pushed request `outer` names, if it names one.
pub fn resolve(
    conn: &mut DbConnection,
    client: &Client,
    outer: &[(String, String)],
    now: i64,
) -> Result<Option<Found>, Box<Outcome>> {
    let request_uri = match super::single(outer, "request_uri") {
        Ok(None) => return Ok(None),
        Ok(Some(uri)) => uri,
        Err(message) => return Err(Box::new(error_page(400, "Invalid request", message))),
    };
    // Not one of ours: Tessera fetches no request objects, and the authorization
    // parameters refuse it (`request_uri_not_supported`) once the redirect URI is checked.
    if !request_uri.starts_with(REQUEST_URI_PREFIX) {
        return Ok(None);
    }
    match find(conn, &client.id, request_uri, now) {
        Ok(Ok(found)) => Ok(Some(found)),
        Ok(Err(why)) => Err(Box::new(unusable(why))),
        Err(e) => {
            tracing::error!(error = %e, "authorize: pushed request lookup failed");
            Err(Box::new(error_page(
                503,
                "Temporarily unavailable",
                "Please try again in a moment.",
            )))
        }
    }
}

fn unusable(why: Unusable) -> Outcome {
    let (title, what) = match why {
        Unusable::Unknown => (
            "Unknown request",
            "This sign-in request is not known for this application.",
        ),
        Unusable::Expired => ("Request expired", "This sign-in request has expired."),
        Unusable::Used => (
            "Request already used",
            "This sign-in request was already used.",
        ),
    };
    error_page(400, title, format!("{what} {START_AGAIN}"))
}

/// Take the pushed request for this answer; refused if another answer has it.
pub fn claim(conn: &mut DbConnection, found: &Found) -> Result<(), Box<Outcome>> {
    match pushed_requests::claim(conn, &found.hash) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Box::new(unusable(Unusable::Used))),
        Err(e) => {
            tracing::error!(error = %e, "authorize: claiming a pushed request failed");
            Err(Box::new(error_page(
                503,
                "Temporarily unavailable",
                "Please try again in a moment.",
            )))
        }
    }
}

/// Give the pushed request back: the user is still being asked.
pub fn release(conn: &mut DbConnection, found: &Found) {
    if let Err(e) = pushed_requests::release(conn, &found.hash) {
        tracing::error!(error = %e, "authorize: releasing a pushed request failed");
    }
}

/// Why a `request_uri` cannot be used; each becomes an error page (the redirect URI it
/// would name is not known to be this client's).
#[derive(Debug, PartialEq, Eq)]
pub enum Unusable {
    /// Never issued, already expired and pruned, or issued to another client: one answer,
    /// so the page does not tell which `request_uri`s exist.
    Unknown,
    Expired,
    Used,
}

/// A pushed request found for `client_id`: its parameters and when it was pushed.
#[derive(Debug)]
pub struct Found {
    pub hash: String,
    pub params: Vec<(String, String)>,
    pub created_at: i64,
}

/// Look a `request_uri` up for `client_id`.
pub fn find(
    conn: &mut DbConnection,
    client_id: &str,
    request_uri: &str,
    now: i64,
) -> Result<Result<Found, Unusable>, StoreError> {
    let hash = secrets::digest(request_uri);
    let Some(row) = pushed_requests::by_hash(conn, &hash)? else {
        return Ok(Err(Unusable::Unknown));
    };
    if row.client_id != client_id {
        return Ok(Err(Unusable::Unknown));
    }
    if row.expires_at <= now {
        return Ok(Err(Unusable::Expired));
    }
    if row.used {
        return Ok(Err(Unusable::Used));
    }
    Ok(Ok(Found {
        hash,
        params: url::form_urlencoded::parse(row.params.as_bytes())
            .into_owned()
            .collect(),
        created_at: row.created_at,
    }))
}
