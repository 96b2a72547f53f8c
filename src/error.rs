//! The one place errors become HTTP responses.
//!
//! JSON endpoints return [`AppError`] (or their protocol's own error); the pages people read
//! (login, logout, the authorization endpoint) return [`PageError`]; the admin console
//! returns `AdminError`. Each `ResponseError` impl here picks the status and body; causes
//! are logged here and never sent to the client.
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::oauth::OAuthError;
use crate::resource::Rejection;
use crate::simplejwt::SimpleJwtError;
use crate::store::StoreError;
use crate::views;

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            OAuthError::InvalidClient(_)
            | OAuthError::ClientThrottled { .. }
            | OAuthError::InvalidToken(_)
            | OAuthError::DpopRefused { .. } => StatusCode::UNAUTHORIZED,
            OAuthError::InsufficientScope(_) => StatusCode::FORBIDDEN,
            OAuthError::ServerError(_) => StatusCode::INTERNAL_SERVER_ERROR,
            OAuthError::TemporarilyUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            OAuthError::ServerError(cause) => tracing::error!(%cause, "OAuth request failed"),
            OAuthError::TemporarilyUnavailable(cause) => {
                tracing::warn!(%cause, "OAuth request failed: dependency unavailable")
            }
            other => tracing::debug!(error = %other, "OAuth request refused"),
        }
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header(("Cache-Control", "no-store"))
            .insert_header(("Pragma", "no-cache"));
        match self {
            OAuthError::InvalidClient(_) => {
                res.insert_header(("WWW-Authenticate", "Basic realm=\"tessera\""));
            }
            OAuthError::ClientThrottled { retry_after, .. } => {
                res.insert_header(("WWW-Authenticate", "Basic realm=\"tessera\""))
                    .insert_header((
                        actix_web::http::header::RETRY_AFTER,
                        retry_after.to_string(),
                    ));
            }
            OAuthError::InvalidToken(_) | OAuthError::InsufficientScope(_) => {
                let value = format!(
                    "Bearer realm=\"tessera\", error=\"{}\", error_description=\"{}\"",
                    self.code(),
                    self.description().replace(['"', '\\'], "'")
                );
                res.insert_header(("WWW-Authenticate", value));
            }
            OAuthError::UseDpopNonce { nonce } => {
                res.insert_header(("DPoP-Nonce", nonce.as_str()));
            }
            OAuthError::DpopRefused { .. } => {
                // RFC 9449 §7.1: the DPoP scheme's challenge, with the algorithms we take.
                let value = format!(
                    "DPoP algs=\"{}\", error=\"{}\", error_description=\"{}\"",
                    crate::resource::dpop::algorithms().join(" "),
                    self.code(),
                    self.description().replace(['"', '\\'], "'")
                );
                res.insert_header(("WWW-Authenticate", value));
            }
            _ => {}
        }
        res.json(json!({ "error": self.code(), "error_description": self.description() }))
    }
}

