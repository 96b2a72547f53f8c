//! Managing OAuth clients from the console: register, edit, rotate the secret (shown once),
//! delete (revoking every token issued to the client).
use super::{Actor, AdminError};
use crate::audit::AuditAction;
use crate::clients::{
    self as client_domain, AuthMethod, AuthSettings, ClientError, ClientKeys, NewClient, Profile,
    TokenAlgs,
};
use crate::clock::Clock;
use crate::domain::{ClientKind, GrantType, RedirectUri, ScopeSet};
use crate::family;
use crate::resources::{self, ResourceId};
use crate::secrets::{self, SecretString};
use crate::signing::{Keys, SigningAlg};
use crate::store::admin as admin_store;
use crate::store::clients::{self as client_store, ClientRow};
use crate::store::{DbConnection, transaction};

/// Longest token lifetimes an admin may set: a day for access tokens, a year for refresh.
pub const MAX_ACCESS_TTL: i64 = 86_400;
pub const MAX_REFRESH_TTL: i64 = 366 * 86_400;

impl From<ClientError> for AdminError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Invalid(m) => AdminError::Invalid(capitalise(&m)),
            ClientError::Hash(h) => AdminError::Internal(h.to_string()),
            ClientError::Store(s) => AdminError::from(s),
        }
    }
}

