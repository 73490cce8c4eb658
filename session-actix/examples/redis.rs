//! The sessions guide's example server on Redis (scale-out): the same routes as `counter`.
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 cargo run -p session-actix --example redis
//! # TLS (README, "Redis over TLS"):
//! REDIS_URL=rediss://localhost:6380 REDIS_TLS_CA_FILE=ca.pem \
//!     cargo run -p session-actix --example redis --features cache-redis/tls
//! ```
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `REDIS_URL` | `redis://127.0.0.1:6379` | a `redis://` URL, or a StackExchange-style configuration string (`host:port,password=...,defaultDatabase=N`) |
//! | `REDIS_INSTANCE_NAME` | `App_` | key prefix, as the guide's `-InstanceName 'App_'` |
//! | `REDIS_TLS_CA_FILE` | none (public roots) | PEM CA to trust for `rediss://` / `ssl=true` (needs `--features cache-redis/tls`) |
//! | `REDIS_TLS_CLIENT_CERT`, `REDIS_TLS_CLIENT_KEY` | none | PEM client certificate and key, for servers with `tls-auth-clients yes` |
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
    let mut builder = builder.instance_name(common::env_or("REDIS_INSTANCE_NAME", "App_"));
    if let Ok(ca) = std::env::var("REDIS_TLS_CA_FILE") {
        builder = builder.tls_ca_file(ca);
    }
    match (
        std::env::var("REDIS_TLS_CLIENT_CERT"),
        std::env::var("REDIS_TLS_CLIENT_KEY"),
    ) {
        (Ok(cert), Ok(key)) => builder = builder.tls_client_certificate(cert, key),
        (Err(_), Err(_)) => {}
        _ => {
            return Err(
                "set both REDIS_TLS_CLIENT_CERT and REDIS_TLS_CLIENT_KEY, or neither".into(),
            );
        }
    }
    let cache = builder.build()?;
    common::serve(Arc::new(cache), settings).await
}
