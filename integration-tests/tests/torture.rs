//! The torture test: two `session-node` processes on one store, several users each hammering
//! their session from several concurrent clients with a seeded random mix of
//!
//! * `GET /t/counter` (the one-step increment of `counter`),
//! * `POST /incr` (a get-then-set increment of `rmw`),
//! * `POST /t/mark/{unique}` (a write of a key of its own),
//! * `POST /t/login?user=..` (renew) and `POST /logout` (purge),
//!
//! in both concurrency modes (`SESSION_LOCKING=optimistic` and `exclusive`), on a private Redis
//! (quiet, frozen mid-run, restarted mid-run with its data lost) and on the in-repo TDS test
//! server (quiet, dropping every connection for a while). Every request is recorded (user,
//! cookie sent, start/end order, status, body, `Set-Cookie`) and the history is judged by
//! [`integration_tests::live::history`] from the answers alone: no acknowledged increment or
//! mark lost or counted twice, nothing refused stored, no retired key answering with its old
//! data, every failure a typed status within a time bound. See that module for the rules.
//!
//! **Cookie jars.** Each user has one jar, shared by its clients like the tabs of one browser:
//! a request sends the cookie the jar holds when it starts, and a response's `Set-Cookie` (any
//! status) replaces the jar's cookie, or deletes it for a removal cookie, when the response
//! arrives. So a user's clients race on the jar as tabs do: a login's new key can be replaced
//! by a brand-new session that a concurrent request with the old key started, and requests
//! after a logout start fresh sessions until one of their cookies wins. The checker does not
//! care which key a user ends with: it reads every key ever seen.
//!
//! **Faults** are sequenced with the load by counting completed requests, never by sleeping:
//! the fault starts once a quarter to a half of the planned requests completed and is lifted
//! after one to three further completions per client (both drawn from the seed).
//!
//! **Seeds.** Each run prints its seed; the seed fixes the plan (users, clients, each client's
//! requests and nodes), not the timing. `TORTURE_SEED=N` replays seed `N` in every scenario,
//! `TORTURE_ONLY=redis/exclusive/freeze` (a substring of the scenario names) selects scenarios,
//! `TORTURE_SOAK=N` runs `N` seeds per scenario. By default one fresh seed per scenario runs.
//! `REQUIRE_REDIS=1` turns a missing Redis into a failure, as in the other Redis tests.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::cookie::Key;
use base64::Engine as _;
use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};
use integration_tests::live::history::{
    self, CookieUpdate, History, Op, Outcome, Record, Reply, Report, Wipe,
};
use integration_tests::live::{SessionNode, request};
use integration_tests::redis_server::RedisServer;
use integration_tests::tds::server::Fault as TdsFault;
use integration_tests::tds::sql_cache::{self, Wire};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use session_core::conformance::unique_key;
use tokio::sync::watch;

/// The cookie name of the example servers.
const COOKIE: &str = "session";
/// The nodes' IO timeout (`IO_TIMEOUT_SECS`): small, so that a frozen store costs little time.
const IO_TIMEOUT: Duration = Duration::from_millis(500);
/// The nodes' lock and commit-turn wait (`LOCK_WAIT_SECS`).
const LOCK_WAIT: Duration = Duration::from_secs(1);
/// The nodes' exclusive-mode lease (`LOCK_LEASE_SECS`): a lock whose unlock was lost in a
/// fault blocks its session this long.
const LOCK_LEASE: Duration = Duration::from_secs(3);
/// Scheduling on 2 busy cores (two debug servers, the store, the clients), connection set-up.
const MARGIN: Duration = Duration::from_secs(2);
/// A request that has no answer after this is recorded as a hang (and fails the run).
const CLIENT_DEADLINE: Duration = Duration::from_secs(20);
/// Attempts of each final read (a 500 or 503 is retried at once; a lease left behind by a
/// fault makes exclusive-mode reads wait `LOCK_WAIT` each until it expires).
const FINAL_ATTEMPTS: usize = 8;
/// Final reads in flight at once.
const FINAL_IN_FLIGHT: usize = 8;

