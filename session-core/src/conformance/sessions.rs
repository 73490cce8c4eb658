#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Session-level cases: the per-request [`Session`](crate::Session) over the provider, in both
//! concurrency modes. These prove the provider's conditional writes and locks are strong enough
//! for sessions, not just that each call works alone.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Barrier;

use crate::{
    ConcurrencyMode, CookieAction, EntryOptions, SessionError, SessionKey, SessionOptions,
    SessionStore, SharedCache,
};

fn store(cache: &SharedCache, mode: ConcurrencyMode) -> SessionStore {
    let options = SessionOptions::builder()
        .idle_timeout(Duration::from_secs(60))
        .io_timeout(Some(Duration::from_secs(10)))
        .concurrency(mode)
        .lock_wait(Duration::from_secs(20))
        .build()
        .expect("valid options");
    SessionStore::new(Arc::clone(cache), options)
}

/// Creates a stored session with one entry and returns its key.
async fn seeded(store: &SessionStore) -> SessionKey {
    let session = store.open(None);
    session.set_string("seed", "x").await.expect("set");
    match session.finish(false).await.expect("finish") {
        CookieAction::Set(key) => key,
        other => panic!("a new, modified session must set a cookie, got {other:?}"),
    }
}

/// A new session is written on finish under a fresh key, in the ASP.NET Core payload format,
/// and a later request with that key sees the data.
pub async fn session_round_trip(cache: &SharedCache) {
    let store = store(cache, ConcurrencyMode::Optimistic);
    let session = store.open(None);
    session.set_string("color", "blue").await.unwrap();
    session.set_i32("counter", 7).await.unwrap();
    let CookieAction::Set(key) = session.finish(false).await.unwrap() else {
        panic!("expected a cookie for the new session");
    };
    let stored = cache.get(key.as_str()).await.unwrap().expect("stored");
    let payload = crate::codec::decode(&stored).expect("ASP.NET Core revision-2 payload");
    assert_eq!(payload.entries["color"], Bytes::from_static(b"blue"));
    assert_eq!(
        payload.entries["counter"],
        Bytes::copy_from_slice(&7i32.to_be_bytes())
    );

    let next = store.open(Some(key.as_str()));
    assert_eq!(
        next.get_string("color").await.unwrap().as_deref(),
        Some("blue")
    );
    assert_eq!(next.get_i32("counter").await.unwrap(), Some(7));
    assert_eq!(next.finish(false).await.unwrap(), CookieAction::Keep);
}