/// Dynamic registration's errors: RFC 7591 §3.2.2 bodies, RFC 6750 §3.1 for a missing or
/// wrong token. Registration that is off is a 404: the endpoint is not offered.
impl ResponseError for crate::registration::RegistrationError {
    fn status_code(&self) -> StatusCode {
        use crate::registration::RegistrationError as E;
        match self {
            E::NotEnabled => StatusCode::NOT_FOUND,
            E::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            E::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            E::Store(StoreError::Pool(_)) => StatusCode::SERVICE_UNAVAILABLE,
            E::Store(_) | E::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            E::InvalidRedirectUri(_) | E::InvalidClientMetadata(_) | E::InvalidRequest(_) => {
                StatusCode::BAD_REQUEST
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        use crate::registration::RegistrationError as E;
        match self {
            E::Store(StoreError::Pool(cause)) => {
                tracing::warn!(%cause, "registration failed: dependency unavailable")
            }
            E::Store(_) | E::Internal(_) => tracing::error!(error = %self, "registration failed"),
            other => tracing::debug!(error = %other, "registration refused"),
        }
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header(("Cache-Control", "no-store"))
            .insert_header(("Pragma", "no-cache"));
        match self {
            E::InvalidToken(_) => {
                let value = format!(
                    "Bearer realm=\"tessera\", error=\"invalid_token\", error_description=\"{}\"",
                    self.description().replace(['"', '\\'], "'")
                );
                res.insert_header(("WWW-Authenticate", value));
            }
            E::Throttled { retry_after } => {
                res.insert_header((
                    actix_web::http::header::RETRY_AFTER,
                    retry_after.to_string(),
                ));
            }
            _ => {}
        }
        res.json(json!({ "error": self.code(), "error_description": self.description() }))
    }
}

/// The admin console's errors are HTML pages (or, for an anonymous visitor, the way to the
/// login page); causes of faults are logged, never shown.
impl ResponseError for crate::admin::AdminError {
    fn status_code(&self) -> StatusCode {
        use crate::admin::AdminError as E;
        match self {
            E::SignIn { .. } | E::MustChangePassword { .. } | E::SecondFactor { .. } => {
                StatusCode::SEE_OTHER
            }
            E::Forbidden | E::Csrf => StatusCode::FORBIDDEN,
            E::Invalid(_) => StatusCode::BAD_REQUEST,
            E::Refused(_) => StatusCode::CONFLICT,
            E::NotFound => StatusCode::NOT_FOUND,
            E::Store(StoreError::Pool(_)) => StatusCode::SERVICE_UNAVAILABLE,
            E::Store(_) | E::Keys(_) | E::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        use crate::admin::AdminError as E;
        let status = self.status_code();
        let (title, message): (&str, String) = match self {
            E::SignIn { return_to } => {
                return redirect_with_return_to("/login", Some(return_to));
            }
            E::MustChangePassword { return_to } => return to_password_change(Some(return_to)),
            E::SecondFactor { return_to } => {
                return redirect_with_return_to(STEP_UP_START, Some(return_to));
            }
            E::Forbidden => (
                "Administrators only",
                "Your account cannot use the admin console. Ask an administrator if you need access."
                    .into(),
            ),
            E::Csrf => (
                "This form has expired",
                "The page was open too long or came from somewhere else. Go back, reload the page and try again."
                    .into(),
            ),
            E::Invalid(m) => ("Please check your input", m.clone()),
            E::Refused(m) => ("Not allowed", m.clone()),
            E::NotFound => (
                "Not found",
                "It may have been deleted in the meantime.".into(),
            ),
            E::Store(StoreError::Pool(cause)) => {
                tracing::warn!(%cause, "admin: database unavailable");
                (
                    "Temporarily unavailable",
                    "Please try again in a moment.".into(),
                )
            }
            E::Store(_) | E::Keys(_) | E::Internal(_) => {
                tracing::error!(error = %self, "admin request failed");
                (
                    "Something went wrong",
                    "The change could not be made. Please try again; if it keeps failing, check the server log."
                        .into(),
                )
            }
        };
        views::page(
            status,
            &views::AdminErrorPage {
                title,
                message: &message,
                forbidden: matches!(self, E::Forbidden),
            },
        )
    }
}

/// Where a signed-in browser starts the second step of a step-up.
pub const STEP_UP_START: &str = "/login/second-factor/start";

/// 303 to the password change form, where a user whose password must change is sent from
/// every other page; the form continues to `return_to` once done.
fn to_password_change(return_to: Option<&str>) -> HttpResponse {
    redirect_with_return_to(crate::account::PASSWORD_PATH, return_to)
}

/// 303 to one of Tessera's own pages, which sends the browser on to `return_to` once done.
fn redirect_with_return_to(path: &str, return_to: Option<&str>) -> HttpResponse {
    let location = match return_to {
        Some(target) => {
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("return_to", target)
                .finish();
            format!("{path}?{query}")
        }
        None => path.to_owned(),
    };
    HttpResponse::SeeOther()
        .insert_header(("Location", location))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

/// The user's own pages (`/account`, `/reset/...`): readable pages; a refused password
/// change is a refused sign-in (429 with `Retry-After` when throttled).
impl ResponseError for crate::account::AccountError {
    fn status_code(&self) -> StatusCode {
        use crate::account::{AccountError as E, LinkProblem};
        match self {
            E::SignIn { .. } | E::MustChangePassword => StatusCode::SEE_OTHER,
            E::Csrf => StatusCode::FORBIDDEN,
            E::WrongPassword => StatusCode::UNAUTHORIZED,
            E::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            E::Invalid(_) => StatusCode::BAD_REQUEST,
            E::NotFound | E::ResetLink(LinkProblem::Unknown) => StatusCode::NOT_FOUND,
            E::ResetLink(_) => StatusCode::GONE,
            E::Store(StoreError::Pool(_)) | E::Store(StoreError::Blocking(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            E::Store(_) | E::Hash(_) | E::SecondFactor(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        use crate::account::{AccountError as E, LinkProblem};
        let (title, message): (&str, String) = match self {
            E::SignIn { return_to } => {
                return redirect_with_return_to("/login", Some(return_to));
            }
            E::MustChangePassword => return to_password_change(None),
            E::Csrf => (
                "This form has expired",
                "The page was open too long or came from somewhere else. Go back to your account page, reload it and try again."
                    .into(),
            ),
            E::WrongPassword => (
                "Current password is wrong",
                "Your password was not changed. Go back and type your current password again."
                    .into(),
            ),
            E::Throttled { .. } => (
                "Too many attempts",
                "Too many wrong passwords. Please wait a moment and try again.".into(),
            ),
            E::Invalid(m) => ("Please check your input", m.clone()),
            E::NotFound => (
                "Not found",
                "There is no such application or session on your account. It may have ended already."
                    .into(),
            ),
            E::ResetLink(LinkProblem::Unknown) => (
                "This reset link does not work",
                "Check that you copied the whole link, or ask an administrator for a new one."
                    .into(),
            ),
            E::ResetLink(LinkProblem::Used) => (
                "This reset link was already used",
                "A reset link works once. If you did not use it, ask an administrator for a new one."
                    .into(),
            ),
            E::ResetLink(LinkProblem::Expired) => (
                "This reset link has expired",
                "Ask an administrator for a new one.".into(),
            ),
            E::Store(StoreError::Pool(_)) | E::Store(StoreError::Blocking(_)) => {
                tracing::warn!(error = %self, "account page: database unavailable");
                (
                    "Temporarily unavailable",
                    "Please try again in a moment.".into(),
                )
            }
            E::Store(_) | E::Hash(_) | E::SecondFactor(_) => {
                tracing::error!(error = %self, "account request failed");
                (
                    "Something went wrong",
                    "Nothing was changed. Please try again; if it keeps failing, tell an administrator."
                        .into(),
                )
            }
        };
        let mut res = views::page(
            self.status_code(),
            &views::ErrorPage {
                title,
                message: &message,
            },
        );
        if let E::Throttled { retry_after } = self
            && let Ok(value) = retry_after.to_string().parse()
        {
            res.headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, value);
        }
        res
    }
}

/// Why a page for people (not for programs) could not be served as asked. Becomes the
/// readable error page.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// A refusal the user can act on; the title and message are shown as they are.
    #[error("{title}: {message}")]
    Refused {
        status: StatusCode,
        title: String,
        message: String,
    },
    /// The form's CSRF token is missing or wrong (an old page, or another site's form); the
    /// message says what to do instead.
    #[error("form expired or forged")]
    FormExpired(&'static str),
    /// The store failed. The user can only try again, so every store failure reads as
    /// "Temporarily unavailable"; `retry` is the page's own words for that.
    #[error("storage failed: {cause}")]
    Unavailable {
        cause: StoreError,
        retry: &'static str,
    },
}

impl PageError {
    pub fn refused(
        status: StatusCode,
        title: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        PageError::Refused {
            status,
            title: title.into(),
            message: message.into(),
        }
    }
}

impl From<StoreError> for PageError {
    fn from(cause: StoreError) -> Self {
        PageError::Unavailable {
            cause,
            retry: "Please try again in a moment.",
        }
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::Refused { status, .. } => *status,
            PageError::FormExpired(_) => StatusCode::BAD_REQUEST,
            PageError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (title, message) = match self {
            PageError::Refused { title, message, .. } => (title.as_str(), message.as_str()),
            PageError::FormExpired(message) => ("This form has expired", *message),
            PageError::Unavailable { cause, retry } => {
                match cause {
                    StoreError::Pool(_) | StoreError::Blocking(_) => {
                        tracing::warn!(%cause, "page not served: database unavailable")
                    }
                    _ => tracing::error!(%cause, "page not served: storage failed"),
                }
                ("Temporarily unavailable", *retry)
            }
        };
        views::page(self.status_code(), &views::ErrorPage { title, message })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A dependency (the database) cannot serve right now.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// No such resource.
    #[error("not found")]
    NotFound,
    /// A fault of ours.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Pool(reason) => AppError::Unavailable(reason),
            StoreError::NotFound => AppError::NotFound,
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (code, description) = match self {
            AppError::Unavailable(cause) => {
                tracing::warn!(%cause, "dependency unavailable");
                (
                    "temporarily_unavailable",
                    "The service is temporarily unavailable.",
                )
            }
            AppError::NotFound => ("not_found", "No such resource."),
            AppError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                ("server_error", "The server encountered an internal error.")
            }
        };
        HttpResponse::build(self.status_code())
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({ "error": code, "error_description": description }))
    }
}

/// SimpleJWT's `WWW-Authenticate` challenge (DRF sends it with every 401).
const SIMPLEJWT_CHALLENGE: &str = "Bearer realm=\"api\"";

/// SimpleJWT's body for a refused token: `detail` and `code`.
fn token_not_valid(detail: &str) -> serde_json::Value {
    json!({ "detail": detail, "code": "token_not_valid" })
}

impl ResponseError for SimpleJwtError {
    fn status_code(&self) -> StatusCode {
        match self {
            SimpleJwtError::Fields(_) | SimpleJwtError::Parse(_) => StatusCode::BAD_REQUEST,
            SimpleJwtError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            SimpleJwtError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            SimpleJwtError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            SimpleJwtError::Rejected(r) => r.status_code(),
            SimpleJwtError::Store(StoreError::Pool(_)) => StatusCode::SERVICE_UNAVAILABLE,
            SimpleJwtError::Store(_) | SimpleJwtError::Sign(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let body = match self {
            SimpleJwtError::Rejected(r) => return r.error_response(),
            SimpleJwtError::Fields(errors) => json!(errors),
            SimpleJwtError::Parse(detail) => json!({ "detail": detail }),
            SimpleJwtError::UnsupportedMediaType(t) => {
                json!({ "detail": format!("Unsupported media type \"{t}\" in request.") })
            }
            SimpleJwtError::MethodNotAllowed(m) => {
                json!({ "detail": format!("Method \"{m}\" not allowed.") })
            }
            // DRF's own throttling answer, which SimpleJWT clients already handle.
            SimpleJwtError::Throttled(secs) => json!({
                "detail": format!("Request was throttled. Expected available in {secs} seconds.")
            }),
            SimpleJwtError::NoActiveAccount | SimpleJwtError::NoActiveAccountForToken => {
                json!({ "detail": self.to_string() })
            }
            SimpleJwtError::Token(problem) => token_not_valid(problem.message()),
            SimpleJwtError::RefreshReused => {
                token_not_valid(crate::resource::TokenProblem::Blacklisted.message())
            }
            SimpleJwtError::NoUserIdentification => token_not_valid(&self.to_string()),
            SimpleJwtError::UserNotFound => {
                json!({ "detail": "User not found", "code": "user_not_found" })
            }
            SimpleJwtError::UserInactive => {
                json!({ "detail": "User is inactive", "code": "user_inactive" })
            }
            SimpleJwtError::Store(StoreError::Pool(cause)) => {
                tracing::warn!(%cause, "token request failed: dependency unavailable");
                json!({ "detail": "The service is temporarily unavailable." })
            }
            SimpleJwtError::Store(cause) => {
                tracing::error!(%cause, "token request failed");
                json!({ "detail": "A server error occurred." })
            }
            SimpleJwtError::Sign(cause) => {
                tracing::error!(%cause, "token request failed");
                json!({ "detail": "A server error occurred." })
            }
        };
        let status = self.status_code();
        let mut res = HttpResponse::build(status);
        res.insert_header(("Cache-Control", "no-store"));
        if status == StatusCode::UNAUTHORIZED {
            res.insert_header(("WWW-Authenticate", SIMPLEJWT_CHALLENGE));
        }
        if let SimpleJwtError::MethodNotAllowed(_) = self {
            res.insert_header(("Allow", "POST, OPTIONS"));
        }
        if let SimpleJwtError::Throttled(secs) = self {
            res.insert_header(("Retry-After", secs.to_string()));
        }
        res.json(body)
    }
}

impl ResponseError for Rejection {
    fn status_code(&self) -> StatusCode {
        match self {
            Rejection::Misconfigured => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let body = match self {
            Rejection::NotProvided => json!({ "detail": self.to_string() }),
            Rejection::BadHeader => {
                json!({ "detail": self.to_string(), "code": "bad_authorization_header" })
            }
            Rejection::Token(problem) => json!({
                "detail": "Given token not valid for any token type",
                "code": "token_not_valid",
                "messages": [{
                    "token_class": "AccessToken",
                    "token_type": "access",
                    "message": problem.message(),
                }],
            }),
            Rejection::Misconfigured => {
                tracing::error!("a protected route has no token verifier in its app data");
                json!({ "detail": "A server error occurred." })
            }
            Rejection::Dpop { error, description } => {
                json!({ "detail": description, "code": error })
            }
        };
        let mut res = HttpResponse::build(self.status_code());
        if self.status_code() == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3: name the error when a token was sent but refused.
            let challenge = match self {
                Rejection::Token(_) | Rejection::BadHeader => {
                    format!("{SIMPLEJWT_CHALLENGE}, error=\"invalid_token\"")
                }
                // RFC 9449 §7.1: the DPoP scheme's challenge, with the algorithms taken.
                Rejection::Dpop { error, description } => format!(
                    "DPoP algs=\"{}\", error=\"{error}\", error_description=\"{description}\"",
                    crate::resource::dpop::algorithms().join(" ")
                ),
                _ => SIMPLEJWT_CHALLENGE.to_owned(),
            };
            res.insert_header(("WWW-Authenticate", challenge));
        }
        res.json(body)
    }
}

/// The answer to a request body over `startup::MAX_BODY`, in the language of the endpoint
/// it was sent to: actix's own answer is plain text, which an OAuth or SimpleJWT client
/// cannot parse and a person should not have to read. The status stays 413.
pub fn payload_too_large(path: &str) -> HttpResponse {
    const MESSAGE: &str = "The request body is too large.";
    let status = StatusCode::PAYLOAD_TOO_LARGE;
    // The authorization and logout endpoints answer browsers with pages; the rest of
    // `/oauth/` answers programs.
    let page_for_people = matches!(path, "/oauth/authorize" | "/oauth/logout");
    if path.starts_with("/oauth/") && !page_for_people {
        // RFC 6749 §5.2: a malformed request is `invalid_request`.
        HttpResponse::build(status)
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({ "error": "invalid_request", "error_description": MESSAGE }))
    } else if path.starts_with("/api/") {
        HttpResponse::build(status).json(json!({ "detail": MESSAGE }))
    } else {
        views::page(
            status,
            &views::ErrorPage {
                title: "Request too large",
                message: "The form sent more data than this site accepts. Please go back and \
                          shorten what you entered.",
            },
        )
    }
}

/// The words a refused passkey request shows: (title, message). Causes are logged here.
fn passkey_words(e: &crate::passkeys::PasskeyError) -> (&'static str, String) {
    use crate::passkeys::{CeremonyProblem, PasskeyError as E};
    match e {
        E::Unavailable => (
            "Passkeys are not available",
            "Passkeys need Tessera to be reached by a domain name. Ask an administrator.".into(),
        ),
        E::SignIn => (
            "Please sign in",
            "Sign in again, then go back to your account page.".into(),
        ),
        E::MustChangePassword => (
            "Choose a new password first",
            "Change your password, then come back to add a passkey.".into(),
        ),
        E::Csrf => (
            "This form has expired",
            "The page was open too long or came from somewhere else. Go back to your account page, reload it and try again."
                .into(),
        ),
        E::Ceremony(CeremonyProblem::Unknown) => (
            "This passkey request is not valid",
            "It was already used, or it belongs to another session. Go back to your account page and try again."
                .into(),
        ),
        E::Ceremony(CeremonyProblem::Expired) => (
            "This passkey request has expired",
            "Go back to your account page and try again.".into(),
        ),
        E::Invalid(m) => ("Please check your input", m.clone()),
        E::Refused(cause) => {
            tracing::info!(%cause, "passkey refused");
            (
                "The passkey was not accepted",
                "Your device's answer did not check out. Go back to your account page and try again."
                    .into(),
            )
        }
        E::AlreadyRegistered => (
            "This passkey is registered already",
            "The device you chose already holds a passkey for an account here.".into(),
        ),
        E::Throttled { .. } => (
            "Too many attempts",
            "Please wait a moment and try again.".into(),
        ),
        E::NotFound => (
            "Not found",
            "There is no such passkey on your account. It may have been removed already.".into(),
        ),
        E::Store(StoreError::Pool(_)) | E::Store(StoreError::Blocking(_)) => {
            tracing::warn!(error = %e, "passkey request: database unavailable");
            (
                "Temporarily unavailable",
                "Please try again in a moment.".into(),
            )
        }
        E::Store(_) => {
            tracing::error!(error = %e, "passkey request failed");
            (
                "Something went wrong",
                "Nothing was changed. Please try again; if it keeps failing, tell an administrator."
                    .into(),
            )
        }
    }
}

fn passkey_status(e: &crate::passkeys::PasskeyError) -> StatusCode {
    use crate::passkeys::PasskeyError as E;
    match e {
        E::Unavailable | E::NotFound => StatusCode::NOT_FOUND,
        E::SignIn => StatusCode::UNAUTHORIZED,
        E::MustChangePassword | E::Csrf => StatusCode::FORBIDDEN,
        E::Ceremony(_) | E::Invalid(_) | E::Refused(_) => StatusCode::BAD_REQUEST,
        E::AlreadyRegistered => StatusCode::CONFLICT,
        E::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        E::Store(StoreError::Pool(_)) | E::Store(StoreError::Blocking(_)) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        E::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The account page's passkey forms: readable pages (sign-in and the forced password change
/// are redirects, as on the rest of the account page).
impl ResponseError for crate::passkeys::PasskeyError {
    fn status_code(&self) -> StatusCode {
        use crate::passkeys::PasskeyError as E;
        match self {
            E::SignIn | E::MustChangePassword => StatusCode::SEE_OTHER,
            other => passkey_status(other),
        }
    }

    fn error_response(&self) -> HttpResponse {
        use crate::passkeys::PasskeyError as E;
        match self {
            E::SignIn => return redirect_with_return_to("/login", Some("/account")),
            E::MustChangePassword => return to_password_change(None),
            _ => {}
        }
        let (title, message) = passkey_words(self);
        views::page(
            self.status_code(),
            &views::ErrorPage {
                title,
                message: &message,
            },
        )
    }
}

/// A passkey request the page's script makes (a ceremony's options): JSON
/// `{"error", "message"}` the script shows as it is.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct PasskeyScriptError(#[from] pub crate::passkeys::PasskeyError);

impl ResponseError for PasskeyScriptError {
    fn status_code(&self) -> StatusCode {
        passkey_status(&self.0)
    }

    fn error_response(&self) -> HttpResponse {
        let (title, message) = passkey_words(&self.0);
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header(("Cache-Control", "no-store"));
        if let crate::passkeys::PasskeyError::Throttled { retry_after } = &self.0 {
            res.insert_header(("Retry-After", retry_after.to_string()));
        }
        res.json(json!({ "error": title, "message": message }))
    }
}
