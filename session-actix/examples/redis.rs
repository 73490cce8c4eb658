//! The sessions guide's example server on Redis (scale-out): the same routes as `counter`.
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 cargo run -p session-actix --example redis
//! ```
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `REDIS_URL` | `redis://127.0.0.1:6379` | a `redis://` URL, or a StackExchange-style configuration string (`host:port,password=...,defaultDatabase=N`) |
//! | `REDIS_INSTANCE_NAME` | `App_` | key prefix, as the guide's `-InstanceName 'App_'` |
//!
//! plus the common settings (`ADDR`, `IDLE_TIMEOUT_SECS`, `RUST_LOG`, `SESSION_COOKIE_KEY`,
//! `SESSION_LOCKING`; see `common/mod.rs`). Two instances on different `ADDR`s sharing one Redis
//! and one `SESSION_COOKIE_KEY` serve the same sessions: a cookie from one works on the other.

mod common;

use std::sync::Arc;

use cache_redis::RedisCache;

#[actix_web::main]
async fn main() -> Result<(), common::BoxError> {
    common::init_tracing();
    let settings = common::Settings::from_env()?;
    let target = common::env_or("REDIS_URL", "redis://127.0.0.1:6379");
    let builder = if target.contains("://") {
        RedisCache::builder().url(target)
    } else {
        RedisCache::builder().configuration(target)
    };
    let cache = builder
        .instance_name(common::env_or("REDIS_INSTANCE_NAME", "App_"))
        .build()?;
    common::serve(Arc::new(cache), settings).await
}
