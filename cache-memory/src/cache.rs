//! [`MemoryCache`]: the [`DistributedCache`] implementation.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use moka::future::Cache;
use moka::policy::EvictionPolicy;
use session_core::{
    CacheError, ConfigError, DistributedCache, EntryOptions, LockToken, ResolvedExpiration,
    WriteCondition,
};

use crate::entry::{EntryExpiry, StoredEntry};
use crate::key::EntryKey;
use crate::lease::{Lease, LeaseExpiry};
use crate::options::{MemoryCacheBuilder, MemoryCacheOptions};
use crate::stripes::KeyStripes;
use crate::weight::weigh;

/// An in-process [`DistributedCache`] on [moka](https://docs.rs/moka): sliding and absolute
/// expiry per entry, bounded by total bytes, with atomic conditional writes and lease locks.
///
/// It is "distributed" only within one process: use it for a single node, for development and
/// for tests. Cloning is cheap and clones share the same store.
///
/// ```
/// use std::sync::Arc;
///
/// use cache_memory::MemoryCache;
/// use session_core::{SessionOptions, SessionStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // One cache per process, shared by every request. With session-actix, the one-liner is
/// // `SessionMiddleware::new(MemoryCache::new(), key)`.
/// let store = SessionStore::new(Arc::new(MemoryCache::new()), SessionOptions::default());
/// let request = store.open(None); // a new session; no store call yet
/// request.set_i32("visits", 1).await?;
/// request.finish(false).await?; // written, with the idle timeout as sliding expiration
/// # Ok(())
/// # }
/// ```
///
/// * **Expiry**: each entry expires at `min(last access + sliding, absolute)`; `get` and
///   `refresh` slide it. Expired entries are evicted, not just hidden (moka's timer wheel), so a
///   server with many short sessions does not grow without bound.
/// * **Bound**: the entries' total weight, each entry's resident cost in bytes
///   ([`entry_weight`](crate::entry_weight), calibrated by measurement), is kept under
///   [`MemoryCacheOptions::max_bytes`] by evicting the least recently used entries, so the
///   bound is on the memory the entries occupy. LRU rather than moka's default TinyLFU,
///   because TinyLFU may refuse to admit a brand new entry, and a session written a moment ago
///   must be readable.
/// * **Atomicity**: all writes to one key (entries and locks) are serialized, so `set_if` and
///   `remove_if_equals` check and write in one step. Their check counts as an access (it slides
///   the entry).
/// * **Locks** live in a second map, separate from entries, and expire with their lease.
#[derive(Clone)]
pub struct MemoryCache {
    entries: Cache<EntryKey, StoredEntry>,
    locks: Cache<String, Lease>,
    stripes: Arc<KeyStripes>,
    max_bytes: u64,
}

impl MemoryCache {
    /// A cache with the default settings ([`MemoryCacheOptions::default`]: 64 MiB).
    #[must_use]
    pub fn new() -> Self {
        Self::build_unchecked(MemoryCacheOptions::default())
    }

    /// A builder, to set options one by one.
    pub fn builder() -> MemoryCacheBuilder {
        MemoryCacheBuilder::new()
    }

    /// A cache with these settings.
    ///
    /// # Errors
    /// [`ConfigError::ZeroSize`] when `max_bytes` is zero.
    pub fn with_options(options: MemoryCacheOptions) -> Result<Self, ConfigError> {
        options.validate()?;
        Ok(Self::build_unchecked(options))
    }

    fn build_unchecked(options: MemoryCacheOptions) -> Self {
        let entries = Cache::builder()
            .max_capacity(options.max_bytes)
            .weigher(|key: &EntryKey, entry: &StoredEntry| {
                // Within `u32`: `prepare` refuses heavier entries before they reach the map.
                u32::try_from(weigh(key, entry.value.len())).unwrap_or(u32::MAX)
            })
            .eviction_policy(EvictionPolicy::lru())
            .expire_after(EntryExpiry)
            .build();
        // Locks are not bounded by size: evicting a live lock would hand it to another holder.
        // Every lock carries a lease, so the map only holds locks that are in use.
        let locks = Cache::builder().expire_after(LeaseExpiry).build();
        Self {
            entries,
            locks,
            stripes: Arc::new(KeyStripes::new()),
            max_bytes: options.max_bytes,
        }
    }

    /// The configured bound on the total size of all entries.
    #[must_use]
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The number of entries, as of the last housekeeping (see [`run_pending_tasks`](Self::run_pending_tasks)).
    #[must_use]
    pub fn entry_count(&self) -> u64 {
        self.entries.entry_count()
    }

    /// The total weight of all entries in bytes, as of the last housekeeping.
    #[must_use]
    pub fn weighted_size(&self) -> u64 {
        self.entries.weighted_size()
    }

    /// The number of held locks, as of the last housekeeping.
    #[must_use]
    pub fn lock_count(&self) -> u64 {
        self.locks.entry_count()
    }

    /// Runs the housekeeping moka otherwise does a little at a time during other operations:
    /// evicting expired entries and locks, enforcing the byte bound, updating the counts.
    pub async fn run_pending_tasks(&self) {
        self.entries.run_pending_tasks().await;
        self.locks.run_pending_tasks().await;
    }

