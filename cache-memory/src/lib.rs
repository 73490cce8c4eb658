//! # cache-memory
//!
//! [`MemoryCache`]: an in-process [`DistributedCache`] on [moka](https://docs.rs/moka), for a
//! single node, development and tests. Entries expire by sliding and absolute expiration (and
//! are really evicted when they do), the total size is bounded in bytes, conditional writes and
//! locks are atomic per key.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use bytes::Bytes;
//! use cache_memory::{DistributedCache, EntryOptions, MemoryCache, SharedCache};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cache = MemoryCache::builder().max_bytes(16 * 1024 * 1024).build()?;
//! let idle = EntryOptions::sliding(Duration::from_secs(20 * 60));
//! cache.set("greeting", Bytes::from_static(b"hello"), &idle).await?;
//! assert_eq!(cache.get("greeting").await?, Some(Bytes::from_static(b"hello")));
//!
//! // Sessions hold the cache as a shared trait object.
//! let shared: SharedCache = Arc::new(cache);
//! assert_eq!(shared.cache_type(), "memory");
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod cache;
mod entry;
mod key;
mod lease;
mod options;
mod stripes;
mod weight;

pub use cache::MemoryCache;
pub use options::{DEFAULT_MAX_BYTES, MemoryCacheBuilder, MemoryCacheOptions};
pub use session_core::{
    CacheError, ConfigError, DistributedCache, EntryOptions, LockToken, SharedCache, WriteCondition,
};
pub use weight::{ENTRY_OVERHEAD, entry_weight};
