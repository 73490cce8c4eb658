//! The per-request [`Session`].

mod backoff;
mod lifecycle;
mod local_lock;
mod state;
mod store;
mod typed;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::Mutex;

pub use lifecycle::CookieAction;
pub use store::SessionStore;

use crate::cache::SharedCache;
use crate::error::SessionError;
use crate::token::SessionKey;
use state::{Phase, State};
use store::StoreShared;

/// The session of one request: a small key/value dictionary of bytes, stored server-side.
///
/// * **Lazy**: no store call until the first accessor; a request that never touches its
///   session costs nothing.
/// * **Cheap to clone**, `Send + Sync`: clones share one state, so a session can be used from
///   spawned tasks. Accessors are serialised by an internal async mutex.
/// * **Change tracking as ASP.NET Core**: `set` always marks the session modified; `remove` and
///   `clear` only when something was removed.
/// * **End of request** ([`finish`](Self::finish), called by the web integration): modified →
///   written with the idle timeout as sliding expiration; loaded but unmodified → the load already
///   slid the expiry (refreshed again if the request outlived [`REFRESH_SKIP_WINDOW`]); never touched → nothing.
///
/// ```
/// # use std::sync::Arc;
/// # use session_core::{Session, SessionError};
/// async fn count_visits(session: &Session) -> Result<i32, SessionError> {
///     let visits = session.get_i32("visits").await?.unwrap_or(0) + 1;
///     session.set_i32("visits", visits).await?;
///     Ok(visits)
/// }
/// ```
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

pub use lifecycle::REFRESH_SKIP_WINDOW;

struct Inner {
    shared: Arc<StoreShared>,
    state: Mutex<State>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("cache", &self.inner.shared.cache.cache_type())
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn new(shared: Arc<StoreShared>, key: Option<SessionKey>) -> Self {
        Self {
            inner: Arc::new(Inner {
                shared,
                state: Mutex::new(State::new(key)),
            }),
        }
    }

    /// Runs `f` on the loaded state (loading it first if needed).
    async fn with_loaded<T>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, SessionError>,
    ) -> Result<T, SessionError> {
        let mut state = self.inner.state.lock().await;
        lifecycle::ensure_loaded(&self.inner.shared, &mut state).await?;
        f(&mut state)
    }

    /// Loads the session now (it otherwise loads on first access).
    ///
    /// # Errors
    /// [`SessionError::Unavailable`] if the store failed or timed out,
    /// [`SessionError::LockTimeout`] in exclusive mode if the lock was not obtained in time.
    pub async fn load(&self) -> Result<(), SessionError> {
        self.with_loaded(|_| Ok(())).await
    }

    /// Whether the session could be loaded (loads it if needed). When false, every accessor
    /// returns the load error; the handler decides what to do.
    pub async fn is_available(&self) -> bool {
        self.load().await.is_ok()
    }

    /// The session id (the GUID stored *inside* the payload, as .NET's `ISession.Id`; distinct
    /// from the key in the cookie).
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn id(&self) -> Result<String, SessionError> {
        self.with_loaded(|s| Ok(uuid::Uuid::from_bytes_le(s.id).hyphenated().to_string()))
            .await
    }

    /// The keys of all entries, sorted.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn keys(&self) -> Result<Vec<String>, SessionError> {
        self.with_loaded(|s| Ok(s.entries.keys().cloned().collect()))
            .await
    }

    /// The value under `key`.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, SessionError> {
        self.with_loaded(|s| Ok(s.entries.get(key).cloned())).await
    }

    /// Sets `key` to `value` and marks the session modified.
    ///
    /// # Errors
    /// As [`load`](Self::load); [`SessionError::Encode`] for a key over 65,535 bytes;
    /// [`SessionError::Finished`] after the end of the request.
    pub async fn set(
        &self,
        key: impl Into<String>,
        value: impl Into<Bytes>,
    ) -> Result<(), SessionError> {
        let (key, value) = (key.into(), value.into());
        self.with_loaded(|s| {
            s.check_writable()?;
            s.set(key, value)
        })
        .await
    }

    /// Removes `key`, returning its value; marks the session modified only if it existed.
    ///
    /// # Errors
    /// As [`set`](Self::set).
    pub async fn remove(&self, key: &str) -> Result<Option<Bytes>, SessionError> {
        self.with_loaded(|s| {
            s.check_writable()?;
            Ok(s.remove(key))
        })
        .await
    }

    /// Removes every entry (the session and its key live on); marks it modified if it was not empty.
    ///
    /// # Errors
    /// As [`set`](Self::set).
    pub async fn clear(&self) -> Result<(), SessionError> {
        self.with_loaded(|s| {
            s.check_writable()?;
            s.clear();
            Ok(())
        })
        .await
    }

    /// Moves the session to a new key (its data carried over), removing the old entry at the
    /// end of the request: call it when privileges change, e.g. at login, to defeat session
    /// fixation (which ASP.NET Core does not).
    ///
    /// # Errors
    /// As [`set`](Self::set).
    pub async fn renew(&self) -> Result<(), SessionError> {
        self.with_loaded(|s| {
            s.check_writable()?;
            s.renew();
            Ok(())
        })
        .await
    }

    /// Deletes the session: its entry is removed at the end of the request and the client told
    /// to drop the cookie. Later writes in the same request start a brand-new session.
    ///
    /// # Errors
    /// [`SessionError::Finished`] after the end of the request.
    pub async fn purge(&self) -> Result<(), SessionError> {
        let mut state = self.inner.state.lock().await;
        state.check_writable()?;
        state.purge();
        Ok(())
    }

    /// Writes pending changes now instead of at the end of the request (e.g. before streaming a
    /// long response). The session stays usable.
    ///
    /// # Errors
    /// As [`load`](Self::load); [`SessionError::Commit`], [`SessionError::PayloadTooLarge`],
    /// [`SessionError::Conflict`] or [`SessionError::LockLost`] if the write failed (nothing is
    /// written partially).
    pub async fn commit(&self) -> Result<(), SessionError> {
        let mut state = self.inner.state.lock().await;
        state.check_writable()?;
        if matches!(state.phase, Phase::NotLoaded) {
            return Ok(());
        }
        lifecycle::write(&self.inner.shared, &mut state)
            .await
            .map(drop)
    }

    /// Ends the session's request: writes pending changes, refreshes or does nothing as the
    /// type-level docs describe, removes entries retired by [`renew`](Self::renew) /
    /// [`purge`](Self::purge), releases the exclusive-mode lock, and says what to do with the
    /// cookie. For web integrations; later calls do nothing and answer [`CookieAction::Keep`].
    ///
    /// `refresh_untouched`: also refresh a session the request never touched (ASP.NET Core's
    /// behaviour, one round trip per request that carries a cookie).
    ///
    /// # Errors
    /// As [`commit`](Self::commit). The lock is released in every case.
    pub async fn finish(&self, refresh_untouched: bool) -> Result<CookieAction, SessionError> {
        let mut state = self.inner.state.lock().await;
        lifecycle::finish(&self.inner.shared, &mut state, refresh_untouched).await
    }

    /// Whether the request touched the session (loaded it or tried to).
    pub async fn was_accessed(&self) -> bool {
        !matches!(self.inner.state.lock().await.phase, Phase::NotLoaded)
    }

    /// The cache behind this session (for diagnostics such as a ping).
    #[must_use]
    pub fn cache(&self) -> &SharedCache {
        &self.inner.shared.cache
    }
}
