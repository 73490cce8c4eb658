#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Session-level cases for the concurrency promises: a read-modify-write is never lost (it is
//! refused or merged), and a purged, renewed or expired session is never written back.
//! Each case forces its interleaving with explicit loads and finishes (no timing), except the
//! lease and expiry cases, whose subject is wall-clock time in the store itself.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::Barrier;

use crate::{
    CacheError, ConcurrencyMode, CookieAction, DistributedCache, EntryOptions, LockToken,
    SessionError, SessionKey, SessionOptions, SessionStore, SharedCache, WriteCondition,
};

fn store_with(cache: &SharedCache, mode: ConcurrencyMode, idle: Duration) -> SessionStore {
    let options = SessionOptions::builder()
        .idle_timeout(idle)
        .io_timeout(Some(Duration::from_secs(5)))
        .concurrency(mode)
        .lock_wait(Duration::from_secs(15))
        .build()
        .expect("valid options");
    SessionStore::new(Arc::clone(cache), options)
}

fn store(cache: &SharedCache, mode: ConcurrencyMode) -> SessionStore {
    store_with(cache, mode, Duration::from_secs(60))
}

/// A stored session holding `counter` = 0; returns its key.
async fn seeded(store: &SessionStore) -> SessionKey {
    let session = store.open(None);
    session.set_i32("counter", 0).await.expect("set");
    match session.finish(false).await.expect("finish") {
        CookieAction::Set(key) => key,
        other => panic!("a new, modified session must set a cookie, got {other:?}"),
    }
}

async fn counter(store: &SessionStore, key: &SessionKey) -> Option<i32> {
    let session = store.open(Some(key.as_str()));
    let n = session.get_i32("counter").await.unwrap();
    session.finish(false).await.unwrap();
    n
}

/// Optimistic mode: two requests read the counter, both write +1. The second commit must not
/// silently overwrite the first (a lost update): it is refused with `StaleRead`, nothing written.
pub async fn optimistic_stale_read_modify_write_is_refused(cache: &SharedCache) {
    let store = store(cache, ConcurrencyMode::Optimistic);
    let key = seeded(&store).await;
    let first = store.open(Some(key.as_str()));
    let second = store.open(Some(key.as_str()));
    let a = first.get_i32("counter").await.unwrap().unwrap();
    let b = second.get_i32("counter").await.unwrap().unwrap();
    first.set_i32("counter", a + 1).await.unwrap();
    second.set_i32("counter", b + 1).await.unwrap();
    second.set_string("blind", "written").await.unwrap();
    first.finish(false).await.unwrap();
    let refused = second.finish(false).await.unwrap_err();
    assert!(
        matches!(&refused, SessionError::StaleRead { key: Some(k) } if k == "counter"),
        "{refused:?}"
    );
    assert!(refused.is_conflict());
    let check = store.open(Some(key.as_str()));
    assert_eq!(check.get_i32("counter").await.unwrap(), Some(1));
    assert_eq!(
        check.get_string("blind").await.unwrap(),
        None,
        "a refused commit writes nothing, not even its blind writes"
    );
    check.finish(false).await.unwrap();
}

/// After a failed commit the session is poisoned: later writes and the end of the request
/// answer the same error, so a handler that ignored it cannot answer as if it succeeded.
pub async fn failed_commit_poisons_the_request(cache: &SharedCache) {
    let store = store(cache, ConcurrencyMode::Optimistic);
    let key = seeded(&store).await;
    let first = store.open(Some(key.as_str()));
    let second = store.open(Some(key.as_str()));
    let b = second.get_i32("counter").await.unwrap().unwrap();
    first.set_i32("counter", 10).await.unwrap();
    first.finish(false).await.unwrap();
    second.set_i32("counter", b + 1).await.unwrap();
    assert!(second.commit().await.unwrap_err().is_conflict());
    assert!(
        second
            .set_string("later", "x")
            .await
            .unwrap_err()
            .is_conflict()
    );
    assert!(second.finish(false).await.unwrap_err().is_conflict());
    assert_eq!(counter(&store, &key).await, Some(10));
}

