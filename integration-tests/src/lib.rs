//! Test support shared by every crate's tests: a private `redis-server` launcher
//! ([`redis_server`]) and an in-repo SQL Server wire (TDS) test server ([`tds`]).
//! Not published.
#![forbid(unsafe_code)]

pub mod redis_server;
pub mod tds;