/// The longest a correct request can take: its wait for the lock (exclusive) or commit turn
/// (optimistic), then its store calls in sequence while the store hangs (the lock, the load,
/// the failed call, the unlock), each cut off by the IO timeout, plus the margin.
fn latency_bound() -> Duration {
    LOCK_WAIT + IO_TIMEOUT * 4 + MARGIN
}

/// The scenarios run one after the other: two of them side by side on 2 cores would measure
/// CPU starvation against the latency bound.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A store fault injected mid-run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// None.
    Quiet,
    /// Redis `SIGSTOP`ped, then continued.
    Freeze,
    /// Redis killed and started again on its port: every entry is lost.
    Restart,
    /// The TDS server closes every connection instead of answering, then recovers.
    DropConnections,
}

/// Which store the two nodes share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    Redis,
    Tds,
}

#[derive(Debug, Clone, Copy)]
struct Scenario {
    store: Store,
    locking: &'static str,
    fault: Fault,
}

impl Scenario {
    fn name(&self) -> String {
        let store = match self.store {
            Store::Redis => "redis",
            Store::Tds => "tds",
        };
        let fault = match self.fault {
            Fault::Quiet => "quiet",
            Fault::Freeze => "freeze",
            Fault::Restart => "restart",
            Fault::DropConnections => "drop",
        };
        format!("{store}/{}/{fault}", self.locking)
    }
}

/// Every combination of `store`'s faults with both locking modes.
fn scenarios(store: Store) -> Vec<Scenario> {
    let faults: &[Fault] = match store {
        Store::Redis => &[Fault::Quiet, Fault::Freeze, Fault::Restart],
        Store::Tds => &[Fault::Quiet, Fault::DropConnections],
    };
    let only = std::env::var("TORTURE_ONLY").unwrap_or_default();
    ["optimistic", "exclusive"]
        .into_iter()
        .flat_map(|locking| {
            faults.iter().map(move |&fault| Scenario {
                store,
                locking,
                fault,
            })
        })
        .filter(|s| s.name().contains(only.as_str()))
        .collect()
}

/// `TORTURE_SEED` alone, or `TORTURE_SOAK` (default 1) seeds from the clock.
fn seeds() -> Vec<u64> {
    let parse = |name: &str| {
        std::env::var(name).ok().map(|v| {
            v.trim()
                .parse::<u64>()
                .unwrap_or_else(|e| panic!("{name}={v:?}: {e}"))
        })
    };
    if let Some(seed) = parse("TORTURE_SEED") {
        return vec![seed];
    }
    let count = parse("TORTURE_SOAK").unwrap_or(1).max(1);
    let base = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        % 1_000_000_007;
    (0..count).map(|n| base + n).collect()
}

/// Each user's clients' requests: `(operation, node index)`.
struct Plan {
    users: Vec<Vec<Vec<(Op, usize)>>>,
    /// The fault starts once this many load requests completed ...
    fault_at: usize,
    /// ... and is lifted after this many more.
    fault_for: usize,
}

