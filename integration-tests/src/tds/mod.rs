//! An in-memory SQL Server wire-protocol test server: TDS 7.1 to 7.4 logins, optional TLS,
//! SQLBatch, RPC `sp_executesql` (named or positional values) and transaction-manager requests.
//! `tests/pytds.rs` checks it with pytds, a client we did not write.
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
