//! Faults under real HTTP load (an in-process `HttpServer`, real sockets, real stores):
//!
//! * Redis stopped and restarted on the same port under load: while it is down every request
//!   ends in an opaque 500 within the IO timeout plus a margin; once it is back (after a short
//!   settle) no request fails;
//! * Redis frozen (`SIGSTOP`): every request ends within the IO timeout plus a margin with a
//!   500; after `SIGCONT` requests succeed;
//! * the SQL Server (TDS test server) stalls, logins included: 500s within the IO timeout plus a
//!   margin, and after the stall is lifted requests succeed again (a stalled connection attempt
//!   must not hold a pool slot forever);
//! * an exhausted pool (one connection, held by a stuck request): the next request fails after
//!   the pool's wait timeout, long before the IO timeout.
//!
//! Each test prints what it measured.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::cookie::Key;
use cache_redis::RedisCache;
use cache_sqlserver::SqlServerCache;
use futures_util::future::join_all;
use integration_tests::live::{LiveServer, request};
use integration_tests::redis_server::RedisServer;
use integration_tests::tds::server::Fault;
use integration_tests::tds::sql_cache;
use session_actix::{SessionMiddleware, SessionOptions, SharedCache};
use session_core::conformance::unique_key;

const COOKIE: &str = "session";
/// The session IO timeout of these tests.
const IO_TIMEOUT: Duration = Duration::from_secs(1);
/// Allowed beyond the IO timeout (scheduling on 2 busy cores, connection set-up).
const MARGIN: Duration = Duration::from_millis(1500);
/// Clients hammering at once during load phases.
const CLIENTS: usize = 8;

fn server(cache: SharedCache, io_timeout: Duration) -> LiveServer {
    let options = SessionOptions::builder()
        .io_timeout(Some(io_timeout))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let sessions = SessionMiddleware::builder(cache, Key::generate())
        .session_options(options)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    LiveServer::start(sessions).unwrap_or_else(|e| panic!("server: {e}"))
}

/// The outcome of one request.
#[derive(Debug)]
struct Outcome {
    /// The status, or `None` for a transport error.
    status: Option<u16>,
    elapsed: Duration,
    body: String,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.status == Some(200)
    }

    /// A 500 whose body says nothing of the cause.
    fn opaque_500(&self) -> bool {
        let body = self.body.to_lowercase();
        self.status == Some(500)
            && [
                "redis",
                "sql",
                "cache",
                "session",
                "connection",
                "refused",
                "timeout",
                "timed out",
                "backend",
                "pool",
            ]
            .iter()
            .all(|leak| !body.contains(leak))
    }
}

/// `GET /counter` with `cookie` (updated from the response, as a browser would).
async fn counter(addr: SocketAddr, cookie: &mut Option<String>) -> Outcome {
    let started = Instant::now();
    let header = cookie.as_ref().map(|value| format!("{COOKIE}={value}"));
    let reply = request(addr, "GET", "/counter", header.as_deref()).await;
    let elapsed = started.elapsed();
    match reply {
        Ok(reply) => {
            if let Some(value) = reply.set_cookie(COOKIE) {
                *cookie = Some(value);
            }
            Outcome {
                status: Some(reply.status),
                elapsed,
                body: reply.text(),
            }
        }
        Err(error) => Outcome {
            status: None,
            elapsed,
            body: error.to_string(),
        },
    }
}

/// `CLIENTS` clients, each with its own session (`cookies`), sending requests back to back for
/// `duration`.
async fn load(
    addr: SocketAddr,
    cookies: &mut [Option<String>],
    duration: Duration,
) -> Vec<Outcome> {
    let until = Instant::now() + duration;
    let clients = cookies.iter_mut().map(|cookie| async move {
        let mut outcomes = Vec::new();
        while Instant::now() < until {
            outcomes.push(counter(addr, cookie).await);
        }
        outcomes
    });
    join_all(clients).await.into_iter().flatten().collect()
}

fn max_elapsed(outcomes: &[Outcome]) -> Duration {
    outcomes.iter().map(|o| o.elapsed).max().unwrap_or_default()
}

