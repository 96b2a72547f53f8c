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
    /// Offer "Sign in with a passkey" (the issuer is a domain name).
    pub passkeys: bool,
    /// Reset by email is set up: offer "Forgot password?".
    pub forgot: bool,
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
    /// The APIs (RFC 8707 resources) the access is for: (name, identifier).
    pub apis: &'a [(String, String)],
}

/// `/device`: the signed-in user types the code a device shows.
#[derive(Template)]
#[template(path = "device.html")]
pub struct DeviceEntry<'a> {
    pub display_name: &'a str,
    pub username: &'a str,
    pub csrf_token: &'a str,
    /// Prefilled from `verification_uri_complete`, or what was typed before an error.
    pub user_code: &'a str,
    pub error: Option<&'a str>,
}

/// `/device` once a code is found: the client and scopes, allow or deny.
#[derive(Template)]
#[template(path = "device_confirm.html")]
pub struct DeviceConfirm<'a> {
    pub client_name: &'a str,
    pub user_code: &'a str,
    pub scopes: Vec<(&'a str, &'static str)>,
    pub display_name: &'a str,
    pub username: &'a str,
    pub csrf_token: &'a str,
}

/// `/device` after the answer.
#[derive(Template)]
#[template(path = "device_done.html")]
pub struct DeviceDone<'a> {
    pub client_name: &'a str,
    pub allowed: bool,
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

/// The front door for a visitor who is not signed in.
#[derive(Template)]
#[template(path = "home.html")]
pub struct Home;

/// One application the user allowed, as the account page lists it.
#[derive(Debug)]
pub struct AppItem {
    pub client_id: String,
    pub name: String,
    /// The granted scopes in words, each with its raw name.
    pub scopes: Vec<(String, &'static str)>,
    pub since: String,
}

/// One of the user's sessions at Tessera.
#[derive(Debug)]
pub struct SessionItem {
    pub id: String,
    pub started: String,
    pub ip: String,
    pub browser: String,
    pub current: bool,
}

/// One recent sign-in (or refused one) under the user's name.
#[derive(Debug)]
pub struct SignInItem {
    pub at: String,
    pub ok: bool,
    pub ip: String,
}

/// One of the user's passkeys.
#[derive(Debug)]
pub struct PasskeyItem {
    pub id: String,
    pub name: String,
    pub created: String,
    pub last_used: String,
}

/// `/account` (and `/` when signed in): the user's own page.
#[derive(Template)]
#[template(path = "account.html")]
pub struct Account {
    pub username: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub is_admin: bool,
    pub csrf_token: String,
    pub notice: Option<&'static str>,
    pub apps: Vec<AppItem>,
    pub sessions: Vec<SessionItem>,
    /// Whether an authenticator is on, and the recovery codes left.
    pub totp: bool,
    pub recovery_codes_left: i64,
    pub sign_ins: Vec<SignInItem>,
    pub passkeys: Vec<PasskeyItem>,
    /// Why passkeys cannot be used here, when they cannot.
    pub passkeys_off: Option<String>,
}

/// `/account/password`: the change form (also the forced first change).
#[derive(Template)]
#[template(path = "password_change.html")]
pub struct PasswordChange<'a> {
    pub username: &'a str,
    pub csrf_token: &'a str,
    pub forced: bool,
    pub return_to: &'a str,
}

/// `/reset/{token}`: choose a new password through a reset link.
#[derive(Template)]
#[template(path = "reset.html")]
pub struct Reset<'a> {
    pub username: &'a str,
    pub action: &'a str,
    pub error: Option<&'a str>,
    pub done: bool,
}

/// The secret a new authenticator is set up with, three ways.
#[derive(Debug)]
pub struct EnrolView {
    /// A `data:` URI of the QR code (SVG).
    pub qr: String,
    pub secret: String,
    pub uri: String,
}

/// The second step of a sign-in (`/login/second-factor`), or setting up an authenticator
/// (there, or from the account page): the login page's look.
#[derive(Template)]
#[template(path = "second_factor.html")]
pub struct SecondFactor<'a> {
    pub username: &'a str,
    pub action: &'a str,
    pub csrf_token: &'a str,
    pub error: Option<&'a str>,
    /// Whether a code is asked for (not when a passkey is the user's only second factor).
    pub code: bool,
    /// Set when the user is setting up an authenticator.
    pub enrol: Option<EnrolView>,
    /// Whether the user may answer with one of their passkeys.
    pub passkey: bool,
    /// Why an authenticator is being set up, after the username.
    pub why: &'a str,
}

/// Recovery codes, shown once.
#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodes<'a> {
    pub headline: &'a str,
    pub codes: &'a [String],
    pub next: &'a str,
}

/// `/reset`: ask for a reset link by email ("Forgot password?"), and the answer, which is
/// the same whether or not the account exists.
#[derive(Template)]
#[template(path = "forgot.html")]
pub struct Forgot<'a> {
    pub csrf_token: &'a str,
    pub identifier: &'a str,
    pub error: Option<&'a str>,
    pub sent: bool,
    /// How long an emailed link works.
    pub minutes: i64,
}

/// When something happened, as Tessera's pages show times.
pub fn when(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

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

/// Pages that run `/static/passkeys.js`: the same policy plus scripts from Tessera itself
/// (no inline script, no other origin) and `fetch` back to it for a ceremony's options.
const CSP_WITH_SCRIPT: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
                               style-src 'self'; img-src 'self' data:; \
                               frame-ancestors 'none'; base-uri 'none'";

/// Render a page with Tessera's security headers. Pages are never cached and never framed
/// (clickjacking on the consent page would grant access).
pub fn page(status: StatusCode, template: &impl Template) -> HttpResponse {
    render(status, template, CSP.to_owned())
}

/// [`page`] for a page that loads Tessera's own script (the login and account pages, and
/// the second step of a user with a passkey); every other page keeps a policy that runs no
/// script at all.
pub fn page_with_script(status: StatusCode, template: &impl Template) -> HttpResponse {
    render(status, template, CSP_WITH_SCRIPT.to_owned())
}

/// A page with a copy button (a secret shown once): as `page`, plus Tessera's own script
/// file `/static/copy.js`. No inline script, so an injected one still does not run.
pub fn page_with_copy_button(status: StatusCode, template: &impl Template) -> HttpResponse {
    render(
        status,
        template,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         frame-ancestors 'none'; base-uri 'none'"
            .to_owned(),
    )
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
