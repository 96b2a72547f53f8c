//! `/reset/{token}`: a one-time password reset link (see `crate::resets`). The token in the
//! path is the capability, so the form needs no session and no CSRF cookie: another site
//! cannot post to a link it does not know. Unusable links get a readable page.
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::web::{client_ip, field, form_pairs};
use crate::account::AccountError;
use crate::domain::Password;
use crate::resets;
use crate::state::AppState;
use crate::views;

pub async fn get(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AccountError> {
    let token = path.into_inner();
    let now = state.clock.unix();
    let user = {
        let token = token.clone();
        state
            .store
            .run(move |conn| Ok(resets::check(conn, &token, now)))
            .await??
    };
    Ok(views::page(
        StatusCode::OK,
        &views::Reset {
            username: &user.username,
            action: &resets::path(&token),
            error: None,
            done: false,
        },
    ))
}

pub async fn post(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AccountError> {
    let token = path.into_inner();
    let form = form_pairs(&body);
    let new = field(&form, "new_password").unwrap_or("");
    let parsed = if new != field(&form, "new_password2").unwrap_or("") {
        Err("The two passwords differ. Please type the same password twice.".to_owned())
    } else {
        Password::parse(new).map_err(|e| format!("The new {e}."))
    };
    let now = state.clock.unix();
    let password = match parsed {
        Ok(p) => p,
        Err(message) => {
            // The form again, if the link still works; its own error page if not.
            let user = {
                let token = token.clone();
                state
                    .store
                    .run(move |conn| Ok(resets::check(conn, &token, now)))
                    .await??
            };
            return Ok(views::page(
                StatusCode::BAD_REQUEST,
                &views::Reset {
                    username: &user.username,
                    action: &resets::path(&token),
                    error: Some(&message),
                    done: false,
                },
            ));
        }
    };
    let ip = client_ip(&req, &state.settings);
    let username = state
        .store
        .run(move |conn| {
            Ok(resets::complete(
                conn,
                now,
                &token,
                &password,
                ip.as_deref(),
            ))
        })
        .await??;
    tracing::info!(user = %username, "password reset through a link");
    let mut res = views::page(
        StatusCode::OK,
        &views::Reset {
            username: &username,
            action: "",
            error: None,
            done: true,
        },
    );
    // Whoever was signed in in this browser is signed out too: the reset ended every
    // session of this user, and the browser may have held another user's.
    let _ = res.add_removal_cookie(&super::web::removal(
        &state.settings,
        crate::sessions::COOKIE,
    ));
    Ok(res)
}
