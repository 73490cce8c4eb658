//! Expiry: sliding expiration extended by `get` and `refresh`, capped by absolute expiration,
//! and entries really gone once expired.
//!
//! Times in the comments are seconds since the `set`. Sliding windows are whole seconds (SQL
//! Server stores them so), and every check is at least 0.6 s away from the deadline it tests.
//! Checks that expect the entry alive are timed from just *before* the write (the store's
//! deadline can only be later); checks that expect it gone are timed from just *after* the write
//! returned (the deadline can only be earlier).

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::time::Instant;

use super::{ok, sleep_until_ms, unique_key};
use crate::cache::SharedCache;
use crate::entry_options::EntryOptions;

/// Each `get` moves a 2 s sliding deadline out: read at 1 s and 2 s, the entry is still there
/// at 3 s, a full second after its original deadline (2 s) and before the current one (4 s).
pub async fn get_extends_sliding_expiration(cache: &SharedCache) {
    let key = unique_key("get_slides");
    let value = Bytes::from_static(b"sliding");
    let options = EntryOptions::sliding(Duration::from_secs(2));
    let before = Instant::now();
    ok(cache.set(&key, value.clone(), &options).await, "set");
    for at_ms in [1_000, 2_000, 3_000] {
        // Each earlier `get` started at least 1 s before this one, so the deadline it set is at
        // least 1 s ahead of this read.
        sleep_until_ms(before, at_ms).await;
        assert_eq!(
            ok(cache.get(&key).await, "get"),
            Some(value.clone()),
            "the entry expired although `get` kept sliding it (read at {at_ms} ms)"
        );
    }
}

/// Each `refresh` moves a 2 s sliding deadline out: refreshed at 1 s and 2 s, the entry is still
/// there at 3 s, a full second after its original deadline and before the current one (4 s).
pub async fn refresh_extends_sliding_expiration(cache: &SharedCache) {
    let key = unique_key("refresh_slides");
    let value = Bytes::from_static(b"sliding");
    let options = EntryOptions::sliding(Duration::from_secs(2));
    let before = Instant::now();
    ok(cache.set(&key, value.clone(), &options).await, "set");
    sleep_until_ms(before, 1_000).await;
    ok(cache.refresh(&key).await, "refresh at 1 s");
    sleep_until_ms(before, 2_000).await;
    ok(cache.refresh(&key).await, "refresh at 2 s");
    sleep_until_ms(before, 3_000).await;
    assert_eq!(
        ok(cache.get(&key).await, "get at 3 s"),
        Some(value),
        "the entry expired although `refresh` kept sliding it"
    );
}

/// An entry with a 1 s sliding window that nobody touches is gone at 1.7 s.
pub async fn sliding_expiration_expires(cache: &SharedCache) {
    let key = unique_key("sliding_expires");
    let options = EntryOptions::sliding(Duration::from_secs(1));
    ok(
        cache.set(&key, Bytes::from_static(b"v"), &options).await,
        "set",
    );
    let after = Instant::now();
    sleep_until_ms(after, 1_700).await;
    assert_eq!(
        ok(cache.get(&key).await, "get at 1.7 s"),
        None,
        "the entry outlived its 1 s sliding expiration"
    );
}

/// Sliding (2 s) never passes the absolute expiration (2.5 s): read at 0.9 s and 1.8 s the entry
/// lives, and at 3.1 s it is gone although the last read would have slid it to 3.8 s.
pub async fn sliding_is_capped_by_absolute(cache: &SharedCache) {
    let key = unique_key("sliding_capped");
    let value = Bytes::from_static(b"capped");
    let options = EntryOptions::sliding(Duration::from_secs(2))
        .absolute_expiration_relative_to_now(Duration::from_millis(2_500));
    let before = Instant::now();
    ok(cache.set(&key, value.clone(), &options).await, "set");
    let after = Instant::now();
    sleep_until_ms(before, 900).await;
    assert_eq!(
        ok(cache.get(&key).await, "get at 0.9 s"),
        Some(value.clone())
    );
    sleep_until_ms(before, 1_800).await;
    assert_eq!(ok(cache.get(&key).await, "get at 1.8 s"), Some(value));
    sleep_until_ms(after, 3_100).await;
    assert_eq!(
        ok(cache.get(&key).await, "get at 3.1 s"),
        None,
        "sliding kept the entry past its absolute expiration (2.5 s)"
    );
}

/// An absolute expiration of 1 s relative to now: present right away, gone at 1.7 s.
pub async fn absolute_relative_expiration_expires(cache: &SharedCache) {
    let options = EntryOptions::new().absolute_expiration_relative_to_now(Duration::from_secs(1));
    expires_as_scheduled(cache, "absolute_relative", &options).await;
}

/// An absolute expiration at a point in time 1 s ahead: present right away, gone at 1.7 s.
pub async fn absolute_point_in_time_expiration_expires(cache: &SharedCache) {
    let options =
        EntryOptions::new().absolute_expiration(SystemTime::now() + Duration::from_secs(1));
    expires_as_scheduled(cache, "absolute_at", &options).await;
}

/// Writes an entry with `options` (expiring 1 s after the write), checks it is there right away
/// and gone at 1.7 s.
async fn expires_as_scheduled(cache: &SharedCache, label: &str, options: &EntryOptions) {
    let key = unique_key(label);
    let value = Bytes::from_static(b"v");
    ok(cache.set(&key, value.clone(), options).await, "set");
    let after = Instant::now();
    assert_eq!(ok(cache.get(&key).await, "get right away"), Some(value));
    sleep_until_ms(after, 1_700).await;
    assert_eq!(
        ok(cache.get(&key).await, "get at 1.7 s"),
        None,
        "the entry outlived its absolute expiration ({options:?})"
    );
}

/// An entry written with no expiration is still there after an entry with a 1 s sliding
/// expiration, written alongside it, is gone.
pub async fn entry_without_expiration_stays(cache: &SharedCache) {
    let key = unique_key("no_expiration");
    let witness = unique_key("no_expiration_witness");
    let value = Bytes::from_static(b"forever");
    ok(
        cache.set(&key, value.clone(), &EntryOptions::new()).await,
        "set",
    );
    ok(
        cache
            .set(
                &witness,
                Bytes::from_static(b"short"),
                &EntryOptions::sliding(Duration::from_secs(1)),
            )
            .await,
        "set witness",
    );
    let after = Instant::now();
    sleep_until_ms(after, 1_700).await;
    assert_eq!(ok(cache.get(&witness).await, "get witness"), None);
    assert_eq!(
        ok(cache.get(&key).await, "get at 1.7 s"),
        Some(value),
        "an entry without expiration disappeared"
    );
    ok(cache.remove(&key).await, "remove (clean up)");
}