fn capitalise(m: &str) -> String {
    let mut chars = m.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// The client form as submitted, before parsing.
#[derive(Debug, Default, Clone)]
pub struct ClientForm {
    pub name: String,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub public: bool,
    pub grant_types: Vec<String>,
    pub scopes: String,
    pub access_token_ttl: String,
    pub refresh_token_ttl: String,
    /// JOSE names; empty means RS256.
    pub id_token_alg: String,
    pub access_token_alg: String,
    /// Identifiers of the resources it may use, one per line.
    pub resources: String,
    /// A confidential client's `token_endpoint_auth_method`; empty means
    /// client_secret_basic (a public client's is always none).
    pub auth_method: String,
    /// For private_key_jwt: a JWKS document, or the URL of one.
    pub jwks: String,
    pub jwks_uri: String,
    pub require_par: bool,
    /// RFC 9449 §5.2: token requests must carry a DPoP proof.
    pub dpop: bool,
    /// `none` or `fapi2`; empty means none.
    pub profile: String,
}

/// A client registration, parsed and checked.
#[derive(Debug)]
pub struct ClientSpec {
    pub client: NewClient,
    pub auth: AuthSettings,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
}

fn uris(raw: &str, what: &str) -> Result<Vec<RedirectUri>, AdminError> {
    let mut out: Vec<RedirectUri> = Vec::new();
    for part in raw.split_whitespace() {
        let uri = RedirectUri::parse(part)
            .map_err(|m| AdminError::Invalid(format!("{what}: {}", capitalise(&m))))?;
        if !out.contains(&uri) {
            out.push(uri);
        }
    }
    Ok(out)
}

fn resource_ids(raw: &str) -> Result<Vec<ResourceId>, AdminError> {
    let mut out: Vec<ResourceId> = Vec::new();
    for part in raw.split_whitespace() {
        let id = ResourceId::parse(part)
            .map_err(|m| AdminError::Invalid(format!("Resources: {}", capitalise(&m))))?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

fn alg(raw: &str, what: &str, profile: Profile) -> Result<SigningAlg, AdminError> {
    match raw.trim() {
        "" => Ok(profile.default_token_alg()),
        raw => SigningAlg::parse(raw)
            .map_err(|m| AdminError::Invalid(format!("{what}: {}", capitalise(&m)))),
    }
}

/// Refuse an algorithm no key signs with yet (RS256 always has one). Blocking (database).
pub fn check_keys(keys: &Keys, now: i64, algs: &TokenAlgs) -> Result<(), AdminError> {
    if *algs == TokenAlgs::default() {
        return Ok(());
    }
    let at = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
    algs.check_keys(&keys.source().list(at)?)?;
    Ok(())
}

fn ttl(raw: &str, what: &str, max: i64) -> Result<Option<i64>, AdminError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    match raw.parse::<i64>() {
        Ok(n) if (60..=max).contains(&n) => Ok(Some(n)),
        _ => Err(AdminError::Invalid(format!(
            "The {what} lifetime must be a number of seconds from 60 to {max}, or empty for the server default."
        ))),
    }
}

impl ClientForm {
    /// Parse and check the whole form; the first problem is reported.
    pub fn parse(&self) -> Result<ClientSpec, AdminError> {
        let mut grant_types = Vec::new();
        for g in &self.grant_types {
            let g = GrantType::parse(g).map_err(|m| AdminError::Invalid(capitalise(&m)))?;
            if !grant_types.contains(&g) {
                grant_types.push(g);
            }
        }
        let scopes = match self.scopes.trim() {
            "" => ScopeSet::parse(client_domain::DEFAULT_SCOPES),
            s => ScopeSet::parse(s),
        }
        .map_err(|m| AdminError::Invalid(capitalise(&m)))?;
        let profile = match self.profile.trim() {
            "" => Profile::None,
            p => Profile::parse(p).map_err(|m| AdminError::Invalid(capitalise(&m)))?,
        };
        let client = NewClient {
            name: self.name.trim().to_owned(),
            kind: if self.public {
                ClientKind::Public
            } else {
                ClientKind::Confidential
            },
            redirect_uris: uris(&self.redirect_uris, "Redirect URIs")?,
            post_logout_redirect_uris: uris(
                &self.post_logout_redirect_uris,
                "Post-logout redirect URIs",
            )?,
            grant_types,
            scopes,
            algs: TokenAlgs {
                id_token: alg(&self.id_token_alg, "ID token algorithm", profile)?,
                access_token: alg(&self.access_token_alg, "Access token algorithm", profile)?,
            },
            resources: resource_ids(&self.resources)?,
            dpop_bound_access_tokens: self.dpop,
            profile,
        };
        client.validate()?;
        let auth = self.auth_settings()?;
        auth.validate(client.kind)
            .map_err(|m| AdminError::Invalid(capitalise(&m)))?;
        client.check_profile(&auth)?;
        Ok(ClientSpec {
            client,
            auth,
            access_token_ttl: ttl(&self.access_token_ttl, "access token", MAX_ACCESS_TTL)?,
            refresh_token_ttl: ttl(&self.refresh_token_ttl, "refresh token", MAX_REFRESH_TTL)?,
        })
    }

    fn auth_settings(&self) -> Result<AuthSettings, AdminError> {
        let invalid =
            |what: &str, m: String| AdminError::Invalid(format!("{what}: {}", capitalise(&m)));
        let method = match (self.public, self.auth_method.trim()) {
            (true, _) => AuthMethod::None,
            (false, "") => AuthMethod::ClientSecretBasic,
            (false, "none") => {
                return Err(AdminError::Invalid(
                    "A client that authenticates with no credentials is public: choose Public as its type.".into(),
                ));
            }
            (false, m) => AuthMethod::parse(m).map_err(|e| invalid("Authentication", e))?,
        };
        let keys = match (self.jwks.trim(), self.jwks_uri.trim()) {
            ("", "") => None,
            (jwks, "") => Some(ClientKeys::parse_jwks(jwks).map_err(|e| invalid("JWKS", e))?),
            ("", uri) => Some(ClientKeys::parse_uri(uri).map_err(|e| invalid("JWKS URI", e))?),
            _ => {
                return Err(AdminError::Invalid(
                    "Give either a JWKS or a JWKS URI, not both.".into(),
                ));
            }
        };
        Ok(AuthSettings {
            method,
            keys,
            require_par: self.require_par,
        })
    }

    /// The form filled in from a stored client, for editing. A row that no longer parses
    /// (edited by hand) is shown as stored, so the admin can see and correct it.
    pub fn from_row(row: &ClientRow) -> Self {
        let Ok(client) = client_domain::Client::from_row(row.clone()) else {
            return Self {
                name: row.name.clone(),
                redirect_uris: row.redirect_uris.replace(' ', "\n"),
                post_logout_redirect_uris: row.post_logout_redirect_uris.replace(' ', "\n"),
                public: row.is_public,
                grant_types: Vec::new(),
                scopes: row.scopes.clone(),
                access_token_ttl: String::new(),
                refresh_token_ttl: String::new(),
                id_token_alg: row.id_token_signed_response_alg.clone(),
                access_token_alg: row.access_token_signed_response_alg.clone(),
                resources: row.allowed_resources.replace(' ', "\n"),
                auth_method: row.token_endpoint_auth_method.clone(),
                jwks: row.jwks.clone().unwrap_or_default(),
                jwks_uri: row.jwks_uri.clone().unwrap_or_default(),
                require_par: row.require_pushed_authorization_requests,
                dpop: row.dpop_bound_access_tokens,
                profile: row.profile.clone(),
            };
        };
        let lines = |uris: &[RedirectUri]| {
            uris.iter()
                .map(RedirectUri::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        };
        Self {
            name: client.name.clone(),
            redirect_uris: lines(&client.redirect_uris),
            post_logout_redirect_uris: lines(&client.post_logout_redirect_uris),
            public: client.is_public(),
            grant_types: client
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
            scopes: client.scopes.to_string(),
            access_token_ttl: client
                .access_token_ttl
                .map(|t| t.to_string())
                .unwrap_or_default(),
            refresh_token_ttl: client
                .refresh_token_ttl
                .map(|t| t.to_string())
                .unwrap_or_default(),
            id_token_alg: client.algs.id_token.as_str().to_owned(),
            access_token_alg: client.algs.access_token.as_str().to_owned(),
            resources: client.allowed_resources.join("\n"),
            auth_method: client.auth_method.as_str().to_owned(),
            jwks: client
                .keys
                .as_ref()
                .and_then(ClientKeys::inline)
                .unwrap_or_default()
                .to_owned(),
            jwks_uri: client
                .keys
                .as_ref()
                .and_then(ClientKeys::uri)
                .unwrap_or_default()
                .to_owned(),
            require_par: client.require_par,
            dpop: client.dpop_bound_access_tokens,
            profile: client.profile.as_str().to_owned(),
        }
    }
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<ClientRow>, AdminError> {
    Ok(admin_store::clients_all(conn)?)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<ClientRow, AdminError> {
    client_store::by_id(conn, id)?.ok_or(AdminError::NotFound)
}

/// Register a client; returns its id and, for a confidential client, the secret (once).
pub fn create(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    keys: &Keys,
    actor: &Actor,
    spec: &ClientSpec,
) -> Result<client_domain::Registered, AdminError> {
    let now = clock.unix();
    check_keys(keys, now, &spec.client.algs)?;
    transaction(conn, |conn| {
        let registered = client_domain::register_with(conn, clock, &spec.client, &spec.auth)?;
        if spec.access_token_ttl.is_some() || spec.refresh_token_ttl.is_some() {
            let mut row = get(conn, &registered.client_id)?;
            row.access_token_ttl = spec.access_token_ttl;
            row.refresh_token_ttl = spec.refresh_token_ttl;
            admin_store::update_client(conn, &row)?;
        }
        let target = format!("{} ({})", spec.client.name.trim(), registered.client_id);
        actor.audit(conn, now, AuditAction::ClientCreated, &target, None)?;
        Ok(registered)
    })
}

/// Change a registration. A client that comes to authenticate with a secret gets its first
/// one, returned to be shown once; one that stops using a secret loses it.
pub fn update(
    conn: &mut DbConnection,
    now: i64,
    keys: &Keys,
    actor: &Actor,
    id: &str,
    spec: &ClientSpec,
) -> Result<Option<SecretString>, AdminError> {
    check_keys(keys, now, &spec.client.algs)?;
    transaction(conn, |conn| {
        let mut row = get(conn, id)?;
        let c = &spec.client;
        let new_secret = client_domain::set_auth(&mut row, &spec.auth)?;
        client_domain::set_described(&mut row, c);
        row.access_token_ttl = spec.access_token_ttl;
        row.refresh_token_ttl = spec.refresh_token_ttl;
        row.access_token_signed_response_alg = c.algs.access_token.as_str().to_owned();
        resources::check_registered(conn, &c.resources).map_err(ClientError::from)?;
        row.allowed_resources = c
            .resources
            .iter()
            .map(ResourceId::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        row.profile = c.profile.as_str().to_owned();
        row.updated_at = now;
        admin_store::update_client(conn, &row)?;
        let target = format!("{} ({id})", row.name);
        actor.audit(conn, now, AuditAction::ClientUpdated, &target, None)?;
        Ok(new_secret)
    })
}

/// Replace a confidential client's secret; the old one stops working at once.
pub fn rotate_secret(
    conn: &mut DbConnection,
    now: i64,
    actor: &Actor,
    id: &str,
) -> Result<SecretString, AdminError> {
    let secret = SecretString::new(secrets::random_token(32));
    let hash = secrets::hash_secret(&secret)?;
    transaction(conn, |conn| {
        let mut row = get(conn, id)?;
        if !AuthMethod::parse(&row.token_endpoint_auth_method).is_ok_and(AuthMethod::uses_secret) {
            return Err(AdminError::Refused(
                "This client does not authenticate with a secret: it has no secret to rotate."
                    .into(),
            ));
        }
        row.secret_hash = Some(hash);
        row.updated_at = now;
        admin_store::update_client(conn, &row)?;
        let target = format!("{} ({id})", row.name);
        actor.audit(conn, now, AuditAction::ClientSecretRotated, &target, None)?;
        Ok(secret)
    })
}

/// Delete a client after revoking everything issued to it (refresh tokens, and the access
/// tokens recorded beside them, which stay refused until they expire).
pub fn delete(
    conn: &mut DbConnection,
    now: i64,
    actor: &Actor,
    id: &str,
) -> Result<String, AdminError> {
    transaction(conn, |conn| {
        let row = get(conn, id)?;
        for grant in admin_store::live_grant_ids(conn, id, None)? {
            family::revoke(conn, &grant, now)?;
        }
        admin_store::delete_client(conn, id)?;
        let target = format!("{} ({id})", row.name);
        actor.audit(conn, now, AuditAction::ClientDeleted, &target, None)?;
        Ok(row.name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(items: &[RedirectUri]) -> String {
        items
            .iter()
            .map(RedirectUri::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn form() -> ClientForm {
        ClientForm {
            name: " Photo Book ".into(),
            redirect_uris:
                "https://app.example/cb\r\nhttps://app.example/cb  https://app.example/other".into(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            ..ClientForm::default()
        }
    }

    #[test]
    fn a_form_parses_into_a_checked_registration() {
        let spec = form().parse().unwrap();
        assert_eq!(spec.client.name, "Photo Book");
        assert_eq!(spec.client.kind, ClientKind::Confidential);
        // One per line or space-separated, duplicates dropped.
        assert_eq!(spec.client.redirect_uris.len(), 2);
        assert_eq!(
            spec.client.scopes.to_string(),
            client_domain::DEFAULT_SCOPES
        );
        assert_eq!(
            (spec.access_token_ttl, spec.refresh_token_ttl),
            (None, None)
        );
    }

    #[test]
    fn lifetimes_are_bounded() {
        let mut f = form();
        f.access_token_ttl = "600".into();
        f.refresh_token_ttl = " 86400 ".into();
        let spec = f.parse().unwrap();
        assert_eq!(
            (spec.access_token_ttl, spec.refresh_token_ttl),
            (Some(600), Some(86_400))
        );
        for bad in ["59", "-1", "1e3", "86401"] {
            let mut f = form();
            f.access_token_ttl = bad.into();
            assert!(matches!(f.parse(), Err(AdminError::Invalid(_))), "{bad}");
        }
    }

    #[test]
    fn problems_are_sentences_for_the_admin() {
        let mut f = form();
        f.public = true;
        f.grant_types.push("client_credentials".into());
        let Err(AdminError::Invalid(m)) = f.parse() else {
            panic!("a public client with client_credentials was accepted")
        };
        assert!(m.starts_with("A public client cannot"), "{m}");
        assert!(m.ends_with('.'), "{m}");
    }

    #[test]
    fn a_stored_client_fills_the_form_back() {
        let spec = form().parse().unwrap();
        let row = ClientRow {
            id: "c1".into(),
            name: spec.client.name.clone(),
            secret_hash: None,
            is_public: false,
            redirect_uris: join(&spec.client.redirect_uris),
            post_logout_redirect_uris: String::new(),
            grant_types: "authorization_code refresh_token".into(),
            scopes: "openid".into(),
            access_token_ttl: Some(600),
            refresh_token_ttl: None,
            created_at: 0,
            updated_at: 0,
            id_token_signed_response_alg: "ES256".into(),
            access_token_signed_response_alg: "RS256".into(),
            allowed_resources: String::new(),
            self_registered: false,
            registration_token_hash: None,
            registration_metadata: "{}".into(),
            token_endpoint_auth_method: "client_secret_basic".into(),
            jwks: None,
            jwks_uri: None,
            require_pushed_authorization_requests: true,
            dpop_bound_access_tokens: true,
            profile: "none".into(),
        };
        let back = ClientForm::from_row(&row);
        assert_eq!(back.id_token_alg, "ES256");
        assert!(back.require_par);
        assert_eq!(back.auth_method, "client_secret_basic");
        assert!(back.dpop);
        assert_eq!(
            back.redirect_uris,
            "https://app.example/cb\nhttps://app.example/other"
        );
        assert_eq!(back.access_token_ttl, "600");
        let again = back.parse().unwrap();
        assert_eq!(again.client.redirect_uris, spec.client.redirect_uris);
        assert_eq!(again.client.algs.id_token, SigningAlg::Es256);
        assert_eq!(again.client.algs.access_token, SigningAlg::Rs256);
    }

    #[test]
    fn private_key_jwt_needs_keys_and_a_confidential_client() {
        let mut f = form();
        f.auth_method = "private_key_jwt".into();
        let Err(AdminError::Invalid(m)) = f.parse() else {
            panic!("private_key_jwt without keys was accepted")
        };
        assert!(m.contains("JWKS"), "{m}");
        f.jwks_uri = "http://app.example/jwks".into();
        let Err(AdminError::Invalid(m)) = f.parse() else {
            panic!("a plain-http JWKS URI was accepted")
        };
        assert!(m.starts_with("JWKS URI:"), "{m}");
        f.jwks_uri = "https://app.example/jwks".into();
        let spec = f.parse().unwrap();
        assert_eq!(spec.auth.method, AuthMethod::PrivateKeyJwt);
        f.auth_method = "client_secret_post".into();
        assert!(matches!(f.parse(), Err(AdminError::Invalid(_))));
        f.auth_method = "none".into();
        assert!(matches!(f.parse(), Err(AdminError::Invalid(_))));
    }

    #[test]
    fn algorithms_are_jose_names() {
        let mut f = form();
        f.access_token_alg = "EdDSA".into();
        assert_eq!(
            f.parse().unwrap().client.algs.access_token,
            SigningAlg::EdDsa
        );
        for bad in ["none", "HS256", "es256", "ES384"] {
            let mut f = form();
            f.id_token_alg = bad.into();
            let Err(AdminError::Invalid(m)) = f.parse() else {
                panic!("{bad} was accepted")
            };
            assert!(m.starts_with("ID token algorithm:"), "{m}");
        }
    }
}
