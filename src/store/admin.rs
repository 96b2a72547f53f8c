//! The admin console's queries over `users`, `clients`, `consents`, `grants` and `sessions`:
//! listing, searching, editing and deleting (the flows' own queries live in each table's file).
use diesel::prelude::*;

use super::audit::escape_like;
use super::clients::ClientRow;
use super::schema::{clients, consents, grants, sessions, users};
use super::sessions::SessionRow;
use super::users::UserRow;
use super::{DbConnection, StoreError};

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>);

/// Users whose username, name or email contains `q` (case-insensitively), by username.
pub fn users_page(
    conn: &mut DbConnection,
    q: Option<&str>,
    offset: i64,
    limit: i64,
) -> Result<Vec<UserRow>, StoreError> {
    let mut query = users::table
        .select(UserRow::as_select())
        .order(users::username.asc())
        .offset(offset)
        .limit(limit)
        .into_boxed();
    if let Some(q) = q {
        let pattern = format!("%{}%", escape_like(&q.to_lowercase()));
        query = query.filter(
            lower(users::username.nullable())
                .like(pattern.clone())
                .escape('\\')
                .or(lower(users::name).like(pattern.clone()).escape('\\'))
                .or(lower(users::email).like(pattern).escape('\\')),
        );
    }
    Ok(query.load(conn)?)
}

pub fn users_count(conn: &mut DbConnection, q: Option<&str>) -> Result<i64, StoreError> {
    let mut query = users::table.count().into_boxed();
    if let Some(q) = q {
        let pattern = format!("%{}%", escape_like(&q.to_lowercase()));
        query = query.filter(
            lower(users::username.nullable())
                .like(pattern.clone())
                .escape('\\')
                .or(lower(users::name).like(pattern.clone()).escape('\\'))
                .or(lower(users::email).like(pattern).escape('\\')),
        );
    }
    Ok(query.get_result(conn)?)
}

/// Serialise changes to who is an administrator until the current transaction ends, so two
/// admins demoting each other at once cannot both see "another admin remains". PostgreSQL
/// takes a transaction-scoped advisory lock; SQLite already admits one writer at a time (a
/// transaction that read before another committed fails to write instead).
pub fn lock_admin_changes(conn: &mut DbConnection) -> Result<(), StoreError> {
    if let DbConnection::Postgres(c) = conn {
        diesel::connection::SimpleConnection::batch_execute(
            c,
            "SELECT pg_advisory_xact_lock(7403727)",
        )?;
    }
    Ok(())
}

/// Admins who can still sign in: the console refuses to leave none.
pub fn active_admin_count(conn: &mut DbConnection) -> Result<i64, StoreError> {
    Ok(users::table
        .filter(users::is_admin.eq(true))
        .filter(users::is_active.eq(true))
        .count()
        .get_result(conn)?)
}

/// The claims an admin edits on the user page.
#[derive(Debug)]
pub struct ProfileChange<'a> {
    pub name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub email_verified: bool,
}

fn found(n: usize) -> Result<(), StoreError> {
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

pub fn update_profile(
    conn: &mut DbConnection,
    id: i64,
    change: &ProfileChange<'_>,
    now: i64,
) -> Result<(), StoreError> {
    found(
        diesel::update(users::table.find(id))
            .set((
                users::name.eq(change.name),
                users::email.eq(change.email),
                users::email_verified.eq(change.email_verified),
                users::updated_at.eq(now),
            ))
            .execute(conn)?,
    )
}

pub fn set_password_hash(
    conn: &mut DbConnection,
    id: i64,
    hash: &str,
    now: i64,
) -> Result<(), StoreError> {
    found(
        diesel::update(users::table.find(id))
            .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
            .execute(conn)?,
    )
}

pub fn set_active(
    conn: &mut DbConnection,
    id: i64,
    active: bool,
    now: i64,
) -> Result<(), StoreError> {
    found(
        diesel::update(users::table.find(id))
            .set((users::is_active.eq(active), users::updated_at.eq(now)))
            .execute(conn)?,
    )
}

pub fn set_admin(
    conn: &mut DbConnection,
    id: i64,
    admin: bool,
    now: i64,
) -> Result<(), StoreError> {
    found(
        diesel::update(users::table.find(id))
            .set((users::is_admin.eq(admin), users::updated_at.eq(now)))
            .execute(conn)?,
    )
}

/// Delete a user; their grants, tokens, consents and sessions go with them (foreign keys).
pub fn delete_user(conn: &mut DbConnection, id: i64) -> Result<(), StoreError> {
    found(diesel::delete(users::table.find(id)).execute(conn)?)
}

/// A user's live sessions, newest first.
pub fn sessions_of(
    conn: &mut DbConnection,
    user_id: i64,
    now: i64,
) -> Result<Vec<SessionRow>, StoreError> {
    Ok(sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::expires_at.gt(now))
        .order(sessions::created_at.desc())
        .select(SessionRow::as_select())
        .load(conn)?)
}

