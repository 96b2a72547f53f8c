//! Integration tests: one binary, a module per capability.
mod authorize;
mod cli;
mod config;
mod discovery;
mod flow;
mod helpers;
mod jwks;
mod relying_party;
mod serve;
