//! Reading a Django database's `auth_user` table (SQLite or PostgreSQL) for
//! `tessera user import-django`. Every column is read as text and parsed by the caller, so
//! one odd row becomes one error line instead of failing the whole query.
use diesel::sql_types::{Nullable, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};

use super::{DbConnection, StoreError};
use crate::config::DatabaseUrl;

/// One `auth_user` row, each column as the database renders it as text (booleans are
/// `1`/`0` on SQLite and `true`/`false` on PostgreSQL).
#[derive(Debug, QueryableByName)]
pub struct AuthUserText {
    #[diesel(sql_type = Nullable<Text>)]
    pub id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub password: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub last_login: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub is_superuser: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub username: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub first_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub last_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub email: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub is_staff: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub is_active: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub date_joined: Option<String>,
}

const SELECT: &str = "SELECT CAST(id AS TEXT) AS id, password, \
     CAST(last_login AS TEXT) AS last_login, CAST(is_superuser AS TEXT) AS is_superuser, \
     username, first_name, last_name, email, CAST(is_staff AS TEXT) AS is_staff, \
     CAST(is_active AS TEXT) AS is_active, CAST(date_joined AS TEXT) AS date_joined \
     FROM auth_user ORDER BY id";

/// Every `auth_user` row of the Django database at `url`, read in one transaction.
pub fn auth_users(url: &DatabaseUrl) -> Result<Vec<AuthUserText>, StoreError> {
    let mut conn = match url {
        DatabaseUrl::Sqlite(path) => {
            // Never create an empty file where the Django database was expected.
            if !std::path::Path::new(path).is_file() {
                return Err(StoreError::Pool(format!("no SQLite database at {path}")));
            }
            DbConnection::Sqlite(
                diesel::SqliteConnection::establish(path)
                    .map_err(|e| StoreError::Pool(e.to_string()))?,
            )
        }
        DatabaseUrl::Postgres(url) => DbConnection::Postgres(
            diesel::PgConnection::establish(url).map_err(|e| StoreError::Pool(e.to_string()))?,
        ),
    };
    // PostgreSQL renders timestamptz in the session's zone: UTC keeps the offsets simple.
    let rows = match &mut conn {
        DbConnection::Sqlite(c) => diesel::sql_query(SELECT).load(c)?,
        DbConnection::Postgres(c) => c.transaction(|c| {
            diesel::sql_query("SET LOCAL TIME ZONE 'UTC'").execute(c)?;
            diesel::sql_query(SELECT).load(c)
        })?,
    };
    Ok(rows)
}
