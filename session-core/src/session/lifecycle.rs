//! The I/O of a session: lazy load (with exclusive mode's lock), commit (with optimistic
//! mode's compare-and-set and replay) and the end-of-request decision.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::Instrument;

use crate::cache::WriteCondition;
use crate::codec;
use crate::entry_options::EntryOptions;
use crate::error::{CacheError, SessionError};
use crate::options::ConcurrencyMode;
use crate::token::{LockToken, SessionKey};

use super::backoff::Backoff;
use super::state::{HeldLock, LoadFailure, Phase, State};
use super::store::StoreShared;

/// A load slides the entry's expiry in the same round trip, so a refresh right after it would
/// move the deadline by almost nothing. Skipping it within this window is what makes a
/// read-only request cost one store round trip instead of two.
pub const REFRESH_SKIP_WINDOW: Duration = Duration::from_secs(1);

/// What the web integration must do with the session cookie after [`Session::finish`](crate::Session::finish).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CookieAction {
    /// Leave the client's cookie as it is (or send none).
    #[default]
    Keep,
    /// Send this (new) session key; the response should not be cached.
    Set(SessionKey),
    /// Tell the client to delete its cookie (the session was purged).
    Remove,
}

/// Runs one store call under the IO timeout. Every store call of a session goes through here.
pub(crate) async fn io<T>(
    shared: &StoreShared,
    operation: &'static str,
    call: impl Future<Output = Result<T, CacheError>>,
) -> Result<T, CacheError> {
    match shared.options.io_timeout {
        Some(after) => tokio::time::timeout(after, call)
            .await
            .unwrap_or(Err(CacheError::Timeout { operation, after })),
        None => call.await,
    }
}

/// Loads the session on first access. A request with no key starts a new session without any
/// store call (a fresh 128-bit key cannot exist in the store).
pub(crate) async fn ensure_loaded(
    shared: &StoreShared,
    state: &mut State,
) -> Result<(), SessionError> {
    match &state.phase {
        Phase::Loaded { .. } => return Ok(()),
        Phase::Failed(failure) => return Err(failure.to_error()),
        Phase::NotLoaded => {}
    }
    let Some(key) = state.key.clone() else {
        state.start_new();
        return Ok(());
    };
    let span = tracing::debug_span!("session.load", cache = shared.cache.cache_type(), key = %key);
    let started = Instant::now();
    load_existing(shared, state, key).instrument(span).await;
    tracing::debug!(
        cache = shared.cache.cache_type(),
        elapsed_us = started.elapsed().as_micros() as u64,
        "session loaded"
    );
    match &state.phase {
        Phase::Failed(failure) => Err(failure.to_error()),
        _ => Ok(()),
    }
}

async fn load_existing(shared: &StoreShared, state: &mut State, key: SessionKey) {
    if shared.options.concurrency == ConcurrencyMode::Exclusive {
        match acquire_lock(shared, &key).await {
            Ok(lock) => state.lock = Some(lock),
            Err(failure) => {
                tracing::warn!(?failure, "session lock not acquired");
                state.phase = Phase::Failed(failure);
                return;
            }
        }
    }
    match io(shared, "get", shared.cache.get(key.as_str())).await {
        Ok(Some(stored)) => state.install(stored),
        Ok(None) => {
            // Expired or unknown: start over under a new key rather than adopt a key the store
            // does not know (no fixation on a dead key), and free its lock at once.
            tracing::debug!("session key not in store; starting a new session");
            release_lock(shared, state).await;
            state.start_new();
        }
        Err(error) => {
            tracing::warn!(%error, "session load failed");
            release_lock(shared, state).await;
            state.phase = Phase::Failed(LoadFailure::Cache(Arc::new(error)));
        }
    }
}

