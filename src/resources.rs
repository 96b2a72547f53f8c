//! The registry of APIs (RFC 8707 resources): what an API is called, which identifier its
//! tokens name in `aud`, which scopes they may carry there, how long they live and which
//! algorithm signs them. Parsed once from the row; `oauth::target` decides who may use one.
pub use crate::domain::ResourceId;
use crate::domain::ScopeSet;
use crate::signing::SigningAlg;
use crate::store::resources::ResourceRow;
use crate::store::{DbConnection, StoreError, resources as resource_store};

/// Bounds of a resource's own access-token lifetime, in seconds (as a client's).
pub const MIN_TTL: i64 = 60;
pub const MAX_TTL: i64 = 86_400;

/// A registration request, parsed.
#[derive(Clone, Debug)]
pub struct NewResource {
    pub identifier: ResourceId,
    pub name: String,
    pub scopes: ScopeSet,
    pub access_token_ttl: Option<i64>,
    pub alg: SigningAlg,
}

#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl NewResource {
    pub fn validate(&self) -> Result<(), ResourceError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(ResourceError::Invalid(
                "the resource name must be 1 to 200 characters".into(),
            ));
        }
        if self.scopes.is_empty() {
            return Err(ResourceError::Invalid(
                "a resource needs at least one scope".into(),
            ));
        }
        if let Some(ttl) = self.access_token_ttl
            && !(MIN_TTL..=MAX_TTL).contains(&ttl)
        {
            return Err(ResourceError::Invalid(format!(
                "the access-token lifetime must be {MIN_TTL} to {MAX_TTL} seconds"
            )));
        }
        Ok(())
    }

    pub fn to_row(&self, now: i64) -> ResourceRow {
        ResourceRow {
            identifier: self.identifier.as_str().to_owned(),
            name: self.name.trim().to_owned(),
            scopes: self.scopes.to_string(),
            access_token_ttl: self.access_token_ttl,
            signing_alg: self.alg.as_str().to_owned(),
            created_at: now,
            updated_at: now,
        }
    }
}

/// A registered resource, parsed from its row.
#[derive(Clone, Debug)]
pub struct Resource {
    pub identifier: String,
    pub name: String,
    pub scopes: ScopeSet,
    pub access_token_ttl: Option<i64>,
    pub alg: SigningAlg,
}

impl Resource {
    pub fn from_row(row: ResourceRow) -> Result<Self, StoreError> {
        let corrupt =
            |what: String| StoreError::Corrupt(format!("resource {}: {what}", row.identifier));
        Ok(Self {
            scopes: ScopeSet::parse(&row.scopes).map_err(corrupt)?,
            alg: SigningAlg::parse(&row.signing_alg).map_err(corrupt)?,
            access_token_ttl: row.access_token_ttl,
            identifier: row.identifier,
            name: row.name,
        })
    }

    /// The lifetime of an access token for this resource: its own, else `fallback` (the
    /// client's or the server's).
    pub fn access_ttl(&self, fallback: i64) -> i64 {
        self.access_token_ttl.unwrap_or(fallback)
    }
}

pub fn by_identifier(
    conn: &mut DbConnection,
    identifier: &str,
) -> Result<Option<Resource>, StoreError> {
    resource_store::by_identifier(conn, identifier)?
        .map(Resource::from_row)
        .transpose()
}

pub fn all(conn: &mut DbConnection) -> Result<Vec<Resource>, StoreError> {
    resource_store::all(conn)?
        .into_iter()
        .map(Resource::from_row)
        .collect()
}

/// Parse a list of identifiers a client may use, each of which must be registered.
/// Those of `identifiers` registered now, in their order.
pub fn registered_among(
    conn: &mut DbConnection,
    identifiers: &[ResourceId],
) -> Result<Vec<ResourceId>, StoreError> {
    let mut out = Vec::new();
    for id in identifiers {
        if resource_store::by_identifier(conn, id.as_str())?.is_some() {
            out.push(id.clone());
        }
    }
    Ok(out)
}

pub fn check_registered(
    conn: &mut DbConnection,
    identifiers: &[ResourceId],
) -> Result<(), ResourceError> {
    for id in identifiers {
        if resource_store::by_identifier(conn, id.as_str())?.is_none() {
            return Err(ResourceError::Invalid(format!(
                "no resource '{id}' is registered; create it first with `tessera resource create`"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_absolute_http_uris_without_query_or_fragment() {
        assert!(ResourceId::parse("https://api.example.com").is_ok());
        assert!(ResourceId::parse("https://api.example.com/notes/").is_ok());
        for bad in [
            "",
            "api.example.com",
            "urn:example:api",
            "https://api.example.com/#x",
            "https://api.example.com/?a=1",
            "https://api.example.com/a b",
            "javascript:alert(1)",
        ] {
            assert!(ResourceId::parse(bad).is_err(), "{bad}");
        }
        let long = format!("https://api.example.com/{}", "a".repeat(600));
        assert!(ResourceId::parse(&long).is_err());
    }
}
