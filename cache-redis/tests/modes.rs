//! Construction paths (configuration string, existing pool) and `ScriptMode::Disabled`.
// Test helpers outside #[test] fns: a failed setup must fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use cache_redis::{RedisCache, RedisCacheError, RedisCacheOptions, RedisConfigError, ScriptMode};
use redis::AsyncCommands;
use session_core::{CacheError, DistributedCache, EntryOptions, LockToken, WriteCondition};

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn configuration_string_selects_the_database() {
    let Some(server) = common::RedisServer::start().await else {
        return;
    };
    common::require_private(&server);
    let cache = RedisCache::builder()
        .configuration(format!(
            "127.0.0.1:{},defaultDatabase=3,abortConnect=false",
            server.port()
        ))
        .instance_name("App_")
        .build()
        .unwrap();
    cache
        .set("k", Bytes::from_static(b"v"), &EntryOptions::new())
        .await
        .unwrap();
    assert_eq!(cache.cache_type(), "redis");
    cache.ping().await.unwrap();
    let mut raw = redis::Client::open(format!("{}/3", server.url()))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let data: Vec<u8> = raw.hget("App_k", "data").await.unwrap();
    assert_eq!(data, b"v");
}

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn an_existing_deadpool_redis_pool_works() {
    let Some(server) = common::RedisServer::start().await else {
        return;
    };
    let pool = cache_redis::deadpool_redis::Config::from_url(server.url())
        .create_pool(Some(cache_redis::deadpool_redis::Runtime::Tokio1))
        .unwrap();
    let options = RedisCacheOptions {
        instance_name: common::unique_instance("pool"),
        ..RedisCacheOptions::default()
    };
    let cache = RedisCache::from_pool(pool, options).unwrap();
    cache
        .set("k", Bytes::from_static(b"v"), &EntryOptions::new())
        .await
        .unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn configuration_errors_are_typed() {
    assert!(matches!(
        RedisCache::builder().build(),
        Err(RedisConfigError::MissingConnection)
    ));
    assert!(matches!(
        RedisCache::from_configuration("a:1,b:2"),
        Err(RedisConfigError::MultipleEndpoints(2))
    ));
    assert!(matches!(
        RedisCache::from_url("nonsense://x"),
        Err(RedisConfigError::InvalidUrl(_))
    ));
    assert!(matches!(
        RedisCache::builder()
            .url("redis://h")
            .pool_max_size(0)
            .build(),
        Err(RedisConfigError::Zero("pool_max_size"))
    ));
    #[cfg(not(feature = "tls"))]
    assert!(matches!(
        RedisCache::from_configuration("h,ssl=true"),
        Err(RedisConfigError::TlsNotEnabled)
    ));
}

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn scripting_disabled_mode() {
    let Some(server) = common::RedisServer::start().await else {
        return;
    };
    let cache = common::builder(&server, "noscript")
        .script_mode(ScriptMode::Disabled)
        .idle_check_after(Duration::from_secs(600))
        .build()
        .unwrap();
    let mut raw = common::raw(server.url()).await;
    let sliding = EntryOptions::sliding(Duration::from_secs(2));
    cache
        .set("k", Bytes::from_static(b"v"), &sliding)
        .await
        .unwrap();
    let fields: std::collections::HashMap<String, String> =
        raw.hgetall(cache.redis_key("k")).await.unwrap();
    assert_eq!(fields["sldexp"], "20000000");
    assert_eq!(fields["absexp"], "-1");

    // get: HMGET + PEXPIRE (two round trips), no scripts.
    let before = server.commandstats().await.unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    let d = common::commandstats_delta(&before, &server.commandstats().await.unwrap());
    assert_eq!(d.len(), 2, "{d:?}");
    assert_eq!((d.get("hmget"), d.get("pexpire")), (Some(&1), Some(&1)));

    // set: one MULTI/EXEC transaction.
    let before = server.commandstats().await.unwrap();
    cache
        .set("k", Bytes::from_static(b"v2"), &EntryOptions::new())
        .await
        .unwrap();
    let d = common::commandstats_delta(&before, &server.commandstats().await.unwrap());
    assert_eq!(d.get("multi"), Some(&1), "{d:?}");
    assert_eq!(d.get("exec"), Some(&1), "{d:?}");
    let ttl: i64 = raw.ttl(cache.redis_key("k")).await.unwrap();
    assert_eq!(ttl, -1);

    // Sliding still slides and expires.
    cache
        .set("s", Bytes::from_static(b"s"), &sliding)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    cache.refresh("s").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(cache.get("s").await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert_eq!(cache.get("s").await.unwrap(), None);

    // Dead by absolute expiration although the key lingers: deleted on read.
    let _: () = raw
        .hset_multiple(
            cache.redis_key("old"),
            &[("absexp", "1"), ("sldexp", "-1"), ("data", "x")],
        )
        .await
        .unwrap();
    assert_eq!(cache.get("old").await.unwrap(), None);
    let exists: bool = raw.exists(cache.redis_key("old")).await.unwrap();
    assert!(!exists);

    // Corrupt data is reported as such here too.
    let _: () = raw
        .hset_multiple(cache.redis_key("bad"), &[("absexp", "x"), ("data", "x")])
        .await
        .unwrap();
    assert!(matches!(
        cache.get("bad").await,
        Err(CacheError::CorruptEntry { .. })
    ));

    // Conditional writes and locks need scripts: a typed error, nothing written.
    let err = cache
        .set_if(
            "n",
            Bytes::new(),
            &EntryOptions::new(),
            &WriteCondition::Absent,
        )
        .await
        .unwrap_err();
    assert_scripting_disabled(&err, "set_if");
    let err = cache
        .remove_if_equals("k", &Bytes::from_static(b"v2"))
        .await
        .unwrap_err();
    assert_scripting_disabled(&err, "remove_if_equals");
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v2"[..]));
    let token = LockToken::generate();
    assert!(
        cache
            .try_lock("n", &token, Duration::from_secs(1))
            .await
            .is_err()
    );
    assert!(cache.unlock("n", &token).await.is_err());
    assert_eq!(cache.get("n").await.unwrap(), None);
    cache.remove("k").await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), None);
}

