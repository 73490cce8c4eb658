//! Conditional writes ([`DistributedCache::set_if`](crate::DistributedCache::set_if)) under each
//! [`WriteCondition`]. Every refused write must leave the previous state untouched.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::{ok, sleep_until_ms, unique_key};
use crate::cache::{SharedCache, WriteCondition};
use crate::entry_options::EntryOptions;
use crate::token::LockToken;

/// Options of entries written by these cases: long enough that nothing expires by accident.
const LONG: EntryOptions = EntryOptions::sliding(Duration::from_secs(300));
/// Lease of locks taken by these cases, unless the case tests lease expiry.
const LEASE: Duration = Duration::from_secs(30);

/// The value a case writes first.
const OLD: &[u8] = b"old";
/// The value a conditional write tries to put in its place.
const NEW: &[u8] = b"new";

/// [`OLD`] as a value.
fn old() -> Bytes {
    Bytes::from_static(OLD)
}

/// [`NEW`] as a value.
fn new() -> Bytes {
    Bytes::from_static(NEW)
}

/// Writes `NEW` under `key` if `condition` holds and returns whether it was applied.
async fn set_new_if(cache: &SharedCache, key: &str, condition: WriteCondition) -> bool {
    ok(cache.set_if(key, new(), &LONG, &condition).await, "set_if")
}

/// `Absent` writes when the key has no entry.
pub async fn set_if_absent_applies_on_missing_key(cache: &SharedCache) {
    let key = unique_key("absent_missing");
    assert!(set_new_if(cache, &key, WriteCondition::Absent).await);
    assert_eq!(ok(cache.get(&key).await, "get"), Some(new()));
}

/// `Absent` refuses over a live entry, which keeps its value.
pub async fn set_if_absent_refuses_on_live_key(cache: &SharedCache) {
    let key = unique_key("absent_live");
    ok(cache.set(&key, old(), &LONG).await, "set");
    assert!(!set_new_if(cache, &key, WriteCondition::Absent).await);
    assert_eq!(ok(cache.get(&key).await, "get"), Some(old()));
}

/// An expired entry counts as absent: `Absent` writes over it.
pub async fn set_if_absent_applies_over_expired_entry(cache: &SharedCache) {
    let key = unique_key("absent_expired");
    let short = EntryOptions::new().absolute_expiration_relative_to_now(Duration::from_secs(1));
    ok(cache.set(&key, old(), &short).await, "set");
    let after = Instant::now();
    sleep_until_ms(after, 1_700).await;
    assert!(
        set_new_if(cache, &key, WriteCondition::Absent).await,
        "an expired entry blocked `Absent`"
    );
    assert_eq!(ok(cache.get(&key).await, "get"), Some(new()));
}

/// `ValueEquals` writes when the live value is byte-for-byte the expected one.
pub async fn set_if_value_equals_applies_when_equal(cache: &SharedCache) {
    let key = unique_key("equals_equal");
    ok(cache.set(&key, old(), &LONG).await, "set");
    assert!(set_new_if(cache, &key, WriteCondition::ValueEquals(old())).await);
    assert_eq!(ok(cache.get(&key).await, "get"), Some(new()));
}

/// `ValueEquals` refuses when the live value differs, and the value is left as it was.
pub async fn set_if_value_equals_refuses_when_different(cache: &SharedCache) {
    let key = unique_key("equals_different");
    ok(cache.set(&key, old(), &LONG).await, "set");
    let other = Bytes::from_static(b"olD");
    assert!(!set_new_if(cache, &key, WriteCondition::ValueEquals(other)).await);
    assert!(!set_new_if(cache, &key, WriteCondition::ValueEquals(Bytes::new())).await);
    assert_eq!(ok(cache.get(&key).await, "get"), Some(old()));
}

/// `ValueEquals` refuses when there is no entry, which stays missing.
pub async fn set_if_value_equals_refuses_when_missing(cache: &SharedCache) {
    let key = unique_key("equals_missing");
    assert!(!set_new_if(cache, &key, WriteCondition::ValueEquals(old())).await);
    assert!(!set_new_if(cache, &key, WriteCondition::ValueEquals(Bytes::new())).await);
    assert_eq!(ok(cache.get(&key).await, "get"), None);
}

/// `LockHeld` writes when the lock on the key is held with the given token.
pub async fn set_if_lock_held_applies_with_holder_token(cache: &SharedCache) {
    let key = unique_key("lock_held_holder");
    let token = LockToken::generate();
    ok(cache.set(&key, old(), &LONG).await, "set");
    assert!(ok(cache.try_lock(&key, &token, LEASE).await, "try_lock"));
    assert!(set_new_if(cache, &key, WriteCondition::LockHeld(token.clone())).await);
    assert_eq!(ok(cache.get(&key).await, "get"), Some(new()));
    ok(cache.unlock(&key, &token).await, "unlock");
}

/// `LockHeld` refuses when the lock is held with another token; the value is left as it was.
pub async fn set_if_lock_held_refuses_with_other_token(cache: &SharedCache) {
    let key = unique_key("lock_held_other");
    let holder = LockToken::generate();
    ok(cache.set(&key, old(), &LONG).await, "set");
    assert!(ok(cache.try_lock(&key, &holder, LEASE).await, "try_lock"));
    assert!(!set_new_if(cache, &key, WriteCondition::LockHeld(LockToken::generate())).await);
    assert_eq!(ok(cache.get(&key).await, "get"), Some(old()));
    ok(cache.unlock(&key, &holder).await, "unlock");
}

/// `LockHeld` refuses once the holder's lease (1 s) has run out; the value is left as it was.
pub async fn set_if_lock_held_refuses_after_lease_expired(cache: &SharedCache) {
    let key = unique_key("lock_held_expired");
    let token = LockToken::generate();
    ok(cache.set(&key, old(), &LONG).await, "set");
    assert!(ok(
        cache.try_lock(&key, &token, Duration::from_secs(1)).await,
        "try_lock"
    ));
    let after = Instant::now();
    sleep_until_ms(after, 1_700).await;
    assert!(
        !set_new_if(cache, &key, WriteCondition::LockHeld(token)).await,
        "a write was accepted under an expired lease"
    );
    assert_eq!(ok(cache.get(&key).await, "get"), Some(old()));
}

/// `LockHeld` refuses when nobody locked the key, with or without an entry under it.
pub async fn set_if_lock_held_refuses_without_lock(cache: &SharedCache) {
    let key = unique_key("lock_held_none");
    let token = LockToken::generate();
    assert!(!set_new_if(cache, &key, WriteCondition::LockHeld(token.clone())).await);
    assert_eq!(ok(cache.get(&key).await, "get while missing"), None);
    ok(cache.set(&key, old(), &LONG).await, "set");
    assert!(!set_new_if(cache, &key, WriteCondition::LockHeld(token)).await);
    assert_eq!(ok(cache.get(&key).await, "get"), Some(old()));
}
