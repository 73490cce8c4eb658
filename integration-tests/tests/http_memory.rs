//! The HTTP acceptance suite against the in-memory cache (always available).

use std::sync::Arc;

use cache_memory::MemoryCache;
use session_core::conformance::Harness;

/// A fresh in-memory cache per case.
async fn memory() -> Option<Harness> {
    Some(Harness::new(Arc::new(MemoryCache::new())))
}

integration_tests::http_acceptance_suite!(memory);