/// `update` merges: 16 requests that all loaded the session before any committed each add 1,
/// and the counter ends at exactly 16, every call returning a distinct stored value.
pub async fn update_merges_concurrent_increments(cache: &SharedCache) {
    for mode in [ConcurrencyMode::Optimistic, ConcurrencyMode::Exclusive] {
        const REQUESTS: usize = 16;
        let store = store(cache, mode);
        let key = seeded(&store).await;
        let barrier = Arc::new(Barrier::new(REQUESTS));
        let tasks: Vec<_> = (0..REQUESTS)
            .map(|_| {
                let (store, key, barrier) = (store.clone(), key.clone(), Arc::clone(&barrier));
                tokio::spawn(async move {
                    let session = store.open(Some(key.as_str()));
                    if mode == ConcurrencyMode::Optimistic {
                        // Everyone loads the same version first: all but one must replay.
                        session.load().await.unwrap();
                        barrier.wait().await;
                    }
                    let n = session
                        .update_i32("counter", |n| n.unwrap_or(0) + 1)
                        .await
                        .unwrap();
                    session.finish(false).await.unwrap();
                    n
                })
            })
            .collect();
        let mut seen = Vec::new();
        for task in tasks {
            seen.push(task.await.unwrap());
        }
        seen.sort_unstable();
        assert_eq!(seen, (1..=16).collect::<Vec<i32>>(), "{mode:?}");
        assert_eq!(counter(&store, &key).await, Some(16), "{mode:?}");
    }
}

/// A request that loaded a session which another request then purged (logout) cannot write it
/// back: its commit fails with `SessionEnded` and the key stays gone.
pub async fn commit_after_purge_is_refused(cache: &SharedCache) {
    for mode in [ConcurrencyMode::Optimistic, ConcurrencyMode::Exclusive] {
        let store = store(cache, mode);
        let key = seeded(&store).await;
        let stale = store.open(Some(key.as_str()));
        if mode == ConcurrencyMode::Optimistic {
            stale.load().await.unwrap();
        }
        let logout = store.open(Some(key.as_str()));
        logout.purge().await.unwrap();
        assert_eq!(logout.finish(false).await.unwrap(), CookieAction::Remove);
        stale.set_string("after", "logout").await.unwrap();
        let refused = stale.finish(false).await;
        match mode {
            ConcurrencyMode::Optimistic => {
                assert!(
                    matches!(refused, Err(SessionError::SessionEnded)),
                    "{refused:?}"
                )
            }
            // Exclusive: the purge took the lock, so the stale request loaded only after it and
            // found no session: it started a new one under a new key.
            _ => assert!(matches!(refused, Ok(CookieAction::Set(ref k)) if *k != key)),
        }
        assert_eq!(cache.get(key.as_str()).await.unwrap(), None, "{mode:?}");
    }
}

/// A request that loaded a session which another request then renewed cannot write under the
/// old key: `SessionEnded`; the old key stays gone and the new key holds the renewed data.
pub async fn commit_after_renew_is_refused(cache: &SharedCache) {
    let store = store(cache, ConcurrencyMode::Optimistic);
    let key = seeded(&store).await;
    let stale = store.open(Some(key.as_str()));
    stale.load().await.unwrap();
    let login = store.open(Some(key.as_str()));
    login.renew().await.unwrap();
    let CookieAction::Set(new_key) = login.finish(false).await.unwrap() else {
        panic!("renew sends the new key");
    };
    stale.set_i32("counter", 99).await.unwrap();
    assert!(matches!(
        stale.finish(false).await,
        Err(SessionError::SessionEnded)
    ));
    assert_eq!(cache.get(key.as_str()).await.unwrap(), None);
    assert_eq!(counter(&store, &new_key).await, Some(0));
}

