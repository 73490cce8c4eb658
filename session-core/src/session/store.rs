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
        self.open_remembered(key, None)
    }

    /// As [`open`](Self::open), for a session the client's (signed) cookie says is remembered
    /// for `lifetime` (see [`Session::remember`]): its commits keep that sliding expiration.
    /// Ignored if the key turns out to be unknown to the store (a new session starts).
    #[must_use]
    pub fn open_remembered(&self, key: Option<&str>, lifetime: Option<Duration>) -> RequestSession {
        let parsed = key.and_then(SessionKey::parse);
        if key.is_some() && parsed.is_none() {
            tracing::debug!("malformed session key ignored; starting a new session");
        }
        Session::open(Arc::clone(&self.shared), parsed, lifetime)
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
