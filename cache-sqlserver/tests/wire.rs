//! `SqlServerCache` over a real TDS socket: round trips per operation, timeouts against a stalled
//! server, recovery after dropped connections, server errors, connect failures, pool exhaustion,
//! deletion of expired rows and the lock-row layout.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] functions

mod common;

use std::error::Error as _;
use std::time::{Duration, Instant};

use std::sync::Arc;

use bytes::Bytes;
use cache_sqlserver::{SqlServerCache, SqlServerError, bb8_tiberius, tiberius};
use chrono::{DateTime, FixedOffset};
use integration_tests::tds::engine::SqlError;
use integration_tests::tds::server::Fault;
use integration_tests::tds::sqlcache_engine::CacheRow;
use session_core::{CacheError, DistributedCache, EntryOptions, LockToken, WriteCondition};

const MINUTE: Duration = Duration::from_secs(60);

fn options() -> EntryOptions {
    EntryOptions::sliding(20 * MINUTE)
}

/// Whether `error`'s source chain holds a `T` satisfying `check`.
fn has_source<T: std::error::Error + 'static>(
    error: &CacheError,
    check: impl Fn(&T) -> bool,
) -> bool {
    let mut source = error.source();
    while let Some(cause) = source {
        if cause.downcast_ref::<T>().is_some_and(&check) {
            return true;
        }
        source = cause.source();
    }
    false
}

/// The SQL Server error number in `error`'s source chain, if any.
fn server_error_number(error: &CacheError) -> Option<u32> {
    let mut source = error.source();
    while let Some(cause) = source {
        // Statement errors come as the driver's error; connect errors as bb8-tiberius' error,
        // shared (`Arc`) between the pool's connecting task and every waiting caller.
        let driver = cause.downcast_ref::<tiberius::error::Error>().or_else(|| {
            match cause.downcast_ref::<Arc<bb8_tiberius::Error>>()?.as_ref() {
                bb8_tiberius::Error::Tiberius(e) => Some(e),
                bb8_tiberius::Error::Io(_) => None,
            }
        });
        if let Some(tiberius::error::Error::Server(token)) = driver {
            return Some(token.code());
        }
        source = cause.source();
    }
    None
}

fn sql_time(t: std::time::SystemTime) -> DateTime<FixedOffset> {
    DateTime::<chrono::Utc>::from(t).fixed_offset()
}

