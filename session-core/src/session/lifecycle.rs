//! The I/O of a session: lazy load (with exclusive mode's lock), commit (with optimistic
//! mode's compare-and-set and replay) and the end-of-request decision.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::Instrument;

use crate::cache::{SharedCache, WriteCondition};
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

/// What the web integration must do with the session cookie after [`RequestSession::finish`](crate::RequestSession::finish).
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

/// Runs one store call under the IO timeout (none for a cache that does no I/O). Every store
/// call of a session goes through here.
pub(crate) async fn io<T>(
    shared: &StoreShared,
    operation: &'static str,
    call: impl Future<Output = Result<T, CacheError>>,
) -> Result<T, CacheError> {
    match shared.call_timeout {
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
        Ok(Some(stored)) => state.install(key, stored),
        Ok(None) => {
            // Expired, purged or unknown: start over under a new key rather than adopt a key the
            // store does not know (no fixation on a dead key, and a purged key stays dead), and
            // free its lock at once.
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
/// jittered backoff (`backoff`), all within `lock_wait`. Once taken, the lease is extended in
/// the background for as long as the request holds it (`spawn_renewal`).
async fn acquire_lock(shared: &StoreShared, key: &SessionKey) -> Result<HeldLock, LoadFailure> {
    let options = &shared.options;
    let wait = options.lock_wait;
    // tokio's clock (the same as std's outside tests), so that a paused test clock drives it.
    let deadline = tokio::time::Instant::now() + wait;
    let local = shared
        .local_locks
        .acquire(key.as_str(), wait)
        .await
        .ok_or(LoadFailure::LockTimeout(wait))?;
    let token = LockToken::generate();
    let mut backoff = Backoff::new();
    loop {
        // Each attempt is bounded by the IO timeout and by what is left of `lock_wait`, so a
        // waiter answers within `lock_wait` even when the store stalls mid-attempt.
        let attempt = io(
            shared,
            "try_lock",
            shared
                .cache
                .try_lock(key.as_str(), &token, options.lock_lease),
        );
        let outcome = tokio::time::timeout_at(deadline, attempt).await;
        let taken = match outcome {
            Ok(Ok(taken)) => taken,
            unanswered => {
                // The call may land in the store although we got no answer (a timeout, a
                // dropped connection, a store that resumes later): release the lock we may
                // come to hold, so it does not block the session for a whole lease. The token
                // is ours alone, so this can never free somebody else's lock.
                release_until_lease_ends(shared, key.clone(), token.clone());
                return Err(match unanswered {
                    Ok(Err(error)) => LoadFailure::Cache(Arc::new(error)),
                    _ => LoadFailure::LockTimeout(wait),
                });
            }
        };
        if taken {
            let renewal = spawn_renewal(shared, key.clone(), token.clone());
            return Ok(HeldLock {
                key: key.clone(),
                token,
                cache: Arc::clone(&shared.cache),
                released: false,
                renewal: Some(renewal),
                _local: local,
            });
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(LoadFailure::LockTimeout(wait));
        }
        // Jitter keeps the heads of several nodes' queues from polling in lockstep.
        backoff.sleep(Some(deadline - now)).await;
    }
}

/// Extends the lease every third of it while the lock is held, so a handler slower than the
/// lease keeps its lock. `validate` guarantees `io_timeout <= lock_lease / 3`, so even a renewal
/// that stalls for a whole IO timeout leaves time for one more before the lease runs out. A
/// renewal the store refuses means the lease was lost (e.g. the store restarted): logged, and
/// the commit still cannot lose an update, because it is a compare-and-set either way.
fn spawn_renewal(
    shared: &StoreShared,
    key: SessionKey,
    token: LockToken,
) -> tokio::task::AbortHandle {
    let cache = Arc::clone(&shared.cache);
    let lease = shared.options.lock_lease;
    let io_timeout = shared.options.io_timeout;
    let every = lease / 3;
    tokio::spawn(async move {
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let call = cache.try_lock(key.as_str(), &token, lease);
            let outcome =
                match io_timeout {
                    Some(after) => tokio::time::timeout(after, call).await.unwrap_or(Err(
                        CacheError::Timeout {
                            operation: "try_lock",
                            after,
                        },
                    )),
                    None => call.await,
                };
            match outcome {
                Ok(true) => tracing::trace!("session lock lease extended"),
                Ok(false) => {
                    tracing::warn!("session lock lease lost; the commit stays compare-and-set");
                    return;
                }
                Err(error) => tracing::warn!(%error, "session lock lease extension failed"),
            }
        }
    })
    .abort_handle()
}

/// After a `try_lock` whose answer never came: unlocks `key` for `token` at once, then again
/// every tenth of the lease until the lease has run out. One unlock is not enough: the lost
/// `try_lock` may still be in flight and land after it (say on another pooled connection, when
/// a frozen store resumes), taking a lock nobody will release. Repeating bounds how long such a
/// lock blocks the session to a tenth of the lease after the store answers again, at the cost
/// of a few commands, only after a failure. A no-op without a runtime.
fn release_until_lease_ends(shared: &StoreShared, key: SessionKey, token: LockToken) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let cache = Arc::clone(&shared.cache);
    let lease = shared.options.lock_lease;
    let io_timeout = shared.options.io_timeout.unwrap_or(lease);
    handle.spawn(async move {
        let until = tokio::time::Instant::now() + lease;
        let mut every = tokio::time::interval(lease / 10);
        while tokio::time::Instant::now() < until {
            every.tick().await;
            if let Err(error) = tokio::time::timeout(io_timeout, cache.unlock(key.as_str(), &token))
                .await
                .unwrap_or(Err(CacheError::Timeout {
                    operation: "unlock",
                    after: io_timeout,
                }))
            {
                tracing::debug!(%error, "releasing an unanswered session lock: unlock failed");
            }
        }
    });
}

/// Unlocks `key` for `token` in a spawned task, bounded by a few seconds; a no-op without a
/// runtime (the lease then expires on its own).
fn release_in_background(cache: SharedCache, key: SessionKey, token: LockToken) {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(async move {
            let _ =
                tokio::time::timeout(Duration::from_secs(5), cache.unlock(key.as_str(), &token))
                    .await;
        });
    }
}

