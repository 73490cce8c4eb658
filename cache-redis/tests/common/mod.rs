//! Shared test support: a private server per test binary and caches with unique instance names.
#![allow(dead_code)]
// each test binary uses a different subset
// Test helpers outside #[test] fns: a failed setup must fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod pki;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Weak};

use cache_redis::{RedisCache, RedisCacheBuilder};
#[allow(unused_imports)] // not every test binary counts commands
pub use integration_tests::redis_server::{RedisServer, commandstats_delta, require_private};

/// A unique instance name, so tests sharing a server never see each other's keys.
pub fn unique_instance(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{tag}-{}-{}_",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A builder on `server` with a unique instance name.
pub fn builder(server: &RedisServer, tag: &str) -> RedisCacheBuilder {
    RedisCache::builder()
        .url(server.url())
        .instance_name(unique_instance(tag))
}

/// A raw redis-rs connection for inspecting and planting stored data.
pub async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// The full chain of messages of an error, for assertions and failure output.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        text.push_str(": ");
        text.push_str(&e.to_string());
        next = e.source();
    }
    text
}

/// The cache crate's own error behind a backend failure, if that is what `error` is.
pub fn redis_error(error: &session_core::CacheError) -> Option<&cache_redis::RedisCacheError> {
    match error {
        session_core::CacheError::Backend { source, .. } => source.downcast_ref(),
        _ => None,
    }
}

/// An expensive set-up (a cluster, a Sentinel set) shared by the test cases running at the same
/// time (they use unique keys). The last case to finish drops it: a `static` holding it strongly
/// would never be dropped, leaking its processes.
pub struct Shared<T>(tokio::sync::Mutex<Weak<T>>);

impl<T> Shared<T> {
    /// Nothing started yet.
    pub const fn new() -> Self {
        Self(tokio::sync::Mutex::const_new(Weak::new()))
    }

    /// The running set-up, or a new one from `start` (`None` when it is skipped).
    pub async fn get_or_start<F, Fut>(&self, start: F) -> Option<Arc<T>>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let mut shared = self.0.lock().await;
        if let Some(running) = shared.upgrade() {
            return Some(running);
        }
        let started = Arc::new(start().await?);
        *shared = Arc::downgrade(&started);
        Some(started)
    }
}
