//! The HTTP acceptance suite against `RedisCache` on a private `redis-server`.
#![allow(clippy::expect_used)] // a failed setup must fail the test loudly

use std::sync::Arc;

use cache_redis::RedisCache;
use integration_tests::redis_server::RedisServer;
use session_core::conformance::{Harness, unique_key};

/// A private server per case (skips loudly without `redis-server`, fails under `REQUIRE_REDIS=1`).
async fn redis() -> Option<Harness> {
    let server = RedisServer::start().await?;
    let cache = RedisCache::builder()
        .url(server.url())
        .instance_name(unique_key("http"))
        .build()
        .expect("valid redis options");
    Some(Harness::with_guard(Arc::new(cache), server))
}

integration_tests::http_acceptance_suite!(redis);