    /// Validates the options and the size of a write, and builds the key and entry to store.
    fn prepare(
        &self,
        key: &str,
        value: Bytes,
        options: &EntryOptions,
    ) -> Result<(EntryKey, StoredEntry), CacheError> {
        let expiration: ResolvedExpiration = options.resolve(SystemTime::now())?;
        let map_key = EntryKey::new(key);
        let weight = weigh(&map_key, value.len());
        // moka weighs entries in `u32`; anything heavier than that, or than the whole cache,
        // would be evicted at once, so it is refused instead of silently dropped.
        let limit = self.max_bytes.min(u64::from(u32::MAX));
        if weight > limit {
            return Err(CacheError::PayloadTooLarge {
                size: usize::try_from(weight).unwrap_or(usize::MAX),
                limit: usize::try_from(limit).unwrap_or(usize::MAX),
            });
        }
        let entry = StoredEntry {
            // One copy per write, into the single block the entry keeps (see `StoredEntry`).
            value: Arc::from(value.as_ref()),
            expiration: expiration.into(),
        };
        Ok((map_key, entry))
    }

    /// Whether `condition` holds for `key` right now. Call with the key's stripe held.
    /// `map_key` is `key` as the entry map holds it.
    async fn condition_holds(
        &self,
        map_key: &EntryKey,
        key: &str,
        condition: &WriteCondition,
    ) -> bool {
        match condition {
            WriteCondition::Absent => !self.entries.contains_key(map_key),
            WriteCondition::ValueEquals(expected) => self
                .entries
                .get(map_key)
                .await
                .is_some_and(|entry| *entry.value == **expected),
            WriteCondition::LockHeld(token) => self
                .locks
                .get(key)
                .await
                .is_some_and(|lock| lock.token == *token),
            // `WriteCondition` is non-exhaustive: a condition this version does not know is
            // never assumed to hold.
            _ => false,
        }
    }
}

impl Default for MemoryCache {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryCache")
            .field("max_bytes", &self.max_bytes)
            .field("entry_count", &self.entries.entry_count())
            .field("weighted_size", &self.entries.weighted_size())
            .field("lock_count", &self.locks.entry_count())
            .finish()
    }
}

#[async_trait]
impl DistributedCache for MemoryCache {
    fn cache_type(&self) -> &'static str {
        "memory"
    }

    /// Every operation is a map operation in this process (at most a wait for another write
    /// to the same key), so sessions skip the IO timeout's timer.
    fn performs_io(&self) -> bool {
        false
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        // moka's `get` skips expired entries and calls `EntryExpiry::expire_after_read`, which
        // slides the deadline, in the same operation. The `Bytes` shares the stored block.
        Ok(self
            .entries
            .get(&EntryKey::new(key))
            .await
            .map(|entry| Bytes::from_owner(entry.value)))
    }

    async fn set(&self, key: &str, value: Bytes, options: &EntryOptions) -> Result<(), CacheError> {
        let (map_key, entry) = self.prepare(key, value, options)?;
        let _stripe = self.stripes.lock(key).await;
        self.entries.insert(map_key, entry).await;
        Ok(())
    }

    async fn set_if(
        &self,
        key: &str,
        value: Bytes,
        options: &EntryOptions,
        condition: &WriteCondition,
    ) -> Result<bool, CacheError> {
        let (map_key, entry) = self.prepare(key, value, options)?;
        let _stripe = self.stripes.lock(key).await;
        if !self.condition_holds(&map_key, key, condition).await {
            return Ok(false);
        }
        self.entries.insert(map_key, entry).await;
        Ok(true)
    }

    async fn refresh(&self, key: &str) -> Result<(), CacheError> {
        // A read is what slides an entry in moka; the value handle is dropped right away
        // (cloning the `Arc` only bumps a reference count).
        let _ = self.entries.get(&EntryKey::new(key)).await;
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<(), CacheError> {
        let _stripe = self.stripes.lock(key).await;
        self.entries.invalidate(&EntryKey::new(key)).await;
        Ok(())
    }

    async fn remove_if_equals(&self, key: &str, expected: &Bytes) -> Result<bool, CacheError> {
        // The same stripe and check as `set_if(ValueEquals)`, so no write to the key can land
        // between the comparison and the removal. Cloning `Bytes` only bumps a reference count.
        let map_key = EntryKey::new(key);
        let _stripe = self.stripes.lock(key).await;
        let condition = WriteCondition::ValueEquals(expected.clone());
        if !self.condition_holds(&map_key, key, &condition).await {
            return Ok(false);
        }
        self.entries.invalidate(&map_key).await;
        Ok(true)
    }

    async fn try_lock(
        &self,
        key: &str,
        token: &LockToken,
        lease: Duration,
    ) -> Result<bool, CacheError> {
        let _stripe = self.stripes.lock(key).await;
        if let Some(current) = self.locks.get(key).await
            && current.token != *token
        {
            return Ok(false);
        }
        let lock = Lease {
            token: token.clone(),
            lease,
        };
        self.locks.insert(key.to_owned(), lock).await;
        Ok(true)
    }

    async fn unlock(&self, key: &str, token: &LockToken) -> Result<(), CacheError> {
        let _stripe = self.stripes.lock(key).await;
        if self
            .locks
            .get(key)
            .await
            .is_some_and(|current| current.token == *token)
        {
            self.locks.invalidate(key).await;
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }
}
