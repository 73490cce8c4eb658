//! Lease locks ([`DistributedCache::try_lock`](crate::DistributedCache::try_lock) /
//! [`unlock`](crate::DistributedCache::unlock)) and their independence from entries.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::{ok, sleep_until_ms, unique_key};
use crate::cache::SharedCache;
use crate::entry_options::EntryOptions;
use crate::token::LockToken;

/// Lease of locks taken by these cases, unless the case tests lease expiry.
const LEASE: Duration = Duration::from_secs(30);

/// Tries to take the lock on `key` with `token` for [`LEASE`].
async fn lock(cache: &SharedCache, key: &str, token: &LockToken) -> bool {
    ok(cache.try_lock(key, token, LEASE).await, "try_lock")
}

/// `try_lock` on a key nobody locked succeeds.
pub async fn try_lock_takes_free_lock(cache: &SharedCache) {
    let key = unique_key("lock_free");
    let token = LockToken::generate();
    assert!(lock(cache, &key, &token).await, "a free lock was refused");
    ok(cache.unlock(&key, &token).await, "unlock");
}

/// A held lock refuses another token.
pub async fn try_lock_refuses_other_token(cache: &SharedCache) {
    let key = unique_key("lock_other");
    let holder = LockToken::generate();
    assert!(lock(cache, &key, &holder).await);
    assert!(
        !lock(cache, &key, &LockToken::generate()).await,
        "a held lock was given to another token"
    );
    ok(cache.unlock(&key, &holder).await, "unlock");
}

/// The holder can take its own lock again (extending the lease), and it still excludes others.
pub async fn try_lock_same_token_extends(cache: &SharedCache) {
    let key = unique_key("lock_same");
    let holder = LockToken::generate();
    assert!(lock(cache, &key, &holder).await);
    assert!(
        lock(cache, &key, &holder).await,
        "the holder could not re-take its lock"
    );
    assert!(!lock(cache, &key, &LockToken::generate()).await);
    ok(cache.unlock(&key, &holder).await, "unlock");
}

/// After the holder unlocks, another token can take the lock.
pub async fn unlock_frees_lock_for_others(cache: &SharedCache) {
    let key = unique_key("lock_unlock");
    let first = LockToken::generate();
    let second = LockToken::generate();
    assert!(lock(cache, &key, &first).await);
    ok(cache.unlock(&key, &first).await, "unlock");
    assert!(
        lock(cache, &key, &second).await,
        "the lock stayed taken after its holder unlocked it"
    );
    ok(cache.unlock(&key, &second).await, "unlock");
}

/// `unlock` with a token that does not hold the lock is `Ok` and leaves the lock held; unlocking
/// a key nobody locked is `Ok` too.
pub async fn unlock_with_wrong_token_keeps_lock(cache: &SharedCache) {
    let key = unique_key("lock_wrong_unlock");
    let holder = LockToken::generate();
    let other = LockToken::generate();
    ok(cache.unlock(&key, &other).await, "unlock of a free key");
    assert!(lock(cache, &key, &holder).await);
    ok(
        cache.unlock(&key, &other).await,
        "unlock with a wrong token",
    );
    assert!(
        !lock(cache, &key, &other).await,
        "unlock with a wrong token released the lock"
    );
    assert!(lock(cache, &key, &holder).await, "the holder lost its lock");
    ok(cache.unlock(&key, &holder).await, "unlock");
}

/// A lock whose lease (1 s) ran out can be taken by another token, after which the former holder
/// is refused and its `unlock` does not release the new holder's lock.
pub async fn expired_lease_can_be_taken(cache: &SharedCache) {
    let key = unique_key("lock_expired");
    let first = LockToken::generate();
    let second = LockToken::generate();
    assert!(ok(
        cache.try_lock(&key, &first, Duration::from_secs(1)).await,
        "try_lock"
    ));
    let after = Instant::now();
    sleep_until_ms(after, 1_700).await;
    assert!(
        lock(cache, &key, &second).await,
        "an expired lease still blocked the lock"
    );
    assert!(
        !lock(cache, &key, &first).await,
        "the former holder got the lock back"
    );
    ok(
        cache.unlock(&key, &first).await,
        "unlock by the former holder",
    );
    assert!(
        !lock(cache, &key, &first).await,
        "the former holder's unlock released the new holder's lock"
    );
    ok(cache.unlock(&key, &second).await, "unlock");
}

/// A lock on `k` and the entry `k` do not see or disturb each other: the lock is invisible to
/// `get("k")`, entry writes and `remove("k")` leave the lock held, and `unlock` leaves the entry.
pub async fn locks_and_entries_are_separate(cache: &SharedCache) {
    let key = unique_key("lock_separate");
    let holder = LockToken::generate();
    let options = EntryOptions::sliding(Duration::from_secs(300));

    assert!(lock(cache, &key, &holder).await);
    assert_eq!(
        ok(cache.get(&key).await, "get of a locked key without entry"),
        None,
        "the lock is visible as an entry"
    );

    let value = Bytes::from_static(b"entry");
    ok(cache.set(&key, value.clone(), &options).await, "set");
    assert_eq!(ok(cache.get(&key).await, "get"), Some(value.clone()));
    assert!(
        !lock(cache, &key, &LockToken::generate()).await,
        "writing the entry released the lock"
    );

    ok(cache.remove(&key).await, "remove");
    assert!(
        !lock(cache, &key, &LockToken::generate()).await,
        "removing the entry released the lock"
    );

    ok(cache.set(&key, value.clone(), &options).await, "set again");
    ok(cache.unlock(&key, &holder).await, "unlock");
    assert_eq!(
        ok(cache.get(&key).await, "get after unlock"),
        Some(value),
        "unlocking removed the entry"
    );
    ok(cache.remove(&key).await, "remove (clean up)");
}
