//! RFC 7591 client metadata: the JSON a client sends, checked the way the admin console
//! checks a client (its `ClientForm` does the parsing), then against the registration
//! policy; and the JSON Tessera answers with.
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::RegistrationError;
use super::policy::RegistrationPolicy;
use crate::admin::AdminError;
use crate::admin::clients::{ClientForm, ClientSpec};
use crate::client_methods::AuthMethod;
use crate::clients::Client;
use crate::domain::GrantType;

/// At most this many redirect URIs (and as many post-logout ones) and contacts.
const MAX_URIS: usize = 20;
const MAX_CONTACTS: usize = 10;
/// Longest free-text value (a contact, software_id, a display URI).
const MAX_TEXT: usize = 2_000;

/// The metadata members Tessera reads; others are ignored (RFC 7591 §2).
#[derive(Debug, Default, Deserialize)]
pub struct Metadata {
    redirect_uris: Option<Vec<String>>,
    post_logout_redirect_uris: Option<Vec<String>>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    token_endpoint_auth_method: Option<String>,
    client_name: Option<String>,
    scope: Option<String>,
    id_token_signed_response_alg: Option<String>,
    client_uri: Option<String>,
    logo_uri: Option<String>,
    tos_uri: Option<String>,
    policy_uri: Option<String>,
    contacts: Option<Vec<String>>,
    software_id: Option<String>,
    software_version: Option<String>,
    jwks: Option<Value>,
    jwks_uri: Option<String>,
    /// RFC 9126 §6.
    require_pushed_authorization_requests: Option<bool>,
    /// RFC 9449 §5.2.
    dpop_bound_access_tokens: Option<bool>,
    /// RFC 7592 updates name the client and may repeat its secret.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

fn metadata(m: &str) -> RegistrationError {
    RegistrationError::InvalidClientMetadata(m.to_owned())
}

/// A registration request, parsed and within the policy.
#[derive(Debug)]
pub struct Checked {
    pub spec: ClientSpec,
    /// What is stored only to be handed back, as a JSON object.
    pub kept: Map<String, Value>,
}

impl Metadata {
    /// Parse the request body: one JSON object.
    pub fn from_body(body: &[u8]) -> Result<Self, RegistrationError> {
        serde_json::from_slice::<Value>(body)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| metadata("the request body must be a JSON object of client metadata"))
            .and_then(|v| {
                serde_json::from_value(v).map_err(|e| metadata(&format!("malformed metadata: {e}")))
            })
    }

    /// Check everything: each field as the console checks it, then the policy.
    pub fn check(self, policy: &RegistrationPolicy) -> Result<Checked, RegistrationError> {
        let auth_method = match &self.token_endpoint_auth_method {
            Some(m) => AuthMethod::parse(m).map_err(|e| metadata(&e))?,
            // RFC 7591 §2: the default.
            None => AuthMethod::ClientSecretBasic,
        };
        // The console's form takes the JWKS as text; what is stored is re-serialised JSON.
        let jwks = match &self.jwks {
            None => String::new(),
            Some(v @ Value::Object(_)) => v.to_string(),
            Some(_) => return Err(metadata("jwks must be a JSON object with a \"keys\" array")),
        };
        let jwks_uri = self.jwks_uri.clone().unwrap_or_default();
        if !jwks_uri.is_empty() {
            // Tessera fetches this URL: a self-registered client may only point it where
            // its redirect URIs may go, not at any host the server can reach.
            policy
                .check_uri("jwks_uri", &jwks_uri)
                .map_err(RegistrationError::InvalidClientMetadata)?;
        }
        let name = match self.client_name.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() => n.to_owned(),
            _ => {
                return Err(metadata(
                    "client_name is required: users see it when they consent",
                ));
            }
        };
        let redirect_uris = uri_lines(self.redirect_uris.as_deref().unwrap_or(&[]))?;
        let post_logout = uri_lines(self.post_logout_redirect_uris.as_deref().unwrap_or(&[]))?;
        let grant_types = self
            .grant_types
            .clone()
            // RFC 7591 §2: the default.
            .unwrap_or_else(|| vec!["authorization_code".to_owned()]);
        let scopes = match &self.scope {
            Some(s) if !s.trim().is_empty() => s.clone(),
            _ => policy.scopes.to_string(),
        };
        let form = ClientForm {
            name,
            redirect_uris,
            post_logout_redirect_uris: post_logout,
            public: auth_method == AuthMethod::None,
            grant_types,
            scopes,
            access_token_ttl: String::new(),
            refresh_token_ttl: String::new(),
            id_token_alg: self
                .id_token_signed_response_alg
                .clone()
                .unwrap_or_default(),
            access_token_alg: String::new(),
            // The APIs it may use come from the policy (`registration_resources`), not
            // from the client: the caller sets them.
            resources: String::new(),
            auth_method: auth_method.as_str().to_owned(),
            jwks,
            jwks_uri,
            require_par: self.require_pushed_authorization_requests.unwrap_or(false),
            dpop: self.dpop_bound_access_tokens.unwrap_or(false),
            // Self-registered clients are never fapi2: the profile is an operator's
            // decision about a client it vouches for.
            profile: String::new(),
        };
        let spec = form.parse().map_err(from_console)?;
        let client = &spec.client;
        policy
            .check_uris(&client.redirect_uris)
            .and_then(|()| policy.check_uris(&client.post_logout_redirect_uris))
            .map_err(RegistrationError::InvalidRedirectUri)?;
        policy
            .check_grant_types(&client.grant_types)
            .map_err(RegistrationError::InvalidClientMetadata)?;
        policy
            .check_scopes(&client.scopes)
            .map_err(RegistrationError::InvalidClientMetadata)?;
        let code = client.grant_types.contains(&GrantType::AuthorizationCode);
        if let Some(types) = &self.response_types {
            if let Some(other) = types.iter().find(|t| t.as_str() != "code") {
                return Err(metadata(&format!(
                    "response_type '{other}' is not supported (only code)"
                )));
            }
            if types.is_empty() == code {
                return Err(metadata(
                    "response_types must be [\"code\"] exactly when grant_types has authorization_code",
                ));
            }
        }
        let mut kept = Map::new();
        for (key, value) in [
            ("client_uri", &self.client_uri),
            ("logo_uri", &self.logo_uri),
            ("tos_uri", &self.tos_uri),
            ("policy_uri", &self.policy_uri),
        ] {
            if let Some(v) = value {
                kept.insert(key.into(), web_url(key, v)?.into());
            }
        }
        for (key, value) in [
            ("software_id", &self.software_id),
            ("software_version", &self.software_version),
        ] {
            if let Some(v) = value {
                kept.insert(key.into(), text(key, v)?.into());
            }
        }
        if let Some(contacts) = &self.contacts {
            if contacts.len() > MAX_CONTACTS {
                return Err(metadata(&format!("at most {MAX_CONTACTS} contacts")));
            }
            let contacts = contacts
                .iter()
                .map(|c| text("contacts", c).map(Value::from))
                .collect::<Result<Vec<_>, _>>()?;
            kept.insert("contacts".into(), contacts.into());
        }
        Ok(Checked { spec, kept })
    }
}

