//! `/` and `/account...`: the user's own page and its forms (profile, password, revoking an
//! application, ending a session). Every POST carries the session's CSRF token; a user who
//! must change their password is sent to the change form from everywhere else.
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::web::{client_ip, csrf_ok, field, form_pairs, query_pairs, safe_return_to};
use crate::account::{self, AccountError, Me, OwnProfile, PasswordChange};
use crate::sessions::SignedIn;
use crate::state::AppState;
use crate::throttle::Policy;
use crate::views;

/// The signed-in user, or the way to sign in (and back to `/account`).
pub(super) async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
) -> Result<SignedIn, AccountError> {
    super::session::current(req, state)
        .await
        .ok_or(AccountError::SignIn {
            return_to: "/account",
        })
}

pub(super) fn me(req: &HttpRequest, state: &AppState, s: &SignedIn) -> Me {
    Me {
        user_id: s.user.id,
        username: s.user.username.clone(),
        session_key: s.session_key.clone(),
        ip: client_ip(req, &state.settings),
    }
}

/// A POSTed form of a signed-in user whose password need not change first, with its CSRF
/// token checked.
pub(super) async fn form(
    req: &HttpRequest,
    state: &AppState,
    body: &[u8],
) -> Result<(SignedIn, Vec<(String, String)>), AccountError> {
    let s = signed_in(req, state).await?;
    let form = form_pairs(body);
    if !csrf_ok(&s.session.csrf_token, field(&form, "csrf_token")) {
        tracing::info!(user = %s.user.username, "account form refused: CSRF token missing or wrong");
        return Err(AccountError::Csrf);
    }
    if s.user.must_change_password {
        return Err(AccountError::MustChangePassword);
    }
    Ok((s, form))
}

async fn run<T, F>(state: &AppState, f: F) -> Result<T, AccountError>
where
    T: Send + 'static,
    F: FnOnce(&mut crate::store::DbConnection) -> Result<T, AccountError> + Send + 'static,
{
    state.store.run(move |conn| Ok(f(conn))).await?
}

/// 303 to the account page with a notice code.
fn done(code: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", format!("/account?done={code}")))
        .finish()
}

/// Fixed texts only, so the query cannot put words on the page.
fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "profile-saved" => "Profile saved.",
        "password-changed" => "Password changed. Your other sessions have ended.",
        "app-revoked" => "Access revoked; the application's refresh tokens no longer work.",
        "signed-out" => "Session ended.",
        "totp-enrolled" => "Authenticator on: Tessera asks for a code after your password.",
        "totp-removed" => "Authenticator removed; your recovery codes no longer work.",
        "totp-active" => "An authenticator is already set up. Remove it first to set up another.",
        "passkey-added" => "Passkey added. You can now sign in with it alone.",
        "passkey-renamed" => "Passkey renamed.",
        "passkey-removed" => "Passkey removed; it no longer signs you in.",
        _ => return None,
    })
}

