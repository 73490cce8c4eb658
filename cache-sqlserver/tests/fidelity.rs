//! Where SQL Server does not compare bytes exactly, the provider still must be: compare-and-set
//! to the byte, one liveness for rows .NET writes, locks that no entry key can reach, keys the
//! collation could fold refused, and clear errors for a missing lock table or an old server.
//!
//! The TDS test server compares Ids by the table's collation and `varbinary` values as SQL
//! Server does (see `integration_tests::tds::collation`), so each of these tests fails against
//! it if the provider's guard is removed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] functions

mod common;

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use cache_sqlserver::SqlServerError;
use chrono::{DateTime, FixedOffset, Utc};
use integration_tests::tds::sqlcache_engine::{CacheRow, ServerVersion, SqlCacheEngine};
use session_core::{CacheError, DistributedCache, EntryOptions, LockToken, WriteCondition};

const MINUTE: Duration = Duration::from_secs(60);

/// Every test here talks to a local server: a hang is a failure, not a wait.
async fn within<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), test)
        .await
        .expect("the test finished within 30 s")
}

fn options() -> EntryOptions {
    EntryOptions::sliding(20 * MINUTE)
}

fn sql_time(t: SystemTime) -> DateTime<FixedOffset> {
    DateTime::<Utc>::from(t).fixed_offset()
}

/// The `SqlServerError` in `error`'s source chain.
fn provider_error(error: &CacheError) -> Option<&SqlServerError> {
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(found) = cause.downcast_ref::<SqlServerError>() {
            return Some(found);
        }
        source = cause.source();
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_and_set_is_exact_to_the_byte() {
    within(async {
        let wire = common::start(1).await;
        let c = &wire.cache;
        let (short, long) = (Bytes::from_static(b"ab"), Bytes::from_static(b"ab\0"));
        for (stored, expected) in [(&short, &long), (&long, &short)] {
            c.set("k", stored.clone(), &options()).await.unwrap();
            let equals = WriteCondition::ValueEquals(expected.clone());
            assert!(
                !c.set_if("k", Bytes::from_static(b"new"), &options(), &equals)
                    .await
                    .unwrap(),
                "set_if({expected:?}) over {stored:?}"
            );
            assert!(
                !c.remove_if_equals("k", expected).await.unwrap(),
                "remove_if_equals({expected:?}) over {stored:?}"
            );
            assert_eq!(c.get("k").await.unwrap().as_ref(), Some(stored));
            // The exact value still matches.
            let equals = WriteCondition::ValueEquals(stored.clone());
            assert!(
                c.set_if("k", stored.clone(), &options(), &equals)
                    .await
                    .unwrap()
            );
            assert!(c.remove_if_equals("k", stored).await.unwrap());
        }
    })
    .await;
}

/// .NET stores `ExpiresAtTime = now + sliding` even when the absolute expiration is earlier: such
/// a row, past its absolute expiration and before `ExpiresAtTime`, is dead to every operation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dotnet_rows_past_their_absolute_expiration_are_dead_to_every_operation() {
    within(async {
        let wire = common::start(1).await;
        let c = &wire.cache;
        let now = SystemTime::now();
        let old = Bytes::from_static(b"old");
        let dotnet_row = |absolute: SystemTime| CacheRow {
            value: old.clone(),
            expires_at: sql_time(now + 10 * MINUTE),
            sliding_seconds: Some(600),
            absolute: Some(sql_time(absolute)),
        };
        let plant = || wire.engine.put_row("k", dotnet_row(now - MINUTE));

        plant();
        assert_eq!(c.get("k").await.unwrap(), None, "get");
        c.refresh("k").await.unwrap();
        assert_eq!(
            wire.engine.row("k"),
            Some(dotnet_row(now - MINUTE)),
            "refresh slid it"
        );
        let equals = WriteCondition::ValueEquals(old.clone());
        let new = Bytes::from_static(b"new");
        assert!(
            !c.set_if("k", new.clone(), &options(), &equals)
                .await
                .unwrap(),
            "set_if(ValueEquals)"
        );
        assert!(
            !c.remove_if_equals("k", &old).await.unwrap(),
            "remove_if_equals"
        );
        assert!(
            c.set_if("k", new.clone(), &options(), &WriteCondition::Absent)
                .await
                .unwrap(),
            "set_if(Absent)"
        );
        assert_eq!(c.get("k").await.unwrap(), Some(new));

        plant();
        assert_eq!(c.delete_expired().await.unwrap(), 1, "delete_expired");

        // Before its absolute expiration the same row is live to all of them.
        wire.engine.put_row("k", dotnet_row(now + 5 * MINUTE));
        assert_eq!(c.get("k").await.unwrap(), Some(old.clone()));
        assert!(
            !c.set_if("k", old.clone(), &options(), &WriteCondition::Absent)
                .await
                .unwrap()
        );
        assert!(c.remove_if_equals("k", &old).await.unwrap());
    })
    .await;
}

