//! Faults on a private server: restart, freeze (SIGSTOP), pool exhaustion, shared connections.
// Test helpers outside #[test] fns: a failed setup must fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use session_core::{CacheError, DistributedCache, EntryOptions, WriteCondition};

/// What the session's IO timeout would be in these tests.
const IO_TIMEOUT: Duration = Duration::from_millis(500);

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn operations_succeed_after_a_restart() {
    let Some(mut server) = common::RedisServer::start().await else {
        return;
    };
    common::require_private(&server);
    let cache = common::builder(&server, "faults")
        .pool_max_size(4)
        .build()
        .unwrap();
    let options = EntryOptions::sliding(Duration::from_secs(60));
    // Several pooled connections, all of which die with the restart.
    let keys: Vec<String> = (0..4).map(|i| format!("k{i}")).collect();
    let writes = keys
        .iter()
        .map(|k| cache.set(k, Bytes::from_static(b"v"), &options));
    for result in futures_util::future::join_all(writes).await {
        result.unwrap();
    }
    server.restart().await.unwrap();

    // Idempotent operations go straight through: the dead connection is discarded and the
    // operation re-sent on a new one. The data is gone (no persistence), so `None`.
    for i in 0..4 {
        assert_eq!(cache.get(&format!("k{i}")).await.unwrap(), None);
    }
    cache
        .set("k", Bytes::from_static(b"after"), &options)
        .await
        .unwrap();
    assert_eq!(
        cache.get("k").await.unwrap().as_deref(),
        Some(&b"after"[..])
    );
    cache.ping().await.unwrap();
    assert!(
        cache
            .set_if("new", Bytes::new(), &options, &WriteCondition::Absent)
            .await
            .unwrap()
    );
}

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn conditional_writes_recover_after_a_restart_once_idle_connections_are_checked() {
    let Some(mut server) = common::RedisServer::start().await else {
        return;
    };
    common::require_private(&server);
    let cache = common::builder(&server, "faults")
        .idle_check_after(Duration::from_millis(100))
        .build()
        .unwrap();
    cache.ping().await.unwrap();
    server.restart().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // set_if(Absent) is never re-sent, but the idle connection is PINGed on checkout, found dead
    // and replaced before the script is sent.
    let options = EntryOptions::new();
    assert!(
        cache
            .set_if(
                "k",
                Bytes::from_static(b"v"),
                &options,
                &WriteCondition::Absent
            )
            .await
            .unwrap()
    );
}

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn a_frozen_server_times_out_and_recovers_after_thaw() {
    let Some(mut server) = common::RedisServer::start().await else {
        return;
    };
    common::require_private(&server);
    let cache = common::builder(&server, "faults").build().unwrap();
    let options = EntryOptions::sliding(Duration::from_secs(60));
    cache
        .set("k", Bytes::from_static(b"v"), &options)
        .await
        .unwrap();

    server.freeze().unwrap();
    let started = Instant::now();
    let result = tokio::time::timeout(IO_TIMEOUT, cache.get("k")).await;
    let waited = started.elapsed();
    assert!(result.is_err(), "a frozen server cannot answer: {result:?}");
    assert!(
        waited < IO_TIMEOUT + Duration::from_millis(300),
        "{waited:?}"
    );
    server.thaw().unwrap();

    // The abandoned request's reply arrives after the thaw and is discarded; the connection
    // keeps working.
    let got = tokio::time::timeout(Duration::from_secs(5), cache.get("k")).await;
    assert_eq!(got.unwrap().unwrap().as_deref(), Some(&b"v"[..]));
    cache
        .set("k", Bytes::from_static(b"v2"), &options)
        .await
        .unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v2"[..]));
}

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn a_response_timeout_fails_the_call_and_recovers_after_thaw() {
    let Some(mut server) = common::RedisServer::start().await else {
        return;
    };
    common::require_private(&server);
    let cache = common::builder(&server, "faults")
        .response_timeout(Some(Duration::from_millis(300)))
        .build()
        .unwrap();
    cache.ping().await.unwrap();
    server.freeze().unwrap();
    let started = Instant::now();
    let err = cache.ping().await.unwrap_err();
    assert!(
        matches!(
            err,
            CacheError::Backend {
                operation: "ping",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    server.thaw().unwrap();
    tokio::time::timeout(Duration::from_secs(5), cache.ping())
        .await
        .unwrap()
        .unwrap();
}

/// Our own pools cannot run dry under load: an operation borrows a (multiplexed) connection
/// only to clone its handle. A pool can still be exhausted when it is shared with the
/// application (`RedisCache::from_pool`) and the application holds every connection: then the
/// operation waits at most the pool's wait timeout and fails with a typed timeout.
#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn an_exhausted_pool_fails_with_a_timeout() {
    let Some(server) = common::RedisServer::start().await else {
        return;
    };
    let wait = Duration::from_millis(300);
    let pool = server.single_connection_pool(wait);
    let options = cache_redis::RedisCacheOptions {
        instance_name: common::unique_instance("faults"),
        ..cache_redis::RedisCacheOptions::default()
    };
    let cache = cache_redis::RedisCache::from_pool(pool.clone(), options).unwrap();
    cache.ping().await.unwrap();
    // The application holds the only connection ...
    let held = pool.get().await.unwrap();
    // ... so the cache waits for the pool, boundedly.
    let started = Instant::now();
    let err = cache.get("k").await.unwrap_err();
    let waited = started.elapsed();
    assert!(
        matches!(err, CacheError::Timeout { operation: "get", after } if after == wait),
        "{err:?}"
    );
    assert!(err.is_timeout());
    assert!(
        waited >= wait && waited < wait + Duration::from_secs(1),
        "{waited:?}"
    );
    drop(held);
    cache.get("k").await.unwrap();
}

/// Concurrent operations share the pool's multiplexed connections instead of holding one each:
/// with the server frozen, 8 operations in flight on a pool of 2 connections wait for the
/// server, not for the pool (which would fail 6 of them after its 50 ms wait timeout), and all
/// succeed after the thaw.
#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn concurrent_operations_share_connections() {
    let Some(mut server) = common::RedisServer::start().await else {
        return;
    };
    common::require_private(&server);
    let cache = Arc::new(
        common::builder(&server, "faults")
            .pool_max_size(2)
            .pool_wait_timeout(Duration::from_millis(50))
            .build()
            .unwrap(),
    );
    cache
        .set("k", Bytes::from_static(b"v"), &EntryOptions::new())
        .await
        .unwrap();
    server.freeze().unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move { cache.get("k").await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.thaw().unwrap();
    for task in tasks {
        let value = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(value.as_deref(), Some(&b"v"[..]));
    }
}

#[tokio::test]
async fn an_unreachable_server_is_a_backend_error() {
    // A port nobody listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cache = cache_redis::RedisCache::builder()
        .url(format!("redis://127.0.0.1:{port}"))
        .connect_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let err = cache.get("k").await.unwrap_err();
    assert!(
        matches!(
            err,
            CacheError::Backend {
                operation: "get",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        std::error::Error::source(&err).is_some(),
        "the driver error is kept"
    );
}
