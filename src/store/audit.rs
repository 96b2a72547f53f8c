//! The `audit_log` table: who did what, when, from where. Append-only; read newest first.
use diesel::prelude::*;

use super::schema::audit_log;
use super::{DbConnection, StoreError};

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub actor: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<String>,
    pub ip: Option<String>,
}

/// One entry to append.
#[derive(Debug, Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewAuditRow<'a> {
    pub at: i64,
    pub actor: Option<&'a str>,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub detail: Option<&'a str>,
    pub ip: Option<&'a str>,
}

pub fn insert(conn: &mut DbConnection, row: &NewAuditRow<'_>) -> Result<(), StoreError> {
    diesel::insert_into(audit_log::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Entries newest first, optionally only those whose action starts with `action_prefix`.
pub fn page(
    conn: &mut DbConnection,
    action_prefix: Option<&str>,
    offset: i64,
    limit: i64,
) -> Result<Vec<AuditRow>, StoreError> {
    let mut query = audit_log::table
        .select(AuditRow::as_select())
        .order(audit_log::id.desc())
        .offset(offset)
        .limit(limit)
        .into_boxed();
    if let Some(prefix) = action_prefix {
        query = query.filter(
            audit_log::action
                .like(format!("{}%", escape_like(prefix)))
                .escape('\\'),
        );
    }
    Ok(query.load(conn)?)
}

pub fn count(conn: &mut DbConnection, action_prefix: Option<&str>) -> Result<i64, StoreError> {
    let mut query = audit_log::table.count().into_boxed();
    if let Some(prefix) = action_prefix {
        query = query.filter(
            audit_log::action
                .like(format!("{}%", escape_like(prefix)))
                .escape('\\'),
        );
    }
    Ok(query.get_result(conn)?)
}

/// The newest sign-ins (and refused ones) under `username`, for the user's own page.
pub fn sign_ins_of(
    conn: &mut DbConnection,
    username: &str,
    limit: i64,
) -> Result<Vec<AuditRow>, StoreError> {
    Ok(audit_log::table
        .filter(audit_log::actor.eq(username))
        .filter(audit_log::action.eq_any(["login", "login.failed", "login.second-factor-failed"]))
        .order(audit_log::id.desc())
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)?)
}

/// Make `LIKE` metacharacters in user input match themselves (with `ESCAPE '\'`).
pub(crate) fn escape_like(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_metacharacters_match_themselves() {
        assert_eq!(escape_like("user."), "user.");
        assert_eq!(escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
    }
}