/// A renew that raced a concurrent blind write carries that write to the new key instead of
/// deleting it with the old entry.
pub async fn renew_carries_a_concurrent_write(cache: &SharedCache) {
    let store = store(cache, ConcurrencyMode::Optimistic);
    let key = seeded(&store).await;
    let login = store.open(Some(key.as_str()));
    login.load().await.unwrap();
    let writer = store.open(Some(key.as_str()));
    writer.set_string("mark", "kept").await.unwrap();
    writer.finish(false).await.unwrap();
    login.renew().await.unwrap();
    let CookieAction::Set(new_key) = login.finish(false).await.unwrap() else {
        panic!("renew sends the new key");
    };
    assert_eq!(cache.get(key.as_str()).await.unwrap(), None);
    let check = store.open(Some(new_key.as_str()));
    assert_eq!(
        check.get_string("mark").await.unwrap().as_deref(),
        Some("kept")
    );
    check.finish(false).await.unwrap();
}

/// A session that expired while a request used it is not brought back by its commit.
pub async fn commit_after_expiry_is_refused(cache: &SharedCache) {
    let store = store_with(cache, ConcurrencyMode::Optimistic, Duration::from_secs(1));
    let key = seeded(&store).await;
    let slow = store.open(Some(key.as_str()));
    slow.load().await.unwrap();
    // The subject is the store's own expiry clock: wait until the entry is certainly gone.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while cache_has(cache, &key).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "entry never expired"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    slow.set_i32("counter", 5).await.unwrap();
    assert!(matches!(
        slow.finish(false).await,
        Err(SessionError::SessionEnded)
    ));
    assert_eq!(cache.get(key.as_str()).await.unwrap(), None);
}

/// Whether an entry lives, without sliding it (a lock probe would; `get` slides, so use a
/// compare-and-set that can never apply: `ValueEquals` of a value no session payload has).
async fn cache_has(cache: &SharedCache, key: &SessionKey) -> bool {
    let never = Bytes::from_static(b"\xffnot a payload");
    let absent = cache
        .set_if(
            key.as_str(),
            never,
            &EntryOptions::sliding(Duration::from_secs(1)),
            &WriteCondition::Absent,
        )
        .await
        .unwrap();
    if absent {
        cache.remove(key.as_str()).await.unwrap();
    }
    !absent
}

/// Exclusive mode: a handler slower than the lease keeps its lock (the lease is extended while
/// held), so another node cannot get in, and its commit then applies.
pub async fn exclusive_lease_is_extended_while_held(cache: &SharedCache) {
    let short_lease = |wait: Duration| {
        SessionStore::new(
            Arc::clone(cache),
            SessionOptions::builder()
                .concurrency(ConcurrencyMode::Exclusive)
                .lock_lease(Duration::from_millis(1500))
                .io_timeout(Some(Duration::from_millis(500)))
                .lock_wait(wait)
                .build()
                .unwrap(),
        )
    };
    let node_a = short_lease(Duration::from_secs(1));
    let key = seeded(&node_a).await;
    let slow = node_a.open(Some(key.as_str()));
    slow.load().await.unwrap();
    // Two whole leases: without extension the lock would have expired twice over.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let other = short_lease(Duration::from_millis(300)).open(Some(key.as_str()));
    assert!(matches!(
        other.load().await,
        Err(SessionError::LockTimeout(_))
    ));
    slow.set_i32("counter", 7).await.unwrap();
    slow.finish(false).await.unwrap();
    assert_eq!(counter(&node_a, &key).await, Some(7));
}

/// Exclusive mode: the lock schedules, the commit is still compare-and-set. A writer that does
/// not take the lock (a .NET service, a last-write-wins node) changes a value the lock holder
/// read: the holder's commit is refused rather than overwriting it.
pub async fn exclusive_commit_is_compare_and_set(cache: &SharedCache) {
    let exclusive = store(cache, ConcurrencyMode::Exclusive);
    let key = seeded(&exclusive).await;
    let holder = exclusive.open(Some(key.as_str()));
    let n = holder.get_i32("counter").await.unwrap().unwrap();
    let foreign = store(cache, ConcurrencyMode::LastWriteWins).open(Some(key.as_str()));
    foreign.set_i32("counter", 41).await.unwrap();
    foreign.finish(false).await.unwrap();
    holder.set_i32("counter", n + 1).await.unwrap();
    assert!(holder.finish(false).await.unwrap_err().is_conflict());
    assert_eq!(
        counter(&store(cache, ConcurrencyMode::LastWriteWins), &key).await,
        Some(41)
    );
}

