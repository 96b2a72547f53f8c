//! Inputs parsed into domain types at the edge; past the edge nothing is re-checked.
mod client;
mod resource;
mod user;

pub use client::{ClientKind, GrantType, RedirectUri, Scope, ScopeSet};
pub use resource::ResourceId;
pub use user::{Email, Password, Username};
