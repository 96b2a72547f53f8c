//! Who may use the console: the `Admin` extractor (a signed-in, active administrator) and
//! `AdminForm` (the same, plus a form whose CSRF token matches the session's). Every admin
//! handler takes one of them, so no page or POST can skip the check.
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, web};

use super::super::web::{client_ip, csrf_ok, field, form_pairs};
use super::pages::Chrome;
use crate::admin::{Actor, AdminError};
use crate::state::AppState;
use crate::store::users::UserRow;

/// The signed-in administrator making this request.
pub struct Admin {
    pub user: UserRow,
    pub actor: Actor,
    pub csrf_token: String,
    pub session_key: String,
    pub state: web::Data<AppState>,
}

impl Admin {
    /// The page frame, with the notice named by `?done=` if any.
    pub fn chrome(&self, section: &'static str, req: &HttpRequest) -> Chrome {
        let query = super::super::web::query_pairs(req);
        Chrome {
            section,
            csrf_token: self.csrf_token.clone(),
            admin_name: self
                .user
                .name
                .clone()
                .unwrap_or_else(|| self.user.username.clone()),
            flash: field(&query, "done").and_then(super::notice),
        }
    }
}

type Boxed<T> = Pin<Box<dyn Future<Output = Result<T, AdminError>>>>;

/// Where to come back to after signing in: the page asked for, or the console's start for
/// a form post (which cannot be replayed by a redirect).
fn return_to(req: &HttpRequest) -> String {
    let path = req.path();
    if req.method() == Method::GET && path.starts_with("/admin/") && !path.contains("//") {
        match req.query_string() {
            "" => path.to_owned(),
            q => format!("{path}?{q}"),
        }
    } else {
        "/admin/".to_owned()
    }
}

async fn admin_of(req: HttpRequest) -> Result<Admin, AdminError> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Err(AdminError::Internal("application state missing".into()));
    };
    let Some(signed_in) = super::super::session::lookup(&req, &state)
        .await
        .map_err(AdminError::Store)?
    else {
        return Err(AdminError::SignIn {
            return_to: return_to(&req),
        });
    };
    if signed_in.user.must_change_password {
        return Err(AdminError::MustChangePassword {
            return_to: return_to(&req),
        });
    }
    if !signed_in.user.is_admin {
        tracing::info!(user = %signed_in.user.username, path = %req.path(), "admin console refused: not an admin");
        return Err(AdminError::Forbidden);
    }
    // Under a policy that covers administrators, a password-only session is stepped up
    // before the console opens.
    if !signed_in.methods().is_multi_factor() {
        let policy = state
            .store
            .run(crate::second_factor::policy::current)
            .await
            .map_err(AdminError::Store)?;
        if policy.covers(&signed_in.user) {
            return Err(AdminError::SecondFactor {
                return_to: return_to(&req),
            });
        }
    }
    Ok(Admin {
        actor: Actor {
            user_id: signed_in.user.id,
            username: signed_in.user.username.clone(),
            ip: client_ip(&req, &state.settings),
        },
        csrf_token: signed_in.session.csrf_token.clone(),
        session_key: signed_in.session_key,
        user: signed_in.user,
        state,
    })
}

impl FromRequest for Admin {
    type Error = AdminError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(admin_of(req.clone()))
    }
}

/// A POST to the console: an administrator, and a form carrying their session's CSRF token.
pub struct AdminForm {
    pub admin: Admin,
    pub form: Vec<(String, String)>,
}

impl AdminForm {
    /// The one value of a field, or empty.
    pub fn get(&self, name: &str) -> &str {
        field(&self.form, name).unwrap_or("")
    }

    /// Every value of a repeated field (checkbox groups).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.form
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn checked(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }

    /// Destructive actions come from their confirmation page, which sends `confirm=yes`.
    pub fn require_confirmation(&self) -> Result<(), AdminError> {
        if self.get("confirm") == "yes" {
            Ok(())
        } else {
            Err(AdminError::Invalid(
                "This action must be confirmed on its confirmation page.".into(),
            ))
        }
    }
}

impl FromRequest for AdminForm {
    type Error = AdminError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let admin = admin_of(req).await?;
            let body = body
                .await
                .map_err(|_| AdminError::Invalid("The form could not be read.".into()))?;
            let form = form_pairs(&body);
            if !csrf_ok(&admin.csrf_token, field(&form, "csrf_token")) {
                tracing::info!(user = %admin.actor.username, "admin form refused: CSRF token missing or wrong");
                return Err(AdminError::Csrf);
            }
            Ok(AdminForm { admin, form })
        })
    }
}