/// Runs `op` and returns how many requests the server answered for it.
async fn round_trips<T>(wire: &common::Wire, op: impl Future<Output = T>) -> (T, u64) {
    let before = wire.server.requests_served();
    let out = op.await;
    (out, wire.server.requests_served() - before)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_is_one_round_trip() {
    let wire = common::start(1).await;
    let c = &wire.cache;
    // Open the pooled connection first: the login is not a request.
    c.ping().await.unwrap();
    let key = "00112233-4455-6677-8899-aabbccddeeff";
    let token = LockToken::generate();
    let v = || Bytes::from_static(b"value");

    let (r, n) = round_trips(&wire, c.set(key, v(), &options())).await;
    r.unwrap();
    assert_eq!(n, 1, "set");
    let (r, n) = round_trips(&wire, c.get(key)).await;
    assert_eq!(r.unwrap(), Some(v()));
    assert_eq!(n, 1, "get");
    let (r, n) = round_trips(&wire, c.refresh(key)).await;
    r.unwrap();
    assert_eq!(n, 1, "refresh");
    let (r, n) = round_trips(
        &wire,
        c.set_if(key, v(), &options(), &WriteCondition::Absent),
    )
    .await;
    assert!(!r.unwrap());
    assert_eq!(n, 1, "set_if absent");
    let equals = WriteCondition::ValueEquals(v());
    let (r, n) = round_trips(&wire, c.set_if(key, v(), &options(), &equals)).await;
    assert!(r.unwrap());
    assert_eq!(n, 1, "set_if value equals");
    let (r, n) = round_trips(&wire, c.try_lock(key, &token, MINUTE)).await;
    assert!(r.unwrap());
    assert_eq!(n, 1, "try_lock");
    let held = WriteCondition::LockHeld(token.clone());
    let (r, n) = round_trips(&wire, c.set_if(key, v(), &options(), &held)).await;
    assert!(r.unwrap());
    assert_eq!(n, 1, "set_if lock held");
    let (r, n) = round_trips(&wire, c.unlock(key, &token)).await;
    r.unwrap();
    assert_eq!(n, 1, "unlock");
    let (r, n) = round_trips(&wire, c.remove(key)).await;
    r.unwrap();
    assert_eq!(n, 1, "remove");
    let (r, n) = round_trips(&wire, c.ping()).await;
    r.unwrap();
    assert_eq!(n, 1, "ping");
    let (r, n) = round_trips(&wire, c.delete_expired()).await;
    r.unwrap();
    assert_eq!(n, 1, "delete_expired");
    // The start-up check is one round trip too.
    let (r, n) = round_trips(&wire, c.check_server()).await;
    r.unwrap();
    assert_eq!(n, 1, "check_server");
    // One connection served everything.
    assert_eq!(wire.server.connections_accepted(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_server_is_bounded_by_the_callers_timeout_and_the_pool_recovers() {
    let wire = common::start(2).await;
    let c = &wire.cache;
    c.set("k", Bytes::from_static(b"v"), &options())
        .await
        .unwrap();

    wire.server.set_fault(Fault::Stall);
    let started = Instant::now();
    let outcome = tokio::time::timeout(Duration::from_millis(300), c.get("k")).await;
    assert!(outcome.is_err(), "a stalled get must not answer");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // The abandoned connection (half-way through a request) is discarded, not reused: with the
    // fault cleared, the next operations succeed on fresh connections.
    wire.server.set_fault(Fault::None);
    let accepted = wire.server.connections_accepted();
    let value = tokio::time::timeout(Duration::from_secs(5), c.get("k"))
        .await
        .expect("answers once the fault is cleared")
        .unwrap();
    assert_eq!(value, Some(Bytes::from_static(b"v")));
    c.set("k2", Bytes::from_static(b"w"), &options())
        .await
        .unwrap();
    assert_eq!(c.get("k2").await.unwrap(), Some(Bytes::from_static(b"w")));
    assert!(wire.server.connections_accepted() > accepted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_fail_fast_and_the_pool_recovers() {
    let wire = common::start(2).await;
    let c = &wire.cache;
    c.set("k", Bytes::from_static(b"v"), &options())
        .await
        .unwrap();

    wire.server.set_fault(Fault::DropConnections);
    let started = Instant::now();
    let error = c
        .get("k")
        .await
        .expect_err("the server drops every connection");
    assert!(
        matches!(
            error,
            CacheError::Backend {
                operation: "get",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let error = c
        .set("k", Bytes::from_static(b"x"), &options())
        .await
        .unwrap_err();
    assert!(matches!(error, CacheError::Backend { .. }), "{error:?}");

    wire.server.set_fault(Fault::None);
    for i in 0..5u8 {
        let key = format!("after-{i}");
        c.set(&key, Bytes::from(vec![i]), &options()).await.unwrap();
        assert_eq!(c.get(&key).await.unwrap(), Some(Bytes::from(vec![i])));
    }
    assert_eq!(c.get("k").await.unwrap(), Some(Bytes::from_static(b"v")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_keep_their_number_and_the_connection() {
    let wire = common::start(1).await;
    let c = &wire.cache;
    c.ping().await.unwrap();
    wire.server.set_fault(Fault::Error(SqlError {
        number: 1205,
        class: 13,
        message: "Transaction was deadlocked".to_owned(),
    }));
    let error = c.get("k").await.unwrap_err();
    assert_eq!(server_error_number(&error), Some(1205), "{error:?}");
    let error = c
        .set_if("k", Bytes::new(), &options(), &WriteCondition::Absent)
        .await
        .unwrap_err();
    assert_eq!(server_error_number(&error), Some(1205), "{error:?}");

    // A server error leaves the connection in a known state: it stays pooled.
    wire.server.set_fault(Fault::None);
    c.set("k", Bytes::from_static(b"v"), &options())
        .await
        .unwrap();
    assert_eq!(c.get("k").await.unwrap(), Some(Bytes::from_static(b"v")));
    assert_eq!(wire.server.connections_accepted(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_login_is_reported_at_once_with_its_cause() {
    let wire = common::start(1).await;
    let wrong = wire
        .server
        .connection_string()
        .replace("Password=", "Password=wrong");
    let cache = SqlServerCache::builder()
        .connection_string(wrong)
        .table_name("Sessions")
        .connection_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let started = Instant::now();
    let error = cache.get("k").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        has_source::<SqlServerError>(&error, |e| matches!(e, SqlServerError::Connect(_))),
        "{error:?}"
    );
    assert_eq!(server_error_number(&error), Some(18456), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_checkout_is_bounded() {
    let wire = common::start(1).await;
    let cache = SqlServerCache::builder()
        .connection_string(wire.server.connection_string())
        .table_name("Sessions")
        .pool_size(1)
        .connection_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    cache.ping().await.unwrap();
    wire.server.set_fault(Fault::Stall);
    // The only connection hangs in a stalled request...
    let stuck = tokio::spawn({
        let cache = cache.clone();
        async move { cache.get("k").await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // ...so the next caller waits for a connection only as long as the connection timeout.
    let started = Instant::now();
    let error = cache.get("k").await.unwrap_err();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert!(
        has_source::<SqlServerError>(&error, |e| matches!(e, SqlServerError::PoolTimedOut(_))),
        "{error:?}"
    );
    stuck.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_table_is_reported_with_208() {
    let engine = std::sync::Arc::new(
        integration_tests::tds::sqlcache_engine::SqlCacheEngine::new("dbo", "Sessions").unwrap(),
    );
    let server =
        integration_tests::tds::server::TdsServer::start(engine.clone(), Default::default())
            .await
            .unwrap();
    let cache = SqlServerCache::builder()
        .connection_string(server.connection_string())
        .table_name("Sessions")
        .build()
        .unwrap();
    let error = cache.get("k").await.unwrap_err();
    assert_eq!(server_error_number(&error), Some(208), "{error:?}");
    assert!(
        has_source::<SqlServerError>(&error, |e| matches!(
            e,
            SqlServerError::MissingTable { table, .. } if table == "[dbo].[Sessions]"
        )),
        "{error:?}"
    );
    cache.create_table_if_missing().await.unwrap();
    assert!(engine.table_exists() && engine.lock_table_exists());
    // Idempotent.
    cache.create_table_if_missing().await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_expired_removes_only_expired_rows() {
    let wire = common::start(1).await;
    let c = &wire.cache;
    c.set("live", Bytes::from_static(b"v"), &options())
        .await
        .unwrap();
    let past = sql_time(std::time::SystemTime::now() - MINUTE);
    wire.engine.put_row(
        "dead",
        CacheRow {
            value: Bytes::from_static(b"old"),
            expires_at: past,
            sliding_seconds: Some(1),
            absolute: None,
        },
    );
    assert_eq!(c.get("dead").await.unwrap(), None);
    assert_eq!(wire.engine.row_count(), 2);
    assert_eq!(c.delete_expired().await.unwrap(), 1);
    assert!(wire.engine.row("dead").is_none());
    assert_eq!(c.get("live").await.unwrap(), Some(Bytes::from_static(b"v")));

    // Stopping the background deletion leaves the cache usable.
    c.shutdown().await;
    c.shutdown().await;
    assert_eq!(c.get("live").await.unwrap(), Some(Bytes::from_static(b"v")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_have_the_dotnet_layout() {
    let wire = common::start(1).await;
    let c = &wire.cache;
    let before = std::time::SystemTime::now();
    // No expiration at all: the default sliding expiration (20 minutes), as .NET.
    c.set("plain", Bytes::from_static(b"v"), &EntryOptions::new())
        .await
        .unwrap();
    let row = wire.engine.row("plain").unwrap();
    assert_eq!(row.sliding_seconds, Some(1200));
    assert_eq!(row.absolute, None);
    assert!(row.expires_at >= sql_time(before + 20 * MINUTE));
    assert_eq!(row.expires_at.offset().local_minus_utc(), 0);

    // Sliding capped by absolute.
    let capped = EntryOptions::sliding(10 * MINUTE).absolute_expiration_relative_to_now(MINUTE);
    c.set("capped", Bytes::from_static(b"v"), &capped)
        .await
        .unwrap();
    let row = wire.engine.row("capped").unwrap();
    assert_eq!(row.sliding_seconds, Some(600));
    assert_eq!(Some(row.expires_at), row.absolute);

    // A lock is a row of the lock table under the key itself, with the token; the entry is
    // untouched.
    let token = LockToken::generate();
    assert!(c.try_lock("plain", &token, MINUTE).await.unwrap());
    let lock = wire.engine.lock_row("plain").unwrap();
    assert_eq!(
        lock.token,
        Bytes::copy_from_slice(token.as_str().as_bytes())
    );
    assert!(lock.expires_at <= sql_time(std::time::SystemTime::now() + MINUTE));
    assert_eq!(
        c.get("plain").await.unwrap(),
        Some(Bytes::from_static(b"v"))
    );
    c.unlock("plain", &token).await.unwrap();
    assert!(wire.engine.lock_row("plain").is_none());
    assert!(wire.engine.row("plain").is_some());
}