/// Exclusive mode options for the lost-answer cases: IO timeout `io`, lease `3 × io`
/// (the shortest `validate` allows), lock wait `wait`.
fn lossy_exclusive(io: Duration, wait: Duration) -> SessionOptions {
    SessionOptions::builder()
        .concurrency(ConcurrencyMode::Exclusive)
        .lock_lease(io * 3)
        .io_timeout(Some(io))
        .lock_wait(wait)
        .build()
        .unwrap()
}

/// `cache` with its `try_lock` late as `lands` and `delay` say, and what signals its landing.
fn late_lock(
    cache: &SharedCache,
    lands: Lands,
    delay: Duration,
) -> (SharedCache, Arc<tokio::sync::Notify>) {
    let landed = Arc::new(tokio::sync::Notify::new());
    let late = LateCalls {
        inner: Arc::clone(cache),
        operation: "try_lock",
        lands,
        delay,
        landed: Arc::clone(&landed),
    };
    (Arc::new(late), landed)
}

/// A seeded session, and a request on it over `late` (exclusive, IO timeout `io`, lock wait
/// `wait`) whose load fails because its `try_lock` is late; answers the key, the failed request
/// and the load error.
async fn failed_lock(
    cache: &SharedCache,
    late: SharedCache,
    io: Duration,
    wait: Duration,
) -> (SessionKey, crate::RequestSession, SessionError) {
    let key = seeded(&store(cache, ConcurrencyMode::Exclusive)).await;
    let request = SessionStore::new(late, lossy_exclusive(io, wait)).open(Some(key.as_str()));
    let error = request
        .load()
        .await
        .expect_err("the late try_lock fails the load");
    (key, request, error)
}

/// Another node takes the session's lock within `wait` (its IO timeout 2 s), then releases it.
async fn other_node_gets_the_lock(cache: &SharedCache, key: &SessionKey, wait: Duration) {
    let next = SessionStore::new(
        Arc::clone(cache),
        lossy_exclusive(Duration::from_secs(2), wait),
    )
    .open(Some(key.as_str()));
    next.load().await.unwrap();
    next.finish(false).await.unwrap();
}

/// Exclusive mode: a `try_lock` that landed in the store but whose answer came too late (IO
/// timeout) is released, not left to block the session for a whole lease.
pub async fn exclusive_timed_out_lock_acquisition_is_released(cache: &SharedCache) {
    let (late, _) = late_lock(cache, Lands::BeforeTheAnswer, Duration::from_secs(2));
    let (key, timed_out, _) = failed_lock(
        cache,
        late,
        Duration::from_millis(300),
        Duration::from_millis(900),
    )
    .await;
    // The lock did land (the store applied it before the answer was lost). It is released in
    // the background well within the lease: another node gets it within its wait.
    other_node_gets_the_lock(cache, &key, Duration::from_secs(5)).await;
    timed_out.finish(false).await.unwrap();
}

/// Exclusive mode: a `try_lock` still in flight when its request gave up, which lands only
/// *after* the request's first unlock (a frozen store that resumes), is released too: the
/// unlock is repeated until the lease would have run out.
pub async fn exclusive_late_landing_lock_is_released(cache: &SharedCache) {
    // IO timeout 2 s, lease 6 s: the request gives up at 2 s, its try_lock lands at 3 s.
    let (late, landed) = late_lock(cache, Lands::AfterTheDelay, Duration::from_secs(3));
    let (key, gave_up, _) =
        failed_lock(cache, late, Duration::from_secs(2), Duration::from_secs(5)).await;
    landed.notified().await;
    // The late lock is in the store now. Another node waits at most 5 s (until about 8 s).
    // Without repeated unlocks the late lock would hold until about 9 s; with them it goes
    // within a tenth of the lease (0.6 s) after landing.
    other_node_gets_the_lock(cache, &key, Duration::from_secs(5)).await;
    gave_up.finish(false).await.unwrap();
}

