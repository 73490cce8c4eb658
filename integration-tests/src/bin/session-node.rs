//! A session server process for multi-process tests: the example servers' routes and settings
//! (`session-actix/examples/common`, included as is), over Redis when `REDIS_URL` is set
//! (`REDIS_INSTANCE_NAME`, default `App_`), otherwise over a memory cache.
//!
//! ```text
//! ADDR=127.0.0.1:8081 REDIS_URL=redis://127.0.0.1:6379 SESSION_COOKIE_KEY=... SESSION_LOCKING=exclusive session-node
//! ```
//!
//! Environment as the examples: `ADDR`, `IDLE_TIMEOUT_SECS`, `RUST_LOG`, `SESSION_COOKIE_KEY`,
//! `SESSION_LOCKING`. `tests/two_nodes.rs` runs two of them on one Redis.
#![forbid(unsafe_code)]

#[path = "../../../session-actix/examples/common/mod.rs"]
mod common;

use std::sync::Arc;

use cache_memory::MemoryCache;
use cache_redis::RedisCache;
use session_actix::SharedCache;

#[actix_web::main]
async fn main() -> Result<(), common::BoxError> {
    common::init_tracing();
    let settings = common::Settings::from_env()?;
    let cache: SharedCache = match std::env::var("REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => Arc::new(
            RedisCache::builder()
                .url(url)
                .instance_name(common::env_or("REDIS_INSTANCE_NAME", "App_"))
                .build()?,
        ),
        _ => Arc::new(MemoryCache::new()),
    };
    common::serve(cache, settings).await
}
