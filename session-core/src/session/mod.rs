//! The per-request [`Session`].

mod backoff;
mod lifecycle;
mod local_lock;
mod state;
mod store;
mod typed;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Mutex;

pub use lifecycle::CookieAction;
pub use store::SessionStore;

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
/// * **Serializable per session** (optimistic and exclusive modes): a commit is a
///   compare-and-set against what the request loaded; if another request committed meanwhile,
///   this request's changes are replayed on the new value only when nothing it read has
///   changed, else the commit fails with a typed conflict ([`SessionError::is_conflict`]).
///   [`update`](Self::update) (and `update_i32`, `update_string`, `update_bytes`) merges
///   read-modify-writes instead of failing.
/// * **End of request** ([`RequestSession::finish`], called by the web integration): modified →
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

/// The session of one request as its web integration holds it: it hands the [`Session`] to
/// handlers and ends the request with [`finish`](Self::finish). Handlers never see this type,
/// so they cannot end the request's session or reach its cache.
///
/// Dereferences to the [`Session`] it owns.
#[derive(Debug)]
pub struct RequestSession {
    session: Session,
}

impl RequestSession {
    /// The request's session, for handlers (clones share one state).
    #[must_use]
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Ends the session's request: writes pending changes, refreshes or does nothing as
    /// [`Session`] describes, removes an entry retired by [`renew`](Session::renew) /
    /// [`purge`](Session::purge), releases the exclusive-mode lock, and says what to do with
    /// the cookie. Later calls do nothing and answer [`CookieAction::Keep`].
    ///
    /// `refresh_untouched`: also refresh a session the request never touched (ASP.NET Core's
    /// behaviour, one round trip per request that carries a cookie).
    ///
    /// # Errors
    /// As [`Session::commit`]; also the error of any commit that failed during the request,
    /// and of a write refused because the session could not be loaded (the response must not
    /// claim success). The lock is released in every case.
    pub async fn finish(&self, refresh_untouched: bool) -> Result<CookieAction, SessionError> {
        let mut state = self.session.inner.state.lock().await;
        lifecycle::finish(&self.session.inner.shared, &mut state, refresh_untouched).await
    }

    /// After [`finish`](Self::finish) (or a commit) failed: a session key the client must
    /// still be sent, with the error response. Set only when a renewal removed the old entry
    /// and then got no answer to the write of the session under its new key, which may have
    /// happened: without the new key the client could not reach it. The renewal itself is not
    /// acknowledged (the response is an error). A renewal never leaves both keys live: the old
    /// entry is removed first, so an unanswered call can end the session (as a logout would),
    /// never fork it.
    pub async fn key_after_failure(&self) -> Option<SessionKey> {
        self.session.inner.state.lock().await.moved_to.clone()
    }

    /// The session's remembered lifetime (see [`Session::remember`]) and whether it changed in
    /// this request (the cookie must then be sent again). Read after [`finish`](Self::finish).
    pub async fn lifetime(&self) -> (Option<Duration>, bool) {
        let state = self.session.inner.state.lock().await;
        (state.lifetime, state.lifetime_changed)
    }

    /// Whether the session is stored under the key the client holds, as far as this request
    /// knows without a store call: it was loaded (or written) and not purged. A web
    /// integration re-sends a persistent cookie only for such a session.
    pub async fn is_stored(&self) -> bool {
        let state = self.session.inner.state.lock().await;
        state.origin.is_some() && !state.purged
    }

    /// Whether the request touched the session (loaded it or tried to).
    pub async fn was_accessed(&self) -> bool {
        !matches!(
            self.session.inner.state.lock().await.phase,
            Phase::NotLoaded
        )
    }
}

impl std::ops::Deref for RequestSession {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.session
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("cache", &self.inner.shared.cache.cache_type())
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn open(
        shared: Arc<StoreShared>,
        key: Option<SessionKey>,
        lifetime: Option<Duration>,
    ) -> RequestSession {
        RequestSession {
            session: Self {
                inner: Arc::new(Inner {
                    shared,
                    state: Mutex::new(State::new(key, lifetime)),
                }),
            },
        }
    }

