//! [`SessionStore`]: what a web integration creates once and asks for a [`Session`] per request.

use std::sync::Arc;
use std::time::Duration;

use crate::cache::SharedCache;
use crate::options::SessionOptions;
use crate::session::local_lock::LocalLocks;
use crate::session::{RequestSession, Session};
use crate::token::SessionKey;

/// One cache plus one session configuration, shared by every request.
///
/// ```
/// # use session_core::{SessionStore, SessionOptions, SharedCache};
/// fn per_request(store: &SessionStore, cookie_value: Option<&str>) {
///     let session = store.open(cookie_value); // no store call yet: sessions load lazily
///     # let _ = session;
/// }
/// ```
#[derive(Debug, Clone)]
pub struct SessionStore {
    pub(crate) shared: Arc<StoreShared>,
}

#[derive(Debug)]
pub(crate) struct StoreShared {
    pub(crate) cache: SharedCache,
    pub(crate) options: SessionOptions,
    /// The limit on each store call of a session: `options.io_timeout`, or none for a cache
    /// that does no I/O ([`DistributedCache::performs_io`](crate::DistributedCache::performs_io)),
    /// decided once here rather than asked on every call.
    pub(crate) call_timeout: Option<std::time::Duration>,
    /// Exclusive mode's per-key wait queues on this node.
    pub(crate) local_locks: Arc<LocalLocks>,
    /// Optimistic mode's per-key commit turns on this node: requests of one session on one
    /// node commit one after the other, so only requests on *other* nodes can make a commit
    /// conflict. Without the turns, many concurrent writers of one hot session on one node
    /// keep invalidating each other's re-read between its `get` and its `set_if`; under CPU
    /// pressure (a slow window) an unlucky request can then lose every retry and fail with
    /// `Conflict`. A separate map from `local_locks`, because an exclusive-mode request holds
    /// its queue position for the whole request.
    pub(crate) commit_turns: Arc<LocalLocks>,
}

impl SessionStore {
    /// A store over `cache` with validated `options` (see [`SessionOptions::builder`]).
    #[must_use]
    pub fn new(cache: SharedCache, options: SessionOptions) -> Self {
        Self {
            shared: Arc::new(StoreShared {
                call_timeout: options.io_timeout.filter(|_| cache.performs_io()),
                cache,
                options,
                local_locks: Arc::default(),
                commit_turns: Arc::default(),
            }),
        }
    }

    /// Opens the session of one request. `key` is the session key the client sent (already
    /// verified by the web integration, e.g. a signed cookie's value); a missing or malformed
    /// key gives a new, empty session. Makes no store call.
    #[must_use]
    pub fn open(&self, key: Option<&str>) -> RequestSession {
        let parsed = key.and_then(SessionKey::parse);
        if key.is_some() && parsed.is_none() {
            tracing::debug!("malformed session key ignored; starting a new session");
        }
        self.open_key(parsed, None)
    }

    /// Like [`open`](Self::open), for a key the web integration already holds as a
    /// [`SessionKey`] (say, from verifying its cookie): no second parse, no copy. `remembered`:
    /// the lifetime the client's (signed) cookie says the session is remembered for (see
    /// [`Session::remember`]); its commits keep that sliding expiration. Ignored if the key
    /// turns out to be unknown to the store (a new session starts).
    ///
    /// ```
    /// # use session_core::{SessionKey, SessionStore};
    /// fn per_request(store: &SessionStore, verified: Option<SessionKey>) {
    ///     let session = store.open_key(verified, None); // no store call yet
    ///     # let _ = session;
    /// }
    /// ```
    #[must_use]
    pub fn open_key(
        &self,
        key: Option<SessionKey>,
        remembered: Option<Duration>,
    ) -> RequestSession {
        Session::open(Arc::clone(&self.shared), key, remembered)
    }

    /// The cache behind this store.
    #[must_use]
    pub fn cache(&self) -> &SharedCache {
        &self.shared.cache
    }

    /// The session options.
    #[must_use]
    pub fn options(&self) -> &SessionOptions {
        &self.shared.options
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use async_trait::async_trait;
    use bytes::Bytes;

    use super::*;
    use crate::{CacheError, DistributedCache, EntryOptions, LockToken, WriteCondition};

    /// A cache that only answers what a store asks at creation.
    #[derive(Debug)]
    struct Declares {
        io: bool,
    }

    #[async_trait]
    impl DistributedCache for Declares {
        fn cache_type(&self) -> &'static str {
            "declares"
        }
        fn performs_io(&self) -> bool {
            self.io
        }
        async fn get(&self, _: &str) -> Result<Option<Bytes>, CacheError> {
            unreachable!("not called")
        }
        async fn set(&self, _: &str, _: Bytes, _: &EntryOptions) -> Result<(), CacheError> {
            unreachable!("not called")
        }
        async fn set_if(
            &self,
            _: &str,
            _: Bytes,
            _: &EntryOptions,
            _: &WriteCondition,
        ) -> Result<bool, CacheError> {
            unreachable!("not called")
        }
        async fn refresh(&self, _: &str) -> Result<(), CacheError> {
            unreachable!("not called")
        }
        async fn remove(&self, _: &str) -> Result<(), CacheError> {
            unreachable!("not called")
        }
        async fn remove_if_equals(&self, _: &str, _: &Bytes) -> Result<bool, CacheError> {
            unreachable!("not called")
        }
        async fn try_lock(&self, _: &str, _: &LockToken, _: Duration) -> Result<bool, CacheError> {
            unreachable!("not called")
        }
        async fn unlock(&self, _: &str, _: &LockToken) -> Result<(), CacheError> {
            unreachable!("not called")
        }
        async fn ping(&self) -> Result<(), CacheError> {
            unreachable!("not called")
        }
    }

    #[test]
    fn store_calls_are_timed_only_for_caches_that_do_io() {
        let options = SessionOptions::builder()
            .io_timeout(Some(Duration::from_secs(3)))
            .build()
            .unwrap();
        let timed = SessionStore::new(Arc::new(Declares { io: true }), options.clone());
        assert_eq!(timed.shared.call_timeout, Some(Duration::from_secs(3)));
        // Through an `Arc` too: the blanket implementation forwards the declaration.
        let inner: SharedCache = Arc::new(Declares { io: false });
        let untimed = SessionStore::new(Arc::new(inner), options);
        assert_eq!(untimed.shared.call_timeout, None);
    }
}
