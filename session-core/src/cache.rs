//! The [`DistributedCache`] trait: the one abstraction every store implements.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::entry_options::EntryOptions;
use crate::error::CacheError;
use crate::token::LockToken;

/// What a conditional write ([`DistributedCache::set_if`]) requires of the entry it replaces.
///
/// Conditional writes are how sessions avoid lost updates (see
/// [`ConcurrencyMode`](crate::ConcurrencyMode)); each provider checks the condition and writes in
/// one atomic step (a Lua script in Redis, one statement in SQL Server, one map operation in memory).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteCondition {
    /// Write only if no live entry exists under the key.
    Absent,
    /// Write only if the live entry's value is byte-for-byte this value (compare-and-set).
    ValueEquals(Bytes),
    /// Write only if the lock on the key (see [`DistributedCache::try_lock`]) is held with this
    /// token and its lease has not run out.
    LockHeld(LockToken),
}

/// A key/value store with .NET `IDistributedCache` semantics, used by sessions.
///
/// Implementations must be cheap to share (`Arc<dyn DistributedCache>` is how sessions hold them)
/// and must not apply timeouts of their own beyond their driver's connect and pool timeouts: the
/// session wraps every call in its IO timeout, unless the provider declares with
/// [`performs_io`](Self::performs_io) that it does no I/O.
///
/// Keys are compared case-sensitively. Values are opaque bytes.
///
/// ## Expiry
/// * [`get`](Self::get) returns only live entries, and slides the entry's sliding expiration in
///   the same operation (one round trip where the store allows it).
/// * Sliding never extends an entry past its absolute expiration.
/// * [`refresh`](Self::refresh) slides without reading; it is a no-op for a missing key.
///
/// ## Locks
/// [`try_lock`](Self::try_lock) / [`unlock`](Self::unlock) implement a lease-based lock per key,
/// held in the store itself so that every node sharing the store sees it. Lock state never
/// collides with entries: a lock on `k` is not visible through `get("k")`.
#[async_trait]
pub trait DistributedCache: Send + Sync + fmt::Debug + 'static {
    /// A short name of the cache type for logs and diagnostics (`"memory"`, `"redis"`, `"sqlserver"`).
    fn cache_type(&self) -> &'static str;

    /// Whether operations wait on anything outside this process (a network, a disk). `true` by
    /// default. A provider that answers from its own memory (an in-process map) returns
    /// `false`; sessions then call it without the IO timeout, whose timer would cost more than
    /// the call. Return `false` only if no call can wait on anything but other calls of the
    /// same provider.
    ///
    /// ```
    /// # use session_core::{DistributedCache, SharedCache};
    /// fn timed(cache: &SharedCache) -> bool {
    ///     cache.performs_io() // what a session asks once, when its store is created
    /// }
    /// ```
    fn performs_io(&self) -> bool {
        true
    }

    /// The live value under `key`, sliding its expiration; `None` if missing or expired.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError>;

    /// Stores `value` under `key`, replacing any previous entry, expiring as `options` say.
    async fn set(&self, key: &str, value: Bytes, options: &EntryOptions) -> Result<(), CacheError>;

    /// Like [`set`](Self::set), but only if `condition` holds, checked and applied atomically.
    /// Returns whether the write was applied.
    async fn set_if(
        &self,
        key: &str,
        value: Bytes,
        options: &EntryOptions,
        condition: &WriteCondition,
    ) -> Result<bool, CacheError>;

    /// Slides the expiration of the entry under `key` without reading it; no-op if missing.
    async fn refresh(&self, key: &str) -> Result<(), CacheError>;

    /// Removes the entry under `key`; removing a missing key is not an error.
    async fn remove(&self, key: &str) -> Result<(), CacheError>;

    /// Removes the entry under `key` only if it is live and its value is byte-for-byte
    /// `expected`, checked and applied atomically. Returns whether it was removed (`false`: no
    /// live entry, or a different value, which is left untouched). Sessions use it so that a
    /// logout or renewal never deletes a write it did not see.
    async fn remove_if_equals(&self, key: &str, expected: &Bytes) -> Result<bool, CacheError>;

    /// Takes the lock on `key` with `token` for `lease`, unless another live token holds it.
    /// Returns whether the lock was taken. Taking a lock already held with the same token extends it.
    async fn try_lock(
        &self,
        key: &str,
        token: &LockToken,
        lease: Duration,
    ) -> Result<bool, CacheError>;

    /// Releases the lock on `key` if, and only if, it is held with `token` (a lock that expired and
    /// was taken by someone else is left alone).
    async fn unlock(&self, key: &str, token: &LockToken) -> Result<(), CacheError>;

    /// Checks that the store answers (for diagnostics).
    async fn ping(&self) -> Result<(), CacheError>;
}

/// A shared cache handle, as sessions hold it.
pub type SharedCache = Arc<dyn DistributedCache>;

#[async_trait]
impl<C: DistributedCache + ?Sized> DistributedCache for Arc<C> {
    fn cache_type(&self) -> &'static str {
        (**self).cache_type()
    }
    fn performs_io(&self) -> bool {
        (**self).performs_io()
    }
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        (**self).get(key).await
    }
    async fn set(&self, key: &str, value: Bytes, options: &EntryOptions) -> Result<(), CacheError> {
        (**self).set(key, value, options).await
    }
    async fn set_if(
        &self,
        key: &str,
        value: Bytes,
        options: &EntryOptions,
        condition: &WriteCondition,
    ) -> Result<bool, CacheError> {
        (**self).set_if(key, value, options, condition).await
    }
    async fn refresh(&self, key: &str) -> Result<(), CacheError> {
        (**self).refresh(key).await
    }
    async fn remove(&self, key: &str) -> Result<(), CacheError> {
        (**self).remove(key).await
    }
    async fn remove_if_equals(&self, key: &str, expected: &Bytes) -> Result<bool, CacheError> {
        (**self).remove_if_equals(key, expected).await
    }
    async fn try_lock(
        &self,
        key: &str,
        token: &LockToken,
        lease: Duration,
    ) -> Result<bool, CacheError> {
        (**self).try_lock(key, token, lease).await
    }
    async fn unlock(&self, key: &str, token: &LockToken) -> Result<(), CacheError> {
        (**self).unlock(key, token).await
    }
    async fn ping(&self) -> Result<(), CacheError> {
        (**self).ping().await
    }
}
