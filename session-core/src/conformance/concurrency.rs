//! Concurrency: many tasks on distinct keys, and compare-and-set on one key from many tasks
//! (which only ends at the exact count if `set_if` checks and writes atomically).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::task::JoinHandle;

use super::{ok, unique_key};
use crate::cache::{SharedCache, WriteCondition};
use crate::entry_options::EntryOptions;

/// Options of entries written by these cases.
const LONG: EntryOptions = EntryOptions::sliding(Duration::from_secs(300));

/// 64 tasks each write a distinct key and read it back; every task reads its own value.
pub async fn concurrent_distinct_keys(cache: &SharedCache) {
    const TASKS: usize = 64;
    let base = unique_key("distinct");
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let cache = Arc::clone(cache);
            let key = format!("{base}:{i}");
            tokio::spawn(async move {
                let value = Bytes::from(format!("value of task {i}").into_bytes());
                ok(cache.set(&key, value.clone(), &LONG).await, "set");
                assert_eq!(ok(cache.get(&key).await, "get"), Some(value));
                ok(cache.remove(&key).await, "remove (clean up)");
            })
        })
        .collect();
    join_all(tasks).await;
}

/// 16 tasks each increment one shared counter 10 times with `get` + `set_if(ValueEquals)` retry
/// loops; the counter ends at exactly 160. A `set_if` that checks and writes in two steps loses
/// increments and fails this case.
pub async fn concurrent_compare_and_set(cache: &SharedCache) {
    const TASKS: u64 = 16;
    const INCREMENTS: u64 = 10;
    // Far more attempts than contention between 16 tasks can need; only a `set_if` that keeps
    // refusing a matching value reaches it.
    const MAX_ATTEMPTS: u32 = 10_000;

    let key = unique_key("counter");
    ok(
        cache.set(&key, Bytes::from_static(b"0"), &LONG).await,
        "set",
    );
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let cache = Arc::clone(cache);
            let key = key.clone();
            tokio::spawn(async move {
                for _ in 0..INCREMENTS {
                    let mut attempts = 0;
                    loop {
                        attempts += 1;
                        assert!(attempts <= MAX_ATTEMPTS, "compare-and-set never succeeded");
                        let Some(current) = ok(cache.get(&key).await, "get") else {
                            panic!("the counter disappeared");
                        };
                        let next = parse_counter(&current) + 1;
                        let applied = ok(
                            cache
                                .set_if(
                                    &key,
                                    Bytes::from(next.to_string().into_bytes()),
                                    &LONG,
                                    &WriteCondition::ValueEquals(current),
                                )
                                .await,
                            "set_if",
                        );
                        if applied {
                            break;
                        }
                        // Let the task that won run on before trying again.
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    join_all(tasks).await;
    let Some(last) = ok(cache.get(&key).await, "final get") else {
        panic!("the counter disappeared");
    };
    assert_eq!(
        parse_counter(&last),
        TASKS * INCREMENTS,
        "increments were lost: set_if is not atomic"
    );
    ok(cache.remove(&key).await, "remove (clean up)");
}

/// Waits for every task, re-raising the first task's panic so its message is the case's failure.
async fn join_all(tasks: Vec<JoinHandle<()>>) {
    for task in tasks {
        match task.await {
            Ok(()) => {}
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => panic!("a task of the case did not finish: {error}"),
        }
    }
}

/// Reads the decimal counter the compare-and-set case stores.
fn parse_counter(value: &Bytes) -> u64 {
    match std::str::from_utf8(value).ok().and_then(|s| s.parse().ok()) {
        Some(n) => n,
        None => panic!("the counter holds {value:?}, not a decimal number"),
    }
}
