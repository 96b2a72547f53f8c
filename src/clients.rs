//! Client registration: turning a parsed request into a stored client and its one-time secret.
pub use crate::client_methods::{AuthMethod, AuthSettings, ClientKeys};
pub use crate::client_profile::Profile;
use crate::client_profile::{FAPI2_CLIENT_ALGS, FAPI2_GRANTS, FAPI2_TOKEN_ALGS};
use crate::clock::Clock;
use crate::domain::{ClientKind, GrantType, RedirectUri, ScopeSet};
use crate::resources::{self, ResourceError, ResourceId};
use crate::secrets::{self, HashError, SecretString};
use crate::signing::{KeyInfo, KeyState, SigningAlg};
use crate::store::clients::{self as client_store, ClientRow};
use crate::store::{DbConnection, StoreError};

/// Scopes a client may ask for when registration names none.
pub const DEFAULT_SCOPES: &str = "openid profile email address phone offline_access";

/// A registration request, already parsed into domain types.
#[derive(Debug)]
pub struct NewClient {
    pub name: String,
    pub kind: ClientKind,
    pub redirect_uris: Vec<RedirectUri>,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub grant_types: Vec<GrantType>,
    pub scopes: ScopeSet,
    /// What its ID tokens and access tokens are signed with (RS256 unless asked).
    pub algs: TokenAlgs,
    /// The registered resources (RFC 8707) it may ask tokens for.
    pub resources: Vec<ResourceId>,
    /// RFC 9449 §5.2: every token request must carry a DPoP proof.
    pub dpop_bound_access_tokens: bool,
    /// The security profile its registration and requests are held to.
    pub profile: Profile,
}

/// The algorithms a client's tokens are signed with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenAlgs {
    /// OIDC Registration's `id_token_signed_response_alg`.
    pub id_token: SigningAlg,
    pub access_token: SigningAlg,
}

impl TokenAlgs {
    /// Refuse an algorithm no key signs with yet (`keys` as the key source lists them):
    /// the client would get no tokens. A first key of an algorithm signs only after the
    /// activation delay, so resource servers have it before the first token it signs.
    pub fn check_keys(&self, keys: &[KeyInfo]) -> Result<(), ClientError> {
        for (what, alg) in [
            ("ID tokens", self.id_token),
            ("access tokens", self.access_token),
        ] {
            if keys
                .iter()
                .any(|k| k.alg == alg && k.state == KeyState::Active)
            {
                continue;
            }
            let waiting = keys
                .iter()
                .filter(|k| k.alg == alg && k.state == KeyState::Published)
                .map(|k| k.activates)
                .min();
            return Err(ClientError::Invalid(match waiting {
                Some(at) => format!(
                    "{what} cannot be signed with {alg} yet: its first key signs from {} \
                     (after the activation delay); set the algorithm then",
                    at.format("%Y-%m-%d %H:%M:%S UTC")
                ),
                None => format!(
                    "{what} cannot be signed with {alg}: there is no {alg} signing key; \
                     create one first with `{}` (or on the console's Keys page)",
                    alg.rotate_command()
                ),
            }));
        }
        Ok(())
    }
}

/// What registration hands back once: the id and, for confidential clients, the secret.
#[derive(Debug)]
pub struct Registered {
    pub client_id: String,
    pub client_secret: Option<SecretString>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ResourceError> for ClientError {
    fn from(e: ResourceError) -> Self {
        match e {
            ResourceError::Invalid(m) => ClientError::Invalid(m),
            ResourceError::Store(s) => ClientError::Store(s),
        }
    }
}

impl NewClient {
    /// Check the combination of fields; each field alone was checked when parsed.
    pub fn validate(&self) -> Result<(), ClientError> {
        let invalid = |m: &str| Err(ClientError::Invalid(m.to_owned()));
        if self.name.trim().is_empty() {
            return invalid("client name must not be empty");
        }
        if self.name.chars().count() > 200 {
            return invalid("client name must be at most 200 characters");
        }
        if self.grant_types.is_empty() {
            return invalid("a client needs at least one grant type");
        }
        if self.grant_types.contains(&GrantType::AuthorizationCode) && self.redirect_uris.is_empty()
        {
            return invalid("the authorization_code grant needs at least one redirect URI");
        }
        if self.kind == ClientKind::Public
            && self.grant_types.contains(&GrantType::ClientCredentials)
        {
            return invalid("a public client cannot use client_credentials (it has no secret)");
        }
        Ok(())
    }

