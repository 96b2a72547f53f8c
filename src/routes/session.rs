//! Reading the session cookie into a signed-in user.
use actix_web::HttpRequest;

use super::web::cookie_value;
use crate::sessions::SignedIn;
use crate::sessions::{self, COOKIE};
use crate::state::AppState;
use crate::store::StoreError;

/// The signed-in user, if the cookie names a live session of an active user. A storage
/// failure reads as signed out (the page then asks to sign in) and is logged.
pub async fn current(req: &HttpRequest, state: &AppState) -> Option<SignedIn> {
    match lookup(req, state).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "session lookup failed");
            None
        }
    }
}

/// [`current`], with a storage failure kept apart from "signed out": the admin console
/// answers "temporarily unavailable" during a database outage instead of sending a
/// signed-in admin to a login page that cannot work either.
pub async fn lookup(req: &HttpRequest, state: &AppState) -> Result<Option<SignedIn>, StoreError> {
    let Some(cookie) = cookie_value(req, COOKIE) else {
        return Ok(None);
    };
    let now = state.clock.unix();
    let found = state
        .store
        .run(move |conn| sessions::current(conn, &cookie, now))
        .await?;
    Ok(found.filter(|s| s.user.is_active))
}
