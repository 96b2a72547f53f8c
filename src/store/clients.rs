//! The `clients` table. List-valued columns hold space-separated values (URIs contain no
//! spaces), so one portable TEXT column serves both engines.
use diesel::prelude::*;

use super::schema::clients;
use super::{DbConnection, StoreError, on_engine};

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = clients)]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub secret_hash: Option<String>,
    pub is_public: bool,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub grant_types: String,
    pub scopes: String,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// JOSE names (`RS256`, `PS256`, `ES256`, `EdDSA`).
    pub id_token_signed_response_alg: String,
    pub access_token_signed_response_alg: String,
    /// RFC 9449 §5.2: every token request of this client must carry a DPoP proof.
    pub dpop_bound_access_tokens: bool,
    /// OIDC Registration's name: `client_secret_basic`, `client_secret_post`,
    /// `private_key_jwt` or `none`.
    pub token_endpoint_auth_method: String,
    /// A JWKS document (JSON), for `private_key_jwt`.
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    pub require_pushed_authorization_requests: bool,
    /// Registered through `POST /oauth/register` (RFC 7591), not by an administrator.
    pub self_registered: bool,
    /// SHA-256 digest of the RFC 7592 registration access token (self-registered only).
    pub registration_token_hash: Option<String>,
    /// The RFC 7591 metadata kept only to be handed back (client_uri, logo_uri, ...), a
    /// JSON object.
    pub registration_metadata: String,
    /// Identifiers of the resources (RFC 8707) it may ask tokens for, space-separated.
    pub allowed_resources: String,
    /// The security profile its requests are held to: `none` or `fapi2`.
    pub profile: String,
}

impl std::fmt::Debug for ClientRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRow")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("is_public", &self.is_public)
            .finish_non_exhaustive()
    }
}

pub fn insert(conn: &mut DbConnection, row: &ClientRow) -> Result<(), StoreError> {
    diesel::insert_into(clients::table)
        .values(row)
        .execute(conn)
        .map_err(StoreError::from_write)?;
    Ok(())
}

pub fn by_id(conn: &mut DbConnection, id: &str) -> Result<Option<ClientRow>, StoreError> {
    Ok(on_engine!(conn, |c| clients::table
        .find(id)
        .select(ClientRow::as_select())
        .get_result(c)
        .optional())?)
}

/// The longest access-token lifetime any client has of its own, if one has.
pub fn max_access_token_ttl(conn: &mut DbConnection) -> Result<Option<i64>, StoreError> {
    use diesel::dsl::max;
    Ok(clients::table
        .select(max(clients::access_token_ttl))
        .get_result::<Option<i64>>(conn)?)
}

/// Where the keys of a client are published, if it registered a `jwks_uri`.
pub fn jwks_uri(conn: &mut DbConnection, id: &str) -> Result<Option<String>, StoreError> {
    Ok(clients::table
        .find(id)
        .select(clients::jwks_uri)
        .get_result::<Option<String>>(conn)
        .optional()?
        .flatten())
}
