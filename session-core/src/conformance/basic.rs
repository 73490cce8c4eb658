//! Basic entry operations: round trips, missing keys, overwrite, remove, refresh, ping, options.

use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::{ok, unique_key};
use crate::cache::{SharedCache, WriteCondition};
use crate::entry_options::EntryOptions;
use crate::error::CacheError;

/// Options used by basic cases: a long sliding window, so nothing expires during a case.
const LONG: EntryOptions = EntryOptions::sliding(Duration::from_secs(300));

/// A value written with `set` is read back unchanged by `get`.
pub async fn round_trip(cache: &SharedCache) {
    let key = unique_key("round_trip");
    let value = Bytes::from_static(b"hello, session");
    ok(cache.set(&key, value.clone(), &LONG).await, "set");
    assert_eq!(ok(cache.get(&key).await, "get"), Some(value));
}

/// An empty value is stored and read back as empty: present, not missing.
pub async fn empty_value_round_trips(cache: &SharedCache) {
    let key = unique_key("empty_value");
    ok(cache.set(&key, Bytes::new(), &LONG).await, "set");
    assert_eq!(ok(cache.get(&key).await, "get"), Some(Bytes::new()));
}

/// A 1 MiB value cycling through all 256 byte values survives intact (no text encoding, no
/// truncation, no NUL handling on the way).
pub async fn large_binary_value_round_trips(cache: &SharedCache) {
    let key = unique_key("large_binary");
    let value: Bytes = (0..1024 * 1024usize)
        .map(|i| (i % 256) as u8)
        .collect::<Vec<u8>>()
        .into();
    ok(cache.set(&key, value.clone(), &LONG).await, "set");
    let read = ok(cache.get(&key).await, "get");
    let Some(read) = read else {
        panic!("the 1 MiB value was not found");
    };
    assert_eq!(read.len(), value.len(), "length of the 1 MiB value");
    assert!(read == value, "the 1 MiB value came back altered");
}

/// `get` of a key that was never written is `None`.
pub async fn missing_key_is_none(cache: &SharedCache) {
    let key = unique_key("missing");
    assert_eq!(ok(cache.get(&key).await, "get"), None);
}

/// A second `set` replaces the first value.
pub async fn overwrite_replaces_value(cache: &SharedCache) {
    let key = unique_key("overwrite");
    ok(
        cache.set(&key, Bytes::from_static(b"first"), &LONG).await,
        "set 1",
    );
    ok(
        cache.set(&key, Bytes::from_static(b"second"), &LONG).await,
        "set 2",
    );
    assert_eq!(
        ok(cache.get(&key).await, "get"),
        Some(Bytes::from_static(b"second"))
    );
}

/// `remove` deletes the entry; removing it again (or any missing key) is `Ok`.
pub async fn remove_is_idempotent(cache: &SharedCache) {
    let key = unique_key("remove");
    ok(
        cache.set(&key, Bytes::from_static(b"v"), &LONG).await,
        "set",
    );
    ok(cache.remove(&key).await, "remove");
    assert_eq!(ok(cache.get(&key).await, "get after remove"), None);
    ok(cache.remove(&key).await, "second remove");
    ok(
        cache.remove(&unique_key("never_written")).await,
        "remove of a missing key",
    );
    assert_eq!(ok(cache.get(&key).await, "get after second remove"), None);
}

/// Keys are compared case-sensitively: `…Key` and `…key` are two entries.
pub async fn keys_are_case_sensitive(cache: &SharedCache) {
    let base = unique_key("case");
    let upper = format!("{base}:Key");
    let lower = format!("{base}:key");
    ok(
        cache.set(&upper, Bytes::from_static(b"upper"), &LONG).await,
        "set Key",
    );
    assert_eq!(ok(cache.get(&lower).await, "get key before its set"), None);
    ok(
        cache.set(&lower, Bytes::from_static(b"lower"), &LONG).await,
        "set key",
    );
    assert_eq!(
        ok(cache.get(&upper).await, "get Key"),
        Some(Bytes::from_static(b"upper"))
    );
    assert_eq!(
        ok(cache.get(&lower).await, "get key"),
        Some(Bytes::from_static(b"lower"))
    );
    ok(cache.remove(&lower).await, "remove key");
    assert_eq!(
        ok(cache.get(&upper).await, "get Key after removing key"),
        Some(Bytes::from_static(b"upper"))
    );
}

/// `refresh` of a missing key is `Ok` and does not create an entry.
pub async fn refresh_of_missing_key_is_noop(cache: &SharedCache) {
    let key = unique_key("refresh_missing");
    ok(cache.refresh(&key).await, "refresh");
    assert_eq!(ok(cache.get(&key).await, "get"), None);
}

/// `ping` answers `Ok`.
pub async fn ping_succeeds(cache: &SharedCache) {
    ok(cache.ping().await, "ping");
}

/// `cache_type` is a non-empty name.
pub async fn cache_type_is_named(cache: &SharedCache) {
    assert!(!cache.cache_type().trim().is_empty(), "empty cache_type");
}

/// `set` and `set_if` with invalid [`EntryOptions`] fail with [`CacheError::InvalidOptions`]
/// and write nothing.
pub async fn invalid_options_are_refused(cache: &SharedCache) {
    let key = unique_key("invalid_options");
    let invalid = [
        EntryOptions::sliding(Duration::ZERO),
        EntryOptions::new().absolute_expiration_relative_to_now(Duration::ZERO),
        EntryOptions::new().absolute_expiration(SystemTime::now() - Duration::from_secs(60)),
    ];
    for options in &invalid {
        let result = cache.set(&key, Bytes::from_static(b"v"), options).await;
        assert!(
            matches!(result, Err(CacheError::InvalidOptions(_))),
            "set with {options:?} gave {result:?}"
        );
        let result = cache
            .set_if(
                &key,
                Bytes::from_static(b"v"),
                options,
                &WriteCondition::Absent,
            )
            .await;
        assert!(
            matches!(result, Err(CacheError::InvalidOptions(_))),
            "set_if with {options:?} gave {result:?}"
        );
    }
    assert_eq!(ok(cache.get(&key).await, "get"), None);
}
