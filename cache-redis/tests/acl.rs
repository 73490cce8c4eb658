//! ACL users: `user=` with and without `password=` in configuration strings, `user:pass@` in
//! URLs, and a wrong password reported with the user's name and without the password.
// Test helpers outside #[test] fns: a failed setup must fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::error::Error as _;
use std::time::Duration;

use cache_redis::{RedisCache, RedisCacheError};
use session_core::{DistributedCache, EntryOptions};

/// A private server with `alice` (password `s3cret-pw`) and `bob` (`nopass`).
async fn server_with_users() -> Option<common::RedisServer> {
    let server = common::RedisServer::start().await?;
    common::require_private(&server);
    let mut raw = common::raw(server.url()).await;
    for user in [
        &["alice", "on", ">s3cret-pw", "~*", "+@all"][..],
        &["bob", "on", "nopass", "~*", "+@all"][..],
    ] {
        let _: () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg(user)
            .query_async(&mut raw)
            .await
            .unwrap();
    }
    Some(server)
}

/// The users of the server's client connections other than `raw`'s own (`CLIENT LIST`).
async fn connected_users(url: &str) -> Vec<String> {
    let mut raw = common::raw(url).await;
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut raw)
        .await
        .unwrap();
    let mut users: Vec<String> = list
        .lines()
        .filter(|line| !line.contains("cmd=client|list"))
        .filter_map(|line| {
            line.split(' ')
                .find_map(|field| field.strip_prefix("user="))
                .map(str::to_owned)
        })
        .collect();
    users.sort();
    users.dedup();
    users
}

/// Writes and reads through `cache`, then checks which user its connection is.
async fn works_as(cache: &RedisCache, url: &str, user: &str) {
    let options = EntryOptions::sliding(Duration::from_secs(60));
    cache.set("k", "v".into(), &options).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(connected_users(url).await, vec![user.to_owned()]);
}

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn configuration_user_and_password() {
    let Some(server) = server_with_users().await else {
        return;
    };
    let cache = RedisCache::builder()
        .configuration(format!(
            "127.0.0.1:{},user=alice,password=s3cret-pw",
            server.port()
        ))
        .instance_name(common::unique_instance("acl"))
        .build()
        .unwrap();
    works_as(&cache, server.url(), "alice").await;
}

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn url_user_and_password() {
    let Some(server) = server_with_users().await else {
        return;
    };
    let cache = RedisCache::builder()
        .url(format!(
            "redis://alice:s3cret-pw@127.0.0.1:{}",
            server.port()
        ))
        .instance_name(common::unique_instance("acl"))
        .build()
        .unwrap();
    works_as(&cache, server.url(), "alice").await;
}

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn user_without_password_is_that_user_not_default() {
    let Some(server) = server_with_users().await else {
        return;
    };
    for source in [
        format!("127.0.0.1:{},user=bob", server.port()),
        format!("redis://bob@127.0.0.1:{}", server.port()),
    ] {
        let builder = if source.contains("://") {
            RedisCache::builder().url(source)
        } else {
            RedisCache::builder().configuration(source)
        };
        let cache = builder
            .instance_name(common::unique_instance("acl"))
            .build()
            .unwrap();
        works_as(&cache, server.url(), "bob").await;
        drop(cache);
        // The next source's check must not see this cache's connection.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // alice has a password: without it she is refused, not let in as `default`.
    let cache = RedisCache::builder()
        .configuration(format!("127.0.0.1:{},user=alice", server.port()))
        .build()
        .unwrap();
    let error = cache.ping().await.unwrap_err();
    assert!(error.to_string().contains("`alice`") || common::chain(&error).contains("`alice`"));
}

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn wrong_password_names_the_user_not_the_password() {
    let Some(server) = server_with_users().await else {
        return;
    };
    for source in [
        format!("127.0.0.1:{},user=alice,password=not-the-pw", server.port()),
        format!("redis://alice:not-the-pw@127.0.0.1:{}", server.port()),
    ] {
        let builder = if source.contains("://") {
            RedisCache::builder().url(source)
        } else {
            RedisCache::builder().configuration(source)
        };
        let cache = builder.build().unwrap();
        let error = cache.ping().await.unwrap_err();
        let text = common::chain(&error);
        assert!(
            text.contains("authentication failed for user `alice`"),
            "{text}"
        );
        assert!(!text.contains("not-the-pw"), "password leaked: {text}");
        assert!(
            !format!("{error:?}").contains("not-the-pw"),
            "password leaked"
        );
        assert!(
            matches!(
                common::redis_error(&error),
                Some(RedisCacheError::Authentication { user, .. }) if user == "alice"
            ),
            "{text}"
        );
        assert!(error.source().is_some());
    }
}