/// Exclusive mode: waits in this node's queue for the key, then polls the store lock with
/// jittered backoff (`backoff`), all within `lock_wait`.
async fn acquire_lock(shared: &StoreShared, key: &SessionKey) -> Result<HeldLock, LoadFailure> {
    let options = &shared.options;
    let wait = options.lock_wait;
    let deadline = Instant::now() + wait;
    let local = shared
        .local_locks
        .acquire(key.as_str(), wait)
        .await
        .ok_or(LoadFailure::LockTimeout(wait))?;
    let token = LockToken::generate();
    let mut backoff = Backoff::new();
    loop {
        let attempt_at = Instant::now();
        let taken = io(
            shared,
            "try_lock",
            shared
                .cache
                .try_lock(key.as_str(), &token, options.lock_lease),
        )
        .await
        .map_err(|e| LoadFailure::Cache(Arc::new(e)))?;
        if taken {
            return Ok(HeldLock {
                key: key.clone(),
                token,
                acquired: attempt_at,
                cache: Arc::clone(&shared.cache),
                released: false,
                _local: local,
            });
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(LoadFailure::LockTimeout(wait));
        }
        // Jitter keeps the heads of several nodes' queues from polling in lockstep.
        backoff.sleep(Some(deadline - now)).await;
    }
}

/// Releases the exclusive-mode lock, if held. A failed unlock is only logged: the lease
/// bounds how long the stale lock can block others.
pub(crate) async fn release_lock(shared: &StoreShared, state: &mut State) {
    if let Some(mut lock) = state.lock.take() {
        if let Err(error) = io(
            shared,
            "unlock",
            shared.cache.unlock(lock.key.as_str(), &lock.token),
        )
        .await
        {
            tracing::warn!(%error, "session unlock failed; the lock expires with its lease");
        }
        lock.released = true;
    }
}

/// Writes pending changes, if any. Returns whether anything was written.
pub(crate) async fn write(shared: &StoreShared, state: &mut State) -> Result<bool, SessionError> {
    if !state.modified {
        return Ok(false);
    }
    let (Phase::Loaded { .. }, Some(key)) = (&state.phase, state.key.clone()) else {
        return Ok(false);
    };
    let options = &shared.options;
    let entry_options = EntryOptions::sliding(options.idle_timeout);
    let span =
        tracing::debug_span!("session.commit", cache = shared.cache.cache_type(), key = %key);
    let started = Instant::now();
    let mut attempts = 0;
    let mut backoff = Backoff::new();
    let result = async {
        // Optimistic mode: wait for this node's turn on the key (see `StoreShared::commit_turns`).
        // Exclusive-mode requests are serialised by their lock already; last-write-wins commits
        // are unconditional, so there is no conflict to avoid.
        let needs_turn =
            state.lock.is_none() && options.concurrency != ConcurrencyMode::LastWriteWins;
        let _turn = if needs_turn {
            Some(
                shared
                    .commit_turns
                    .acquire(key.as_str(), options.lock_wait)
                    .await
                    .ok_or(SessionError::LockTimeout(options.lock_wait))?,
            )
        } else {
            None
        };
        loop {
            attempts += 1;
            let payload = encode(state, options.max_payload_bytes)?;
            let condition = write_condition(state, &key, options.concurrency);
            if lease_expired(state, options.lock_lease) {
                // The store would refuse it too; refusing here saves the round trip and does
                // not depend on the store's clock agreeing with ours.
                return Err(SessionError::LockLost);
            }
            let applied = match &condition {
                // Last-write-wins: a plain `set` (the store may offer no conditional write).
                None => io(
                    shared,
                    "set",
                    shared
                        .cache
                        .set(key.as_str(), payload.clone(), &entry_options),
                )
                .await
                .map(|()| true),
                Some(condition) => {
                    io(
                        shared,
                        "set_if",
                        shared.cache.set_if(
                            key.as_str(),
                            payload.clone(),
                            &entry_options,
                            condition,
                        ),
                    )
                    .await
                }
            }
            .map_err(SessionError::Commit)?;
            if applied {
                state.committed(payload);
                state.key_written = true;
                return Ok(true);
            }
            if matches!(condition, Some(WriteCondition::LockHeld(_))) {
                return Err(SessionError::LockLost);
            }
            if attempts >= options.max_commit_attempts {
                return Err(SessionError::Conflict(attempts));
            }
            // Another request committed since we loaded: take its result and replay ours on top.
            // Wait a little first: the requests that lost this race would otherwise re-read and
            // retry together and collide again (see `backoff`).
            tracing::debug!(attempts, "optimistic commit conflict; replaying changes");
            backoff.sleep(None).await;
            let current = io(shared, "get", shared.cache.get(key.as_str()))
                .await
                .map_err(SessionError::Commit)?;
            state.rebase(current);
        }
    }
    .instrument(span)
    .await;
    tracing::debug!(
        cache = shared.cache.cache_type(),
        attempts,
        ok = result.is_ok(),
        elapsed_us = started.elapsed().as_micros() as u64,
        "session committed"
    );
    result
}

