//! Redis Sentinel (feature `sentinel`) against a private primary, replica and sentinels: the
//! conformance suite, the configuration-string and URL forms, a wrong service name, and a forced
//! failover under load (no acknowledged write lost, no operation hanging, service resumed).
#![cfg(feature = "sentinel")]
// Test helpers outside #[test] fns: a failed setup must fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cache_redis::{
    RedisCache, RedisCacheBuilder, RedisCacheError, RedisConfigError, SentinelConfig,
};
use integration_tests::redis_sentinel::{RedisSentinelSet, SERVICE_NAME, SentinelPasswords};
use session_core::conformance::Harness;
use session_core::{CacheError, DistributedCache, EntryOptions, WriteCondition};

/// Starting a Sentinel set takes a few seconds: cases running at the same time share one.
static SHARED: common::Shared<RedisSentinelSet> = common::Shared::new();

async fn shared_set() -> Option<Arc<RedisSentinelSet>> {
    SHARED.get_or_start(|| RedisSentinelSet::start(3)).await
}

/// The StackExchange.Redis form: the sentinels as endpoints, plus `serviceName=`.
fn configuration(set: &RedisSentinelSet) -> String {
    let endpoints: Vec<String> = set
        .sentinels()
        .iter()
        .map(|(host, port)| format!("{host}:{port}"))
        .collect();
    format!("{},serviceName={SERVICE_NAME}", endpoints.join(","))
}

fn builder(set: &RedisSentinelSet) -> RedisCacheBuilder {
    RedisCache::builder()
        .configuration(configuration(set))
        .instance_name(common::unique_instance("sentinel"))
}

async fn factory() -> Option<Harness> {
    let set = shared_set().await?;
    let cache = builder(&set).build().unwrap();
    Some(Harness::with_guard(Arc::new(cache), set))
}

session_core::distributed_cache_conformance!(
    #[cfg_attr(
        redis_server_missing,
        ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
    )]
    factory
);

