//! Round trips per operation, counted with `INFO commandstats` deltas on a private server.
//!
//! Commands a script runs inside the server (`HMGET`, `PEXPIRE`, ...) show up in the stats too,
//! so each assertion lists the exact delta: the one command the client sent plus the script's
//! inner commands.
// Test helpers outside #[test] fns: a failed setup must fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use session_core::{DistributedCache, EntryOptions, LockToken, WriteCondition};

fn counts(pairs: &[(&str, u64)]) -> HashMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// Runs `op` and returns the commands the server executed meanwhile.
macro_rules! measure {
    ($server:expr, $op:expr) => {{
        let before = $server.commandstats().await.unwrap();
        $op;
        common::commandstats_delta(&before, &$server.commandstats().await.unwrap())
    }};
}

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn each_operation_is_one_round_trip() {
    let Some(server) = common::RedisServer::start().await else {
        return;
    };
    // Command counts and SCRIPT FLUSH: never on the shared server in REDIS_URL.
    common::require_private(&server);
    // A long idle check so that the pauses of this test never trigger a checkout PING.
    let cache = common::builder(&server, "rt")
        .pool_max_size(1)
        .idle_check_after(Duration::from_secs(600))
        .build()
        .unwrap();
    let sliding = EntryOptions::sliding(Duration::from_secs(60));
    let token = LockToken::generate();
    // Warm up: open the pooled connection and load every script once.
    cache
        .set("k", Bytes::from_static(b"v"), &sliding)
        .await
        .unwrap();
    cache.get("k").await.unwrap();
    cache
        .set_if(
            "k",
            Bytes::from_static(b"v"),
            &sliding,
            &WriteCondition::Absent,
        )
        .await
        .unwrap();
    cache
        .try_lock("k", &token, Duration::from_secs(5))
        .await
        .unwrap();
    cache.unlock("k", &token).await.unwrap();
    cache
        .remove_if_equals("k", &Bytes::from_static(b"other"))
        .await
        .unwrap();

    let d = measure!(server, cache.get("k").await.unwrap());
    assert_eq!(
        d,
        counts(&[("evalsha", 1), ("hmget", 1), ("pexpire", 1)]),
        "get"
    );
    let d = measure!(server, cache.get("missing").await.unwrap());
    assert_eq!(d, counts(&[("evalsha", 1), ("hmget", 1)]), "get (miss)");
    let d = measure!(server, cache.refresh("k").await.unwrap());
    assert_eq!(
        d,
        counts(&[("evalsha", 1), ("hmget", 1), ("pexpire", 1)]),
        "refresh"
    );
    let d = measure!(
        server,
        cache
            .set("k", Bytes::from_static(b"v2"), &sliding)
            .await
            .unwrap()
    );
    assert_eq!(
        d,
        counts(&[("evalsha", 1), ("hset", 1), ("pexpire", 1)]),
        "set"
    );
    let d = measure!(
        server,
        assert!(
            cache
                .set_if(
                    "k",
                    Bytes::from_static(b"v3"),
                    &sliding,
                    &WriteCondition::ValueEquals(Bytes::from_static(b"v2"))
                )
                .await
                .unwrap()
        )
    );
    assert_eq!(
        d,
        counts(&[("evalsha", 1), ("hmget", 1), ("hset", 1), ("pexpire", 1)]),
        "set_if"
    );
    let d = measure!(
        server,
        assert!(
            !cache
                .set_if("k", Bytes::new(), &sliding, &WriteCondition::Absent)
                .await
                .unwrap()
        )
    );
    assert_eq!(
        d,
        counts(&[("evalsha", 1), ("hmget", 1)]),
        "set_if (refused)"
    );
    let d = measure!(
        server,
        assert!(
            cache
                .try_lock("k", &token, Duration::from_secs(5))
                .await
                .unwrap()
        )
    );
    assert_eq!(
        d,
        counts(&[("evalsha", 1), ("get", 1), ("set", 1)]),
        "try_lock"
    );
    let d = measure!(
        server,
        assert!(
            cache
                .set_if(
                    "k",
                    Bytes::from_static(b"v4"),
                    &sliding,
                    &WriteCondition::LockHeld(token.clone())
                )
                .await
                .unwrap()
        )
    );
    assert_eq!(
        d,
        counts(&[("evalsha", 1), ("get", 1), ("hset", 1), ("pexpire", 1)]),
        "set_if lock"
    );
    let d = measure!(server, cache.unlock("k", &token).await.unwrap());
    assert_eq!(
        d,
        counts(&[("evalsha", 1), ("get", 1), ("del", 1)]),
        "unlock"
    );
    let d = measure!(
        server,
        assert!(
            !cache
                .remove_if_equals("k", &Bytes::from_static(b"v3"))
                .await
                .unwrap()
        )
    );
    assert_eq!(
        d,
        counts(&[("evalsha", 1), ("hmget", 1)]),
        "remove_if_equals (refused)"
    );
    let d = measure!(
        server,
        assert!(
            cache
                .remove_if_equals("k", &Bytes::from_static(b"v4"))
                .await
                .unwrap()
        )
    );
    assert_eq!(
        d,
        counts(&[("evalsha", 1), ("hmget", 1), ("unlink", 1)]),
        "remove_if_equals"
    );
    let d = measure!(server, cache.remove("k").await.unwrap());
    assert_eq!(d, counts(&[("unlink", 1)]), "remove");
    let d = measure!(server, cache.ping().await.unwrap());
    assert_eq!(d, counts(&[("ping", 1)]), "ping");
}

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn idle_connections_are_pinged_on_checkout() {
    let Some(server) = common::RedisServer::start().await else {
        return;
    };
    // Command counts and SCRIPT FLUSH: never on the shared server in REDIS_URL.
    common::require_private(&server);
    let cache = common::builder(&server, "rt")
        .pool_max_size(1)
        .idle_check_after(Duration::from_millis(200))
        .build()
        .unwrap();
    cache.remove("k").await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let d = measure!(server, cache.remove("k").await.unwrap());
    assert_eq!(d, counts(&[("ping", 1), ("unlink", 1)]));
}

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn script_flush_falls_back_to_loading_the_script() {
    let Some(server) = common::RedisServer::start().await else {
        return;
    };
    // Command counts and SCRIPT FLUSH: never on the shared server in REDIS_URL.
    common::require_private(&server);
    let cache = common::builder(&server, "rt")
        .idle_check_after(Duration::from_secs(600))
        .build()
        .unwrap();
    let options = EntryOptions::sliding(Duration::from_secs(60));
    cache
        .set("k", Bytes::from_static(b"v"), &options)
        .await
        .unwrap();
    let mut raw = common::raw(server.url()).await;
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut raw)
        .await
        .unwrap();

    let d = measure!(
        server,
        assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v"[..]))
    );
    // EVALSHA -> NOSCRIPT, SCRIPT LOAD, EVALSHA again.
    assert_eq!(d.get("evalsha"), Some(&2), "{d:?}");
    assert_eq!(d.get("script|load"), Some(&1), "{d:?}");
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut raw)
        .await
        .unwrap();
    cache
        .set("k", Bytes::from_static(b"v2"), &options)
        .await
        .unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v2"[..]));
    // Once loaded, back to one EVALSHA.
    let d = measure!(server, cache.get("k").await.unwrap());
    assert_eq!(d.get("evalsha"), Some(&1));
    assert_eq!(d.get("script|load"), None);
}