/// Under the table's collation U+0001 has no weight: a lock stored as `key + U+0001 + "lock"` in
/// the entry table would be the entry `key + "lock"`. Locks have their own table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_cannot_collide_with_entries() {
    within(async {
        let wire = common::start(1).await;
        let c = &wire.cache;
        let (mine, theirs) = (LockToken::generate(), LockToken::generate());
        let v = Bytes::from_static(b"v");
        c.set("Klock", v.clone(), &options()).await.unwrap();
        assert!(c.try_lock("K", &mine, MINUTE).await.unwrap());
        assert_eq!(c.get("Klock").await.unwrap(), Some(v.clone()));
        // Writing and removing the entry leaves the lock held.
        c.set("Klock", Bytes::from_static(b"w"), &options())
            .await
            .unwrap();
        c.remove("Klock").await.unwrap();
        assert!(!c.try_lock("K", &theirs, MINUTE).await.unwrap());
        let held = WriteCondition::LockHeld(mine.clone());
        assert!(c.set_if("K", v.clone(), &options(), &held).await.unwrap());
        // A lock on the entry's own key is independent of the lock on `K`.
        assert!(c.try_lock("Klock", &theirs, MINUTE).await.unwrap());
        c.unlock("K", &mine).await.unwrap();
        assert!(wire.engine.lock_row("K").is_none());
        assert!(wire.engine.lock_row("Klock").is_some());
        assert_eq!(c.get("K").await.unwrap(), Some(v));
    })
    .await;
}

/// SQL Server ignores trailing spaces and control characters in Ids and folds width; the
/// provider refuses such keys instead of letting two keys name one row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_the_collation_would_fold_are_refused() {
    within(async {
        let wire = common::start(1).await;
        let c = &wire.cache;
        c.set("k", Bytes::from_static(b"v"), &options())
            .await
            .unwrap();
        let token = LockToken::generate();
        for key in ["k ", "k\u{1}", "\u{FF4B}", "\u{200B}k"] {
            let refused =
                |r: Result<(), CacheError>| matches!(r, Err(CacheError::InvalidKey { .. }));
            assert!(refused(c.get(key).await.map(drop)), "get {key:?}");
            assert!(
                refused(c.set(key, Bytes::new(), &options()).await),
                "set {key:?}"
            );
            assert!(
                refused(
                    c.set_if(key, Bytes::new(), &options(), &WriteCondition::Absent)
                        .await
                        .map(drop)
                ),
                "set_if {key:?}"
            );
            assert!(refused(c.refresh(key).await), "refresh {key:?}");
            assert!(refused(c.remove(key).await), "remove {key:?}");
            assert!(
                refused(c.remove_if_equals(key, &Bytes::new()).await.map(drop)),
                "remove_if_equals {key:?}"
            );
            assert!(
                refused(c.try_lock(key, &token, MINUTE).await.map(drop)),
                "try_lock {key:?}"
            );
            assert!(refused(c.unlock(key, &token).await), "unlock {key:?}");
        }
        assert_eq!(wire.engine.row_count(), 1);
        assert_eq!(c.get("k").await.unwrap(), Some(Bytes::from_static(b"v")));
    })
    .await;
}

/// A database prepared by `dotnet sql-cache create` has no lock table: locking names it and the
/// command that creates it; the start-up check says so too, and `create_table_if_missing` adds
/// it, keeping the entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_lock_table_is_named_with_the_command_that_creates_it() {
    within(async {
        let engine = Arc::new(SqlCacheEngine::with_dotnet_table("dbo", "Sessions").unwrap());
        let wire = common::connect(engine, 1).await;
        let c = &wire.cache;
        c.set("k", Bytes::from_static(b"v"), &options()).await.unwrap();

        let error = c
            .try_lock("k", &LockToken::generate(), MINUTE)
            .await
            .unwrap_err();
        let Some(SqlServerError::MissingTable { table, .. }) = provider_error(&error) else {
            panic!("{error:?}");
        };
        assert_eq!(table, "[dbo].[Sessions_Locks]");
        let message = provider_error(&error).unwrap().to_string();
        for part in ["[dbo].[Sessions_Locks]", "sql-cache create", "--schema dbo --table Sessions", "--if-not-exists"] {
            assert!(message.contains(part), "{part}: {message}");
        }

        let error = c.check_server().await.unwrap_err();
        assert!(
            matches!(provider_error(&error), Some(SqlServerError::MissingTable { table, .. }) if table == "[dbo].[Sessions_Locks]"),
            "{error:?}"
        );

        c.create_table_if_missing().await.unwrap();
        c.check_server().await.unwrap();
        assert!(c.try_lock("k", &LockToken::generate(), MINUTE).await.unwrap());
        assert_eq!(c.get("k").await.unwrap(), Some(Bytes::from_static(b"v")));
    })
    .await;
}

/// SQL Server 2014 has no `DATEDIFF_BIG`: the start-up check and `create_table_if_missing` refuse
/// it and create nothing; Azure SQL (version 12, its own edition) is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_older_than_2016_are_refused() {
    within(async {
        let sql_server_2014 = ServerVersion {
            version: "12.0.6024.0".to_owned(),
            edition: 3,
        };
        let engine = SqlCacheEngine::new("dbo", "Sessions")
            .unwrap()
            .reporting(sql_server_2014);
        let wire = common::connect(Arc::new(engine), 1).await;
        for error in [
            wire.cache.check_server().await.unwrap_err(),
            wire.cache.create_table_if_missing().await.unwrap_err(),
        ] {
            let Some(SqlServerError::UnsupportedServer { version, .. }) = provider_error(&error)
            else {
                panic!("{error:?}");
            };
            assert_eq!(version, "12.0.6024.0");
            let message = provider_error(&error).unwrap().to_string();
            assert!(
                message.contains("SQL Server 2016 (13.x) or later"),
                "{message}"
            );
        }
        assert!(!wire.engine.table_exists() && !wire.engine.lock_table_exists());

        let azure = ServerVersion {
            version: "12.0.2000.8".to_owned(),
            edition: 5,
        };
        let engine = SqlCacheEngine::new("dbo", "Sessions")
            .unwrap()
            .reporting(azure);
        let wire = common::connect(Arc::new(engine), 1).await;
        wire.cache.create_table_if_missing().await.unwrap();
        wire.cache.check_server().await.unwrap();
    })
    .await;
}
