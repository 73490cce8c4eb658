//! Behaviour specific to the memory cache: the byte bound, eviction of expired entries and
//! locks (nothing leaks), and configuration errors.

use std::time::Duration;

use bytes::Bytes;
use cache_memory::{
    CacheError, ConfigError, DistributedCache, EntryOptions, LockToken, MemoryCache,
    MemoryCacheOptions, entry_weight,
};

const LONG: EntryOptions = EntryOptions::sliding(Duration::from_secs(300));

#[tokio::test]
async fn byte_bound_evicts_least_recently_used() {
    const MAX: u64 = 64 * 1024;
    let cache = MemoryCache::builder().max_bytes(MAX).build().unwrap();
    let value = Bytes::from(vec![7u8; 4096]);
    for i in 0..100 {
        cache
            .set(&format!("entry-{i:03}"), value.clone(), &LONG)
            .await
            .unwrap();
    }
    cache.run_pending_tasks().await;

    assert!(
        cache.weighted_size() <= MAX,
        "weighted size {} exceeds the bound {MAX}",
        cache.weighted_size()
    );
    let per_entry = entry_weight("entry-000", 4096);
    assert!(cache.entry_count() > 0);
    assert!(cache.entry_count() <= MAX / per_entry);
    // LRU: the oldest entries went, the newest is there.
    assert_eq!(cache.get("entry-000").await.unwrap(), None);
    assert_eq!(cache.get("entry-099").await.unwrap(), Some(value));
}

#[tokio::test]
async fn entry_larger_than_the_bound_is_refused() {
    let cache = MemoryCache::builder().max_bytes(1024).build().unwrap();
    let result = cache.set("big", Bytes::from(vec![0u8; 2048]), &LONG).await;
    assert!(
        matches!(
            result,
            Err(CacheError::PayloadTooLarge { size, limit: 1024 })
                if size as u64 == entry_weight("big", 2048)
        ),
        "{result:?}"
    );
    assert_eq!(cache.get("big").await.unwrap(), None);
}

#[tokio::test]
async fn expired_entries_and_locks_are_evicted() {
    let cache = MemoryCache::new();
    let short = EntryOptions::new().absolute_expiration_relative_to_now(Duration::from_secs(1));
    let sliding = EntryOptions::sliding(Duration::from_secs(1));
    for i in 0..1000 {
        let options = if i % 2 == 0 { &short } else { &sliding };
        cache
            .set(&format!("short-{i}"), Bytes::from(vec![1u8; 100]), options)
            .await
            .unwrap();
    }
    for i in 0..100 {
        let taken = cache
            .try_lock(
                &format!("lock-{i}"),
                &LockToken::generate(),
                Duration::from_secs(1),
            )
            .await
            .unwrap();
        assert!(taken);
    }
    // Everything above expires 1 s after it was written; this is checked well before.
    cache.run_pending_tasks().await;
    assert_eq!(cache.entry_count(), 1000);
    assert!(cache.weighted_size() > 0);
    assert_eq!(cache.lock_count(), 100);

    tokio::time::sleep(Duration::from_millis(2_000)).await;
    cache.run_pending_tasks().await;
    assert_eq!(cache.entry_count(), 0, "expired entries leaked");
    assert_eq!(cache.weighted_size(), 0, "expired entries still weigh");
    assert_eq!(cache.lock_count(), 0, "expired locks leaked");
}

#[tokio::test]
async fn unlocked_and_removed_keys_leave_nothing_behind() {
    let cache = MemoryCache::new();
    let token = LockToken::generate();
    cache
        .set("k", Bytes::from_static(b"v"), &LONG)
        .await
        .unwrap();
    assert!(
        cache
            .try_lock("k", &token, Duration::from_secs(60))
            .await
            .unwrap()
    );
    cache.run_pending_tasks().await;
    assert_eq!((cache.entry_count(), cache.lock_count()), (1, 1));

    cache.unlock("k", &token).await.unwrap();
    cache.remove("k").await.unwrap();
    cache.run_pending_tasks().await;
    assert_eq!((cache.entry_count(), cache.lock_count()), (0, 0));
    assert_eq!(cache.weighted_size(), 0);
}

#[test]
fn zero_max_bytes_is_a_config_error() {
    assert_eq!(
        MemoryCache::builder().max_bytes(0).build().unwrap_err(),
        ConfigError::ZeroSize("max_bytes")
    );
    assert_eq!(
        MemoryCache::with_options({
            let mut options = MemoryCacheOptions::default();
            options.max_bytes = 0;
            options
        })
        .unwrap_err(),
        ConfigError::ZeroSize("max_bytes")
    );
}

#[test]
fn defaults() {
    let cache = MemoryCache::new();
    assert_eq!(cache.max_bytes(), 64 * 1024 * 1024);
    assert_eq!(MemoryCacheOptions::default().max_bytes, 64 * 1024 * 1024);
    assert_eq!(cache.cache_type(), "memory");
    assert!(!cache.performs_io(), "sessions skip the IO timeout for it");
    assert!(format!("{cache:?}").contains("max_bytes"));
}
