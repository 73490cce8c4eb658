//! The shared `DistributedCache` conformance suite against a private `redis-server`.
// Test helpers outside #[test] fns: a failed setup must fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use session_core::conformance::Harness;

/// A private server per case (it starts in milliseconds and dies with the harness), and a
/// unique instance name on top.
async fn factory() -> Option<Harness> {
    let server = common::RedisServer::start().await?;
    let cache = common::builder(&server, "conf").build().unwrap();
    Some(Harness::with_guard(Arc::new(cache), server))
}

session_core::distributed_cache_conformance!(
    #[cfg_attr(
        redis_missing,
        ignore = "needs Redis: apt-get install redis-server, or set REDIS_URL (REQUIRE_REDIS=1 makes this a failure)"
    )]
    factory
);