pub fn delete_session(
    conn: &mut DbConnection,
    user_id: i64,
    id_hash: &str,
) -> Result<(), StoreError> {
    found(
        diesel::delete(
            sessions::table
                .filter(sessions::user_id.eq(user_id))
                .filter(sessions::id_hash.eq(id_hash)),
        )
        .execute(conn)?,
    )
}

pub fn delete_sessions_of(conn: &mut DbConnection, user_id: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?)
}

/// One application a user has consented to.
#[derive(Clone, Debug, Queryable)]
pub struct ConsentRow {
    pub client_id: String,
    pub client_name: String,
    pub scope: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub fn consents_of(conn: &mut DbConnection, user_id: i64) -> Result<Vec<ConsentRow>, StoreError> {
    Ok(consents::table
        .inner_join(clients::table)
        .filter(consents::user_id.eq(user_id))
        .order(clients::name.asc())
        .select((
            consents::client_id,
            clients::name,
            consents::scope,
            consents::created_at,
            consents::updated_at,
        ))
        .load(conn)?)
}

pub fn delete_consent(
    conn: &mut DbConnection,
    user_id: i64,
    client_id: &str,
) -> Result<(), StoreError> {
    found(diesel::delete(consents::table.find((user_id, client_id))).execute(conn)?)
}

/// Unrevoked grants of a client, for one user or for all.
pub fn live_grant_ids(
    conn: &mut DbConnection,
    client_id: &str,
    user_id: Option<i64>,
) -> Result<Vec<String>, StoreError> {
    let mut query = grants::table
        .filter(grants::client_id.eq(client_id))
        .filter(grants::revoked_at.is_null())
        .select(grants::id)
        .into_boxed();
    if let Some(user_id) = user_id {
        query = query.filter(grants::user_id.eq(user_id));
    }
    Ok(query.load(conn)?)
}

/// Unrevoked grants of a user, across clients.
pub fn live_grant_ids_of_user(
    conn: &mut DbConnection,
    user_id: i64,
) -> Result<Vec<String>, StoreError> {
    Ok(grants::table
        .filter(grants::user_id.eq(user_id))
        .filter(grants::revoked_at.is_null())
        .select(grants::id)
        .load(conn)?)
}

pub fn clients_all(conn: &mut DbConnection) -> Result<Vec<ClientRow>, StoreError> {
    Ok(clients::table
        .order((clients::name.asc(), clients::id.asc()))
        .select(ClientRow::as_select())
        .load(conn)?)
}

pub fn clients_count(conn: &mut DbConnection) -> Result<i64, StoreError> {
    Ok(clients::table.count().get_result(conn)?)
}

/// Replace a client's registration (not its id, secret or creation time).
pub fn update_client(conn: &mut DbConnection, row: &ClientRow) -> Result<(), StoreError> {
    found(
        diesel::update(clients::table.find(&row.id))
            .set((
                clients::name.eq(&row.name),
                clients::is_public.eq(row.is_public),
                clients::secret_hash.eq(&row.secret_hash),
                clients::redirect_uris.eq(&row.redirect_uris),
                clients::post_logout_redirect_uris.eq(&row.post_logout_redirect_uris),
                clients::grant_types.eq(&row.grant_types),
                clients::scopes.eq(&row.scopes),
                clients::access_token_ttl.eq(row.access_token_ttl),
                clients::refresh_token_ttl.eq(row.refresh_token_ttl),
                clients::id_token_signed_response_alg.eq(&row.id_token_signed_response_alg),
                clients::access_token_signed_response_alg.eq(&row.access_token_signed_response_alg),
                clients::token_endpoint_auth_method.eq(&row.token_endpoint_auth_method),
                clients::jwks.eq(&row.jwks),
                clients::jwks_uri.eq(&row.jwks_uri),
                clients::require_pushed_authorization_requests
                    .eq(row.require_pushed_authorization_requests),
                clients::dpop_bound_access_tokens.eq(row.dpop_bound_access_tokens),
                clients::updated_at.eq(row.updated_at),
                clients::allowed_resources.eq(&row.allowed_resources),
                clients::profile.eq(&row.profile),
            ))
            .execute(conn)?,
    )
}

/// Delete a client; its grants, codes, refresh tokens and consents go with it.
pub fn delete_client(conn: &mut DbConnection, id: &str) -> Result<(), StoreError> {
    found(diesel::delete(clients::table.find(id)).execute(conn)?)
}