    /// Check what the client's profile asks of its settings (FAPI 2.0 §5.3.2 and §5.4),
    /// one sentence per problem, in the order an operator would fix them.
    pub fn check_profile(&self, auth: &AuthSettings) -> Result<(), ClientError> {
        if !self.profile.is_fapi2() {
            return Ok(());
        }
        let invalid = |m: String| Err(ClientError::Invalid(m));
        if self.kind == ClientKind::Public {
            return invalid(
                "a fapi2 client must be confidential: FAPI 2.0 has no public clients".into(),
            );
        }
        if auth.method != AuthMethod::PrivateKeyJwt {
            return invalid(format!(
                "a fapi2 client must authenticate with private_key_jwt, not {}",
                auth.method.as_str()
            ));
        }
        // A JWKS URI is read only when an assertion comes; a registered JWKS is checked now.
        if let Some(keys @ ClientKeys::Jwks(_)) = &auth.keys
            && !keys
                .registered_keys()
                .values()
                .any(|k| FAPI2_CLIENT_ALGS.contains(&k.alg()))
        {
            return invalid(
                "a fapi2 client's JWKS needs a PS256, ES256 or EdDSA key (an RSA key without \
                 \"alg\": \"PS256\" is an RS256 key)"
                    .into(),
            );
        }
        if !auth.require_par {
            return invalid(
                "a fapi2 client must require pushed authorization requests (PAR)".into(),
            );
        }
        if !self.dpop_bound_access_tokens {
            return invalid("a fapi2 client must have DPoP-bound tokens (DPoP)".into());
        }
        for (what, alg) in [
            ("ID tokens", self.algs.id_token),
            ("access tokens", self.algs.access_token),
        ] {
            if !FAPI2_TOKEN_ALGS.contains(&alg) {
                return invalid(format!(
                    "a fapi2 client's {what} must be signed with PS256 or ES256, not {alg}"
                ));
            }
        }
        if let Some(other) = self.grant_types.iter().find(|g| !FAPI2_GRANTS.contains(g)) {
            return invalid(format!(
                "a fapi2 client may use only the authorization_code, refresh_token and \
                 client_credentials grants, not {}",
                other.as_str()
            ));
        }
        Ok(())
    }
}

fn join<T>(items: &[T], f: impl Fn(&T) -> &str) -> String {
    items.iter().map(f).collect::<Vec<_>>().join(" ")
}

/// Register a client that authenticates as its kind suggests: a public client with none, a
/// confidential one with a secret.
pub fn register(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    client: &NewClient,
) -> Result<Registered, ClientError> {
    register_with(conn, clock, client, &AuthSettings::for_kind(client.kind))
}

/// Register a client with its authentication settings (method, keys, PAR).
pub fn register_with(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    client: &NewClient,
    auth: &AuthSettings,
) -> Result<Registered, ClientError> {
    client.validate()?;
    resources::check_registered(conn, &client.resources)?;
    auth.validate(client.kind).map_err(ClientError::Invalid)?;
    client.check_profile(auth)?;
    let client_id = secrets::random_token(16);
    let client_secret = auth
        .method
        .uses_secret()
        .then(|| SecretString::new(secrets::random_token(32)));
    let secret_hash = client_secret
        .as_ref()
        .map(secrets::hash_secret)
        .transpose()?;
    let now = clock.unix();
    let row = ClientRow {
        id: client_id.clone(),
        name: client.name.trim().to_owned(),
        secret_hash,
        is_public: client.kind == ClientKind::Public,
        redirect_uris: join(&client.redirect_uris, RedirectUri::as_str),
        post_logout_redirect_uris: join(&client.post_logout_redirect_uris, RedirectUri::as_str),
        grant_types: join(&client.grant_types, |g| g.as_str()),
        scopes: client.scopes.to_string(),
        access_token_ttl: None,
        refresh_token_ttl: None,
        created_at: now,
        updated_at: now,
        id_token_signed_response_alg: client.algs.id_token.as_str().to_owned(),
        access_token_signed_response_alg: client.algs.access_token.as_str().to_owned(),
        allowed_resources: join(&client.resources, ResourceId::as_str),
        self_registered: false,
        registration_token_hash: None,
        registration_metadata: "{}".into(),
        token_endpoint_auth_method: auth.method.as_str().to_owned(),
        jwks: auth
            .keys
            .as_ref()
            .and_then(ClientKeys::inline)
            .map(str::to_owned),
        jwks_uri: auth
            .keys
            .as_ref()
            .and_then(ClientKeys::uri)
            .map(str::to_owned),
        require_pushed_authorization_requests: auth.require_par,
        dpop_bound_access_tokens: client.dpop_bound_access_tokens,
        profile: client.profile.as_str().to_owned(),
    };
    client_store::insert(conn, &row)?;
    Ok(Registered {
        client_id,
        client_secret,
    })
}

/// Copy what a client is (name, URIs, grants, scopes, ID-token algorithm, DPoP binding)
/// onto its stored row: what the console's edit and an RFC 7592 update both change.
pub fn set_described(row: &mut ClientRow, client: &NewClient) {
    row.name = client.name.trim().to_owned();
    row.redirect_uris = join(&client.redirect_uris, RedirectUri::as_str);
    row.post_logout_redirect_uris = join(&client.post_logout_redirect_uris, RedirectUri::as_str);
    row.grant_types = join(&client.grant_types, |g| g.as_str());
    row.scopes = client.scopes.to_string();
    row.id_token_signed_response_alg = client.algs.id_token.as_str().to_owned();
    row.dpop_bound_access_tokens = client.dpop_bound_access_tokens;
}

/// Point a stored client at these authentication settings. A method that uses a secret
/// keeps the client's secret or gets a new one (returned, to be shown once); any other
/// method drops it, so a client moved to `private_key_jwt` cannot fall back to a secret.
pub fn set_auth(
    row: &mut ClientRow,
    auth: &AuthSettings,
) -> Result<Option<SecretString>, HashError> {
    let mut new_secret = None;
    if !auth.method.uses_secret() {
        row.secret_hash = None;
    } else if row.secret_hash.is_none() {
        let secret = SecretString::new(secrets::random_token(32));
        row.secret_hash = Some(secrets::hash_secret(&secret)?);
        new_secret = Some(secret);
    }
    row.is_public = auth.kind() == ClientKind::Public;
    row.token_endpoint_auth_method = auth.method.as_str().to_owned();
    row.jwks = auth
        .keys
        .as_ref()
        .and_then(ClientKeys::inline)
        .map(str::to_owned);
    row.jwks_uri = auth
        .keys
        .as_ref()
        .and_then(ClientKeys::uri)
        .map(str::to_owned);
    row.require_pushed_authorization_requests = auth.require_par;
    Ok(new_secret)
}

/// The name of the client an authorization request (a path under `/oauth/authorize`) is
/// for, so a login page shown again after a failed attempt still says where it leads.
pub fn name_for_authorize_path(
    conn: &mut DbConnection,
    path: &str,
) -> Result<Option<String>, StoreError> {
    let Some(query) = path.strip_prefix("/oauth/authorize?") else {
        return Ok(None);
    };
    let client_id = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "client_id")
        .map(|(_, v)| v.into_owned());
    match client_id {
        Some(id) => Ok(client_store::by_id(conn, &id)?.map(|c| c.name)),
        None => Ok(None),
    }
}

