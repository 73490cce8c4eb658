//! An in-memory SQL Server wire-protocol (TDS 7.3/7.4) test server, with optional TLS.
//!
//! No SQL Server can run on our CI machines, so the SQL Server provider is exercised over a real
//! socket against this server instead. It is split in two:
//! * the protocol layer (PRELOGIN, LOGIN7, SQLBatch, RPC `sp_executesql`, token streams), which
//!   knows nothing of what the statements mean, and
//! * a [`SqlEngine`](engine::SqlEngine) that executes the statements it recognises.
pub mod collation;
pub mod engine;
pub mod server;
pub mod sql_cache;
pub mod sqlcache_engine;
pub mod tls;
mod wire;
