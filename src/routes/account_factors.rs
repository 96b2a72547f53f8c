//! `/account/totp...` and `/account/recovery-codes`: setting up an authenticator from the
//! account page (QR code, then a confirming code), new recovery codes and removal (both
//! with the current password). Every POST carries the session's CSRF token.
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::account::{form, me, signed_in};
use super::web::field;
use crate::account::AccountError;
use crate::second_factor::{SecondFactorError, manage, totp};
use crate::secrets::SecretString;
use crate::sessions::SignedIn;
use crate::state::AppState;
use crate::throttle::Policy;
use crate::views::{self, EnrolView};

const PATH: &str = "/account/totp";

fn kek(state: &AppState) -> Result<crate::kek::Kek, AccountError> {
    state
        .keys
        .source()
        .kek()
        .cloned()
        .ok_or_else(|| SecondFactorError::NoKek.into())
}

/// The enrolment page for the signed-in user (the same secret until it is confirmed).
async fn enrol_page(
    state: &AppState,
    s: &SignedIn,
    status: StatusCode,
    error: Option<&str>,
) -> Result<HttpResponse, AccountError> {
    let kek = kek(state)?;
    let (user_id, account) = (s.user.id, s.user.username.clone());
    let now = state.clock.unix();
    let e = state
        .store
        .run(move |conn| Ok(totp::begin(conn, &kek, user_id, &account, now)))
        .await??;
    Ok(views::page(
        status,
        &views::SecondFactor {
            username: &s.user.username,
            action: PATH,
            csrf_token: &s.session.csrf_token,
            error,
            code: true,
            enrol: Some(EnrolView {
                qr: e.qr,
                secret: e.secret_base32,
                uri: e.uri,
            }),
            passkey: false,
            why: "scan the code with your authenticator app, then type the code it shows to turn it on.",
        },
    ))
}

fn to_account(code: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", format!("/account?done={code}#second-factors")))
        .finish()
}

/// `GET /account/totp`.
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AccountError> {
    let s = signed_in(&req, &state).await?;
    if s.user.must_change_password {
        return Err(AccountError::MustChangePassword);
    }
    match enrol_page(&state, &s, StatusCode::OK, None).await {
        Err(AccountError::Invalid(_)) => Ok(to_account("totp-active")),
        other => other,
    }
}

/// `POST /account/totp`: the confirming code.
pub async fn confirm(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AccountError> {
    let (s, form) = form(&req, &state, &body).await?;
    let code = field(&form, "code").unwrap_or("").trim().to_owned();
    let kek = kek(&state)?;
    let me = me(&req, &state, &s);
    let methods = s.methods();
    let now = state.clock.unix();
    let result = state
        .store
        .run(move |conn| Ok(manage::confirm(conn, &kek, &me, &methods, &code, now)))
        .await?;
    match result {
        Ok(codes) => Ok(views::page(
            StatusCode::OK,
            &views::RecoveryCodes {
                headline: "Your authenticator is on: Tessera asks for a code after your password.",
                codes: &codes.0,
                next: "/account?done=totp-enrolled#second-factors",
            },
        )),
        Err(AccountError::Invalid(message)) => {
            enrol_page(&state, &s, StatusCode::UNAUTHORIZED, Some(&message)).await
        }
        Err(e) => Err(e),
    }
}

/// The current password a second-factor change needs, checked by the domain function.
fn password(form: &[(String, String)]) -> SecretString {
    SecretString::new(field(form, "current_password").unwrap_or(""))
}

fn count_refusal(state: &AppState, result: &Result<impl Sized, AccountError>) {
    if let Err(AccountError::WrongPassword | AccountError::Throttled { .. }) = result {
        state.metrics.login_failed("account_second_factor");
    }
}

/// `POST /account/totp/remove`.
pub async fn remove(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AccountError> {
    let (s, form) = form(&req, &state, &body).await?;
    let me = me(&req, &state, &s);
    let password = password(&form);
    let (now, throttle) = (state.clock.unix(), Policy::from_settings(&state.settings));
    let result = state
        .store
        .run(move |conn| Ok(manage::remove(conn, throttle, &me, &password, now)))
        .await?;
    count_refusal(&state, &result);
    result?;
    Ok(to_account("totp-removed"))
}

/// `POST /account/recovery-codes`: new codes, shown once.
pub async fn recovery_codes(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AccountError> {
    let (s, form) = form(&req, &state, &body).await?;
    let me = me(&req, &state, &s);
    let password = password(&form);
    let (now, throttle) = (state.clock.unix(), Policy::from_settings(&state.settings));
    let result = state
        .store
        .run(move |conn| {
            Ok(manage::new_recovery_codes(
                conn, throttle, &me, &password, now,
            ))
        })
        .await?;
    count_refusal(&state, &result);
    let codes = result?;
    Ok(views::page(
        StatusCode::OK,
        &views::RecoveryCodes {
            headline: "New recovery codes: the old ones no longer work.",
            codes: &codes.0,
            next: "/account#second-factors",
        },
    ))
}
