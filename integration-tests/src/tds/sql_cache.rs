//! A [`SqlServerCache`] connected over a real socket to a fresh [`TdsServer`] running the
//! provider's statements in memory: the one setup every SQL Server test without a real server uses.

use std::sync::Arc;
use std::time::Duration;

use cache_sqlserver::SqlServerCache;

use super::server::{TdsServer, TdsServerConfig};
use super::sqlcache_engine::SqlCacheEngine;

/// A server, its engine, and a cache on it (table created).
#[derive(Debug)]
pub struct Wire {
    /// The cache under test.
    pub cache: SqlServerCache,
    /// The in-memory table behind the server (for inspecting or planting rows).
    pub engine: Arc<SqlCacheEngine>,
    /// The server (fault injection, request counters); dropping it stops it.
    pub server: TdsServer,
}

/// Starts a server for `[dbo].[Sessions]` and a cache with `pool_size` connections on it, and
/// creates the tables.
///
/// # Panics
/// If the server cannot start or the tables cannot be created: a failed setup fails the test.
#[allow(clippy::expect_used)]
pub async fn start(pool_size: u32) -> Wire {
    let engine = Arc::new(SqlCacheEngine::new("dbo", "Sessions").expect("valid names"));
    let wire = connect(engine, pool_size).await;
    wire.cache
        .create_table_if_missing()
        .await
        .expect("create the tables");
    wire
}

/// Starts a server on `engine` (for `[dbo].[Sessions]`, in whatever state the test prepared)
/// and a cache with `pool_size` connections on it; creates nothing.
///
/// # Panics
/// If the server cannot start.
#[allow(clippy::expect_used)]
pub async fn connect(engine: Arc<SqlCacheEngine>, pool_size: u32) -> Wire {
    let server = TdsServer::start(engine.clone(), TdsServerConfig::default())
        .await
        .expect("TDS test server starts");
    let cache = SqlServerCache::builder()
        .connection_string(server.connection_string())
        .schema_name("dbo")
        .table_name("Sessions")
        .pool_size(pool_size)
        .connection_timeout(Duration::from_secs(5))
        .build()
        .expect("valid options");
    Wire {
        cache,
        engine,
        server,
    }
}
