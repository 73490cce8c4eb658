//! The HTTP acceptance suite against `SqlServerCache`, over a real socket to the in-repo TDS test
//! server (which executes the provider's statements in memory).

use std::sync::Arc;

use integration_tests::tds::sql_cache;
use session_core::conformance::Harness;

/// A fresh TDS test server and cache per case; the server is the guard, dropped after the cache.
async fn sqlserver() -> Option<Harness> {
    let wire = sql_cache::start(4).await;
    Some(Harness::with_guard(
        Arc::new(wire.cache),
        (wire.server, wire.engine),
    ))
}

integration_tests::http_acceptance_suite!(sqlserver);