    /// Runs `f` on the loaded state (loading it first if needed).
    async fn with_loaded<T>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, SessionError>,
    ) -> Result<T, SessionError> {
        let mut state = self.inner.state.lock().await;
        state.check_poison()?;
        lifecycle::ensure_loaded(&self.inner.shared, &mut state).await?;
        f(&mut state)
    }

    /// Runs the change `f` on the loaded state. A change that cannot be made because the
    /// session could not be loaded poisons the session: the end of the request then fails too,
    /// so a handler that ignored the error cannot answer as if its write was stored.
    async fn with_writable<T>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, SessionError>,
    ) -> Result<T, SessionError> {
        let mut state = self.inner.state.lock().await;
        state.check_writable()?;
        if let Err(error) = lifecycle::ensure_loaded(&self.inner.shared, &mut state).await {
            state.poisoned = Some(error.clone());
            return Err(error);
        }
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
        self.with_loaded(|s| Ok(s.read_keys())).await
    }

    /// The raw bytes under `key` (for typed values use `get`, `get_string` or `get_i32`).
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn get_bytes(&self, key: &str) -> Result<Option<Bytes>, SessionError> {
        self.with_loaded(|s| Ok(s.read(key))).await
    }

    /// Sets `key` to the raw bytes `value` and marks the session modified (for typed values use
    /// `insert`, `set_string` or `set_i32`).
    ///
    /// # Errors
    /// As [`load`](Self::load); [`SessionError::Encode`] for a key over 65,535 bytes;
    /// [`SessionError::Finished`] after the end of the request.
    pub async fn insert_bytes(
        &self,
        key: impl Into<String>,
        value: impl Into<Bytes>,
    ) -> Result<(), SessionError> {
        let (key, value) = (key.into(), value.into());
        self.with_writable(|s| s.set(key, value)).await
    }

    /// Removes `key`, returning its value; marks the session modified only if it existed.
    ///
    /// # Errors
    /// As [`insert_bytes`](Self::insert_bytes).
    pub async fn remove(&self, key: &str) -> Result<Option<Bytes>, SessionError> {
        self.with_writable(|s| Ok(s.remove(key))).await
    }

    /// Removes every entry (the session and its key live on); marks it modified if it was not empty.
    ///
    /// # Errors
    /// As [`insert_bytes`](Self::insert_bytes).
    pub async fn clear(&self) -> Result<(), SessionError> {
        self.with_writable(|s| {
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
    /// As [`insert_bytes`](Self::insert_bytes).
    pub async fn renew(&self) -> Result<(), SessionError> {
        self.with_writable(|s| {
            s.renew();
            Ok(())
        })
        .await
    }

    /// Remembers this session for `lifetime` ("remember me", typically at login): its entry is
    /// written with `lifetime` as sliding expiration instead of the idle timeout, and the web
    /// integration sends a persistent cookie that lasts as long (session-actix re-sends it
    /// whenever less than half of its life remains, on requests that use the session, so it
    /// never expires while the session is in use). The choice is carried by the signed cookie
    /// to the session's later requests, survives [`renew`](Self::renew) and ends with
    /// [`purge`](Self::purge) or [`stop_remembering`](Self::stop_remembering).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use session_core::{Session, SessionError};
    /// async fn login(session: &Session, user: &str, remember_me: bool) -> Result<(), SessionError> {
    ///     session.renew().await?; // a new key at every privilege change
    ///     session.set_string("user", user).await?;
    ///     if remember_me {
    ///         session.remember(Duration::from_secs(30 * 24 * 3600)).await?;
    ///     }
    ///     Ok(())
    /// }
    /// ```
    ///
    /// # Errors
    /// [`SessionError::InvalidLifetime`] unless `lifetime` is between one second and
    /// [`MAX_REMEMBER`](crate::MAX_REMEMBER) (browsers cap cookie lifetimes at 400 days);
    /// otherwise as [`insert_bytes`](Self::insert_bytes).
    pub async fn remember(&self, lifetime: Duration) -> Result<(), SessionError> {
        if lifetime < Duration::from_secs(1) || lifetime > crate::MAX_REMEMBER {
            return Err(SessionError::InvalidLifetime(lifetime));
        }
        self.with_writable(|s| {
            s.set_lifetime(Some(lifetime));
            Ok(())
        })
        .await
    }

    /// Ends [`remember`](Self::remember): the session expires after the idle timeout again and
    /// its cookie lasts until the browser closes.
    ///
    /// # Errors
    /// As [`insert_bytes`](Self::insert_bytes).
    pub async fn stop_remembering(&self) -> Result<(), SessionError> {
        self.with_writable(|s| {
            s.set_lifetime(None);
            Ok(())
        })
        .await
    }

    /// A short, non-reversible fingerprint of the session key: the first 8 bytes of its
    /// SHA-256, in hex (16 characters). For logs and diagnostics, where the key itself must
    /// never appear (it is the bearer credential); it changes with [`renew`](Self::renew),
    /// which makes a renewal visible. `None` for a new session whose key is drawn at load
    /// (call it after an accessor). Makes no store call.
    ///
    /// ```
    /// # use session_core::Session;
    /// async fn log_session(session: &Session) {
    ///     if let Some(fingerprint) = session.key_fingerprint().await {
    ///         tracing::info!(session = %fingerprint, "request served");
    ///     }
    /// }
    /// ```
    pub async fn key_fingerprint(&self) -> Option<String> {
        let state = self.inner.state.lock().await;
        state.key.as_ref().map(SessionKey::fingerprint)
    }

    /// The lifetime this session is remembered for, if [`remember`](Self::remember)ed.
    /// Makes no store call.
    pub async fn remembered(&self) -> Option<Duration> {
        self.inner.state.lock().await.lifetime
    }

    /// Deletes the session: its entry is removed at the end of the request (only if it is still
    /// what this request loaded, see below) and the client told to drop the cookie. Later
    /// writes in the same request start a brand-new session under a new key.
    ///
    /// Loads the session first (and so, in exclusive mode, takes its lock like any write): the
    /// removal is conditional on the stored entry being the one this request saw, so a purge
    /// never deletes a concurrent write it did not see without re-checking what it read. After
    /// a purge is stored, the key never serves data again: a request still holding it that
    /// tries to commit fails with [`SessionError::SessionEnded`].
    ///
    /// # Errors
    /// As [`insert_bytes`](Self::insert_bytes).
    pub async fn purge(&self) -> Result<(), SessionError> {
        self.with_writable(|s| {
            s.purge();
            Ok(())
        })
        .await
    }

    /// Applies `f` to the current value of `key` and **commits at once**, returning the value
    /// stored. If another request changed the session since this one loaded it, `f` is applied
    /// again to the value that request stored (a merge, never a lost update): use it for
    /// read-modify-writes such as counters, which then never conflict. `f` must be a pure
    /// function of its argument, since it may run more than once.
    ///
    /// Commits (one store round trip) every change this request made so far, like
    /// [`commit`](Self::commit). Typed forms: `update` (any serde type as JSON, feature
    /// `serde`), [`update_i32`](Self::update_i32) and [`update_string`](Self::update_string).
    ///
    /// ```
    /// # use bytes::Bytes;
    /// # use session_core::{Session, SessionError};
    /// async fn append_visit(session: &Session) -> Result<Bytes, SessionError> {
    ///     session
    ///         .update_bytes("trail", |current: Option<&Bytes>| {
    ///             let mut trail = current.map(|b| b.to_vec()).unwrap_or_default();
    ///             trail.push(b'.');
    ///             Ok(Bytes::from(trail))
    ///         })
    ///         .await
    /// }
    /// ```
    ///
    /// # Errors
    /// As [`commit`](Self::commit), and any error `f` returns.
    pub async fn update_bytes<F>(&self, key: impl Into<String>, f: F) -> Result<Bytes, SessionError>
    where
        F: Fn(Option<&Bytes>) -> Result<Bytes, SessionError> + Send + Sync + 'static,
    {
        let key = key.into();
        let mut state = self.inner.state.lock().await;
        state.check_writable()?;
        if let Err(error) = lifecycle::ensure_loaded(&self.inner.shared, &mut state).await {
            state.poisoned = Some(error.clone());
            return Err(error);
        }
        let computed = state.update(key.clone(), Arc::new(f))?;
        lifecycle::write(&self.inner.shared, &mut state).await?;
        Ok(state.entries.get(&key).cloned().unwrap_or(computed))
    }

    /// Writes pending changes now instead of at the end of the request (e.g. before streaming a
    /// long response). The session stays usable.
    ///
    /// # Errors
    /// As [`load`](Self::load); [`SessionError::Commit`], [`SessionError::PayloadTooLarge`],
    /// [`SessionError::Conflict`], [`SessionError::StaleRead`] or [`SessionError::SessionEnded`]
    /// if the write failed (nothing is written partially). After a failed commit the session
    /// is poisoned: every later call, and the end of the request, answers the same error.
    pub async fn commit(&self) -> Result<(), SessionError> {
        let mut state = self.inner.state.lock().await;
        state.check_writable()?;
        lifecycle::write(&self.inner.shared, &mut state)
            .await
            .map(drop)
    }
}
