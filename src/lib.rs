//! Tessera: an OpenID Connect authorization server. `main.rs` only parses the command line;
//! everything it runs lives here so the tests drive the same code.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod account;
pub mod admin;
pub mod audit;
pub mod auth_methods;
pub mod cli;
pub mod client_methods;
pub mod client_profile;
pub mod clients;
pub mod clock;
pub mod config;
pub mod discovery;
pub mod django;
pub mod domain;
pub mod error;
pub mod extract;
pub mod family;
pub mod hashing;
pub mod kek;
pub mod mail;
pub mod metrics;
pub mod oauth;
pub mod observe;
pub mod passkeys;
pub mod registration;
pub mod reset_mail;
pub mod resets;
pub mod resource;
pub mod resources;
pub mod routes;
pub mod second_factor;
pub mod secrets;
pub mod sessions;
pub mod signing;
pub mod simplejwt;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod throttle;
pub mod users;
pub mod views;
