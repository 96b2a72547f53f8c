//! The OAuth 2 / OpenID Connect protocol. oxide-auth runs the flows; Tessera supplies its
//! primitives (registrar, authorizer, issuer, solicitor) over the store, and adds what
//! oxide-auth does not know: ID tokens, nonce, prompt/max_age, form_post, refresh
//! families, userinfo, introspection, revocation and logout.
pub mod access;
pub mod authorize;
mod authorizer;
pub mod claims;
pub mod client_auth;
pub mod context;
pub mod introspect;
mod issuer;
pub mod logout;
mod registrar;
mod solicitor;
pub mod token;
pub mod tokens;
pub mod userinfo;
pub mod web;

/// `scope`'s tokens in the order they have in `reference` (oxide-auth's scope is a set).
pub fn order_like(scope: &str, reference: &str) -> String {
    let wanted: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    let mut out: Vec<&str> = reference
        .split(' ')
        .filter(|s| wanted.contains(s))
        .collect();
    for s in &wanted {
        if !out.contains(s) {
            out.push(s);
        }
    }
    out.join(" ")
}
