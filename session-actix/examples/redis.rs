//! The sessions guide's example server on Redis (scale-out): the same routes as `counter`.
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 cargo run -p session-actix --example redis
//! # TLS (README, "Redis over TLS"):
//! REDIS_URL=rediss://localhost:6380 REDIS_TLS_CA_FILE=ca.pem \
//!     cargo run -p session-actix --example redis --features cache-redis/tls
//! ```
//!
//! Settings: `REDIS_URL`, `REDIS_INSTANCE_NAME`, `REDIS_TLS_CA_FILE`, `REDIS_TLS_CLIENT_CERT`,
//! `REDIS_TLS_CLIENT_KEY` (see `common/redis_env.rs`; Sentinel: `REDIS_URL` with `serviceName=`
//! or `redis+sentinel://`, `--features cache-redis/sentinel`). The store is checked at start
//! (one `PING`): when it is unusable the server exits at once with one line naming the variable,
//! e.g. `error: REDIS_URL: Redis at 127.0.0.1:1 (database 0, user `default`) is not usable: ...`.
//!
//! Plus the common settings (`ADDR`, `IDLE_TIMEOUT_SECS`, `RUST_LOG`, `SESSION_COOKIE_KEY`,
//! `SESSION_LOCKING`; see `common/mod.rs`). Two instances on different `ADDR`s sharing one Redis
//! and one `SESSION_COOKIE_KEY` serve the same sessions: a cookie from one works on the other.

mod common;

use std::process::ExitCode;
use std::sync::Arc;

#[actix_web::main]
async fn main() -> ExitCode {
    common::init_tracing();
    common::report::exit(run().await)
}

async fn run() -> Result<(), common::BoxError> {
    let settings = common::Settings::from_env()?;
    let cache = common::redis_env::cache_from_env().await?;
    common::serve(Arc::new(cache), settings).await
}