fn encode(state: &State, max: usize) -> Result<Bytes, SessionError> {
    let size = codec::encoded_len(&state.entries);
    if size > max {
        return Err(SessionError::PayloadTooLarge { size, max });
    }
    codec::encode(&state.id, &state.entries).map_err(SessionError::Encode)
}

fn lease_expired(state: &State, lease: Duration) -> bool {
    state
        .lock
        .as_ref()
        .is_some_and(|lock| lock.acquired.elapsed() >= lease)
}

/// What a commit requires of the stored entry; `None` for an unconditional write
/// ([`ConcurrencyMode::LastWriteWins`]).
fn write_condition(
    state: &State,
    key: &SessionKey,
    mode: ConcurrencyMode,
) -> Option<WriteCondition> {
    if let Some(lock) = state.lock.as_ref().filter(|l| &l.key == key) {
        return Some(WriteCondition::LockHeld(lock.token.clone()));
    }
    if mode == ConcurrencyMode::LastWriteWins {
        return None;
    }
    Some(match &state.phase {
        Phase::Loaded {
            base: Some(base), ..
        } => WriteCondition::ValueEquals(base.clone()),
        _ => WriteCondition::Absent,
    })
}

/// The end-of-request decision (see [`Session::finish`](crate::Session::finish)).
pub(crate) async fn finish(
    shared: &StoreShared,
    state: &mut State,
    refresh_untouched: bool,
) -> Result<CookieAction, SessionError> {
    if state.finished {
        return Ok(CookieAction::Keep);
    }
    state.finished = true;
    let result = finish_inner(shared, state, refresh_untouched).await;
    // Always, success or not: the next request of this session must not wait for the lease.
    release_lock(shared, state).await;
    result
}

async fn finish_inner(
    shared: &StoreShared,
    state: &mut State,
    refresh_untouched: bool,
) -> Result<CookieAction, SessionError> {
    let refresh = match state.phase {
        Phase::NotLoaded => refresh_untouched && state.retired.is_empty(),
        Phase::Failed(_) => false,
        Phase::Loaded { at, .. } => {
            // A write slides the expiry itself; otherwise refresh unless the load just did.
            let wrote = write(shared, state).await?;
            !wrote && !state.key_is_new && at.elapsed() >= REFRESH_SKIP_WINDOW
        }
    };
    if let Some(key) = state.key.as_ref().filter(|_| refresh && state.had_cookie) {
        // A refresh only moves a deadline; losing one is not losing data, so log only.
        if let Err(error) = io(shared, "refresh", shared.cache.refresh(key.as_str())).await {
            tracing::warn!(%error, "session refresh failed");
        }
    }
    let retired_any = !state.retired.is_empty();
    for old in std::mem::take(&mut state.retired) {
        io(shared, "remove", shared.cache.remove(old.as_str()))
            .await
            .map_err(SessionError::Commit)?;
    }
    Ok(match &state.key {
        Some(key) if state.key_is_new && state.key_written => CookieAction::Set(key.clone()),
        _ if retired_any && state.had_cookie => CookieAction::Remove,
        _ => CookieAction::Keep,
    })
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        // The request ended without finishing (a panic, a dropped future). Free the store lock
        // in the background so the next request need not wait out the lease; if no runtime is
        // left, the lease expires on its own.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let cache = Arc::clone(&self.cache);
            let key = self.key.clone();
            let token = self.token.clone();
            handle.spawn(async move {
                let _ = tokio::time::timeout(
                    Duration::from_secs(5),
                    cache.unlock(key.as_str(), &token),
                )
                .await;
            });
        }
    }
}
