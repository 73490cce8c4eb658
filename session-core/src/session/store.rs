//! [`SessionStore`]: what a web integration creates once and asks for a [`Session`] per request.

use std::sync::Arc;

use crate::cache::SharedCache;
use crate::options::SessionOptions;
use crate::session::Session;
use crate::session::local_lock::LocalLocks;
use crate::token::SessionKey;

/// One cache plus one session configuration, shared by every request.
///
/// ```
/// # use session_core::{SessionStore, SessionOptions, SharedCache};
/// fn per_request(store: &SessionStore, cookie_value: Option<&str>) {
///     let session = store.session(cookie_value); // no store call yet: sessions load lazily
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
            }),
        }
    }

    /// The session of one request. `key` is the session key the client sent (already verified
    /// by the web integration, e.g. a signed cookie's value); a missing or malformed key gives a
    /// new, empty session. Makes no store call.
    #[must_use]
    pub fn session(&self, key: Option<&str>) -> Session {
        let parsed = key.and_then(SessionKey::parse);
        if key.is_some() && parsed.is_none() {
            tracing::debug!("malformed session key ignored; starting a new session");
        }
        Session::new(Arc::clone(&self.shared), parsed)
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
