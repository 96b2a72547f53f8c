//! Managing the registry of APIs (RFC 8707 resources) from the console and the shell:
//! register, edit, delete, each change audited.
use super::{Actor, AdminError};
use crate::audit::AuditAction;
use crate::clients::TokenAlgs;
use crate::domain::ScopeSet;
use crate::resources::{self, NewResource, Resource, ResourceError, ResourceId};
use crate::signing::{KeyInfo, Keys, SigningAlg};
use crate::store::resources as resource_store;
use crate::store::{DbConnection, StoreError, transaction};

impl From<ResourceError> for AdminError {
    fn from(e: ResourceError) -> Self {
        match e {
            ResourceError::Invalid(m) => AdminError::Invalid(sentence(&m)),
            ResourceError::Store(s) => AdminError::from(s),
        }
    }
}

fn sentence(m: &str) -> String {
    let mut chars = m.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// The resource form as submitted (console) or given on the command line.
#[derive(Debug, Default, Clone)]
pub struct ResourceForm {
    pub identifier: String,
    pub name: String,
    /// Space-separated.
    pub scopes: String,
    /// Seconds; empty means the client's or the server's default.
    pub access_token_ttl: String,
    /// JOSE name; empty means RS256.
    pub alg: String,
}

impl ResourceForm {
    pub fn parse(&self) -> Result<NewResource, AdminError> {
        let invalid = |m: String| AdminError::Invalid(sentence(&m));
        let identifier = ResourceId::parse(self.identifier.trim()).map_err(invalid)?;
        let scopes = ScopeSet::parse(&self.scopes).map_err(invalid)?;
        let access_token_ttl = match self.access_token_ttl.trim() {
            "" => None,
            raw => Some(raw.parse::<i64>().map_err(|_| {
                AdminError::Invalid(format!(
                    "The access-token lifetime must be a number of seconds from {} to {}, or empty.",
                    resources::MIN_TTL,
                    resources::MAX_TTL
                ))
            })?),
        };
        let alg = match self.alg.trim() {
            "" => SigningAlg::Rs256,
            raw => SigningAlg::parse(raw).map_err(invalid)?,
        };
        let new = NewResource {
            identifier,
            name: self.name.trim().to_owned(),
            scopes,
            access_token_ttl,
            alg,
        };
        new.validate()?;
        Ok(new)
    }

    pub fn from_resource(r: &Resource) -> Self {
        Self {
            identifier: r.identifier.clone(),
            name: r.name.clone(),
            scopes: r.scopes.to_string(),
            access_token_ttl: r
                .access_token_ttl
                .map(|t| t.to_string())
                .unwrap_or_default(),
            alg: r.alg.as_str().to_owned(),
        }
    }
}

/// Refuse an algorithm no key signs with yet (`keys` as the key source lists them):
/// tokens for the API could not be issued. RS256 always has a key.
pub fn check_alg(keys: &[KeyInfo], alg: SigningAlg) -> Result<(), AdminError> {
    if alg == SigningAlg::Rs256 {
        return Ok(());
    }
    let algs = TokenAlgs {
        id_token: SigningAlg::Rs256,
        access_token: alg,
    };
    algs.check_keys(keys)?;
    Ok(())
}

/// [`check_alg`] against the server's key source. Blocking (database).
pub fn check_alg_in(keys: &Keys, now: i64, alg: SigningAlg) -> Result<(), AdminError> {
    if alg == SigningAlg::Rs256 {
        return Ok(());
    }
    let at = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
    check_alg(&keys.source().list(at)?, alg)
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<Resource>, AdminError> {
    Ok(resources::all(conn)?)
}

pub fn get(conn: &mut DbConnection, identifier: &str) -> Result<Resource, AdminError> {
    resources::by_identifier(conn, identifier)?.ok_or(AdminError::NotFound)
}

pub fn create(
    conn: &mut DbConnection,
    now: i64,
    actor: &Actor,
    new: &NewResource,
) -> Result<(), AdminError> {
    transaction(conn, |conn| {
        match resource_store::insert(conn, &new.to_row(now)) {
            Err(StoreError::Conflict) => {
                return Err(AdminError::Invalid(format!(
                    "A resource with the identifier {} is already registered.",
                    new.identifier
                )));
            }
            other => other?,
        }
        let target = format!("{} ({})", new.name.trim(), new.identifier);
        actor.audit(conn, now, AuditAction::ResourceCreated, &target, None)?;
        Ok(())
    })
}

/// Change a resource; its identifier stays (tokens and clients name it).
pub fn update(
    conn: &mut DbConnection,
    now: i64,
    actor: &Actor,
    identifier: &str,
    new: &NewResource,
) -> Result<(), AdminError> {
    if new.identifier.as_str() != identifier {
        return Err(AdminError::Invalid(
            "A resource's identifier cannot change; register a new one instead.".into(),
        ));
    }
    transaction(conn, |conn| {
        let existing =
            resource_store::by_identifier(conn, identifier)?.ok_or(AdminError::NotFound)?;
        let mut row = new.to_row(now);
        row.created_at = existing.created_at;
        resource_store::update(conn, &row)?;
        let target = format!("{} ({identifier})", row.name);
        actor.audit(conn, now, AuditAction::ResourceUpdated, &target, None)?;
        Ok(())
    })
}

/// Delete a resource; clients lose the right to ask for it. Tokens already issued for it
/// stay valid until they expire (they are the API's to refuse).
pub fn delete(
    conn: &mut DbConnection,
    now: i64,
    actor: &Actor,
    identifier: &str,
) -> Result<String, AdminError> {
    transaction(conn, |conn| {
        let existing =
            resource_store::by_identifier(conn, identifier)?.ok_or(AdminError::NotFound)?;
        resource_store::delete(conn, identifier)?;
        let target = format!("{} ({identifier})", existing.name);
        actor.audit(conn, now, AuditAction::ResourceDeleted, &target, None)?;
        Ok(existing.name)
    })
}
