//! `GET|POST /oauth/authorize`: the authorization endpoint and its consent form.
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::web::{csrf_ok, field, form_pairs, query_pairs};
use crate::error::PageError;
use crate::oauth::authorize::{self, AuthorizeDeps, AuthorizeRequest, Decision, Outcome};
use crate::state::AppState;
use crate::views;

/// A GET is only ever an authorization request: a `decision` in a link (or an image a
/// page embeds) must not grant consent, even with the session's CSRF token in it.
pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    handle(&req, &state, query_pairs(&req), false).await
}

/// OIDC allows the request itself by POST (form-encoded); the consent form also comes
/// back here, recognisable by its `decision` and `csrf_token` fields — in the form body
/// only: a POST that leaves its body empty and carries them in the query is a request.
pub async fn post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let params = form_pairs(&body);
    if params.is_empty() {
        return handle(&req, &state, query_pairs(&req), false).await;
    }
    handle(&req, &state, params, true).await
}

/// `posted_form`: whether `params` came from a POSTed form, the only place a consent
/// decision is read from.
async fn handle(
    req: &HttpRequest,
    state: &AppState,
    mut params: Vec<(String, String)>,
    posted_form: bool,
) -> Result<HttpResponse, PageError> {
    let signed_in = super::session::current(req, state).await;
    // A password that must change first stops the flow before consent or a code: the user
    // changes it and the request continues (a GET request can be returned to as it was).
    if signed_in
        .as_ref()
        .is_some_and(|s| s.user.must_change_password)
    {
        let mut return_to = String::new();
        if !posted_form && !params.is_empty() {
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params.iter())
                .finish();
            return_to = format!("/oauth/authorize?{query}");
        }
        return Ok(super::login::to_password_change(
            &super::web::safe_return_to(Some(&return_to)).unwrap_or_default(),
        ));
    }
    let decision = match field(&params, "decision") {
        _ if !posted_form => None,
        Some("allow") => Some(Decision::Allow),
        Some("deny") => Some(Decision::Deny),
        _ => None,
    };
    if decision.is_some() {
        let expected = signed_in
            .as_ref()
            .map(|s| s.session.csrf_token.as_str())
            .unwrap_or("");
        if !csrf_ok(expected, field(&params, "csrf_token")) {
            return Err(PageError::FormExpired(
                "Go back to the application and start signing in again.",
            ));
        }
    }
    params.retain(|(k, _)| k != "decision" && k != "csrf_token");
    let request = AuthorizeRequest {
        params,
        signed_in,
        decision,
        ip: super::web::client_ip(req, &state.settings),
    };
    let session = request.signed_in.clone();
    let settings = state.settings.clone();
    let keys = state.keys.current();
    let now = state.clock.unix();
    let outcome = state
        .store
        .with_conn(move |conn| {
            authorize::authorize(
                AuthorizeDeps {
                    conn,
                    now,
                    settings,
                    keys,
                },
                request,
            )
        })
        .await?;
    if let Outcome::StepUp { return_to } = &outcome
        && let Some(session) = &session
    {
        return super::second_step::step_up(state, session, return_to).await;
    }
    respond(state, outcome)
}

fn respond(state: &AppState, outcome: Outcome) -> Result<HttpResponse, PageError> {
    let response = match outcome {
        Outcome::ErrorPage {
            status,
            title,
            message,
        } => {
            return Err(PageError::refused(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                title,
                message,
            ));
        }
        Outcome::Redirect {
            form_post: Some(post),
            ..
        } => views::form_post_page(&post.action, &post.fields),
        Outcome::Redirect {
            url,
            form_post: None,
        } => HttpResponse::Found()
            .insert_header(("Location", url.to_string()))
            .insert_header(("Cache-Control", "no-store"))
            // RFC 9700 §4.2: the client's page must not learn this request's URL (state,
            // PKCE challenge) from the Referer; browsers apply a redirect's policy.
            .insert_header(("Referrer-Policy", "no-referrer"))
            .finish(),
        // Handled before `respond` (it needs the session); a step-up without one is a
        // sign-in.
        Outcome::StepUp { return_to } => {
            super::login::login_page(state, StatusCode::OK, None, "", &return_to, None)
        }
        Outcome::Login(page) => super::login::login_page(
            state,
            StatusCode::OK,
            Some(&page.client_name),
            page.login_hint.as_deref().unwrap_or(""),
            &page.return_to,
            None,
        ),
        Outcome::Consent(page) => {
            let scopes = page
                .scopes
                .iter()
                .map(|s| (s.as_str(), views::describe_scope(s)))
                .collect();
            views::page(
                StatusCode::OK,
                &views::Consent {
                    client_name: &page.client_name,
                    display_name: &page.display_name,
                    username: &page.username,
                    scopes,
                    params: &page.params,
                    csrf_token: &page.csrf_token,
                    apis: &page.apis,
                },
            )
        }
    };
    Ok(response)
}
