//! Users: creating accounts and the first administrator.
use crate::clock::Clock;
use crate::domain::{Email, Password, Username};
use crate::secrets::{self, HashError, SecretString};
use crate::store::users::{self as user_store, NewUserRow, UserRow};
use crate::store::{DbConnection, StoreError};

/// A request to create a user, already parsed.
#[derive(Debug)]
pub struct NewUser {
    pub username: Username,
    pub password: Password,
    pub email: Option<Email>,
    pub name: Option<String>,
    pub is_admin: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("user '{0}' already exists")]
    UsernameTaken(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for UserError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

pub fn create(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    user: &NewUser,
) -> Result<UserRow, UserError> {
    let hash = secrets::hash_secret(user.password.secret())?;
    let now = clock.unix();
    let subject = uuid::Uuid::new_v4().to_string();
    let row = NewUserRow {
        subject: &subject,
        username: user.username.as_str(),
        password_hash: &hash,
        email: user.email.as_ref().map(Email::as_str),
        name: user.name.as_deref(),
        is_admin: user.is_admin,
        created_at: now,
        updated_at: now,
    };
    user_store::insert(conn, &row).map_err(|e| match e {
        StoreError::Conflict => UserError::UsernameTaken(user.username.as_str().to_owned()),
        other => UserError::Store(other),
    })
}

/// What first start did about the administrator.
#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// Users already exist; nothing was done.
    NotNeeded,
    /// An `admin` user was created with the given password (generated unless supplied).
    Created { password: Option<SecretString> },
}

/// On an empty user table, create `admin` with `password` or a random one (returned so the
/// caller can print it once). A concurrent instance winning the race counts as done.
pub fn bootstrap_admin(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    password: Option<Password>,
) -> Result<Bootstrap, UserError> {
    if user_store::count(conn)? > 0 {
        return Ok(Bootstrap::NotNeeded);
    }
    let (password, generated) = match password {
        Some(p) => (p, None),
        None => {
            let raw = secrets::random_token(18);
            let p = Password::parse(&raw).map_err(UserError::Invalid)?;
            (p, Some(SecretString::new(raw)))
        }
    };
    let username = Username::parse("admin").map_err(UserError::Invalid)?;
    let new = NewUser {
        username,
        password,
        email: None,
        name: Some("Administrator".to_owned()),
        is_admin: true,
    };
    match create(conn, clock, &new) {
        // The first password was printed to a log or chosen for a deployment script: the
        // administrator replaces it at first sign-in.
        Ok(user) => {
            user_store::set_must_change_password(conn, user.id, true)?;
            Ok(Bootstrap::Created {
                password: generated,
            })
        }
        Err(UserError::UsernameTaken(_)) => Ok(Bootstrap::NotNeeded),
        Err(e) => Err(e),
    }
}