/// The first few outcomes that fail `check`, for the assertion message.
fn offenders(outcomes: &[Outcome], check: impl Fn(&Outcome) -> bool) -> Vec<&Outcome> {
    outcomes.iter().filter(|o| !check(o)).take(5).collect()
}

async fn private_redis() -> Option<RedisServer> {
    let server = RedisServer::start().await?;
    integration_tests::redis_server::require_private(&server);
    Some(server)
}

fn redis_cache(server: &RedisServer) -> RedisCache {
    RedisCache::builder()
        .url(server.url())
        .instance_name(unique_key("faults"))
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[actix_web::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn redis_restart_under_load_fails_cleanly_then_recovers() {
    let Some(mut redis) = private_redis().await else {
        return;
    };
    let live = server(Arc::new(redis_cache(&redis)), IO_TIMEOUT);
    let mut cookies = vec![None; CLIENTS];

    let before = load(live.addr(), &mut cookies, Duration::from_secs(1)).await;
    let before_failed = before.iter().filter(|o| !o.ok()).count();

    redis.stop().unwrap_or_else(|e| panic!("{e}"));
    let down = load(live.addr(), &mut cookies, Duration::from_secs(2)).await;
    let down_not_opaque_500 = down.iter().filter(|o| !o.opaque_500()).count();
    let down_max = max_elapsed(&down);

    redis.start_again().await.unwrap_or_else(|e| panic!("{e}"));
    // Settle: pooled connections idle for over a second are checked before reuse.
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    let after = load(live.addr(), &mut cookies, Duration::from_secs(2)).await;
    let after_failed = after.iter().filter(|o| !o.ok()).count();

    eprintln!(
        "redis restart under load ({CLIENTS} clients, IO timeout {IO_TIMEOUT:?}): before: {} \
         requests, {before_failed} failed; while down: {} requests, {down_not_opaque_500} not an \
         opaque 500, slowest {down_max:?}; after restart + 1.5 s settle: {} requests, \
         {after_failed} failed, slowest {:?}",
        before.len(),
        down.len(),
        after.len(),
        max_elapsed(&after)
    );
    assert_eq!(before_failed, 0, "{:?}", offenders(&before, Outcome::ok));
    assert!(!down.is_empty());
    assert_eq!(
        down_not_opaque_500,
        0,
        "{:?}",
        offenders(&down, Outcome::opaque_500)
    );
    assert!(
        down_max < IO_TIMEOUT + MARGIN,
        "slowest while down: {down_max:?}"
    );
    assert!(!after.is_empty());
    assert_eq!(after_failed, 0, "{:?}", offenders(&after, Outcome::ok));
}

#[actix_web::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn frozen_redis_ends_every_request_within_the_io_timeout_then_recovers() {
    let Some(mut redis) = private_redis().await else {
        return;
    };
    let live = server(Arc::new(redis_cache(&redis)), IO_TIMEOUT);
    let mut cookies = vec![None; 20];
    for cookie in &mut cookies {
        assert!(counter(live.addr(), cookie).await.ok());
    }

    redis.freeze().unwrap_or_else(|e| panic!("{e}"));
    let frozen = join_all(cookies.iter_mut().map(|c| counter(live.addr(), c))).await;
    redis.thaw().unwrap_or_else(|e| panic!("{e}"));
    let frozen_not_500 = frozen.iter().filter(|o| !o.opaque_500()).count();
    let frozen_max = max_elapsed(&frozen);

    let after = join_all(cookies.iter_mut().map(|c| counter(live.addr(), c))).await;
    let after_failed = after.iter().filter(|o| !o.ok()).count();
    eprintln!(
        "frozen redis (IO timeout {IO_TIMEOUT:?}): {} concurrent requests, {frozen_not_500} not an \
         opaque 500, slowest {frozen_max:?}; after thaw: {} requests, {after_failed} failed",
        frozen.len(),
        after.len()
    );
    assert_eq!(
        frozen_not_500,
        0,
        "{:?}",
        offenders(&frozen, Outcome::opaque_500)
    );
    assert!(
        frozen_max >= IO_TIMEOUT && frozen_max < IO_TIMEOUT + MARGIN,
        "slowest while frozen: {frozen_max:?}"
    );
    assert_eq!(after_failed, 0, "{:?}", offenders(&after, Outcome::ok));
}

#[actix_web::test]
async fn stalled_sql_server_ends_requests_within_the_io_timeout_then_recovers() {
    let wire = sql_cache::start(1).await;
    let connection_timeout = Duration::from_secs(1);
    let cache = SqlServerCache::builder()
        .connection_string(wire.server.connection_string())
        .schema_name("dbo")
        .table_name("Sessions")
        .pool_size(2)
        .connection_timeout(connection_timeout)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let live = server(Arc::new(cache), IO_TIMEOUT);
    let mut cookies = vec![None; 6];
    for cookie in &mut cookies {
        assert!(counter(live.addr(), cookie).await.ok());
    }

    // Everything stalls: requests on pooled connections, and the logins of new connections.
    wire.server.set_fault(Fault::Stall);
    let mut stalled = Vec::new();
    for _ in 0..2 {
        stalled.extend(join_all(cookies.iter_mut().map(|c| counter(live.addr(), c))).await);
    }
    wire.server.set_fault(Fault::None);
    let stalled_not_500 = stalled.iter().filter(|o| !o.opaque_500()).count();
    let stalled_max = max_elapsed(&stalled);

    // Settle past the connection timeout: attempts begun during the stall give up by then.
    actix_web::rt::time::sleep(connection_timeout + Duration::from_millis(500)).await;
    let mut after = Vec::new();
    for _ in 0..3 {
        after.extend(join_all(cookies.iter_mut().map(|c| counter(live.addr(), c))).await);
    }
    let after_failed = after.iter().filter(|o| !o.ok()).count();
    eprintln!(
        "stalled TDS server (IO timeout {IO_TIMEOUT:?}, pool 2, connection timeout \
         {connection_timeout:?}): {} requests, {stalled_not_500} not an opaque 500, slowest \
         {stalled_max:?}; after the stall is lifted + settle: {} requests, {after_failed} failed",
        stalled.len(),
        after.len()
    );
    assert_eq!(
        stalled_not_500,
        0,
        "{:?}",
        offenders(&stalled, Outcome::opaque_500)
    );
    assert!(
        stalled_max < IO_TIMEOUT + MARGIN,
        "slowest while stalled: {stalled_max:?}"
    );
    assert_eq!(after_failed, 0, "{:?}", offenders(&after, Outcome::ok));
}

#[actix_web::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn exhausted_pool_fails_after_the_pool_wait_not_the_io_timeout() {
    let Some(redis) = private_redis().await else {
        return;
    };
    // RedisCache's own pools cannot run dry: an operation borrows a multiplexed connection only
    // to clone its handle. A pool shared with the application can, when the application holds
    // every connection; that is the case built here.
    let wait = Duration::from_millis(300);
    let pool = redis.single_connection_pool(wait);
    let options = cache_redis::RedisCacheOptions {
        instance_name: unique_key("faults"),
        ..cache_redis::RedisCacheOptions::default()
    };
    let cache = RedisCache::from_pool(pool.clone(), options).unwrap_or_else(|e| panic!("{e}"));
    // A long IO timeout, so that only the pool's wait can end the request early.
    let io_timeout = Duration::from_secs(5);
    let live = server(Arc::new(cache), io_timeout);
    let addr = live.addr();
    let mut jar = None;
    assert!(counter(addr, &mut jar).await.ok());

    // The application holds the only connection ...
    let held = pool.get().await.unwrap_or_else(|e| panic!("{e}"));
    // ... so the request waits for the pool, boundedly.
    let waited = counter(addr, &mut jar).await;
    drop(held);
    eprintln!(
        "exhausted pool (1 connection held by the application, wait {wait:?}, IO timeout \
         {io_timeout:?}): the request ended with {:?} after {:?}",
        waited.status, waited.elapsed
    );
    assert!(waited.opaque_500(), "{waited:?}");
    assert!(
        waited.elapsed >= wait && waited.elapsed < wait + MARGIN,
        "bounded by the pool wait: {:?}",
        waited.elapsed
    );
    assert!(waited.elapsed < io_timeout);
    assert!(
        counter(addr, &mut jar).await.ok(),
        "served again once the connection is back"
    );
}