/// Optimistic mode: concurrent requests of one session that change different keys all survive.
pub async fn optimistic_concurrent_writers_keep_all_keys(cache: &SharedCache) {
    const WRITERS: usize = 8;
    let store = store(cache, ConcurrencyMode::Optimistic);
    let key = seeded(&store).await;
    // Every writer loads before any commits, so all but one must go through conflict + replay.
    let barrier = Arc::new(Barrier::new(WRITERS));
    let tasks: Vec<_> = (0..WRITERS)
        .map(|i| {
            let (store, key, barrier) = (store.clone(), key.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                let session = store.open(Some(key.as_str()));
                session.load().await.unwrap();
                barrier.wait().await;
                session
                    .set_i32(format!("writer-{i}"), i as i32)
                    .await
                    .unwrap();
                session.finish(false).await.unwrap();
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let session = store.open(Some(key.as_str()));
    for i in 0..WRITERS {
        assert_eq!(
            session.get_i32(&format!("writer-{i}")).await.unwrap(),
            Some(i as i32),
            "writer {i}'s change was lost"
        );
    }
    assert_eq!(
        session.get_string("seed").await.unwrap().as_deref(),
        Some("x")
    );
}

/// Last-write-wins mode: commits are plain `set`s (usable on stores without conditional
/// writes), and of two overlapping requests the later commit replaces the whole session, as in
/// ASP.NET Core.
pub async fn last_write_wins_overwrites_whole_session(cache: &SharedCache) {
    let store = store(cache, ConcurrencyMode::LastWriteWins);
    let key = seeded(&store).await;
    let first = store.open(Some(key.as_str()));
    let second = store.open(Some(key.as_str()));
    first.load().await.unwrap();
    second.load().await.unwrap();
    first.set_string("a", "1").await.unwrap();
    second.set_string("b", "2").await.unwrap();
    assert_eq!(first.finish(false).await.unwrap(), CookieAction::Keep);
    assert_eq!(second.finish(false).await.unwrap(), CookieAction::Keep);
    let next = store.open(Some(key.as_str()));
    assert_eq!(next.get_string("b").await.unwrap().as_deref(), Some("2"));
    assert_eq!(next.get_string("seed").await.unwrap().as_deref(), Some("x"));
    // The documented price of this mode: the first request's change is gone.
    assert_eq!(next.get_string("a").await.unwrap(), None);
}

/// Exclusive mode: concurrent increments of one counter are serialised; none is lost.
pub async fn exclusive_counter_loses_no_update(cache: &SharedCache) {
    const REQUESTS: i32 = 24;
    let store = store(cache, ConcurrencyMode::Exclusive);
    let key = seeded(&store).await;
    let tasks: Vec<_> = (0..REQUESTS)
        .map(|_| {
            let (store, key) = (store.clone(), key.clone());
            tokio::spawn(async move {
                let session = store.open(Some(key.as_str()));
                let n = session.get_i32("counter").await.unwrap().unwrap_or(0);
                session.set_i32("counter", n + 1).await.unwrap();
                session.finish(false).await.unwrap();
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let session = store.open(Some(key.as_str()));
    assert_eq!(session.get_i32("counter").await.unwrap(), Some(REQUESTS));
}

/// Exclusive mode: a request that cannot get the lock in time gets a typed error, not a hang.
pub async fn exclusive_lock_wait_is_bounded(cache: &SharedCache) {
    let holder_store = store(cache, ConcurrencyMode::Exclusive);
    let key = seeded(&holder_store).await;
    let holder = holder_store.open(Some(key.as_str()));
    holder.load().await.unwrap();

    let options = SessionOptions::builder()
        .concurrency(ConcurrencyMode::Exclusive)
        .lock_wait(Duration::from_millis(300))
        .build()
        .unwrap();
    // A second store = a second node: it cannot see the holder's in-process queue, only the store lock.
    let other_node = SessionStore::new(Arc::clone(cache), options);
    let waiter = other_node.open(Some(key.as_str()));
    let started = std::time::Instant::now();
    assert!(matches!(
        waiter.load().await,
        Err(SessionError::LockTimeout(_))
    ));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!waiter.is_available().await);

    holder.finish(false).await.unwrap();
    let after = other_node.open(Some(key.as_str()));
    assert!(after.is_available().await, "the lock is released at finish");
    after.finish(false).await.unwrap();
}

/// `renew` moves the data to a new key and removes the old entry; `purge` removes the entry.
pub async fn renew_and_purge(cache: &SharedCache) {
    let store = store(cache, ConcurrencyMode::Optimistic);
    let old = seeded(&store).await;
    let session = store.open(Some(old.as_str()));
    session.renew().await.unwrap();
    let CookieAction::Set(new) = session.finish(false).await.unwrap() else {
        panic!("renew must send the new key");
    };
    assert_ne!(new, old);
    assert_eq!(
        cache.get(old.as_str()).await.unwrap(),
        None,
        "old entry removed"
    );
    let renewed = store.open(Some(new.as_str()));
    assert_eq!(
        renewed.get_string("seed").await.unwrap().as_deref(),
        Some("x")
    );
    renewed.purge().await.unwrap();
    assert_eq!(renewed.finish(false).await.unwrap(), CookieAction::Remove);
    assert_eq!(
        cache.get(new.as_str()).await.unwrap(),
        None,
        "purged entry removed"
    );
}

/// A corrupt stored payload gives an empty, usable session (no error, no panic), and a commit
/// replaces it.
pub async fn corrupt_payload_starts_empty(cache: &SharedCache) {
    let store = store(cache, ConcurrencyMode::Optimistic);
    let key = SessionKey::generate();
    let garbage = Bytes::from_static(b"\x07not an ASP.NET Core session payload");
    cache
        .set(
            key.as_str(),
            garbage,
            &EntryOptions::sliding(Duration::from_secs(60)),
        )
        .await
        .unwrap();
    let session = store.open(Some(key.as_str()));
    assert!(session.is_available().await);
    assert!(session.keys().await.unwrap().is_empty());
    session.set_string("fresh", "yes").await.unwrap();
    session.finish(false).await.unwrap();
    let stored = cache.get(key.as_str()).await.unwrap().unwrap();
    assert!(crate::codec::decode(&stored).is_ok());
}

/// An oversized session is refused at commit with a typed error and nothing is written.
pub async fn oversized_session_writes_nothing(cache: &SharedCache) {
    let options = SessionOptions::builder()
        .max_payload_bytes(1024)
        .build()
        .unwrap();
    let store = SessionStore::new(Arc::clone(cache), options);
    let key = seeded(&store).await;
    let before = cache.get(key.as_str()).await.unwrap();
    let session = store.open(Some(key.as_str()));
    session.insert_bytes("big", vec![0u8; 2048]).await.unwrap();
    assert!(matches!(
        session.finish(false).await,
        Err(SessionError::PayloadTooLarge { max: 1024, .. })
    ));
    assert_eq!(cache.get(key.as_str()).await.unwrap(), before);
}
