//! The OAuth 2 / OpenID Connect protocol. oxide-auth runs the authorization endpoint with
//! Tessera's primitives (registrar, authorizer, solicitor) over the store; the token
//! endpoint is Tessera's own typed grants (`grants`). Tessera adds what oxide-auth does not
//! know: ID tokens, nonce, prompt/max_age, form_post, userinfo, introspection, revocation
//! and logout.
pub mod access;
pub mod assertion;
pub mod authorize;
mod authorizer;
pub mod claims;
pub mod client_auth;
pub mod client_keys;
pub mod context;
pub mod device;
pub mod dpop;
mod error;
pub mod grants;
pub mod introspect;
pub mod logout;
pub mod par;
mod registrar;
mod solicitor;
pub mod target;
pub mod token;
pub mod tokens;
pub mod userinfo;
pub mod web;

pub use error::OAuthError;
