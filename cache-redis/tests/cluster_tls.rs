//! Redis Cluster over TLS (features `cluster` and `tls`): the conformance suite against a private
//! TLS-only 3-master cluster (client connections and the cluster bus over TLS, certificates
//! generated at test time), and a cluster certificate from an untrusted CA refused.
#![cfg(all(feature = "cluster", feature = "tls"))]
// Test helpers outside #[test] fns: a failed setup must fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cache_redis::{RedisCache, RedisCacheError};
use common::pki::Pki;
use integration_tests::redis_server::RedisCluster;
use session_core::conformance::Harness;
use session_core::{DistributedCache, EntryOptions};

/// Forming a cluster takes seconds: cases running at the same time share one.
static SHARED: common::Shared<(RedisCluster, Pki)> = common::Shared::new();

async fn shared_cluster() -> Option<Arc<(RedisCluster, Pki)>> {
    SHARED
        .get_or_start(|| async {
            let pki = Pki::generate(&["localhost", "127.0.0.1"]);
            let cluster = RedisCluster::start_tls(&pki.server_files(false)).await?;
            Some((cluster, pki))
        })
        .await
}

fn cache_on(cluster: &RedisCluster, ca: &Path) -> RedisCache {
    assert!(cluster.urls().iter().all(|u| u.starts_with("rediss://")));
    RedisCache::builder()
        .cluster_urls(cluster.urls())
        .tls_ca_file(ca)
        .instance_name(common::unique_instance("cluster-tls"))
        .build()
        .unwrap()
}

async fn factory() -> Option<Harness> {
    let shared = shared_cluster().await?;
    let cache = cache_on(&shared.0, &shared.1.path("ca.pem"));
    Some(Harness::with_guard(Arc::new(cache), shared))
}

session_core::distributed_cache_conformance!(
    #[cfg_attr(
        redis_server_missing,
        ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
    )]
    factory
);

/// Keys spread over the three masters: every node is reached over TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn every_node_is_reached_over_tls() {
    let Some(shared) = shared_cluster().await else {
        return;
    };
    let cache = cache_on(&shared.0, &shared.1.path("ca.pem"));
    let options = EntryOptions::sliding(Duration::from_secs(60));
    // 64 keys land on all three masters' slot ranges with overwhelming probability.
    for i in 0..64 {
        let key = format!("spread-{i}");
        cache.set(&key, key.clone().into(), &options).await.unwrap();
        assert_eq!(
            cache.get(&key).await.unwrap().as_deref(),
            Some(key.as_bytes())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn untrusted_ca_is_refused() {
    let Some(shared) = shared_cluster().await else {
        return;
    };
    let cache = RedisCache::builder()
        .cluster_urls(shared.0.urls())
        .tls_ca_file(shared.1.path("other-ca.pem"))
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let error = tokio::time::timeout(Duration::from_secs(20), cache.ping())
        .await
        .expect("refused, not hanging")
        .unwrap_err();
    let text = common::chain(&error);
    assert!(text.contains("certificate"), "{text}");
    assert!(
        matches!(
            common::redis_error(&error),
            Some(RedisCacheError::TlsCertificate(_) | RedisCacheError::Pool(_))
        ),
        "{text}"
    );
}
