//! Integration tests: one binary, a module per capability.
mod cli;
mod config;
mod discovery;
mod helpers;
mod jwks;
mod serve;
