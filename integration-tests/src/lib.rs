//! Test support shared by every crate's tests: a private `redis-server` launcher
//! ([`redis_server`]), an in-repo SQL Server wire (TDS) test server ([`tds`]) and the HTTP
//! acceptance suite of `session-actix` ([`http`]), and helpers for tests over real sockets and
//! server processes ([`live`], with the `session-node` binary).
//! Not published.
#![forbid(unsafe_code)]

pub mod http;
pub mod live;
pub mod redis_sentinel;
pub mod redis_server;
pub mod tds;
