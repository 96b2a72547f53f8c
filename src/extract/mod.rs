//! Request facts that need care to read: the client's address behind proxies.
mod client_ip;

pub use client_ip::client_ip;
