//! Conditional removal ([`DistributedCache::remove_if_equals`](crate::DistributedCache::remove_if_equals)):
//! only a live entry holding exactly the expected bytes goes; everything else is left untouched.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Barrier;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{ok, sleep_until_ms, unique_key};
use crate::cache::{SharedCache, WriteCondition};
use crate::entry_options::EntryOptions;
use crate::token::LockToken;

/// Options of entries written by these cases: long enough that nothing expires by accident.
const LONG: EntryOptions = EntryOptions::sliding(Duration::from_secs(300));
/// Lease of locks taken by these cases.
const LEASE: Duration = Duration::from_secs(30);

/// The value a case writes first.
const OLD: &[u8] = b"old";

/// [`OLD`] as a value.
fn old() -> Bytes {
    Bytes::from_static(OLD)
}

/// Removes `key` if it holds `expected` and returns whether it did.
async fn remove_if(cache: &SharedCache, key: &str, expected: &[u8]) -> bool {
    ok(
        cache
            .remove_if_equals(key, &Bytes::copy_from_slice(expected))
            .await,
        "remove_if_equals",
    )
}

/// A live entry holding exactly the expected value is removed; a second attempt finds nothing.
pub async fn remove_if_equals_removes_when_equal(cache: &SharedCache) {
    let key = unique_key("remove_if_equal");
    ok(cache.set(&key, old(), &LONG).await, "set");
    assert!(
        remove_if(cache, &key, OLD).await,
        "an entry holding the expected value was not removed"
    );
    assert_eq!(ok(cache.get(&key).await, "get"), None);
    assert!(
        !remove_if(cache, &key, OLD).await,
        "a removed entry was reported removed again"
    );
}

/// A live entry holding another value is not removed, and keeps its value.
pub async fn remove_if_equals_keeps_different_value(cache: &SharedCache) {
    let key = unique_key("remove_if_different");
    ok(cache.set(&key, old(), &LONG).await, "set");
    assert!(!remove_if(cache, &key, b"olD").await);
    assert!(!remove_if(cache, &key, b"").await);
    assert!(!remove_if(cache, &key, b"old and more").await);
    assert_eq!(ok(cache.get(&key).await, "get"), Some(old()));
    ok(cache.remove(&key).await, "remove (clean up)");
}

/// A key without entry reports `false`, whatever the expected value, and stays missing.
pub async fn remove_if_equals_on_missing_key_is_false(cache: &SharedCache) {
    let key = unique_key("remove_if_missing");
    assert!(!remove_if(cache, &key, OLD).await);
    assert!(!remove_if(cache, &key, b"").await);
    assert_eq!(ok(cache.get(&key).await, "get"), None);
}

/// An expired entry counts as missing: an entry with a 1 s sliding window that nobody touches
/// holds the expected value, but at 1.7 s removing it reports `false`.
pub async fn remove_if_equals_on_expired_entry_is_false(cache: &SharedCache) {
    let key = unique_key("remove_if_expired");
    let short = EntryOptions::sliding(Duration::from_secs(1));
    ok(cache.set(&key, old(), &short).await, "set");
    let after = Instant::now();
    sleep_until_ms(after, 1_700).await;
    assert!(
        !remove_if(cache, &key, OLD).await,
        "an expired entry was reported removed"
    );
    assert_eq!(ok(cache.get(&key).await, "get"), None);
}

