//! The HTTP acceptance suite against `SqlServerCache`, over a real socket to the in-repo TDS test
//! server (which executes the provider's statements in memory).
#![allow(clippy::expect_used)] // a failed setup must fail the test loudly

use std::sync::Arc;
use std::time::Duration;

use cache_sqlserver::SqlServerCache;
use integration_tests::tds::server::{TdsServer, TdsServerConfig};
use integration_tests::tds::sqlcache_engine::SqlCacheEngine;
use session_core::conformance::Harness;

/// A fresh TDS test server and cache per case; the server is the guard, dropped after the cache.
async fn sqlserver() -> Option<Harness> {
    let engine = Arc::new(SqlCacheEngine::new("dbo", "Sessions").expect("valid names"));
    let server = TdsServer::start(engine.clone(), TdsServerConfig::default())
        .await
        .expect("TDS test server starts");
    let cache = SqlServerCache::builder()
        .connection_string(server.connection_string())
        .table_name("Sessions")
        .connection_timeout(Duration::from_secs(5))
        .build()
        .expect("valid options");
    cache
        .create_table_if_missing()
        .await
        .expect("create the table");
    Some(Harness::with_guard(Arc::new(cache), (server, engine)))
}

integration_tests::http_acceptance_suite!(sqlserver);
