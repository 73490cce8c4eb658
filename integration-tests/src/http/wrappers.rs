//! Cache wrappers the HTTP suite uses to observe or break a real cache: [`CountingCache`]
//! counts calls, [`FailingCache`] fails every call, [`StallingCache`] never answers.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use session_core::{
    CacheError, DistributedCache, EntryOptions, LockToken, SharedCache, WriteCondition,
};

/// Text inside every error [`FailingCache`] returns; a response body containing it would leak
/// the cause of a failure to the client.
pub const INJECTED_FAILURE_MARKER: &str = "secret-injected-cause";

/// The cache operations, for [`CallCounts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Get,
    Set,
    SetIf,
    Refresh,
    Remove,
    RemoveIfEquals,
    TryLock,
    Unlock,
    Ping,
}

impl Op {
    const ALL: [Op; 9] = [
        Op::Get,
        Op::Set,
        Op::SetIf,
        Op::Refresh,
        Op::Remove,
        Op::RemoveIfEquals,
        Op::TryLock,
        Op::Unlock,
        Op::Ping,
    ];

    fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Set => "set",
            Op::SetIf => "set_if",
            Op::Refresh => "refresh",
            Op::Remove => "remove",
            Op::RemoveIfEquals => "remove_if_equals",
            Op::TryLock => "try_lock",
            Op::Unlock => "unlock",
            Op::Ping => "ping",
        }
    }
}

/// How many times each operation of a [`CountingCache`] was called.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCounts {
    /// `get` calls.
    pub get: usize,
    /// `set` calls.
    pub set: usize,
    /// `set_if` calls.
    pub set_if: usize,
    /// `refresh` calls.
    pub refresh: usize,
    /// `remove` calls.
    pub remove: usize,
    /// `remove_if_equals` calls.
    pub remove_if_equals: usize,
    /// `try_lock` calls.
    pub try_lock: usize,
    /// `unlock` calls.
    pub unlock: usize,
    /// `ping` calls.
    pub ping: usize,
}

impl CallCounts {
    /// All calls together.
    #[must_use]
    pub fn total(&self) -> usize {
        self.get
            + self.set
            + self.set_if
            + self.refresh
            + self.remove
            + self.remove_if_equals
            + self.try_lock
            + self.unlock
            + self.ping
    }
}

/// A real cache that counts the calls made to it, per operation.
pub struct CountingCache {
    inner: SharedCache,
    counters: [AtomicUsize; Op::ALL.len()],
}

impl CountingCache {
    /// Counts the calls made to `inner`.
    #[must_use]
    pub fn new(inner: SharedCache) -> Arc<Self> {
        Arc::new(Self {
            inner,
            counters: Default::default(),
        })
    }

    /// The counts so far.
    #[must_use]
    pub fn counts(&self) -> CallCounts {
        let n = |op: Op| self.counters[op as usize].load(Ordering::SeqCst);
        CallCounts {
            get: n(Op::Get),
            set: n(Op::Set),
            set_if: n(Op::SetIf),
            refresh: n(Op::Refresh),
            remove: n(Op::Remove),
            remove_if_equals: n(Op::RemoveIfEquals),
            try_lock: n(Op::TryLock),
            unlock: n(Op::Unlock),
            ping: n(Op::Ping),
        }
    }

    /// Sets every count back to zero.
    pub fn reset(&self) {
        for counter in &self.counters {
            counter.store(0, Ordering::SeqCst);
        }
    }

    fn count(&self, op: Op) {
        self.counters[op as usize].fetch_add(1, Ordering::SeqCst);
    }
}

impl fmt::Debug for CountingCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingCache")
            .field("inner", &self.inner.cache_type())
            .field("counts", &self.counts())
            .finish()
    }
}

#[async_trait]
impl DistributedCache for CountingCache {
    fn cache_type(&self) -> &'static str {
        self.inner.cache_type()
    }
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        self.count(Op::Get);
        self.inner.get(key).await
    }
    async fn set(&self, key: &str, value: Bytes, options: &EntryOptions) -> Result<(), CacheError> {
        self.count(Op::Set);
        self.inner.set(key, value, options).await
    }
    async fn set_if(
        &self,
        key: &str,
        value: Bytes,
        options: &EntryOptions,
        condition: &WriteCondition,
    ) -> Result<bool, CacheError> {
        self.count(Op::SetIf);
        self.inner.set_if(key, value, options, condition).await
    }
    async fn refresh(&self, key: &str) -> Result<(), CacheError> {
        self.count(Op::Refresh);
        self.inner.refresh(key).await
    }
    async fn remove(&self, key: &str) -> Result<(), CacheError> {
        self.count(Op::Remove);
        self.inner.remove(key).await
    }
    async fn remove_if_equals(&self, key: &str, expected: &Bytes) -> Result<bool, CacheError> {
        self.count(Op::RemoveIfEquals);
        self.inner.remove_if_equals(key, expected).await
    }
    async fn try_lock(
        &self,
        key: &str,
        token: &LockToken,
        lease: Duration,
    ) -> Result<bool, CacheError> {
        self.count(Op::TryLock);
        self.inner.try_lock(key, token, lease).await
    }
    async fn unlock(&self, key: &str, token: &LockToken) -> Result<(), CacheError> {
        self.count(Op::Unlock);
        self.inner.unlock(key, token).await
    }
    async fn ping(&self) -> Result<(), CacheError> {
        self.count(Op::Ping);
        self.inner.ping().await
    }
}

