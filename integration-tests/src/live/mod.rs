//! Sessions over real sockets: a minimal HTTP/1.1 client ([`client`]), an in-process
//! `HttpServer` serving the example routes ([`server`]), `session-node` server processes
//! ([`node`]) for the multi-process tests (`tests/two_nodes.rs`, `tests/faults.rs`,
//! `tests/torture.rs`), and the checker of recorded request histories ([`history`]) that judges
//! the torture runs.
//!
//! The in-process suite in [`http`](crate::http) goes through `actix_web::test` and never opens
//! a socket; these helpers exist for what that cannot show: several processes sharing one store,
//! and requests racing each other (and faults) for real.

pub mod client;
pub mod history;
pub mod node;
pub mod server;

pub use client::{LiveReply, request};
pub use node::SessionNode;
pub use server::LiveServer;
