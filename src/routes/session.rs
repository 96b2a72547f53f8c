//! Reading the session cookie into a signed-in user.
use actix_web::HttpRequest;

use super::web::cookie_value;
use crate::sessions::SignedIn;
use crate::sessions::{self, COOKIE};
use crate::state::AppState;

/// The signed-in user, if the cookie names a live session of an active user. A storage
/// failure reads as signed out (the page then asks to sign in) and is logged.
pub async fn current(req: &HttpRequest, state: &AppState) -> Option<SignedIn> {
    let cookie = cookie_value(req, COOKIE)?;
    let now = state.clock.unix();
    match state
        .store
        .run(move |conn| sessions::current(conn, &cookie, now))
        .await
    {
        Ok(s) => s.filter(|s| s.user.is_active),
        Err(e) => {
            tracing::error!(error = %e, "session lookup failed");
            None
        }
    }
}
