//! A session server process for multi-process tests: the example servers' routes and settings
//! (`session-actix/examples/common`, included as is), over
//!
//! * SQL Server when `MSSQL_CONNECTION_STRING` is set (`MSSQL_SCHEMA`, default `dbo`;
//!   `MSSQL_TABLE`, default `Sessions`; the table is created if missing), e.g. the in-repo TDS
//!   test server,
//! * Redis when `REDIS_URL` is set, read and checked at start as the `redis` example does
//!   (`examples/common/redis_env.rs`: `REDIS_INSTANCE_NAME`, default `App_`, TLS variables),
//! * otherwise a memory cache.
//!
//! ```text
//! ADDR=127.0.0.1:8081 REDIS_URL=redis://127.0.0.1:6379 SESSION_COOKIE_KEY=... SESSION_LOCKING=exclusive session-node
//! ```
//!
//! Environment as the examples: `ADDR`, `IDLE_TIMEOUT_SECS`, `IO_TIMEOUT_SECS`,
//! `LOCK_WAIT_SECS`, `LOCK_LEASE_SECS`, `RUST_LOG`, `SESSION_COOKIE_KEY`, `SESSION_LOCKING`.
//! `tests/two_nodes.rs` runs two of them on one Redis, `tests/torture.rs` two on one Redis and
//! two on one TDS test server.
#![forbid(unsafe_code)]

#[path = "../../../session-actix/examples/common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::sync::Arc;

use cache_memory::MemoryCache;
use cache_sqlserver::SqlServerCache;
use session_actix::SharedCache;

/// A set, non-empty environment variable.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[actix_web::main]
async fn main() -> ExitCode {
    common::init_tracing();
    common::report::exit(run().await)
}

async fn run() -> Result<(), common::BoxError> {
    let settings = common::Settings::from_env()?;
    let cache: SharedCache = match (var("MSSQL_CONNECTION_STRING"), var("REDIS_URL")) {
        // Two stores named: refuse rather than guess which one the caller meant.
        (Some(_), Some(_)) => {
            return Err("set either MSSQL_CONNECTION_STRING or REDIS_URL, not both".into());
        }
        (Some(connection_string), None) => {
            // The builder needs a Tokio runtime (its expired-row cleanup task is spawned on
            // it): `actix_web::main` runs one. Without this crate's TLS feature tiberius
            // cannot encrypt, which the TDS test server does not offer anyway
            // (`Encrypt=DANGER_PLAINTEXT` in its connection string).
            let cache = SqlServerCache::builder()
                .connection_string(connection_string)
                .schema_name(common::env_or("MSSQL_SCHEMA", "dbo"))
                .table_name(common::env_or("MSSQL_TABLE", "Sessions"))
                .build()?;
            cache.create_table_if_missing().await?;
            Arc::new(cache)
        }
        // As the `redis` example: `REDIS_URL` and the TLS variables, checked at start.
        (None, Some(_)) => Arc::new(common::redis_env::cache_from_env().await?),
        (None, None) => Arc::new(MemoryCache::new()),
    };
    common::serve(cache, settings).await
}