/// Exclusive mode: a waiter whose `try_lock` stalls in the store answers within `lock_wait`,
/// not after the (longer) IO timeout, and the stalled attempt is released once it lands.
pub async fn exclusive_lock_wait_bounds_a_stalled_attempt(cache: &SharedCache) {
    let (late, landed) = late_lock(cache, Lands::AfterTheDelay, Duration::from_secs(6));
    let started = std::time::Instant::now();
    // IO timeout 4 s, lock wait 0.5 s: the answer must come from the lock wait.
    let (key, waiter, error) = failed_lock(
        cache,
        late,
        Duration::from_secs(4),
        Duration::from_millis(500),
    )
    .await;
    assert!(matches!(error, SessionError::LockTimeout(_)), "{error:?}");
    // `started` includes seeding the session (one write): still far below the 4 s IO timeout.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered after {:?}, beyond the lock wait",
        started.elapsed()
    );
    waiter.finish(false).await.unwrap();
    landed.notified().await;
    other_node_gets_the_lock(cache, &key, Duration::from_secs(5)).await;
}

/// A cache that runs `operation` as `lands` says, `delay` late; the rest goes straight through.
fn late(cache: &SharedCache, operation: &'static str, lands: Lands) -> Arc<LateCalls> {
    Arc::new(LateCalls {
        inner: Arc::clone(cache),
        operation,
        lands,
        delay: Duration::from_secs(2),
        landed: Arc::default(),
    })
}

/// Renews the session under `key` through `cache` with a 300 ms IO timeout; the renewal must
/// fail with a store error. Returns the key the client is handed with the error, if any.
async fn failed_renewal(cache: SharedCache, key: &SessionKey) -> Option<SessionKey> {
    let options = SessionOptions::builder()
        .io_timeout(Some(Duration::from_millis(300)))
        .build()
        .unwrap();
    let login = SessionStore::new(cache, options).open(Some(key.as_str()));
    login.renew().await.unwrap();
    let failed = login.finish(false).await.unwrap_err();
    assert!(matches!(failed, SessionError::Commit(_)), "{failed:?}");
    login.key_after_failure().await
}

/// A renewal whose removal of the old entry happened but whose answer was lost fails without
/// handing out a new key, and leaves no live copy anywhere: the old key starts afresh, so no
/// tab still holding it can fork the session.
pub async fn renew_with_a_lost_removal_answer_never_forks(cache: &SharedCache) {
    let plain = store(cache, ConcurrencyMode::Optimistic);
    let key = seeded(&plain).await;
    let lost_answer = late(cache, "remove_if_equals", Lands::BeforeTheAnswer);
    let moved = failed_renewal(lost_answer, &key).await;
    assert_eq!(moved, None, "no new key was written: none is handed out");
    assert_eq!(cache.get(key.as_str()).await.unwrap(), None);
    assert_eq!(
        counter(&plain, &key).await,
        None,
        "the old key starts afresh"
    );
}

/// A renewal whose removal of the old entry was still on its way when the request gave up,
/// and lands after another request wrote the session: the late removal is refused (the entry
/// changed), so the session stays live under its old key with that write, and nothing else.
pub async fn renew_with_a_late_removal_keeps_a_later_write(cache: &SharedCache) {
    let plain = store(cache, ConcurrencyMode::Optimistic);
    let key = seeded(&plain).await;
    let slow = late(cache, "remove_if_equals", Lands::AfterTheDelay);
    let landed = Arc::clone(&slow.landed);
    let moved = failed_renewal(slow, &key).await;
    assert_eq!(moved, None, "no new key was written: none is handed out");
    let writer = plain.open(Some(key.as_str()));
    assert_eq!(
        writer
            .update_i32("counter", |n| n.unwrap_or(0) + 1)
            .await
            .unwrap(),
        1
    );
    writer.finish(false).await.unwrap();
    landed.notified().await;
    assert_eq!(
        counter(&plain, &key).await,
        Some(1),
        "the acknowledged write is kept"
    );
}