/// The comparison is byte-for-byte, trailing zero bytes included (SQL Server, for one, compares
/// `varbinary` ignoring them): `ab` is not `ab\0`, either way round.
pub async fn remove_if_equals_ignores_trailing_zero_difference(cache: &SharedCache) {
    let key = unique_key("remove_if_trailing_zero");
    let short = Bytes::from_static(b"ab");
    let padded = Bytes::from_static(b"ab\0");

    ok(cache.set(&key, short.clone(), &LONG).await, "set ab");
    assert!(
        !remove_if(cache, &key, &padded).await,
        "`ab` was removed as if it were `ab\\0`"
    );
    assert_eq!(ok(cache.get(&key).await, "get"), Some(short.clone()));

    ok(cache.set(&key, padded.clone(), &LONG).await, "set ab\\0");
    assert!(
        !remove_if(cache, &key, &short).await,
        "`ab\\0` was removed as if it were `ab`"
    );
    assert_eq!(ok(cache.get(&key).await, "get"), Some(padded));
    ok(cache.remove(&key).await, "remove (clean up)");
}

/// Removing the entry `k` leaves the lock on `k` held, and the lock (invisible as an entry) is
/// never removed as if it were one, not even when the expected value is its token.
pub async fn remove_if_equals_leaves_lock_alone(cache: &SharedCache) {
    let key = unique_key("remove_if_lock");
    let holder = LockToken::generate();
    assert!(ok(cache.try_lock(&key, &holder, LEASE).await, "try_lock"));

    assert!(
        !remove_if(cache, &key, holder.as_str().as_bytes()).await,
        "the lock was removed as an entry"
    );
    ok(cache.set(&key, old(), &LONG).await, "set");
    assert!(remove_if(cache, &key, OLD).await);
    assert_eq!(ok(cache.get(&key).await, "get"), None);
    assert!(
        !ok(
            cache.try_lock(&key, &LockToken::generate(), LEASE).await,
            "try_lock by another token"
        ),
        "removing the entry released the lock"
    );
    ok(cache.unlock(&key, &holder).await, "unlock");
}

/// Per round, one entry holds `v0` and 8 tasks race from a barrier: 7 compare-and-set it to a
/// value of their own (`set_if(ValueEquals(v0))`), 1 removes it (`remove_if_equals(v0)`).
/// Exactly one of them wins, and the entry ends as the winner left it (gone, or the winner's
/// value). The remover's place among the tasks changes each round.
pub async fn concurrent_remove_if_equals_and_compare_and_set(cache: &SharedCache) {
    const TASKS: usize = 8;
    const ROUNDS: usize = 6;
    let v0 = Bytes::from_static(b"v0");
    for round in 0..ROUNDS {
        let key = unique_key("remove_if_race");
        ok(cache.set(&key, v0.clone(), &LONG).await, "set v0");
        let remover = round % TASKS;
        let barrier = Arc::new(Barrier::new(TASKS));
        let tasks: Vec<JoinHandle<(usize, bool)>> = (0..TASKS)
            .map(|i| {
                let (cache, key, v0) = (Arc::clone(cache), key.clone(), v0.clone());
                let barrier = Arc::clone(&barrier);
                tokio::spawn(async move {
                    barrier.wait().await;
                    let won = if i == remover {
                        ok(cache.remove_if_equals(&key, &v0).await, "remove_if_equals")
                    } else {
                        let condition = WriteCondition::ValueEquals(v0);
                        ok(
                            cache.set_if(&key, task_value(i), &LONG, &condition).await,
                            "set_if",
                        )
                    };
                    (i, won)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            match task.await {
                Ok((i, true)) => winners.push(i),
                Ok((_, false)) => {}
                Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
                Err(error) => panic!("a task of the case did not finish: {error}"),
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "round {round}: tasks {winners:?} all won against v0 (remover: task {remover})"
        );
        let expected = winners
            .first()
            .filter(|&&winner| winner != remover)
            .map(|&winner| task_value(winner));
        assert_eq!(
            ok(cache.get(&key).await, "get"),
            expected,
            "round {round}: the entry does not match the winner, task {winners:?} (remover: task {remover})"
        );
        ok(cache.remove(&key).await, "remove (clean up)");
    }
}

/// The value compare-and-set task `i` writes.
fn task_value(i: usize) -> Bytes {
    Bytes::from(format!("v1 of task {i}").into_bytes())
}