/// Each form writes through the primary the sentinels name: the entry is on that node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn every_form_reaches_the_primary() {
    let Some(set) = shared_set().await else {
        return;
    };
    let sentinels = set.sentinels();
    let hosts: Vec<String> = sentinels.iter().map(|(h, p)| format!("{h}:{p}")).collect();
    let url = format!("redis+sentinel://{}/{SERVICE_NAME}", hosts.join(","));
    let forms = [
        ("configuration string", builder(&set)),
        (
            "redis+sentinel URL",
            RedisCache::builder()
                .url(url)
                .instance_name(common::unique_instance("sentinel")),
        ),
        (
            "SentinelConfig",
            RedisCache::builder()
                .sentinel(SentinelConfig::new(SERVICE_NAME, sentinels))
                .instance_name(common::unique_instance("sentinel")),
        ),
    ];
    let primary = set.primary_port(0).await.unwrap();
    let mut raw = common::raw(&format!("redis://127.0.0.1:{primary}")).await;
    for (form, builder) in forms {
        let cache = builder.build().unwrap();
        let options = EntryOptions::sliding(Duration::from_secs(60));
        cache
            .set("k", Bytes::from_static(b"v"), &options)
            .await
            .unwrap();
        let data: Option<Vec<u8>> = redis::cmd("HGET")
            .arg(cache.redis_key("k"))
            .arg("data")
            .query_async(&mut raw)
            .await
            .unwrap();
        assert_eq!(data.as_deref(), Some(&b"v"[..]), "{form}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn unknown_service_name_is_a_clear_error() {
    let Some(set) = shared_set().await else {
        return;
    };
    let cache = RedisCache::builder()
        .configuration(configuration(&set).replace(SERVICE_NAME, "no-such-service"))
        .build()
        .unwrap();
    let error = tokio::time::timeout(Duration::from_secs(10), cache.ping())
        .await
        .expect("a wrong service name fails, it does not hang")
        .unwrap_err();
    assert!(
        matches!(
            common::redis_error(&error),
            Some(RedisCacheError::SentinelPrimaryNotFound { service_name, .. })
                if service_name == "no-such-service"
        ),
        "{}",
        common::chain(&error)
    );
    assert!(
        common::chain(&error).contains("service `no-such-service`"),
        "{}",
        common::chain(&error)
    );
}

/// The limit every operation gets, as the session IO timeout would impose it.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// What one writer saw.
#[derive(Debug, Default)]
struct WriterLog {
    acknowledged: u64,
    last_acknowledged: u64,
    failures: Vec<Instant>,
    timeouts: u64,
    slowest: Duration,
}

/// Increments the counter at `key` as a session commit does (read, then compare-and-set
/// against what was read) until `stop`, checking on every read that no acknowledged increment
/// was lost: the value read is never below the last acknowledged one. (It may be above: a
/// failed compare-and-set whose reply was lost may have been applied.)
async fn writer(cache: Arc<RedisCache>, key: String, stop: Arc<AtomicBool>) -> WriterLog {
    let options = EntryOptions::sliding(Duration::from_secs(600));
    let mut log = WriterLog::default();
    // Paces the load (this is not synchronisation): a few hundred operations per second in all.
    let mut pace = tokio::time::interval(Duration::from_millis(10));
    while !stop.load(Ordering::Relaxed) {
        pace.tick().await;
        let started = Instant::now();
        let attempt = tokio::time::timeout(IO_TIMEOUT, async {
            let current = cache.get(&key).await?;
            let value = match &current {
                Some(bytes) => std::str::from_utf8(bytes).unwrap().parse::<u64>().unwrap(),
                None => 0,
            };
            assert!(
                value >= log.last_acknowledged,
                "{key}: read {value} after {} was acknowledged: an acknowledged write was lost",
                log.last_acknowledged
            );
            let condition = match current {
                Some(bytes) => WriteCondition::ValueEquals(bytes),
                None => WriteCondition::Absent,
            };
            let next = Bytes::from((value + 1).to_string());
            let written = cache.set_if(&key, next, &options, &condition).await?;
            Ok::<_, CacheError>(written.then_some(value + 1))
        })
        .await;
        log.slowest = log.slowest.max(started.elapsed());
        match attempt {
            Ok(Ok(Some(value))) => {
                log.acknowledged += 1;
                log.last_acknowledged = value;
            }
            // Only this writer writes its key, so a refused condition means an earlier failed
            // attempt was applied after all: read again.
            Ok(Ok(None)) => {}
            Ok(Err(_)) => log.failures.push(Instant::now()),
            Err(_) => {
                log.timeouts += 1;
                log.failures.push(Instant::now());
            }
        }
    }
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn failover_under_load_loses_no_acknowledged_write() {
    // Its own set: the failover must not disturb the other cases.
    let Some(set) = RedisSentinelSet::start(3).await else {
        return;
    };
    let cache = Arc::new(
        builder(&set)
            .connect_timeout(Duration::from_secs(2))
            .response_timeout(Some(Duration::from_secs(2)))
            .build()
            .unwrap(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|i| tokio::spawn(writer(cache.clone(), format!("counter-{i}"), stop.clone())))
        .collect();
    // Progress is read from the store, not from the writers' logs (they are returned at the end).
    let probe = cache.clone();
    let total = || {
        let probe = probe.clone();
        async move {
            let mut sum = 0;
            for i in 0..8 {
                if let Ok(Some(v)) = probe.get(&format!("counter-{i}")).await {
                    sum += std::str::from_utf8(&v).unwrap().parse::<u64>().unwrap();
                }
            }
            sum
        }
    };
    let before = wait_total(&total, 8 * 20, "before the failover").await;

    let failover_started = Instant::now();
    let old_primary = set.primary_port(0).await.unwrap();
    let new_primary = set.failover().await.unwrap();
    assert_ne!(old_primary, new_primary);
    let promoted = failover_started.elapsed();
    // The old primary rejoins as a replica of the new one (Sentinel converts it after a delay);
    // until then the new primary refuses writes (min-replicas-to-write 1).
    set.wait_for_replica(old_primary, Duration::from_secs(60))
        .await
        .unwrap();
    let rejoined = failover_started.elapsed();
    let after = wait_total(&total, before + 8 * 20, "after the failover").await;
    stop.store(true, Ordering::Relaxed);

    let mut logs = Vec::new();
    for w in writers {
        logs.push(
            w.await
                .expect("a writer found a lost write (see its panic)"),
        );
    }
    let failures: Vec<Instant> = logs.iter().flat_map(|l| l.failures.clone()).collect();
    let window = match (failures.iter().min(), failures.iter().max()) {
        (Some(first), Some(last)) => *last - *first,
        _ => Duration::ZERO,
    };
    let slowest = logs.iter().map(|l| l.slowest).max().unwrap_or_default();
    let timeouts: u64 = logs.iter().map(|l| l.timeouts).sum();
    let acknowledged: u64 = logs.iter().map(|l| l.acknowledged).sum();
    eprintln!(
        "sentinel failover: promoted after {promoted:?}, old primary a replica after {rejoined:?}; \
         {acknowledged} increments acknowledged ({before} before, {after} in all), \
         {} failed over a window of {window:?}; slowest operation {slowest:?}, {timeouts} timed out",
        failures.len()
    );
    assert_eq!(timeouts, 0, "no operation may hang up to the IO timeout");
    assert!(slowest < IO_TIMEOUT, "{slowest:?}");
    // Every acknowledged increment is in the store, on the new primary.
    for (i, log) in logs.iter().enumerate() {
        let stored = cache.get(&format!("counter-{i}")).await.unwrap().unwrap();
        let stored: u64 = std::str::from_utf8(&stored).unwrap().parse().unwrap();
        assert!(
            stored >= log.last_acknowledged,
            "counter-{i}: {stored} < {log:?}"
        );
    }
    let mut raw = common::raw(&format!("redis://127.0.0.1:{new_primary}")).await;
    let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut raw).await.unwrap();
    assert!(matches!(role.first(), Some(redis::Value::BulkString(r)) if r == b"master"));
}

/// Polls `total` until it reaches `target`, returning it.
async fn wait_total<F, Fut>(total: &F, target: u64, what: &str) -> u64
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = u64>,
{
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let now = total().await;
        if now >= target {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "no progress {what}: {now} < {target}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Passwords on the primary and on the sentinels: each side gets its own (or, as in
/// StackExchange, the sentinels get `password=` when no `sentinelPassword=` is given); a wrong
/// primary password is an authentication error naming the user, never the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn credentials_for_the_primary_and_the_sentinels() {
    let passwords = SentinelPasswords {
        data: "primarysecret".to_owned(),
        sentinel: "sentinelsecret".to_owned(),
    };
    let Some(set) = RedisSentinelSet::start_with_passwords(1, passwords).await else {
        return;
    };
    let base = configuration(&set);
    let ping = |configuration: String| async move {
        let cache = RedisCache::builder()
            .configuration(configuration)
            .connect_timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        tokio::time::timeout(Duration::from_secs(20), cache.ping())
            .await
            .expect("fails or succeeds, never hangs")
    };
    ping(format!(
        "{base},password=primarysecret,sentinelPassword=sentinelsecret"
    ))
    .await
    .unwrap();
    // In code: the sentinels' credentials apart from the string's.
    let cache = RedisCache::builder()
        .configuration(format!("{base},password=primarysecret"))
        .sentinel_credentials(None, "sentinelsecret")
        .build()
        .unwrap();
    let options = EntryOptions::sliding(Duration::from_secs(60));
    cache
        .set("k", Bytes::from_static(b"v"), &options)
        .await
        .unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));

    // The sentinels refuse the primary's password (the StackExchange fall-back).
    let error = ping(format!("{base},password=primarysecret"))
        .await
        .unwrap_err();
    let text = common::chain(&error);
    assert!(
        matches!(
            common::redis_error(&error),
            Some(RedisCacheError::SentinelAuthentication { service_name, .. })
                if service_name == SERVICE_NAME
        ),
        "{text}"
    );

    let error = ping(format!(
        "{base},password=wrong-one,sentinelPassword=sentinelsecret"
    ))
    .await
    .unwrap_err();
    let text = common::chain(&error);
    assert!(
        matches!(
            common::redis_error(&error),
            Some(RedisCacheError::SentinelAuthentication { user, .. }) if user == "default"
        ),
        "{text}"
    );
    assert!(
        !text.contains("wrong-one") && !text.contains("sentinelsecret"),
        "{text}"
    );
}

/// Settings that cannot apply to the source given are refused when building, not ignored.
#[test]
fn misplaced_sentinel_settings_are_refused() {
    let sentinel = SentinelConfig::new(SERVICE_NAME, [("127.0.0.1", 26379)]);
    let error = RedisCache::builder()
        .sentinel(sentinel)
        .tls_ca_file("/nonexistent/ca.pem")
        .build()
        .unwrap_err();
    assert!(
        matches!(error, RedisConfigError::TlsOptionsWithoutTls),
        "{error}"
    );
    let error = RedisCache::builder()
        .url("redis://127.0.0.1:6379")
        .sentinel_credentials(None, "secret")
        .build()
        .unwrap_err();
    assert!(
        matches!(error, RedisConfigError::SentinelCredentialsWithoutSentinel),
        "{error}"
    );
    let error = RedisCache::builder()
        .configuration("127.0.0.1:26379,serviceName=mymaster,ssl=true,sslHost=redis.test")
        .build()
        .unwrap_err();
    assert!(
        matches!(error, RedisConfigError::SslHostWithSentinel),
        "{error}"
    );
    let error = RedisCache::builder()
        .url("redis+sentinel://127.0.0.1:26379/")
        .build()
        .unwrap_err();
    assert!(
        matches!(error, RedisConfigError::InvalidSentinelUrl(_)),
        "{error}"
    );
}
