//! The stored layout matches Microsoft.Extensions.Caching.StackExchangeRedis, checked with raw
//! commands against a private `redis-server`.
// Test helpers outside #[test] fns: a failed setup must fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use redis::AsyncCommands;
use session_core::{CacheError, DistributedCache, EntryOptions};

const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;

fn ticks(t: SystemTime) -> i64 {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap();
    i64::try_from(d.as_nanos() / 100).unwrap() + UNIX_EPOCH_TICKS
}

/// What .NET's `SetScript` runs: `HSET key absexp A sldexp S data D` then `EXPIRE key secs`.
async fn dotnet_set(
    conn: &mut redis::aio::MultiplexedConnection,
    key: &str,
    absexp: i64,
    sldexp: i64,
    expire_secs: Option<i64>,
    data: &[u8],
) {
    let _: () = redis::cmd("HSET")
        .arg(key)
        .arg("absexp")
        .arg(absexp)
        .arg("sldexp")
        .arg(sldexp)
        .arg("data")
        .arg(data)
        .query_async(conn)
        .await
        .unwrap();
    if let Some(secs) = expire_secs {
        let _: () = conn.expire(key, secs).await.unwrap();
    }
}

#[tokio::test]
#[cfg_attr(
    redis_missing,
    ignore = "needs Redis: apt-get install redis-server, or set REDIS_URL (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn we_write_exactly_the_dotnet_fields() {
    let Some(server) = common::RedisServer::start().await else {
        return;
    };
    let cache = common::builder(&server, "compat").build().unwrap();
    let mut raw = common::raw(server.url()).await;

    let before = SystemTime::now();
    let options = EntryOptions::sliding(Duration::from_secs(60))
        .absolute_expiration_relative_to_now(Duration::from_secs(3600));
    cache
        .set("k", Bytes::from_static(b"\x00value\xff"), &options)
        .await
        .unwrap();
    let after = SystemTime::now();

    let key = cache.redis_key("k");
    assert!(key.ends_with("_k") && key.starts_with(cache.instance_name()));
    let ty: String = redis::cmd("TYPE")
        .arg(&key)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(ty, "hash");
    let fields: std::collections::HashMap<String, Vec<u8>> = raw.hgetall(&key).await.unwrap();
    let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["absexp", "data", "sldexp"]);
    assert_eq!(fields["data"], b"\x00value\xff");
    assert_eq!(fields["sldexp"], b"600000000"); // TimeSpan.FromSeconds(60).Ticks
    let absexp: i64 = std::str::from_utf8(&fields["absexp"])
        .unwrap()
        .parse()
        .unwrap();
    let hour = 36_000_000_000;
    assert!(
        absexp >= ticks(before) + hour && absexp <= ticks(after) + hour,
        "{absexp}"
    );
    // TTL = min(absolute - now, sliding) = 60 s, set in milliseconds.
    let pttl: i64 = raw.pttl(&key).await.unwrap();
    assert!((59_000..=60_000).contains(&pttl), "{pttl}");

    // No expiration at all: -1 / -1 and no TTL, even when overwriting an expiring entry.
    cache
        .set("k", Bytes::from_static(b"v2"), &EntryOptions::new())
        .await
        .unwrap();
    let fields: std::collections::HashMap<String, String> = raw.hgetall(&key).await.unwrap();
    assert_eq!(fields["absexp"], "-1");
    assert_eq!(fields["sldexp"], "-1");
    assert_eq!(fields["data"], "v2");
    let ttl: i64 = raw.ttl(&key).await.unwrap();
    assert_eq!(ttl, -1);

    // Only absolute: sldexp -1, TTL = absolute - now.
    cache
        .set(
            "k",
            Bytes::from_static(b"v3"),
            &EntryOptions::new().absolute_expiration_relative_to_now(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    let sld: String = raw.hget(&key, "sldexp").await.unwrap();
    assert_eq!(sld, "-1");
    let pttl: i64 = raw.pttl(&key).await.unwrap();
    assert!((29_000..=30_000).contains(&pttl), "{pttl}");
}

#[tokio::test]
#[cfg_attr(
    redis_missing,
    ignore = "needs Redis: apt-get install redis-server, or set REDIS_URL (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn dotnet_written_entries_read_back_with_their_expiry() {
    let Some(server) = common::RedisServer::start().await else {
        return;
    };
    let cache = common::builder(&server, "compat").build().unwrap();
    let mut raw = common::raw(server.url()).await;
    let now = SystemTime::now();

    // Sliding 2 s, absolute in an hour, as .NET writes it (EXPIRE in whole seconds).
    let sliding = cache.redis_key("sliding");
    dotnet_set(
        &mut raw,
        &sliding,
        ticks(now + Duration::from_secs(3600)),
        20_000_000,
        Some(2),
        b"s",
    )
    .await;
    // Sliding 60 s but absolute in 1.5 s: sliding must not extend past it.
    let capped = cache.redis_key("capped");
    dotnet_set(
        &mut raw,
        &capped,
        ticks(now + Duration::from_millis(1500)),
        600_000_000,
        Some(1),
        b"c",
    )
    .await;
    // No expiration.
    let forever = cache.redis_key("forever");
    dotnet_set(&mut raw, &forever, -1, -1, None, b"f").await;
    // Absolute already passed but the key still there (clock skew, or no TTL): not live.
    let stale = cache.redis_key("stale");
    dotnet_set(
        &mut raw,
        &stale,
        ticks(now - Duration::from_secs(1)),
        -1,
        None,
        b"x",
    )
    .await;

    assert_eq!(
        cache.get("sliding").await.unwrap().as_deref(),
        Some(&b"s"[..])
    );
    let pttl: i64 = raw.pttl(&sliding).await.unwrap();
    assert!(
        (1_500..=2_000).contains(&pttl),
        "get re-applied the 2 s slide: {pttl}"
    );

    assert_eq!(
        cache.get("capped").await.unwrap().as_deref(),
        Some(&b"c"[..])
    );
    let pttl: i64 = raw.pttl(&capped).await.unwrap();
    assert!(pttl <= 1_500, "slide capped by absolute: {pttl}");

    assert_eq!(
        cache.get("forever").await.unwrap().as_deref(),
        Some(&b"f"[..])
    );
    let ttl: i64 = raw.ttl(&forever).await.unwrap();
    assert_eq!(ttl, -1);

    assert_eq!(cache.get("stale").await.unwrap(), None);
    let exists: bool = raw.exists(&stale).await.unwrap();
    assert!(!exists, "a dead entry is deleted when found");

    // Refresh keeps the sliding entry alive past its original 2 s window.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    cache.refresh("sliding").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        cache.get("sliding").await.unwrap().as_deref(),
        Some(&b"s"[..])
    );
    // ... while the capped one died at its absolute expiration.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(cache.get("capped").await.unwrap(), None);
}