/// A registered client, parsed once from its row: past this point no code splits the
/// stored space-separated lists again.
#[derive(Clone)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub kind: ClientKind,
    pub auth_method: AuthMethod,
    pub redirect_uris: Vec<RedirectUri>,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub grant_types: Vec<GrantType>,
    pub scopes: ScopeSet,
    /// Lifetimes set for this client; `None` means the server's default.
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
    /// The Argon2id PHC string of the secret, for confidential clients.
    pub secret_hash: Option<String>,
    pub algs: TokenAlgs,
    /// Identifiers of the resources (RFC 8707) it may ask tokens for.
    pub allowed_resources: Vec<String>,
    /// For `private_key_jwt`: where its public keys are.
    pub keys: Option<ClientKeys>,
    /// Authorization requests only through PAR (RFC 9126 §6).
    pub require_par: bool,
    /// RFC 9449 §5.2: its token requests must carry a DPoP proof.
    pub dpop_bound_access_tokens: bool,
    /// The security profile each of its requests is held to.
    pub profile: Profile,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Parse a stored row. Every list was validated when it was written, so a value that
    /// no longer parses means the row was edited by hand: that is refused, not guessed at.
    pub fn from_row(row: ClientRow) -> Result<Self, StoreError> {
        let corrupt = |what: String| StoreError::Corrupt(format!("client {}: {what}", row.id));
        let uris = |raw: &str| -> Result<Vec<RedirectUri>, StoreError> {
            raw.split(' ')
                .filter(|u| !u.is_empty())
                .map(|u| RedirectUri::parse(u).map_err(corrupt))
                .collect()
        };
        let grant_types = row
            .grant_types
            .split(' ')
            .filter(|g| !g.is_empty())
            .map(|g| GrantType::parse(g).map_err(corrupt))
            .collect::<Result<Vec<_>, _>>()?;
        let scopes = ScopeSet::parse(&row.scopes).map_err(corrupt)?;
        let algs = TokenAlgs {
            id_token: SigningAlg::parse(&row.id_token_signed_response_alg).map_err(corrupt)?,
            access_token: SigningAlg::parse(&row.access_token_signed_response_alg)
                .map_err(corrupt)?,
        };
        let auth_method = AuthMethod::parse(&row.token_endpoint_auth_method).map_err(corrupt)?;
        let kind = if row.is_public {
            ClientKind::Public
        } else {
            ClientKind::Confidential
        };
        if (kind == ClientKind::Public) != (auth_method == AuthMethod::None) {
            return Err(corrupt(
                "is_public disagrees with token_endpoint_auth_method".to_owned(),
            ));
        }
        let keys = ClientKeys::from_columns(row.jwks.as_deref(), row.jwks_uri.as_deref())
            .map_err(corrupt)?;
        let profile = Profile::parse(&row.profile).map_err(corrupt)?;
        Ok(Self {
            redirect_uris: uris(&row.redirect_uris)?,
            post_logout_redirect_uris: uris(&row.post_logout_redirect_uris)?,
            grant_types,
            scopes,
            kind,
            auth_method,
            access_token_ttl: row.access_token_ttl,
            refresh_token_ttl: row.refresh_token_ttl,
            secret_hash: row.secret_hash,
            algs,
            allowed_resources: row
                .allowed_resources
                .split(' ')
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect(),
            keys,
            require_par: row.require_pushed_authorization_requests,
            dpop_bound_access_tokens: row.dpop_bound_access_tokens,
            profile,
            id: row.id,
            name: row.name,
        })
    }

    pub fn is_public(&self) -> bool {
        self.kind == ClientKind::Public
    }

    /// Whether it may use `grant`: registered for it, and allowed by its profile (a row
    /// edited by hand may list more than the profile allows).
    pub fn may_use(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant) && self.profile.permits_grant(grant)
    }

    /// Authorization requests only through PAR: its own setting, or its profile's
    /// (FAPI 2.0 §5.3.2.2).
    pub fn must_push(&self) -> bool {
        self.require_par || self.profile.is_fapi2()
    }

    /// PKCE is required: a public client has nothing else protecting its codes; FAPI 2.0
    /// asks it of every client.
    pub fn requires_pkce(&self) -> bool {
        self.is_public() || self.profile.is_fapi2()
    }

    /// Every token request must carry a DPoP proof (FAPI 2.0: sender-constrained tokens only).
    pub fn requires_dpop(&self) -> bool {
        self.dpop_bound_access_tokens || self.profile.is_fapi2()
    }

    /// Its refresh tokens are bound to the DPoP key of the request that got them: RFC 9449
    /// §5 for public clients. A fapi2 client's stay bound too, so every access token of a
    /// grant is bound to the one key, and a refresh token is worth nothing without it.
    pub fn binds_refresh_to_dpop(&self) -> bool {
        self.is_public() || self.profile.is_fapi2()
    }

    /// Whether it may ask tokens for the resource `identifier` (RFC 8707).
    pub fn may_target(&self, identifier: &str) -> bool {
        self.allowed_resources.iter().any(|r| r == identifier)
    }

    /// Whether `uri` is one of the registered redirect URIs, compared as exact strings
    /// (RFC 6749 §3.1.2.3, OAuth 2.1): no normalisation.
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r.as_str() == uri)
    }

    pub fn has_post_logout_redirect_uri(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris
            .iter()
            .any(|r| r.as_str() == uri)
    }

    /// This client's access-token lifetime in seconds, or the server's default.
    pub fn access_ttl(&self, default: std::time::Duration) -> i64 {
        self.access_token_ttl.unwrap_or(default.as_secs() as i64)
    }

    pub fn refresh_ttl(&self, default: std::time::Duration) -> i64 {
        self.refresh_token_ttl.unwrap_or(default.as_secs() as i64)
    }
}

/// The client with this id, parsed.
pub fn by_id(conn: &mut DbConnection, id: &str) -> Result<Option<Client>, StoreError> {
    client_store::by_id(conn, id)?
        .map(Client::from_row)
        .transpose()
}