/// The driver-level cause of every [`FailingCache`] error.
#[derive(Debug, thiserror::Error)]
#[error("connection reset by the store ({INJECTED_FAILURE_MARKER})")]
pub struct InjectedFailure;

/// A real cache behind a broken connection: every call fails with a backend error whose
/// cause contains [`INJECTED_FAILURE_MARKER`]. It keeps the wrapped cache's type name.
#[derive(Debug)]
pub struct FailingCache {
    inner: SharedCache,
}

impl FailingCache {
    /// Fails every call that would have gone to `inner`.
    #[must_use]
    pub fn new(inner: SharedCache) -> Arc<Self> {
        Arc::new(Self { inner })
    }

    fn fail<T>(op: Op) -> Result<T, CacheError> {
        Err(CacheError::backend(op.name(), InjectedFailure))
    }
}

#[async_trait]
impl DistributedCache for FailingCache {
    fn cache_type(&self) -> &'static str {
        self.inner.cache_type()
    }
    async fn get(&self, _: &str) -> Result<Option<Bytes>, CacheError> {
        Self::fail(Op::Get)
    }
    async fn set(&self, _: &str, _: Bytes, _: &EntryOptions) -> Result<(), CacheError> {
        Self::fail(Op::Set)
    }
    async fn set_if(
        &self,
        _: &str,
        _: Bytes,
        _: &EntryOptions,
        _: &WriteCondition,
    ) -> Result<bool, CacheError> {
        Self::fail(Op::SetIf)
    }
    async fn refresh(&self, _: &str) -> Result<(), CacheError> {
        Self::fail(Op::Refresh)
    }
    async fn remove(&self, _: &str) -> Result<(), CacheError> {
        Self::fail(Op::Remove)
    }
    async fn remove_if_equals(&self, _: &str, _: &Bytes) -> Result<bool, CacheError> {
        Self::fail(Op::RemoveIfEquals)
    }
    async fn try_lock(&self, _: &str, _: &LockToken, _: Duration) -> Result<bool, CacheError> {
        Self::fail(Op::TryLock)
    }
    async fn unlock(&self, _: &str, _: &LockToken) -> Result<(), CacheError> {
        Self::fail(Op::Unlock)
    }
    async fn ping(&self) -> Result<(), CacheError> {
        Self::fail(Op::Ping)
    }
}

/// A real cache behind a hung connection: no call ever completes (only the session's IO
/// timeout ends them). It keeps the wrapped cache's type name.
#[derive(Debug)]
pub struct StallingCache {
    inner: SharedCache,
}

impl StallingCache {
    /// Stalls every call that would have gone to `inner`.
    #[must_use]
    pub fn new(inner: SharedCache) -> Arc<Self> {
        Arc::new(Self { inner })
    }

    async fn stall<T>() -> T {
        std::future::pending().await
    }
}

#[async_trait]
impl DistributedCache for StallingCache {
    fn cache_type(&self) -> &'static str {
        self.inner.cache_type()
    }
    async fn get(&self, _: &str) -> Result<Option<Bytes>, CacheError> {
        Self::stall().await
    }
    async fn set(&self, _: &str, _: Bytes, _: &EntryOptions) -> Result<(), CacheError> {
        Self::stall().await
    }
    async fn set_if(
        &self,
        _: &str,
        _: Bytes,
        _: &EntryOptions,
        _: &WriteCondition,
    ) -> Result<bool, CacheError> {
        Self::stall().await
    }
    async fn refresh(&self, _: &str) -> Result<(), CacheError> {
        Self::stall().await
    }
    async fn remove(&self, _: &str) -> Result<(), CacheError> {
        Self::stall().await
    }
    async fn remove_if_equals(&self, _: &str, _: &Bytes) -> Result<bool, CacheError> {
        Self::stall().await
    }
    async fn try_lock(&self, _: &str, _: &LockToken, _: Duration) -> Result<bool, CacheError> {
        Self::stall().await
    }
    async fn unlock(&self, _: &str, _: &LockToken) -> Result<(), CacheError> {
        Self::stall().await
    }
    async fn ping(&self) -> Result<(), CacheError> {
        Self::stall().await
    }
}