/// The console's form takes URIs one per line; a URI with a space in it would become two.
fn uri_lines(uris: &[String]) -> Result<String, RegistrationError> {
    if uris.len() > MAX_URIS {
        return Err(RegistrationError::InvalidRedirectUri(format!(
            "at most {MAX_URIS} redirect URIs"
        )));
    }
    if let Some(bad) = uris
        .iter()
        .find(|u| u.trim().is_empty() || u.chars().any(char::is_whitespace))
    {
        return Err(RegistrationError::InvalidRedirectUri(format!(
            "'{bad}' is not a redirect URI (empty, or with white space)"
        )));
    }
    Ok(uris.join("\n"))
}

/// The console's sentence, as RFC 7591 §3.2.2 classifies it.
pub(super) fn from_console(e: AdminError) -> RegistrationError {
    match e {
        AdminError::Invalid(m) if m.to_lowercase().contains("redirect uri") => {
            RegistrationError::InvalidRedirectUri(m)
        }
        AdminError::Invalid(m) | AdminError::Refused(m) => {
            RegistrationError::InvalidClientMetadata(m)
        }
        other => RegistrationError::Internal(other.to_string()),
    }
}

fn text(key: &str, v: &str) -> Result<String, RegistrationError> {
    if v.chars().count() > MAX_TEXT || v.chars().any(char::is_control) {
        return Err(metadata(&format!(
            "{key} must be at most {MAX_TEXT} characters without control characters"
        )));
    }
    Ok(v.to_owned())
}

/// A URL people may be shown: http(s) only, so no `javascript:` reaches a page.
fn web_url(key: &str, v: &str) -> Result<String, RegistrationError> {
    let v = text(key, v)?;
    match url::Url::parse(&v) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host_str().is_some() => Ok(v),
        _ => Err(metadata(&format!("{key} must be an absolute http(s) URL"))),
    }
}

/// RFC 7591 §3.2.1's answer (and RFC 7592's): the registered metadata as stored.
pub fn describe(client: &Client, kept: &Map<String, Value>, created_at: i64) -> Map<String, Value> {
    fn uris(u: &[crate::domain::RedirectUri]) -> Vec<&str> {
        u.iter().map(|r| r.as_str()).collect()
    }
    let code = client.may_use(GrantType::AuthorizationCode);
    let mut out = kept.clone();
    let fields = json!({
        "client_id": client.id,
        "client_id_issued_at": created_at,
        "client_name": client.name,
        "redirect_uris": uris(&client.redirect_uris),
        "post_logout_redirect_uris": uris(&client.post_logout_redirect_uris),
        "grant_types": client.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "response_types": if code { vec!["code"] } else { vec![] },
        "token_endpoint_auth_method": client.auth_method.as_str(),
        "scope": client.scopes.to_string(),
        "id_token_signed_response_alg": client.algs.id_token.as_str(),
        "require_pushed_authorization_requests": client.require_par,
        "dpop_bound_access_tokens": client.dpop_bound_access_tokens,
    });
    if let Value::Object(fields) = fields {
        out.extend(fields);
    }
    if let Some(keys) = &client.keys {
        if let Some(jwks) = keys
            .inline()
            .and_then(|j| serde_json::from_str::<Value>(j).ok())
        {
            out.insert("jwks".into(), jwks);
        }
        if let Some(uri) = keys.uri() {
            out.insert("jwks_uri".into(), uri.into());
        }
    }
    out
}