impl Plan {
    /// One seed in three is *hot*: one or two users with six to nine clients each, so that
    /// many requests of one session overlap; the others spread three to six clients over three
    /// or four users. The operation mix, in percent: increments of both kinds and marks
    /// dominate; logins and logouts are rare enough that most lineages live long enough to be
    /// counted.
    fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let hot = rng.random_range(0..3) == 0;
        let (users, clients) = if hot {
            ((1, 2), (6, 9))
        } else {
            ((3, 4), (3, 6))
        };
        let users = rng.random_range(users.0..=users.1);
        let users = (0..users)
            .map(|user| {
                let clients = rng.random_range(clients.0..=clients.1);
                (0..clients)
                    .map(|client| {
                        let requests = rng.random_range(25..=40);
                        (0..requests)
                            .map(|n| {
                                let op = match rng.random_range(0..100) {
                                    0..28 => Op::Counter,
                                    28..55 => Op::Incr,
                                    55..82 => Op::Mark(format!("u{user}c{client}n{n}")),
                                    82..92 => Op::Login,
                                    _ => Op::Logout,
                                };
                                (op, rng.random_range(0..2))
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let mut plan = Self {
            users,
            fault_at: 0,
            fault_for: 0,
        };
        // From a quarter to a half of the load, for one to three completions per client.
        plan.fault_at = plan.requests() * rng.random_range(25..=50) / 100;
        plan.fault_for = plan.clients() * rng.random_range(1..=3);
        plan
    }

    fn clients(&self) -> usize {
        self.users.iter().map(Vec::len).sum()
    }

    fn requests(&self) -> usize {
        self.users.iter().flatten().map(Vec::len).sum()
    }
}

/// The store of a run, owned by the test for fault injection.
enum StoreHandle {
    Redis(RedisServer),
    Tds(Wire),
}

/// One run's shared state: the nodes, the history's sequence and records, and the count of
/// completed load requests (which sequences the fault).
struct Run {
    nodes: [SocketAddr; 2],
    seq: AtomicU64,
    records: Mutex<Vec<Record>>,
    completed: watch::Sender<usize>,
}

impl Run {
    /// The next position on the history's sequence.
    fn tick(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst)
    }

    /// Sends `op` for `user` with `cookie` to node `node`, records it and returns the record.
    async fn send(&self, user: usize, node: usize, op: Op, cookie: Option<String>) -> Record {
        let (method, path) = op.request_line(&format!("user{user}"));
        let header = cookie.as_ref().map(|value| format!("{COOKIE}={value}"));
        let start = self.tick();
        let started = Instant::now();
        let answer = tokio::time::timeout(
            CLIENT_DEADLINE,
            request(self.nodes[node], method, &path, header.as_deref()),
        )
        .await;
        let elapsed = started.elapsed();
        let end = self.tick();
        let outcome = match answer {
            Err(_) => Outcome::Hang,
            Ok(Err(error)) => Outcome::Transport(error.to_string()),
            Ok(Ok(reply)) => Outcome::Reply(Reply {
                status: reply.status,
                body: reply.text(),
                set_cookie: reply.set_cookie(COOKIE).map(|value| {
                    if value.is_empty() {
                        CookieUpdate::Removed
                    } else {
                        CookieUpdate::Set(value)
                    }
                }),
                retry_after: reply
                    .headers
                    .iter()
                    .find(|(name, _)| name == "retry-after")
                    .map(|(_, value)| value.clone()),
            }),
        };
        let record = Record {
            user,
            node,
            op,
            cookie,
            start,
            end,
            elapsed,
            outcome,
        };
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record.clone());
        record
    }

    /// `GET /state` with `key` until it answers 2xx, at most `FINAL_ATTEMPTS` times.
    async fn read(&self, user: usize, node: usize, key: &str) {
        for attempt in 0..FINAL_ATTEMPTS {
            let record = self
                .send(user, (node + attempt) % 2, Op::State, Some(key.to_owned()))
                .await;
            if record.is_ok() {
                return;
            }
        }
    }
}

/// One client of `user`: its planned requests, back to back, through the user's `jar`.
async fn client(run: &Run, user: usize, jar: &Mutex<Option<String>>, requests: &[(Op, usize)]) {
    for (op, node) in requests {
        let cookie = jar.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let record = run.send(user, *node, op.clone(), cookie).await;
        if let Outcome::Reply(Reply {
            set_cookie: Some(update),
            ..
        }) = &record.outcome
        {
            *jar.lock().unwrap_or_else(PoisonError::into_inner) = match update {
                CookieUpdate::Set(key) => Some(key.clone()),
                CookieUpdate::Removed => None,
            };
        }
        run.completed.send_modify(|n| *n += 1);
    }
}

/// Injects `fault` once `at` load requests completed, and lifts it `for_requests` completions
/// later. Returns the wipe a restart caused.
async fn drive_fault(
    fault: Fault,
    store: &mut StoreHandle,
    run: &Run,
    at: usize,
    for_requests: usize,
) -> Option<Wipe> {
    let reached = |n: usize| {
        let mut completed = run.completed.subscribe();
        async move {
            // The sender lives as long as the run: waiting cannot fail.
            let _ = completed.wait_for(|done| *done >= n).await;
        }
    };
    if fault == Fault::Quiet {
        return None;
    }
    reached(at).await;
    match (fault, store) {
        (Fault::Freeze, StoreHandle::Redis(redis)) => {
            redis.freeze().unwrap_or_else(|e| panic!("freeze: {e}"));
            reached(at + for_requests).await;
            redis.thaw().unwrap_or_else(|e| panic!("thaw: {e}"));
            None
        }
        (Fault::Restart, StoreHandle::Redis(redis)) => {
            let from = run.tick();
            redis.stop().unwrap_or_else(|e| panic!("stop: {e}"));
            reached(at + for_requests).await;
            redis
                .start_again()
                .await
                .unwrap_or_else(|e| panic!("start again: {e}"));
            Some(Wipe {
                from,
                to: run.tick(),
            })
        }
        (Fault::DropConnections, StoreHandle::Tds(wire)) => {
            wire.server.set_fault(TdsFault::DropConnections);
            reached(at + for_requests).await;
            wire.server.set_fault(TdsFault::None);
            None
        }
        (fault, _) => panic!("{fault:?} does not apply to this store"),
    }
}

/// Starts the store of `scenario` (a fault on Redis needs a private server: fails without one).
async fn start_store(scenario: &Scenario) -> Option<StoreHandle> {
    match scenario.store {
        Store::Redis => {
            let redis = RedisServer::start().await?;
            if scenario.fault != Fault::Quiet {
                integration_tests::redis_server::require_private(&redis);
            }
            Some(StoreHandle::Redis(redis))
        }
        Store::Tds => Some(StoreHandle::Tds(sql_cache::start(1).await)),
    }
}

/// One run of `scenario` with `seed`: returns the checker's report.
async fn run(scenario: &Scenario, seed: u64) -> Option<Report> {
    let mut store = start_store(scenario).await?;
    let plan = Plan::new(seed);
    let key = base64::engine::general_purpose::STANDARD.encode(Key::generate().master());
    let instance = unique_key("torture");
    let io_timeout = format!("{}", IO_TIMEOUT.as_secs_f64());
    let lock_wait = format!("{}", LOCK_WAIT.as_secs_f64());
    let lock_lease = format!("{}", LOCK_LEASE.as_secs_f64());
    let mut env = vec![
        ("SESSION_COOKIE_KEY", key.clone()),
        ("SESSION_LOCKING", scenario.locking.to_owned()),
        ("IO_TIMEOUT_SECS", io_timeout),
        ("LOCK_WAIT_SECS", lock_wait),
        ("LOCK_LEASE_SECS", lock_lease),
    ];
    match &store {
        StoreHandle::Redis(redis) => {
            env.push(("REDIS_URL", redis.url().to_owned()));
            env.push(("REDIS_INSTANCE_NAME", instance));
        }
        StoreHandle::Tds(wire) => {
            env.push(("MSSQL_CONNECTION_STRING", wire.server.connection_string()));
            // tiberius warns on every connection that the TDS test server's plain text is
            // plain text.
            env.push(("RUST_LOG", "warn,tiberius=error".to_owned()));
        }
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_session-node"));
    let a = SessionNode::start(binary, &env)
        .await
        .unwrap_or_else(|e| panic!("node A: {e}"));
    let b = SessionNode::start(binary, &env)
        .await
        .unwrap_or_else(|e| panic!("node B: {e}"));
    let (completed, _) = watch::channel(0);
    let run = Run {
        nodes: [a.addr(), b.addr()],
        seq: AtomicU64::new(0),
        records: Mutex::new(Vec::new()),
        completed,
    };

    // The load, with the fault beside it.
    let started = Instant::now();
    let jars: Vec<Mutex<Option<String>>> = plan.users.iter().map(|_| Mutex::new(None)).collect();
    let clients = plan.users.iter().enumerate().flat_map(|(user, clients)| {
        let (run, jar) = (&run, &jars[user]);
        clients
            .iter()
            .map(move |requests| client(run, user, jar, requests))
    });
    let (at, for_requests) = (plan.fault_at, plan.fault_for);
    let (_, wipe) = tokio::join!(
        join_all(clients),
        drive_fault(scenario.fault, &mut store, &run, at, for_requests)
    );
    let load_time = started.elapsed();

    // The final reads: every key ever seen, twice, while nothing else runs.
    let keys: BTreeSet<String> = {
        let records = run.records.lock().unwrap_or_else(PoisonError::into_inner);
        records
            .iter()
            .flat_map(|r| {
                let set = match &r.outcome {
                    Outcome::Reply(Reply {
                        set_cookie: Some(CookieUpdate::Set(key)),
                        ..
                    }) => Some(key.clone()),
                    _ => None,
                };
                r.cookie.clone().into_iter().chain(set)
            })
            .collect()
    };
    let reader = plan.users.len();
    let final_from = run.tick();
    stream::iter(&keys)
        .map(|key| {
            let run = &run;
            async move {
                run.read(reader, 0, key).await;
                run.read(reader, 1, key).await;
            }
        })
        .buffer_unordered(FINAL_IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
    let final_to = run.tick();

    // Epilogue: each user logs out, then reads with the logged-out key (rule 4 on a quiet
    // system).
    for (user, jar) in jars.iter().enumerate() {
        let Some(key) = jar.lock().unwrap_or_else(PoisonError::into_inner).clone() else {
            continue;
        };
        for attempt in 0..FINAL_ATTEMPTS {
            let record = run
                .send(user, attempt % 2, Op::Logout, Some(key.clone()))
                .await;
            if record.is_ok() {
                run.read(user, 0, &key).await;
                run.read(user, 1, &key).await;
                break;
            }
        }
    }
    drop((a, b));

    let records = std::mem::take(&mut *run.records.lock().unwrap_or_else(PoisonError::into_inner));
    let history = History {
        records,
        wipes: wipe.into_iter().collect(),
        final_reads: final_from..final_to,
        latency_bound: latency_bound(),
    };
    let report = history::check(&history);
    let users: Vec<usize> = plan.users.iter().map(Vec::len).collect();
    eprintln!(
        "torture {} seed={seed}: {report}; latency bound {:?}; load of {} requests by \
         {users:?} clients per user in {load_time:?}, fault after {at} completed for \
         {for_requests} more; replay: TORTURE_SEED={seed} TORTURE_ONLY={}",
        scenario.name(),
        latency_bound(),
        plan.requests(),
        scenario.name(),
    );
    if !report.violations.is_empty() {
        eprintln!("  violations by kind: {:?}", report.kinds());
        for violation in report.sample(3) {
            eprintln!("  {violation}");
        }
    }
    drop(store);
    Some(report)
}

/// Runs every selected scenario of `store` with every seed; fails listing the failed runs.
async fn torture(store: Store) {
    let _serial = ONE_AT_A_TIME.lock().await;
    let mut failed = Vec::new();
    for scenario in scenarios(store) {
        for seed in seeds() {
            let Some(report) = run(&scenario, seed).await else {
                continue;
            };
            if !report.violations.is_empty() {
                failed.push(format!(
                    "TORTURE_SEED={seed} TORTURE_ONLY={} ({} violations, resurrected keys: {})",
                    scenario.name(),
                    report.violations.len(),
                    report.resurrected.len()
                ));
            }
        }
    }
    assert!(failed.is_empty(), "failed runs:\n{}", failed.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn torture_two_nodes_on_redis() {
    torture(Store::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torture_two_nodes_on_the_tds_test_server() {
    torture(Store::Tds).await;
}

#[test]
fn the_plan_depends_on_the_seed_alone() {
    let ops = |seed| {
        Plan::new(seed)
            .users
            .into_iter()
            .flatten()
            .flatten()
            .collect::<Vec<_>>()
    };
    assert_eq!(ops(7), ops(7), "a seed replays its plan");
    assert_ne!(ops(7), ops(8));
    let plan = Plan::new(7);
    assert!(
        plan.fault_at + plan.fault_for < plan.requests(),
        "the fault thresholds are reachable"
    );
}
