//! HTML pages: askama template structs (one per file in `templates/`) and the response
//! headers every page carries.
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;

#[derive(Template)]
#[template(path = "login.html")]
pub struct Login<'a> {
    pub client_name: Option<&'a str>,
    pub error: Option<&'a str>,
    pub csrf_token: &'a str,
    pub return_to: &'a str,
    pub username: &'a str,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct Consent<'a> {
    pub client_name: &'a str,
    pub display_name: &'a str,
    pub username: &'a str,
    pub scopes: Vec<(&'a str, &'static str)>,
    pub params: &'a [(String, String)],
    pub csrf_token: &'a str,
}

/// The readable error page. Rendered only through `error::PageError`, so every error page
/// is logged and looks the same.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

#[derive(Template)]
#[template(path = "form_post.html")]
pub struct FormPost<'a> {
    pub action: &'a str,
    pub fields: &'a [(String, String)],
    pub nonce: &'a str,
}

#[derive(Template)]
#[template(path = "signed_in.html")]
pub struct SignedIn<'a> {
    pub display_name: &'a str,
    pub username: &'a str,
    pub csrf_token: &'a str,
    /// Administrators get a link to the console.
    pub is_admin: bool,
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct Logout<'a> {
    pub client_name: Option<&'a str>,
    pub action: &'a str,
    pub params: &'a [(String, String)],
    pub csrf_token: &'a str,
}

#[derive(Template)]
#[template(path = "logged_out.html")]
pub struct LoggedOut;

/// What a scope lets the application do, in words for the consent page.
pub fn describe_scope(scope: &str) -> &'static str {
    match scope {
        "openid" => "Sign you in with your Tessera account",
        "profile" => "See your name and basic profile",
        "email" => "See your email address",
        "address" => "See your postal address",
        "phone" => "See your phone number",
        "offline_access" => "Keep access while you are away (refresh tokens)",
        _ => "Access granted by this scope",
    }
}

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                   frame-ancestors 'none'; base-uri 'none'";

/// Render a page with Tessera's security headers. Pages are never cached and never framed
/// (clickjacking on the consent page would grant access).
pub fn page(status: StatusCode, template: &impl Template) -> HttpResponse {
    render(status, template, CSP.to_owned())
}

/// The `form_post` page: its one inline script is allowed by nonce.
pub fn form_post_page(action: &str, fields: &[(String, String)]) -> HttpResponse {
    let nonce = crate::secrets::random_token(16);
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; frame-ancestors 'none'; base-uri 'none'"
    );
    render(
        StatusCode::OK,
        &FormPost {
            action,
            fields,
            nonce: &nonce,
        },
        csp,
    )
}

fn render(status: StatusCode, template: &impl Template, csp: String) -> HttpResponse {
    match template.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Pragma", "no-cache"))
            .insert_header(("X-Frame-Options", "DENY"))
            .insert_header(("Content-Security-Policy", csp))
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .insert_header(("Referrer-Policy", "no-referrer"))
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("Something went wrong. Please try again.")
        }
    }
}

/// An error page of the admin console, with the way back to it.
#[derive(Template)]
#[template(path = "admin/error.html")]
pub struct AdminErrorPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    /// The visitor is not an administrator: the console is no way back for them.
    pub forbidden: bool,
}
