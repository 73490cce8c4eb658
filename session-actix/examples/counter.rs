//! The sessions guide's example server on the in-memory cache (single node).
//!
//! ```text
//! cargo run -p session-actix --example counter
//! curl -c jar -b jar http://127.0.0.1:8080/counter     # {"counter":1}, then 2, 3, ...
//! curl -c jar -b jar 'http://127.0.0.1:8080/user?user=alice'
//! curl -c jar -b jar -X POST 'http://127.0.0.1:8080/login?user=bob'
//! curl -c jar -b jar http://127.0.0.1:8080/diag/session
//! curl -c jar -b jar -X POST http://127.0.0.1:8080/logout
//! ```
//!
//! Settings come from the environment; see `common/mod.rs` (`ADDR`, `IDLE_TIMEOUT_SECS`,
//! `RUST_LOG`, `SESSION_COOKIE_KEY`, `SESSION_LOCKING`).

mod common;

use std::process::ExitCode;
use std::sync::Arc;

use cache_memory::MemoryCache;

#[actix_web::main]
async fn main() -> ExitCode {
    common::init_tracing();
    common::report::exit(run().await)
}

async fn run() -> Result<(), common::BoxError> {
    let settings = common::Settings::from_env()?;
    common::serve(Arc::new(MemoryCache::new()), settings).await
}