/// Sessions on a server without scripting: `LastWriteWins` commits with plain commands; the
/// default optimistic mode needs `set_if` and fails clearly at commit instead of losing writes.
#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn sessions_work_with_scripting_disabled_in_last_write_wins_mode() {
    use std::sync::Arc;

    use session_core::{
        ConcurrencyMode, CookieAction, SessionError, SessionOptions, SessionStore, SharedCache,
    };
    let Some(server) = common::RedisServer::start().await else {
        return;
    };
    let cache: SharedCache = Arc::new(
        common::builder(&server, "noscript-sessions")
            .script_mode(ScriptMode::Disabled)
            .build()
            .unwrap(),
    );
    let options = |mode| SessionOptions::builder().concurrency(mode).build().unwrap();
    let store = SessionStore::new(Arc::clone(&cache), options(ConcurrencyMode::LastWriteWins));
    let session = store.open(None);
    session.set_i32("counter", 1).await.unwrap();
    let CookieAction::Set(key) = session.finish(false).await.unwrap() else {
        panic!("a new session sets its cookie");
    };
    let next = store.open(Some(key.as_str()));
    assert_eq!(next.get_i32("counter").await.unwrap(), Some(1));
    next.set_i32("counter", 2).await.unwrap();
    assert_eq!(next.finish(false).await.unwrap(), CookieAction::Keep);
    let stored = || async { store.open(Some(key.as_str())).get_i32("counter").await };
    assert_eq!(stored().await.unwrap(), Some(2));

    let optimistic = SessionStore::new(Arc::clone(&cache), options(ConcurrencyMode::Optimistic));
    let session = optimistic.open(Some(key.as_str()));
    session.set_i32("counter", 3).await.unwrap();
    let err = session.finish(false).await.unwrap_err();
    assert!(matches!(err, SessionError::Commit(_)), "{err:?}");
    assert_eq!(
        stored().await.unwrap(),
        Some(2),
        "nothing written by the refused commit"
    );
}

/// `err` is the typed "scripting disabled" refusal of `operation`.
#[track_caller]
fn assert_scripting_disabled(err: &CacheError, operation: &str) {
    let source = std::error::Error::source(err).and_then(|s| s.downcast_ref::<RedisCacheError>());
    assert!(
        matches!(source, Some(RedisCacheError::ScriptingDisabled { operation: op }) if *op == operation),
        "{err:?}"
    );
}
