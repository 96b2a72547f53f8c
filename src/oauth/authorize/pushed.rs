//! The authorization endpoint's side of RFC 9126: a request naming a `request_uri` is
//! answered with the parameters pushed for it, for the client that pushed them, once,
//! before it expires. Each refusal is a page: the redirect URI is not yet trusted.
use super::{Outcome, error_page};
use crate::clients::Client;
use crate::oauth::par::{self, Found, REQUEST_URI_PREFIX, Unusable};
use crate::store::{DbConnection, pushed_requests};

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
    match par::find(conn, &client.id, request_uri, now) {
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