/// Releases the exclusive-mode lock, if held. A failed unlock is only logged: the lease
/// bounds how long the stale lock can block others.
pub(crate) async fn release_lock(shared: &StoreShared, state: &mut State) {
    if let Some(mut lock) = state.lock.take() {
        // Stop extending first: a renewal landing after the unlock would re-take the lock.
        if let Some(renewal) = lock.renewal.take() {
            renewal.abort();
        }
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

/// Writes pending changes (data under the session key, removal of an entry retired by
/// `renew`/`purge`), if any. Returns whether anything was written. After a failure the
/// pending changes are dropped and the session is poisoned: nothing more is written in this
/// request, and every later call (and the end of the request) answers the same error.
pub(crate) async fn write(shared: &StoreShared, state: &mut State) -> Result<bool, SessionError> {
    state.check_poison()?;
    if !state.has_pending() || !matches!(state.phase, Phase::Loaded { .. }) {
        return Ok(false);
    }
    let span = tracing::debug_span!("session.commit", cache = shared.cache.cache_type());
    let started = Instant::now();
    let result = commit(shared, state).instrument(span).await;
    tracing::debug!(
        cache = shared.cache.cache_type(),
        ok = result.is_ok(),
        elapsed_us = started.elapsed().as_micros() as u64,
        "session committed"
    );
    if let Err(error) = &result {
        state.poisoned = Some(error.clone());
        state.modified = false;
        state.retire_origin = false;
        state.changes.clear();
    }
    result.map(|()| true)
}

/// The commit loop. One round trip without a conflict (two for a renew or a purge followed by
/// writes: the old entry is removed if it is still what was loaded, then the new key written).
///
/// On a conflict, the origin is re-read: gone → the session was purged, renewed or expired
/// meanwhile and nothing is written ([`SessionError::SessionEnded`]), unless this request had
/// purged it too and wrote only a new session; changed → the replay is sound only if nothing
/// this request read changed ([`State::rebase`]), and then this request's changes are applied
/// to the fresh value and the commit retried.
async fn commit(shared: &StoreShared, state: &mut State) -> Result<(), SessionError> {
    let options = &shared.options;
    let last_write_wins = options.concurrency == ConcurrencyMode::LastWriteWins;
    // Optimistic (and exclusive without the lock, e.g. after a purge): wait for this node's
    // turn on the key (see `StoreShared::commit_turns`). Requests holding the exclusive lock
    // are serialised already; last-write-wins commits are unconditional.
    let turn_key = state
        .origin
        .as_ref()
        .map(|o| o.key.clone())
        .or_else(|| state.key.clone());
    let _turn = match turn_key {
        Some(key) if state.lock.is_none() && !last_write_wins => Some(
            shared
                .commit_turns
                .acquire(key.as_str(), options.lock_wait)
                .await
                .ok_or(SessionError::LockTimeout(options.lock_wait))?,
        ),
        _ => None,
    };
    let entry_options = EntryOptions::sliding(state.lifetime.unwrap_or(options.idle_timeout));
    let mut backoff = Backoff::new();
    let mut attempts = 0;
    loop {
        attempts += 1;
        match attempt_commit(shared, state, &entry_options, last_write_wins).await? {
            Attempt::Done(written) => {
                state.committed(written);
                return Ok(());
            }
            Attempt::Uncertain { error, moved_to } => {
                // The old entry is gone; the new one may be stored: tell the client about it.
                state.moved_to = Some(moved_to);
                return Err(error);
            }
            Attempt::Refused => {}
        }
        if attempts >= options.max_commit_attempts {
            return Err(SessionError::Conflict(attempts));
        }
        // Another request changed the entry since we loaded it. Wait a little first: the
        // requests that lost this race would otherwise re-read and retry together and collide
        // again (see `backoff`).
        tracing::debug!(attempts, "session commit conflict; re-reading");
        backoff.sleep(None).await;
        reread_and_rebase(shared, state).await?;
    }
}

enum Attempt {
    /// Committed; the payload now stored under the session key, if one was written.
    Done(Option<Bytes>),
    /// The old entry was removed (renew, or new data after a purge), then the write under the
    /// new key failed without an answer: it may or may not have happened.
    Uncertain {
        error: SessionError,
        moved_to: SessionKey,
    },
    /// A condition did not hold; nothing was written.
    Refused,
}

/// One attempt: the conditional removal of a retired origin, then the write under the session
/// key (compare-and-set against the origin, or a plain write to a fresh key).
///
/// **Why the removal comes first.** Moving a session to a new key touches two entries, and a
/// store that stops answering can leave the second step's outcome unknown. Had the new key
/// been written first, a lost removal would leave two live copies: the client's tabs still
/// holding the old cookie would go on writing one while the others write the new one (a fork:
/// increments answered twice, acknowledged writes lost, and a retired key serving data, which
/// defeats the point of a renewal). Removing first, the old key is dead before the new one
/// exists; the worst an unanswered call can do is end the session, as a logout would, and the
/// response is an error.
async fn attempt_commit(
    shared: &StoreShared,
    state: &State,
    entry_options: &EntryOptions,
    last_write_wins: bool,
) -> Result<Attempt, SessionError> {
    let payload = if state.modified {
        Some(encode(state, shared.options.max_payload_bytes)?)
    } else {
        None
    };
    let cache = &shared.cache;
    let mut retired = false;
    if let Some(origin) = state.origin.as_ref().filter(|_| state.retire_origin) {
        let removed = if last_write_wins {
            io(shared, "remove", cache.remove(origin.key.as_str()))
                .await
                .map(|()| true)
        } else {
            io(
                shared,
                "remove_if_equals",
                cache.remove_if_equals(origin.key.as_str(), &origin.base),
            )
            .await
        }
        .map_err(|e| SessionError::Commit(Arc::new(e)))?;
        if !removed {
            return Ok(Attempt::Refused);
        }
        retired = true;
    }
    if let (Some(payload), Some(key)) = (&payload, &state.key) {
        // A key this request generated (new session, renew, new data after a purge) is
        // 128 random bits known to nobody else yet: a plain write cannot overwrite anyone.
        // Otherwise the write is a compare-and-set against what this request loaded.
        let base = state
            .origin
            .as_ref()
            .filter(|o| &o.key == key)
            .map(|o| o.base.clone());
        let applied = match base.filter(|_| !last_write_wins) {
            Some(base) => {
                io(
                    shared,
                    "set_if",
                    cache.set_if(
                        key.as_str(),
                        payload.clone(),
                        entry_options,
                        &WriteCondition::ValueEquals(base),
                    ),
                )
                .await
            }
            None => io(
                shared,
                "set",
                cache.set(key.as_str(), payload.clone(), entry_options),
            )
            .await
            .map(|()| true),
        };
        match applied {
            Ok(true) => {}
            Ok(false) => return Ok(Attempt::Refused),
            // The old key is gone already: the new one is the only place the data can be.
            Err(error) if retired => {
                return Ok(Attempt::Uncertain {
                    error: SessionError::Commit(Arc::new(error)),
                    moved_to: key.clone(),
                });
            }
            Err(error) => return Err(SessionError::Commit(Arc::new(error))),
        }
    }
    Ok(Attempt::Done(payload))
}

/// After a refused attempt: reads the origin again and rebases onto it (see [`commit`]).
async fn reread_and_rebase(shared: &StoreShared, state: &mut State) -> Result<(), SessionError> {
    let Some(origin) = state.origin.clone() else {
        // `Absent` refused on a fresh 128-bit key: someone else wrote it. Never merge with it.
        return Err(SessionError::StaleRead { key: None });
    };
    let current = io(shared, "get", shared.cache.get(origin.key.as_str()))
        .await
        .map_err(|e| SessionError::Commit(Arc::new(e)))?;
    match current {
        Some(current) => state.rebase(&current),
        // This request purged the session too and writes (if anything) only a brand-new one:
        // the outcome is what a serial order would give, provided nothing it read changed.
        None if state.retire_origin && state.from_empty => {
            state.rebase(&Bytes::new())?;
            state.origin = None;
            state.retire_origin = false;
            Ok(())
        }
        // Purged, renewed or expired since this request loaded it: writing would bring it back.
        None => Err(SessionError::SessionEnded),
    }
}

fn encode(state: &State, max: usize) -> Result<Bytes, SessionError> {
    let size = codec::encoded_len(&state.entries);
    if size > max {
        return Err(SessionError::PayloadTooLarge { size, max });
    }
    codec::encode(&state.id, &state.entries).map_err(SessionError::Encode)
}

/// The end-of-request decision (see [`RequestSession::finish`](crate::RequestSession::finish)).
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
    // A failed commit (or a write refused because the load failed) during the request: the
    // response must not claim success, even if the handler ignored the error.
    state.check_poison()?;
    let refresh = match state.phase {
        Phase::NotLoaded => refresh_untouched,
        Phase::Failed(_) => false,
        Phase::Loaded { at } => {
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
    Ok(match &state.key {
        Some(key) if state.key_is_new && state.key_written => CookieAction::Set(key.clone()),
        _ if state.purged && state.had_cookie => CookieAction::Remove,
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
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
        release_in_background(
            Arc::clone(&self.cache),
            self.key.clone(),
            self.token.clone(),
        );
    }
}
