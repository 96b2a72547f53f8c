//! The admin console's askama page structs (one per file in `templates/admin/`) and the
//! display rows they show: everything already formatted, so templates only print.
use askama::Template;

use crate::admin::Paging;
use crate::admin::clients::ClientForm;
use crate::admin::resources::ResourceForm;
use crate::signing::KeyInfo;
use crate::store::admin::ConsentRow;
use crate::store::audit::AuditRow;
use crate::store::clients::ClientRow;
use crate::store::sessions::SessionRow;
use crate::store::users::UserRow;
use crate::throttle::{LockedItem, Target};

/// What every admin page's frame shows: the section, the signed-in admin, a notice.
#[derive(Debug)]
pub struct Chrome {
    pub section: &'static str,
    pub csrf_token: String,
    pub admin_name: String,
    pub flash: Option<&'static str>,
}

pub fn when(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

fn when_opt(unix: Option<i64>) -> String {
    unix.map(when).unwrap_or_else(|| "never".into())
}

/// Links to the previous and next page, keeping the other query parameters.
#[derive(Debug)]
pub struct Pager {
    pub summary: String,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    pub fn new(base: &str, params: &[(&str, &str)], paging: &Paging) -> Self {
        let link = |page: i64| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in params.iter().filter(|(_, v)| !v.is_empty()) {
                q.append_pair(k, v);
            }
            q.append_pair("page", &page.to_string());
            format!("{base}?{}", q.finish())
        };
        Self {
            summary: format!(
                "Page {} of {} · {} in all",
                paging.page,
                paging.last(),
                paging.total
            ),
            prev: paging.prev().map(link),
            next: paging.next().map(link),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
pub struct Dashboard {
    pub chrome: Chrome,
    pub users: i64,
    pub clients: i64,
    pub keys: usize,
    pub active_kid: String,
    pub recent: Vec<AuditItem>,
    /// The second-factor policy in force, and the choices (value, words).
    pub policy: &'static str,
    pub policies: Vec<(&'static str, &'static str)>,
}

#[derive(Debug)]
pub struct UserItem {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub email: String,
    pub is_admin: bool,
    pub is_active: bool,
    pub last_login: String,
}

impl From<&UserRow> for UserItem {
    fn from(u: &UserRow) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            name: u.name.clone().unwrap_or_default(),
            email: u.email.clone().unwrap_or_default(),
            is_admin: u.is_admin,
            is_active: u.is_active,
            last_login: when_opt(u.last_login_at),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/users.html")]
pub struct Users {
    pub chrome: Chrome,
    pub q: String,
    pub users: Vec<UserItem>,
    pub pager: Pager,
}

/// The new-user form, refilled after a mistake.
#[derive(Debug, Default)]
pub struct NewUserValues {
    pub username: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub is_admin: bool,
}

#[derive(Template)]
#[template(path = "admin/user_new.html")]
pub struct UserNew {
    pub chrome: Chrome,
    pub error: Option<String>,
    pub values: NewUserValues,
}

#[derive(Debug)]
pub struct ConsentItem {
    pub client_id: String,
    pub client_name: String,
    pub scope: String,
    pub since: String,
}

impl From<&ConsentRow> for ConsentItem {
    fn from(c: &ConsentRow) -> Self {
        Self {
            client_id: c.client_id.clone(),
            client_name: c.client_name.clone(),
            scope: {
                let mut scopes: Vec<&str> = c.scope.split_whitespace().collect();
                scopes.sort_unstable();
                scopes.join(" ")
            },
            since: when(c.created_at),
        }
    }
}

#[derive(Debug)]
pub struct SessionItem {
    pub id: String,
    pub started: String,
    pub expires: String,
    pub ip: String,
    pub user_agent: String,
    pub current: bool,
}

impl SessionItem {
    pub fn new(s: &SessionRow, current_session: &str) -> Self {
        Self {
            id: s.id_hash.clone(),
            started: when(s.created_at),
            expires: when(s.expires_at),
            ip: s.ip.clone().unwrap_or_default(),
            user_agent: s
                .user_agent
                .as_deref()
                .unwrap_or("")
                .chars()
                .take(80)
                .collect(),
            current: s.id_hash == current_session,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/user.html")]
pub struct User {
    pub chrome: Chrome,
    pub user: UserItem,
    pub email_verified: bool,
    pub subject: String,
    pub created: String,
    pub consents: Vec<ConsentItem>,
    pub sessions: Vec<SessionItem>,
    pub is_self: bool,
    /// Whether the user has an authenticator, and their recovery codes left.
    pub totp: bool,
    pub recovery_codes_left: i64,
    /// A mail server is configured: the reset link can be emailed (if the user has an
    /// address).
    pub can_email: bool,
}

#[derive(Debug)]
pub struct ClientItem {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    /// Its token_endpoint_auth_method.
    pub auth_method: String,
    pub grant_types: String,
    pub created: String,
    /// Registered itself through `POST /oauth/register` (RFC 7591).
    pub self_registered: bool,
    /// Its security profile (`none`, `fapi2`).
    pub profile: String,
}

impl From<&ClientRow> for ClientItem {
    fn from(c: &ClientRow) -> Self {
        Self {
            id: c.id.clone(),
            name: c.name.clone(),
            kind: if c.is_public {
                "public"
            } else {
                "confidential"
            },
            auth_method: c.token_endpoint_auth_method.clone(),
            grant_types: c.grant_types.replace(' ', ", "),
            created: when(c.created_at),
            self_registered: c.self_registered,
            profile: c.profile.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/clients.html")]
pub struct Clients {
    pub chrome: Chrome,
    pub clients: Vec<ClientItem>,
}

/// The client form, new or editing an existing client.
#[derive(Template)]
#[template(path = "admin/client_form.html")]
pub struct ClientFormPage {
    pub chrome: Chrome,
    pub error: Option<String>,
    pub values: ClientForm,
    /// `None` when registering a new client.
    pub existing: Option<ClientItem>,
    pub default_access_ttl: u64,
    pub default_refresh_ttl: u64,
    /// The signing algorithms a client may choose, the default first.
    pub algs: Vec<&'static str>,
}

impl ClientFormPage {
    /// Whether `alg` is the selected one of a field's value (empty is the profile's default).
    pub fn alg_selected(&self, value: &str, alg: &str) -> bool {
        value == alg
    }

    /// Whether `profile` is the selected one (empty is none).
    pub fn profile_selected(&self, profile: &str) -> bool {
        let value = self.values.profile.as_str();
        value == profile || (value.is_empty() && profile == "none")
    }

    /// Whether `method` is the selected authentication method (empty is the default).
    pub fn method_selected(&self, method: &str) -> bool {
        let value = self.values.auth_method.as_str();
        value == method || (matches!(value, "" | "none") && method == "client_secret_basic")
    }

    pub fn has_grant(&self, g: &str) -> bool {
        self.values.grant_types.iter().any(|x| x == g)
    }

    pub fn action(&self) -> String {
        match &self.existing {
            Some(c) => format!("/admin/clients/{}", c.id),
            None => "/admin/clients/new".into(),
        }
    }
}

/// A secret shown once, after registration or rotation.
#[derive(Template)]
#[template(path = "admin/secret.html")]
pub struct Secret {
    pub chrome: Chrome,
    pub heading: &'static str,
    pub client_id: String,
    pub client_name: String,
    pub secret: Option<String>,
}

/// A user's one-time reset link, shown once.
#[derive(Template)]
#[template(path = "admin/reset_link.html")]
pub struct ResetLink {
    pub chrome: Chrome,
    pub user_id: i64,
    pub username: String,
    pub link: String,
    pub expires: String,
    /// The link went out by email to this address (and is not shown).
    pub emailed_to: Option<String>,
    /// Emailing failed: why (the link is shown instead).
    pub mail_error: Option<String>,
}

#[derive(Debug)]
pub struct KeyItem {
    pub kid: String,
    pub alg: &'static str,
    pub created: String,
    pub state: &'static str,
    pub retired: bool,
    /// When it signs (or signed) its first token.
    pub activates: String,
}

impl From<&KeyInfo> for KeyItem {
    fn from(k: &KeyInfo) -> Self {
        Self {
            kid: k.kid.clone(),
            alg: k.alg.as_str(),
            created: k.created.format("%Y-%m-%d %H:%M UTC").to_string(),
            state: k.state.as_str(),
            retired: k.state == crate::signing::KeyState::Retired,
            activates: k.activates.format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/keys.html")]
pub struct Keys {
    pub chrome: Chrome,
    pub keys: Vec<KeyItem>,
    /// What the rotate form offers, the default first.
    pub algs: Vec<&'static str>,
}

/// One locked account, client or address, ready to print.
#[derive(Debug)]
pub struct LockedRow {
    /// `account`, `client` or `address`: also what the unlock form sends back.
    pub kind: &'static str,
    pub name: String,
    pub place: String,
    pub until: String,
    pub left: String,
}

impl LockedRow {
    pub fn new(item: &LockedItem, now: i64) -> Self {
        let (kind, name) = match &item.target {
            Target::Subject { kind, subject } => (kind.as_str(), subject.clone()),
            Target::Address(address) => ("address", address.clone()),
        };
        let place = match (&item.target, item.everywhere) {
            (Target::Address(_), _) | (_, true) => "every address".to_owned(),
            (_, false) => format!("from {}", item.addresses.join(", ")),
        };
        Self {
            kind,
            name,
            place,
            until: chrono::DateTime::from_timestamp(item.until, 0)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_default(),
            left: format!("{} s left", item.until - now),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/locked.html")]
pub struct Locked {
    pub chrome: Chrome,
    pub items: Vec<LockedRow>,
}

#[derive(Debug)]
pub struct AuditItem {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub ip: String,
    pub failed: bool,
}

impl From<&AuditRow> for AuditItem {
    fn from(a: &AuditRow) -> Self {
        Self {
            at: when(a.at),
            actor: a.actor.clone().unwrap_or_else(|| "—".into()),
            action: a.action.clone(),
            target: a.target.clone().unwrap_or_default(),
            detail: a.detail.clone().unwrap_or_default(),
            ip: a.ip.clone().unwrap_or_default(),
            failed: a.action.ends_with(".failed"),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
pub struct Audit {
    pub chrome: Chrome,
    pub filter: String,
    pub filters: Vec<(&'static str, &'static str)>,
    pub entries: Vec<AuditItem>,
    pub pager: Pager,
}

/// "Are you sure?" for a destructive action: a GET page whose form POSTs the action.
#[derive(Template)]
#[template(path = "admin/confirm.html")]
pub struct Confirm {
    pub chrome: Chrome,
    pub title: String,
    pub message: String,
    pub action: String,
    pub button: &'static str,
    pub back: String,
}

/// One registered API in the Resources list, formatted.
#[derive(Debug)]
pub struct ResourceItem {
    pub identifier: String,
    pub name: String,
    pub scopes: String,
    pub ttl: String,
    pub alg: &'static str,
    pub edit: String,
}

#[derive(Template)]
#[template(path = "admin/resources.html")]
pub struct Resources {
    pub chrome: Chrome,
    pub resources: Vec<ResourceItem>,
}

/// The resource form, new or editing (then the identifier is fixed).
#[derive(Template)]
#[template(path = "admin/resource_form.html")]
pub struct ResourceFormPage {
    pub chrome: Chrome,
    pub error: Option<String>,
    pub values: ResourceForm,
    pub editing: bool,
    pub action: String,
    /// The delete confirmation's address, when editing.
    pub delete: Option<String>,
    pub default_access_ttl: u64,
    pub algs: Vec<&'static str>,
}

impl ResourceFormPage {
    pub fn alg_selected(&self, alg: &str) -> bool {
        self.values.alg == alg || (self.values.alg.is_empty() && alg == "RS256")
    }
}
/// One initial access token in the Registration page's list (never the token itself).
#[derive(Debug)]
pub struct RegistrationTokenItem {
    pub id: String,
    pub created_by: String,
    pub created: String,
    pub expires: String,
    pub uses: i64,
    pub state: &'static str,
}

impl RegistrationTokenItem {
    pub fn new(r: &crate::store::registration::RegistrationTokenRow, now: i64) -> Self {
        let state = if r.revoked_at.is_some() {
            "revoked"
        } else if crate::registration::initial_tokens::is_live(r, now) {
            "live"
        } else {
            "expired"
        };
        Self {
            id: r.id.clone(),
            created_by: r.created_by.clone(),
            created: when(r.created_at),
            expires: r.expires_at.map(when).unwrap_or_else(|| "never".into()),
            uses: r.uses,
            state,
        }
    }
}

/// Dynamic registration: the policy in force and the initial access tokens; a token just
/// minted is shown once.
#[derive(Template)]
#[template(path = "admin/registration.html")]
pub struct Registration {
    pub chrome: Chrome,
    pub mode: &'static str,
    pub redirect_uris: String,
    pub scopes: String,
    pub grant_types: String,
    pub tokens: Vec<RegistrationTokenItem>,
    pub minted: Option<String>,
    pub error: Option<String>,
}