#[tokio::test]
#[cfg_attr(
    redis_missing,
    ignore = "needs Redis: apt-get install redis-server, or set REDIS_URL (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn entries_without_expiry_fields_read_like_dotnet() {
    let Some(server) = common::RedisServer::start().await else {
        return;
    };
    let cache = common::builder(&server, "compat").build().unwrap();
    let mut raw = common::raw(server.url()).await;
    // Only `data` (fields missing count as "none"), plus an unknown field that is ignored.
    let _: () = raw
        .hset_multiple(cache.redis_key("k"), &[("data", "v"), ("extra", "x")])
        .await
        .unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    // A hash without `data` is no entry.
    let _: () = raw
        .hset(cache.redis_key("nodata"), "absexp", "-1")
        .await
        .unwrap();
    assert_eq!(cache.get("nodata").await.unwrap(), None);
}

#[tokio::test]
#[cfg_attr(
    redis_missing,
    ignore = "needs Redis: apt-get install redis-server, or set REDIS_URL (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn malformed_stored_fields_are_corrupt_entries() {
    let Some(server) = common::RedisServer::start().await else {
        return;
    };
    let cache = common::builder(&server, "compat").build().unwrap();
    let mut raw = common::raw(server.url()).await;
    for (name, absexp, sldexp) in [
        ("abs-text", "soon", "-1"),
        ("abs-float", "6.3e17", "-1"),
        ("sld-text", "-1", "twenty minutes"),
        ("sld-zero", "-1", "0"),
        ("sld-negative", "-1", "-20"),
    ] {
        let key = cache.redis_key(name);
        let _: () = raw
            .hset_multiple(
                &key,
                &[("absexp", absexp), ("sldexp", sldexp), ("data", "v")],
            )
            .await
            .unwrap();
        let err = cache.get(name).await.unwrap_err();
        assert!(
            matches!(err, CacheError::CorruptEntry { .. }),
            "{name}: {err:?}"
        );
        assert!(matches!(
            cache.refresh(name).await,
            Err(CacheError::CorruptEntry { .. })
        ));
        assert!(matches!(
            cache
                .set_if(
                    name,
                    Bytes::new(),
                    &EntryOptions::new(),
                    &session_core::WriteCondition::Absent
                )
                .await,
            Err(CacheError::CorruptEntry { .. })
        ));
        // The corrupt entry is left for inspection, and can be overwritten or removed.
        let exists: bool = raw.exists(&key).await.unwrap();
        assert!(exists);
        cache.remove(name).await.unwrap();
    }
    // A key of the wrong type is a backend error, not a panic.
    let _: () = raw.set(cache.redis_key("string"), "v").await.unwrap();
    assert!(matches!(
        cache.get("string").await,
        Err(CacheError::Backend { .. })
    ));
}

#[tokio::test]
#[cfg_attr(
    redis_missing,
    ignore = "needs Redis: apt-get install redis-server, or set REDIS_URL (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn locks_live_beside_entries_in_the_same_slot() {
    let Some(server) = common::RedisServer::start().await else {
        return;
    };
    let cache = common::builder(&server, "compat").build().unwrap();
    let mut raw = common::raw(server.url()).await;
    let token = session_core::LockToken::generate();
    assert!(
        cache
            .try_lock("k", &token, Duration::from_secs(30))
            .await
            .unwrap()
    );
    let lock_key = cache.redis_lock_key("k");
    assert!(lock_key.starts_with('{') && lock_key.ends_with(&cache.redis_key("k")));
    let held: String = raw.get(&lock_key).await.unwrap();
    assert_eq!(held, token.as_str());
    let pttl: i64 = raw.pttl(&lock_key).await.unwrap();
    assert!((29_000..=30_000).contains(&pttl), "{pttl}");
    // The entry key is untouched by locking; removing the entry leaves the lock.
    let exists: bool = raw.exists(cache.redis_key("k")).await.unwrap();
    assert!(!exists);
    cache
        .set("k", Bytes::from_static(b"v"), &EntryOptions::new())
        .await
        .unwrap();
    cache.remove("k").await.unwrap();
    let held: Option<String> = raw.get(&lock_key).await.unwrap();
    assert_eq!(held.as_deref(), Some(token.as_str()));
    cache.unlock("k", &token).await.unwrap();
    let held: Option<String> = raw.get(&lock_key).await.unwrap();
    assert_eq!(held, None);
}
