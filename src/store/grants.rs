//! The `grants` table: one row per authorization, the family its codes and tokens share.
use diesel::prelude::*;

use super::schema::{authorization_codes, grants, refresh_tokens, revoked_tokens};
use super::{DbConnection, StoreError, on_engine};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = grants)]
pub struct GrantRow {
    pub id: String,
    pub client_id: Option<String>,
    pub user_id: Option<i64>,
    pub scope: String,
    pub auth_time: Option<i64>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// The OIDC `claims` request parameter of the authorization, for UserInfo.
    pub claims_request: Option<String>,
    /// How the user authenticated (`AuthMethods::to_stored`); `None` before second factors.
    pub amr: Option<String>,
    /// The `acr` the ID tokens carry; `None` before second factors.
    pub acr: Option<String>,
    /// The resources (RFC 8707) the authorization named, space-separated; `None` when it
    /// named none (then any resource the client may use).
    pub resources: Option<String>,
}

pub fn insert(conn: &mut DbConnection, row: &GrantRow) -> Result<(), StoreError> {
    on_engine!(&mut *conn, |c| diesel::insert_into(grants::table)
        .values(row)
        .execute(c))
    .map_err(StoreError::from_write)?;
    Ok(())
}

pub fn by_id(conn: &mut DbConnection, id: &str) -> Result<Option<GrantRow>, StoreError> {
    Ok(on_engine!(&mut *conn, |c| grants::table
        .find(id)
        .select(GrantRow::as_select())
        .get_result(c)
        .optional())?)
}

/// Revoke a grant and everything issued from it: its refresh tokens, and the access tokens
/// whose `jti` its codes and refresh tokens recorded, each remembered until its own `exp`
/// (`legacy_until` for rows written before the `exp` was stored).
pub fn revoke(
    conn: &mut DbConnection,
    grant_id: &str,
    now: i64,
    legacy_until: i64,
) -> Result<(), StoreError> {
    super::transaction(conn, |conn| {
        diesel::update(
            grants::table
                .find(grant_id)
                .filter(grants::revoked_at.is_null()),
        )
        .set(grants::revoked_at.eq(now))
        .execute(conn)?;
        diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::grant_id.eq(grant_id))
                .filter(refresh_tokens::revoked_at.is_null()),
        )
        .set(refresh_tokens::revoked_at.eq(now))
        .execute(conn)?;
        let mut issued: Vec<(String, Option<i64>)> = refresh_tokens::table
            .filter(refresh_tokens::grant_id.eq(grant_id))
            .filter(refresh_tokens::access_jti.is_not_null())
            .select((
                refresh_tokens::access_jti.assume_not_null(),
                refresh_tokens::access_exp,
            ))
            .load(conn)?;
        issued.extend(
            authorization_codes::table
                .filter(authorization_codes::grant_id.eq(grant_id))
                .filter(authorization_codes::access_jti.is_not_null())
                .select((
                    authorization_codes::access_jti.assume_not_null(),
                    authorization_codes::access_exp,
                ))
                .load::<(String, Option<i64>)>(conn)?,
        );
        for (jti, exp) in issued {
            insert_revoked_jti(conn, &jti, exp.unwrap_or(legacy_until), now)?;
        }
        Ok::<_, StoreError>(())
    })
}

/// Remember a revoked access token until it would have expired anyway.
pub fn insert_revoked_jti(
    conn: &mut DbConnection,
    jti: &str,
    expires_at: i64,
    now: i64,
) -> Result<(), diesel::result::Error> {
    let exists: i64 = revoked_tokens::table
        .filter(revoked_tokens::jti.eq(jti))
        .count()
        .get_result(conn)?;
    if exists == 0 {
        diesel::insert_into(revoked_tokens::table)
            .values((
                revoked_tokens::jti.eq(jti),
                revoked_tokens::expires_at.eq(expires_at),
                revoked_tokens::revoked_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn is_jti_revoked(conn: &mut DbConnection, jti: &str) -> Result<bool, StoreError> {
    let n: i64 = on_engine!(&mut *conn, |c| revoked_tokens::table
        .filter(revoked_tokens::jti.eq(jti))
        .count()
        .get_result(c))?;
    Ok(n > 0)
}

/// The `claims` request of the grant an access token was issued from, found by the
/// token's `jti` (recorded by the code exchange or the refresh that issued it).
pub fn claims_request_for_access(
    conn: &mut DbConnection,
    jti: &str,
) -> Result<Option<String>, StoreError> {
    let from_code: Option<String> = authorization_codes::table
        .filter(authorization_codes::access_jti.eq(jti))
        .select(authorization_codes::grant_id)
        .get_result(conn)
        .optional()?;
    let grant_id = match from_code {
        Some(id) => Some(id),
        None => refresh_tokens::table
            .filter(refresh_tokens::access_jti.eq(jti))
            .select(refresh_tokens::grant_id)
            .get_result(conn)
            .optional()?,
    };
    let Some(grant_id) = grant_id else {
        return Ok(None);
    };
    Ok(grants::table
        .find(grant_id)
        .select(grants::claims_request)
        .get_result::<Option<String>>(conn)
        .optional()?
        .flatten())
}
