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
//! `RUST_LOG`, `SESSION_COOKIE_KEY`, `SESSION_LOCKING`), plus `MEMORY_MAX_BYTES`, the cache's
//! bound on the memory its sessions occupy (default 64 MiB). To watch the bound hold, flood it
//! with cookie-less requests (each creates a session) and follow the resident set:
//!
//! ```text
//! MEMORY_MAX_BYTES=16777216 cargo run --release -p session-actix --example counter &
//! while :; do curl -s http://127.0.0.1:8080/counter >/dev/null; done &
//! watch grep VmRSS /proc/$(pgrep -n counter)/status
//! ```

mod common;

use std::process::ExitCode;
use std::sync::Arc;

use cache_memory::{DEFAULT_MAX_BYTES, MemoryCache};

#[actix_web::main]
async fn main() -> ExitCode {
    common::init_tracing();
    common::report::exit(run().await)
}

async fn run() -> Result<(), common::BoxError> {
    let settings = common::Settings::from_env()?;
    let max_bytes = common::byte_count("MEMORY_MAX_BYTES")?.unwrap_or(DEFAULT_MAX_BYTES);
    let cache = MemoryCache::builder().max_bytes(max_bytes).build()?;
    tracing::info!(max_bytes, "memory cache bound (MEMORY_MAX_BYTES)");
    common::serve(Arc::new(cache), settings).await
}
