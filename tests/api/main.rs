//! Integration tests: one binary, a module per capability.
mod authorize;
mod browser;
mod cli;
mod config;
mod discovery;
mod flow;
mod helpers;
mod introspection;
mod jwks;
mod logout;
mod maintenance;
mod relying_party;
mod serve;
mod token_endpoint;
mod userinfo;
