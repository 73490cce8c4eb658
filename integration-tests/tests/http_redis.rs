//! The HTTP acceptance suite against `RedisCache` on a private `redis-server`.
#![allow(clippy::expect_used)] // a failed setup must fail the test loudly

use std::sync::Arc;

use cache_redis::RedisCache;
use integration_tests::redis_server::RedisServer;
use session_core::conformance::{Harness, unique_key};

/// A private server per case, or `REDIS_URL` (ignored at build time without either; see `build.rs`).
async fn redis() -> Option<Harness> {
    let server = RedisServer::start().await?;
    let cache = RedisCache::builder()
        .url(server.url())
        .instance_name(unique_key("http"))
        .build()
        .expect("valid redis options");
    Some(Harness::with_guard(Arc::new(cache), server))
}

integration_tests::http_acceptance_suite!(
    #[cfg_attr(
        redis_missing,
        ignore = "needs Redis: apt-get install redis-server, or set REDIS_URL (REQUIRE_REDIS=1 makes this a failure)"
    )]
    redis
);
