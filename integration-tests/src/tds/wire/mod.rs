//! The TDS protocol layer behind [`TdsServer`](super::server::TdsServer): framing, login,
//! request decoding and token-stream encoding. Nothing here knows what statements mean; they
//! go to the [`SqlEngine`](super::engine::SqlEngine).
//!
//! Everything read from the network goes through bounds-checked readers: malformed input
//! closes the connection, it never panics the server.

pub(crate) mod connection;
mod datetime;
mod error;
mod login;
mod packet;
mod params;
mod prelogin;
mod reader;
mod request;
mod response;
mod tokens;
mod transaction;
mod transport;
mod values;
