//! The shared conformance suite, run against [`MemoryCache`].

use std::sync::Arc;

use cache_memory::MemoryCache;
use session_core::conformance::Harness;

/// A fresh cache per case; the memory cache is always available.
async fn memory_cache() -> Option<Harness> {
    Some(Harness::new(Arc::new(MemoryCache::new())))
}

session_core::distributed_cache_conformance!(memory_cache);
