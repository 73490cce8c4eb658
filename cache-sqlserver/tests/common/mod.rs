//! Shared setup of the over-the-wire tests: a TDS test server executing the provider's statements
//! in memory ([`SqlCacheEngine`]), and a [`SqlServerCache`] connected to it.

#![allow(dead_code, clippy::expect_used)] // each test crate uses a part; setup failures are test failures

use std::sync::Arc;
use std::time::Duration;

use cache_sqlserver::SqlServerCache;
use integration_tests::tds::server::{TdsServer, TdsServerConfig};
use integration_tests::tds::sqlcache_engine::SqlCacheEngine;

/// A server, its engine, and a cache on it (table created).
pub struct Wire {
    pub cache: SqlServerCache,
    pub engine: Arc<SqlCacheEngine>,
    pub server: TdsServer,
}

/// Starts a server for `[dbo].[Sessions]` and a cache with `pool_size` connections on it.
pub async fn start(pool_size: u32) -> Wire {
    let engine = Arc::new(SqlCacheEngine::new("dbo", "Sessions").expect("valid names"));
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
    cache
        .create_table_if_missing()
        .await
        .expect("create the table");
    Wire {
        cache,
        engine,
        server,
    }
}
