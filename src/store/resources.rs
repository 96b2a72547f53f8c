//! The `resources` table: the registry of APIs (RFC 8707), and the clients' lists of the
//! resources they may use.
use diesel::prelude::*;

use super::schema::{clients, resources};
use super::{DbConnection, StoreError};

#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = resources)]
pub struct ResourceRow {
    pub identifier: String,
    pub name: String,
    /// Space-separated scopes a token for this resource may carry.
    pub scopes: String,
    pub access_token_ttl: Option<i64>,
    /// JOSE name of the algorithm its access tokens are signed with.
    pub signing_alg: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub fn insert(conn: &mut DbConnection, row: &ResourceRow) -> Result<(), StoreError> {
    diesel::insert_into(resources::table)
        .values(row)
        .execute(conn)
        .map_err(StoreError::from_write)?;
    Ok(())
}

/// Replace a resource's settings (not its identifier or creation time).
pub fn update(conn: &mut DbConnection, row: &ResourceRow) -> Result<(), StoreError> {
    let changed = diesel::update(resources::table.find(&row.identifier))
        .set((
            resources::name.eq(&row.name),
            resources::scopes.eq(&row.scopes),
            resources::access_token_ttl.eq(row.access_token_ttl),
            resources::signing_alg.eq(&row.signing_alg),
            resources::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub fn by_identifier(
    conn: &mut DbConnection,
    identifier: &str,
) -> Result<Option<ResourceRow>, StoreError> {
    Ok(resources::table
        .find(identifier)
        .select(ResourceRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn all(conn: &mut DbConnection) -> Result<Vec<ResourceRow>, StoreError> {
    Ok(resources::table
        .order(resources::identifier.asc())
        .select(ResourceRow::as_select())
        .load(conn)?)
}

/// Delete a resource and take it off every client's list, so no client keeps a right to
/// an identifier someone may register again later for another API.
pub fn delete(conn: &mut DbConnection, identifier: &str) -> Result<(), StoreError> {
    let removed = diesel::delete(resources::table.find(identifier)).execute(conn)?;
    if removed == 0 {
        return Err(StoreError::NotFound);
    }
    let holders: Vec<(String, String)> = clients::table
        .filter(clients::allowed_resources.like(format!("%{}%", like_escaped(identifier))))
        .select((clients::id, clients::allowed_resources))
        .load(conn)?;
    for (id, list) in holders {
        let kept = list
            .split(' ')
            .filter(|r| !r.is_empty() && *r != identifier)
            .collect::<Vec<_>>()
            .join(" ");
        if kept != list {
            diesel::update(clients::table.find(&id))
                .set(clients::allowed_resources.eq(kept))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// `%`, `_` (and PostgreSQL's escape `\`) become `_`, LIKE's any-one-character: the pattern
/// then matches a few rows too many at worst, and the exact comparison above keeps only
/// real holders.
fn like_escaped(identifier: &str) -> String {
    identifier.replace(['%', '_', '\\'], "_")
}
