//! The shared conformance suite against [`cache_sqlserver::SqlServerCache`] over a real TDS
//! socket, served by the in-repo test server executing the provider's statements in memory.

mod common;

use std::sync::Arc;

use session_core::conformance::Harness;

/// A fresh server and cache per case; the server is the harness guard, dropped after the cache.
async fn tds_cache() -> Option<Harness> {
    let wire = common::start(4).await;
    Some(Harness::with_guard(
        Arc::new(wire.cache),
        (wire.server, wire.engine),
    ))
}

session_core::distributed_cache_conformance!(tds_cache);
