//! Redis Cluster (feature `cluster`): the conformance suite and slot checks against a private
//! 3-master cluster.
#![cfg(feature = "cluster")]
// Test helpers outside #[test] fns: a failed setup must fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cache_redis::RedisCache;
use integration_tests::redis_server::RedisCluster;
use session_core::conformance::Harness;
use session_core::{DistributedCache, EntryOptions, LockToken, WriteCondition};

fn cache_on(cluster: &RedisCluster) -> RedisCache {
    RedisCache::builder()
        .cluster_urls(cluster.urls())
        .instance_name(common::unique_instance("cluster"))
        .build()
        .unwrap()
}

/// Forming a cluster takes seconds: cases running at the same time share one.
static SHARED: common::Shared<RedisCluster> = common::Shared::new();

async fn shared_cluster() -> Option<Arc<RedisCluster>> {
    SHARED.get_or_start(RedisCluster::start).await
}

async fn factory() -> Option<Harness> {
    let cluster = shared_cluster().await?;
    let cache = cache_on(&cluster);
    Some(Harness::with_guard(Arc::new(cache), cluster))
}

session_core::distributed_cache_conformance!(
    #[cfg_attr(
        redis_server_missing,
        ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
    )]
    factory
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn entry_and_lock_keys_share_a_slot_on_the_server() {
    let Some(cluster) = RedisCluster::start().await else {
        return;
    };
    let cache = cache_on(&cluster);
    let mut raw = redis::Client::open(cluster.urls()[0].as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    for key in [
        "plain",
        "with{tag}",
        "}odd{",
        "{}",
        "0f8fad5b-d9cb-469f-a165-70867728950e",
    ] {
        let slot = |k: String| {
            let mut cmd = redis::cmd("CLUSTER");
            cmd.arg("KEYSLOT").arg(k);
            cmd
        };
        let entry: i64 = slot(cache.redis_key(key))
            .query_async(&mut raw)
            .await
            .unwrap();
        let lock: i64 = slot(cache.redis_lock_key(key))
            .query_async(&mut raw)
            .await
            .unwrap();
        assert_eq!(entry, lock, "{key}");

        // And the two-key script runs without CROSSSLOT.
        let token = LockToken::generate();
        assert!(
            cache
                .try_lock(key, &token, Duration::from_secs(5))
                .await
                .unwrap()
        );
        let options = EntryOptions::sliding(Duration::from_secs(60));
        assert!(
            cache
                .set_if(
                    key,
                    Bytes::from_static(b"v"),
                    &options,
                    &WriteCondition::LockHeld(token.clone())
                )
                .await
                .unwrap()
        );
        assert_eq!(cache.get(key).await.unwrap().as_deref(), Some(&b"v"[..]));
        cache.unlock(key, &token).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn cluster_operations_are_one_round_trip() {
    let Some(cluster) = RedisCluster::start().await else {
        return;
    };
    let cache = RedisCache::builder()
        .cluster_urls(cluster.urls())
        .instance_name(common::unique_instance("cluster"))
        .idle_check_after(Duration::from_secs(600))
        .pool_max_size(1)
        .build()
        .unwrap();
    let options = EntryOptions::sliding(Duration::from_secs(60));
    cache
        .set("k", Bytes::from_static(b"v"), &options)
        .await
        .unwrap();
    cache.get("k").await.unwrap();
    let before = cluster.commandstats().await.unwrap();
    cache.get("k").await.unwrap();
    let d = common::commandstats_delta(&before, &cluster.commandstats().await.unwrap());
    assert_eq!(d.get("evalsha"), Some(&1), "{d:?}");
    assert_eq!(d.len(), 3, "evalsha + hmget + pexpire: {d:?}");
}