/// A renewal that removed the old entry and then lost the answer to the write under the new
/// key (which did happen) fails, but hands the client the new key: the session stays reachable.
pub async fn renew_with_a_lost_write_answer_hands_over_the_new_key(cache: &SharedCache) {
    let plain = store(cache, ConcurrencyMode::Optimistic);
    let key = seeded(&plain).await;
    let lost_answer = late(cache, "set", Lands::BeforeTheAnswer);
    let moved = failed_renewal(lost_answer, &key)
        .await
        .expect("the client is given the new key");
    assert_ne!(moved, key);
    assert_eq!(cache.get(key.as_str()).await.unwrap(), None);
    assert_eq!(
        counter(&plain, &moved).await,
        Some(0),
        "the data is reachable"
    );
}

/// When a [`LateCalls`] call takes effect in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lands {
    /// At once; only the answer is late (a lost or slow reply).
    BeforeTheAnswer,
    /// After the delay, even if the caller gave up (a request still in flight).
    AfterTheDelay,
}

/// A cache whose one `operation` answers only after `delay`, taking effect as `lands` says;
/// every other call goes straight through.
#[derive(Debug)]
struct LateCalls {
    inner: SharedCache,
    operation: &'static str,
    lands: Lands,
    delay: Duration,
    /// Notified each time the late call has taken effect in the store.
    landed: Arc<tokio::sync::Notify>,
}

impl LateCalls {
    /// Runs `call` (named `operation`) late if it is the chosen one.
    async fn run<T: Send + 'static>(
        &self,
        operation: &'static str,
        call: impl std::future::Future<Output = Result<T, CacheError>> + Send + 'static,
    ) -> Result<T, CacheError> {
        if operation != self.operation {
            return call.await;
        }
        let (delay, landed) = (self.delay, Arc::clone(&self.landed));
        match self.lands {
            Lands::BeforeTheAnswer => {
                let result = call.await;
                landed.notify_one();
                tokio::time::sleep(delay).await;
                result
            }
            // Spawned: the caller giving up must not cancel a call already on its way.
            Lands::AfterTheDelay => tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let result = call.await;
                landed.notify_one();
                result
            })
            .await
            .unwrap_or_else(|e| Err(CacheError::backend(operation, e))),
        }
    }
}

#[async_trait]
impl DistributedCache for LateCalls {
    fn cache_type(&self) -> &'static str {
        self.inner.cache_type()
    }
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        self.inner.get(key).await
    }
    async fn set(&self, key: &str, value: Bytes, options: &EntryOptions) -> Result<(), CacheError> {
        let (inner, key, options) = (Arc::clone(&self.inner), key.to_owned(), *options);
        self.run("set", async move { inner.set(&key, value, &options).await })
            .await
    }
    async fn set_if(
        &self,
        key: &str,
        value: Bytes,
        options: &EntryOptions,
        condition: &WriteCondition,
    ) -> Result<bool, CacheError> {
        self.inner.set_if(key, value, options, condition).await
    }
    async fn refresh(&self, key: &str) -> Result<(), CacheError> {
        self.inner.refresh(key).await
    }
    async fn remove(&self, key: &str) -> Result<(), CacheError> {
        self.inner.remove(key).await
    }
    async fn remove_if_equals(&self, key: &str, expected: &Bytes) -> Result<bool, CacheError> {
        let (inner, key, expected) = (Arc::clone(&self.inner), key.to_owned(), expected.clone());
        self.run("remove_if_equals", async move {
            inner.remove_if_equals(&key, &expected).await
        })
        .await
    }
    async fn try_lock(
        &self,
        key: &str,
        token: &LockToken,
        lease: Duration,
    ) -> Result<bool, CacheError> {
        let (inner, key, token) = (Arc::clone(&self.inner), key.to_owned(), token.clone());
        self.run("try_lock", async move {
            inner.try_lock(&key, &token, lease).await
        })
        .await
    }
    async fn unlock(&self, key: &str, token: &LockToken) -> Result<(), CacheError> {
        self.inner.unlock(key, token).await
    }
    async fn ping(&self) -> Result<(), CacheError> {
        self.inner.ping().await
    }
}