/// `GET /`: the account page when signed in, else a sign-in link.
pub async fn home(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AccountError> {
    match super::session::current(&req, &state).await {
        Some(s) => page(&req, &state, s).await,
        None => Ok(views::page(StatusCode::OK, &views::Home)),
    }
}

/// `GET /account`.
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AccountError> {
    let s = signed_in(&req, &state).await?;
    page(&req, &state, s).await
}

async fn page(
    req: &HttpRequest,
    state: &AppState,
    s: SignedIn,
) -> Result<HttpResponse, AccountError> {
    if s.user.must_change_password {
        return Err(AccountError::MustChangePassword);
    }
    let me = me(req, state, &s);
    let now = state.clock.unix();
    let (o, keys) = run(state, move |conn| {
        let overview = account::overview(conn, &me, now)?;
        Ok((overview, crate::passkeys::list(conn, &me)?))
    })
    .await?;
    let query = query_pairs(req);
    let u = &o.user;
    let account = views::Account {
        username: u.username.clone(),
        name: u.name.clone().unwrap_or_default(),
        email: u.email.clone().unwrap_or_default(),
        email_verified: u.email_verified,
        is_admin: u.is_admin,
        csrf_token: s.session.csrf_token.clone(),
        notice: field(&query, "done").and_then(notice),
        apps: o
            .consents
            .iter()
            .map(|c| views::AppItem {
                client_id: c.client_id.clone(),
                name: c.client_name.clone(),
                scopes: c
                    .scope
                    .split_whitespace()
                    .map(|sc| (sc.to_owned(), views::describe_scope(sc)))
                    .collect(),
                since: views::when(c.created_at),
            })
            .collect(),
        sessions: o
            .sessions
            .iter()
            .map(|r| views::SessionItem {
                id: r.id_hash.clone(),
                started: views::when(r.created_at),
                ip: r.ip.clone().unwrap_or_default(),
                browser: r
                    .user_agent
                    .as_deref()
                    .unwrap_or("")
                    .chars()
                    .take(80)
                    .collect(),
                current: r.id_hash == s.session_key,
            })
            .collect(),
        totp: o.totp,
        recovery_codes_left: o.recovery_codes_left,
        sign_ins: o
            .sign_ins
            .iter()
            .map(|r| views::SignInItem {
                at: views::when(r.at),
                ok: r.action == crate::audit::AuditAction::Login.as_str(),
                ip: r.ip.clone().unwrap_or_default(),
            })
            .collect(),
        passkeys: keys
            .iter()
            .map(|k| views::PasskeyItem {
                id: k.id.clone(),
                name: k.name.clone(),
                created: views::when(k.created_at),
                last_used: k.last_used_at.map(views::when).unwrap_or_default(),
            })
            .collect(),
        passkeys_off: state.passkeys.unavailable_because().map(str::to_owned),
    };
    // The passkey script runs only where passkeys work; otherwise no script at all.
    Ok(if account.passkeys_off.is_none() {
        views::page_with_script(StatusCode::OK, &account)
    } else {
        views::page(StatusCode::OK, &account)
    })
}

/// `POST /account/profile`.
pub async fn profile(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AccountError> {
    let (s, form) = form(&req, &state, &body).await?;
    let profile = OwnProfile::parse(
        field(&form, "name").unwrap_or(""),
        field(&form, "email").unwrap_or(""),
    )?;
    let me = me(&req, &state, &s);
    let now = state.clock.unix();
    run(&state, move |conn| {
        account::update_profile(conn, now, &me, &profile)
    })
    .await?;
    Ok(done("profile-saved"))
}

/// `GET /account/password`: the change form; the only page a user flagged to change their
/// password can see.
pub async fn password_form(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AccountError> {
    let s = signed_in(&req, &state).await?;
    let query = query_pairs(&req);
    let return_to = safe_return_to(field(&query, "return_to")).unwrap_or_default();
    Ok(views::page(
        StatusCode::OK,
        &views::PasswordChange {
            username: &s.user.username,
            csrf_token: &s.session.csrf_token,
            forced: s.user.must_change_password,
            return_to: &return_to,
        },
    ))
}

/// `POST /account/password`.
pub async fn password(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AccountError> {
    let s = signed_in(&req, &state).await?;
    let form = form_pairs(&body);
    if !csrf_ok(&s.session.csrf_token, field(&form, "csrf_token")) {
        tracing::info!(user = %s.user.username, "password change refused: CSRF token missing or wrong");
        return Err(AccountError::Csrf);
    }
    let change = PasswordChange::parse(
        field(&form, "current_password").unwrap_or(""),
        field(&form, "new_password").unwrap_or(""),
        field(&form, "new_password2").unwrap_or(""),
    )?;
    let return_to = safe_return_to(field(&form, "return_to"));
    let me = me(&req, &state, &s);
    let now = state.clock.unix();
    let policy = Policy::from_settings(&state.settings);
    let result = run(&state, move |conn| {
        account::change_password(conn, now, policy, &me, &change)
    })
    .await;
    if let Err(AccountError::WrongPassword | AccountError::Throttled { .. }) = &result {
        state.metrics.login_failed("account_password");
    }
    result?;
    Ok(match return_to {
        Some(target) => HttpResponse::SeeOther()
            .insert_header(("Location", target))
            .finish(),
        None => done("password-changed"),
    })
}

/// `POST /account/applications/{client_id}/revoke`.
pub async fn revoke_app(
    req: HttpRequest,
    body: web::Bytes,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AccountError> {
    let (s, _) = form(&req, &state, &body).await?;
    let me = me(&req, &state, &s);
    let client_id = path.into_inner();
    let now = state.clock.unix();
    run(&state, move |conn| {
        account::revoke_consent(conn, now, &me, &client_id)
    })
    .await?;
    Ok(done("app-revoked"))
}

/// `POST /account/sessions/{id}/sign-out`. Ending this browser's own session signs it out.
pub async fn sign_out(
    req: HttpRequest,
    body: web::Bytes,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AccountError> {
    let (s, _) = form(&req, &state, &body).await?;
    let me = me(&req, &state, &s);
    let key = path.into_inner();
    let own = key == s.session_key;
    let now = state.clock.unix();
    run(&state, move |conn| {
        account::sign_out_session(conn, now, &me, &key)
    })
    .await?;
    if own {
        let mut res = HttpResponse::SeeOther()
            .insert_header(("Location", "/login"))
            .finish();
        let _ = res.add_removal_cookie(&super::web::removal(
            &state.settings,
            crate::sessions::COOKIE,
        ));
        return Ok(res);
    }
    Ok(done("signed-out"))
}
