//! Moving an app off Django: its password hashes (verified, then upgraded on first sign-in)
//! and its `auth_user` rows (`tessera user import-django`).
pub mod hashers;
pub mod import;
