//! The start-up check (`RedisCacheBuilder::connect`, `RedisCache::check`): a usable store
//! passes; an unreachable address, a wrong database or password, or a server that never answers
//! is a typed error naming the target, with each cause said once and no password in it.
// Test helpers outside #[test] fns: a failed setup must fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::future::Future;
use std::time::Duration;

use cache_redis::{RedisCache, RedisCacheError, RedisStartupError, RedisUnusable};

/// Every case can block on the network: bound it.
async fn bounded<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .expect("the start-up check must not hang")
}

/// The `Unusable` error of a failed `connect`, with its chain checked for repeated causes.
fn unusable(result: Result<RedisCache, RedisStartupError>) -> (RedisUnusable, String) {
    let error = match result {
        Err(RedisStartupError::Unusable(e)) => e,
        Err(other) => panic!("expected Unusable, got {other:?}"),
        Ok(_) => panic!("the check passed"),
    };
    let chain = common::chain(&error);
    let parts: Vec<&str> = chain.split(": ").collect();
    for (i, part) in parts.iter().enumerate() {
        assert!(
            !parts[i + 1..].iter().any(|later| later.contains(part)),
            "`{part}` is said twice in: {chain}"
        );
    }
    (error, chain)
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn a_usable_store_passes() {
    let Some(server) = common::RedisServer::start().await else {
        return;
    };
    let cache = bounded(RedisCache::builder().url(server.url()).connect())
        .await
        .unwrap();
    bounded(cache.check()).await.unwrap();
}

#[tokio::test]
async fn unreachable_address_is_named_and_its_cause_said_once() {
    let port = closed_port();
    let (error, chain) = unusable(
        bounded(
            RedisCache::builder()
                .url(format!("redis://127.0.0.1:{port}"))
                .connect(),
        )
        .await,
    );
    assert!(
        error.target.contains(&format!("127.0.0.1:{port}")),
        "{chain}"
    );
    assert_eq!(chain.matches("onnection refused").count(), 1, "{chain}");
}

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn wrong_database_is_refused_at_start() {
    let Some(server) = common::RedisServer::start().await else {
        return;
    };
    let (error, chain) = unusable(
        bounded(
            RedisCache::builder()
                .configuration(format!("127.0.0.1:{},defaultDatabase=99", server.port()))
                .connect(),
        )
        .await,
    );
    assert!(error.target.contains("database 99"), "{chain}");
    assert_eq!(
        chain.matches("DB index is out of range").count(),
        1,
        "{chain}"
    );
}

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn wrong_password_is_refused_at_start_without_echoing_it() {
    let Some(server) = common::RedisServer::start().await else {
        return;
    };
    let (error, chain) = unusable(
        bounded(
            RedisCache::builder()
                .configuration(format!(
                    "127.0.0.1:{},password=hunter2-secret",
                    server.port()
                ))
                .connect(),
        )
        .await,
    );
    assert!(
        matches!(
            common::redis_error(&error.source),
            Some(RedisCacheError::Authentication { user, .. }) if user == "default"
        ),
        "{chain}"
    );
    assert!(!chain.contains("hunter2"), "{chain}");
    assert!(!format!("{error:?}").contains("hunter2"), "{error:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_fails_within_the_connect_timeout() {
    // Accepts connections (the kernel does, from the backlog) but never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = std::time::Instant::now();
    let (_, chain) = unusable(
        bounded(
            RedisCache::builder()
                .url(format!("redis://127.0.0.1:{port}"))
                .connect_timeout(Duration::from_millis(500))
                .connect(),
        )
        .await,
    );
    assert!(started.elapsed() < Duration::from_secs(5), "{chain}");
    drop(silent);
}

#[tokio::test]
async fn invalid_configuration_is_a_config_error() {
    let result = bounded(
        RedisCache::builder()
            .configuration("localhost,frobnicate=1")
            .connect(),
    )
    .await;
    assert!(
        matches!(result, Err(RedisStartupError::Config(_))),
        "{result:?}"
    );
}
