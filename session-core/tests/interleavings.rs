#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every interleaving of store operations of a few concurrent requests of one session, explored
//! exhaustively by a deterministic scheduler, each outcome checked for serializability.
//!
//! The store here ([`ScheduledCache`]) parks every call until the scheduler releases it, so the
//! order in which the requests' store operations take effect is the scheduler's choice. The
//! scheduler waits until every live request is either parked at the store or done (with tokio's
//! clock paused, so backoff sleeps and commit-turn waits resolve deterministically), then picks
//! one parked call; a depth-first search over those choices visits every order. The real
//! session code runs unmodified: its commit turns (requests of one node), compare-and-set,
//! re-read, read validation, replay of `update` closures, conditional removal at purge.
//!
//! After each run, the acknowledged requests (operation and `finish` both `Ok`) must be
//! explainable by some serial order: replaying them one at a time on the reference model gives
//! the values they answered, whether they found the session or a fresh one, and the final
//! stored state. Requests that were refused must have left no trace.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use session_core::{
    CacheError, ConcurrencyMode, CookieAction, DistributedCache, EntryOptions, LockToken,
    RequestSession, SessionKey, SessionOptions, SessionStore, SharedCache, WriteCondition, codec,
};
use tokio::sync::{mpsc, oneshot};

tokio::task_local! {
    /// Which request a store call belongs to (requests of one node share one store).
    static REQUEST: usize;
}

/// A request parked at the store, or one that ended.
enum Event {
    Parked {
        request: usize,
        release: oneshot::Sender<()>,
    },
    Done {
        request: usize,
        outcome: Outcome,
    },
}

/// An in-memory store whose every call waits for the scheduler (no expiry: not modelled).
#[derive(Debug)]
struct ScheduledCache {
    data: Arc<Mutex<HashMap<String, Bytes>>>,
    events: mpsc::UnboundedSender<Event>,
}

impl ScheduledCache {
    /// Parks until the scheduler picks this call; the call then takes effect at once.
    async fn turn(&self) {
        let (release, released) = oneshot::channel();
        let request = REQUEST.get();
        let _ = self.events.send(Event::Parked { request, release });
        let _ = released.await;
    }

    fn data(&self) -> std::sync::MutexGuard<'_, HashMap<String, Bytes>> {
        self.data.lock().unwrap()
    }
}

#[async_trait]
impl DistributedCache for ScheduledCache {
    fn cache_type(&self) -> &'static str {
        "scheduled"
    }
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        self.turn().await;
        Ok(self.data().get(key).cloned())
    }
    async fn set(&self, key: &str, value: Bytes, _: &EntryOptions) -> Result<(), CacheError> {
        self.turn().await;
        self.data().insert(key.to_owned(), value);
        Ok(())
    }
    async fn set_if(
        &self,
        key: &str,
        value: Bytes,
        _: &EntryOptions,
        condition: &WriteCondition,
    ) -> Result<bool, CacheError> {
        self.turn().await;
        let mut data = self.data();
        let holds = match condition {
            WriteCondition::Absent => !data.contains_key(key),
            WriteCondition::ValueEquals(expected) => data.get(key) == Some(expected),
            _ => false,
        };
        if holds {
            data.insert(key.to_owned(), value);
        }
        Ok(holds)
    }
    async fn refresh(&self, _: &str) -> Result<(), CacheError> {
        // Moves a deadline only; no expiry is modelled, so it is not a scheduling point.
        Ok(())
    }
    async fn remove(&self, key: &str) -> Result<(), CacheError> {
        self.turn().await;
        self.data().remove(key);
        Ok(())
    }
    async fn remove_if_equals(&self, key: &str, expected: &Bytes) -> Result<bool, CacheError> {
        self.turn().await;
        let mut data = self.data();
        let equal = data.get(key) == Some(expected);
        if equal {
            data.remove(key);
        }
        Ok(equal)
    }
    async fn try_lock(&self, _: &str, _: &LockToken, _: Duration) -> Result<bool, CacheError> {
        Err(CacheError::InvalidKey {
            reason: "locks are not modelled (optimistic mode only)",
        })
    }
    async fn unlock(&self, _: &str, _: &LockToken) -> Result<(), CacheError> {
        Ok(())
    }
    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }
}

/// What a request does with the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `update_i32("n", +1)`: a merging read-modify-write.
    Update,
    /// `get_i32("n")` then `set_i32("n", n + 1)`: a read-modify-write that must be refused if stale.
    GetThenSet,
    /// A blind write of its own key `m{i}`.
    Mark(u8),
    /// Logout.
    Purge,
}

#[derive(Debug, Clone)]
struct Outcome {
    acknowledged: bool,
    /// The counter value answered (`Update`, `GetThenSet`).
    value: Option<i32>,
    /// The request ended on a brand-new session (a new key was sent).
    fresh: bool,
}

/// The stored session under the original key: counter and marks (`None`: no session).
type Model = Option<(i32, BTreeSet<u8>)>;

async fn perform(op: Op, session: RequestSession, old_key: SessionKey) -> Outcome {
    let result = match op {
        Op::Update => session
            .update_i32("n", |n| n.unwrap_or(0) + 1)
            .await
            .map(Some),
        Op::GetThenSet => match session.get_i32("n").await {
            Ok(n) => {
                let n = n.unwrap_or(0) + 1;
                session.set_i32("n", n).await.map(|()| Some(n))
            }
            Err(e) => Err(e),
        },
        Op::Mark(i) => session.set_string(format!("m{i}"), "1").await.map(|()| None),
        Op::Purge => session.purge().await.map(|()| None),
    };
    let finished = session.finish(false).await;
    let fresh = matches!(&finished, Ok(CookieAction::Set(key)) if *key != old_key);
    Outcome {
        acknowledged: result.is_ok() && finished.is_ok(),
        value: result.ok().flatten(),
        fresh,
    }
}

/// The expected outcome of `op` applied alone to `model`.
fn apply(op: Op, model: &mut Model) -> (Option<i32>, bool) {
    match (op, model.as_mut()) {
        (Op::Update | Op::GetThenSet, Some((n, _))) => {
            *n += 1;
            (Some(*n), false)
        }
        (Op::Update | Op::GetThenSet, None) => (Some(1), true),
        (Op::Mark(i), Some((_, marks))) => {
            marks.insert(i);
            (None, false)
        }
        (Op::Mark(_), None) => (None, true),
        (Op::Purge, _) => {
            *model = None;
            (None, false)
        }
    }
}

fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for (i, first) in items.iter().enumerate() {
        let mut rest = items.to_vec();
        rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, *first);
            all.push(tail);
        }
    }
    all
}

/// Whether some serial order of the acknowledged requests explains every answer and `stored`.
fn serializable(ops: &[Op], outcomes: &[Outcome], stored: &Model) -> bool {
    let acknowledged: Vec<usize> = (0..ops.len())
        .filter(|&i| outcomes[i].acknowledged)
        .collect();
    permutations(&acknowledged).into_iter().any(|order| {
        let mut model: Model = Some((0, BTreeSet::new()));
        order.iter().all(|&i| {
            let (value, fresh) = apply(ops[i], &mut model);
            let answered = &outcomes[i];
            let value_ok = !matches!(ops[i], Op::Update | Op::GetThenSet) || answered.value == value;
            // A purge of a live session answers no new key; neither does one of a dead session.
            let fresh_ok = ops[i] == Op::Purge || answered.fresh == fresh;
            value_ok && fresh_ok
        }) && model == *stored
    })
}

fn decode_model(stored: Option<&Bytes>) -> Model {
    let payload = codec::decode(stored?).expect("stored payloads decode");
    let n = payload
        .entries
        .get("n")
        .map_or(0, |b| i32::from_be_bytes(b[..].try_into().expect("4 bytes")));
    let marks = payload
        .entries
        .keys()
        .filter_map(|k| k.strip_prefix('m')?.parse().ok())
        .collect();
    Some((n, marks))
}

/// One run: `requests` (operation, node) started together, the scheduler following `prefix`
/// and then always the first parked call. Returns the choices made (taken, available).
async fn run_once(requests: &[(Op, usize)], prefix: &[usize]) -> Vec<(usize, usize)> {
    let data = Arc::new(Mutex::new(HashMap::new()));
    let key = SessionKey::generate();
    let mut seed = BTreeMap::new();
    seed.insert("n".to_owned(), Bytes::copy_from_slice(&0i32.to_be_bytes()));
    data.lock()
        .unwrap()
        .insert(key.as_str().to_owned(), codec::encode(&[1; 16], &seed).unwrap());
    let (events, mut parked_rx) = mpsc::unbounded_channel();
    let nodes: usize = requests.iter().map(|(_, node)| node + 1).max().unwrap_or(1);
    let stores: Vec<SessionStore> = (0..nodes)
        .map(|_| {
            let cache: SharedCache = Arc::new(ScheduledCache {
                data: Arc::clone(&data),
                events: events.clone(),
            });
            let options = SessionOptions::builder()
                .concurrency(ConcurrencyMode::Optimistic)
                // The scheduler's clock jumps an hour whenever everything waits: no call may
                // time out on its own, and commit turns must outwait the scheduler.
                .io_timeout(None)
                .lock_wait(Duration::from_secs(365 * 24 * 3600))
                .max_commit_attempts(6)
                .build()
                .unwrap();
            SessionStore::new(cache, options)
        })
        .collect();
    for (request, &(op, node)) in requests.iter().enumerate() {
        let session = stores[node].open(Some(key.as_str()));
        let (events, old_key) = (events.clone(), key.clone());
        tokio::spawn(REQUEST.scope(request, async move {
            let outcome = perform(op, session, old_key).await;
            let _ = events.send(Event::Done { request, outcome });
        }));
    }
    let mut outcomes: Vec<Option<Outcome>> = vec![None; requests.len()];
    let mut parked: BTreeMap<usize, oneshot::Sender<()>> = BTreeMap::new();
    let mut choices = Vec::new();
    loop {
        // Collect events until everything waits (the paused clock then fires this timeout).
        match tokio::time::timeout(Duration::from_secs(3600), parked_rx.recv()).await {
            Ok(Some(Event::Parked { request, release })) => {
                parked.insert(request, release);
                continue;
            }
            Ok(Some(Event::Done { request, outcome })) => {
                outcomes[request] = Some(outcome);
                continue;
            }
            Ok(None) => unreachable!("the scheduler holds a sender"),
            Err(_quiet) => {}
        }
        if parked.is_empty() {
            break;
        }
        let step = choices.len();
        let pick = prefix.get(step).copied().unwrap_or(0);
        choices.push((pick, parked.len()));
        let request = *parked.keys().nth(pick).expect("a valid choice");
        let release = parked.remove(&request).expect("parked");
        let _ = release.send(());
    }
    let outcomes: Vec<Outcome> = outcomes
        .into_iter()
        .map(|o| o.expect("every request ends: nothing waits forever"))
        .collect();
    let stored = decode_model(data.lock().unwrap().get(key.as_str()));
    let ops: Vec<Op> = requests.iter().map(|(op, _)| *op).collect();
    assert!(
        serializable(&ops, &outcomes, &stored),
        "not serializable: {requests:?} with choices {choices:?} answered {outcomes:?}, stored {stored:?}"
    );
    choices
}

/// Explores every schedule of `requests`; returns how many runs that took.
async fn explore(requests: &[(Op, usize)]) -> usize {
    let mut prefix = Vec::new();
    let mut runs = 0;
    loop {
        let mut path = run_once(requests, &prefix).await;
        runs += 1;
        // Depth-first: advance the deepest choice that has an untried alternative.
        loop {
            match path.pop() {
                Some((taken, available)) if taken + 1 < available => {
                    prefix = path.iter().map(|(t, _)| *t).collect();
                    prefix.push(taken + 1);
                    break;
                }
                Some(_) => {}
                None => return runs,
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn merging_updates_and_a_stale_read_modify_write_on_two_nodes() {
    let runs = explore(&[(Op::Update, 0), (Op::Update, 1), (Op::GetThenSet, 1)]).await;
    println!("explored {runs} schedules");
    assert!(runs > 10);
}

#[tokio::test(start_paused = true)]
async fn logout_racing_writers_never_resurrects() {
    let runs = explore(&[(Op::Update, 0), (Op::GetThenSet, 1), (Op::Purge, 2)]).await;
    println!("explored {runs} schedules");
    assert!(runs > 10);
}

#[tokio::test(start_paused = true)]
async fn blind_writes_merge_and_logout_is_final() {
    let runs = explore(&[(Op::Mark(1), 0), (Op::Mark(2), 1), (Op::Purge, 0)]).await;
    println!("explored {runs} schedules");
    assert!(runs > 10);
}

#[tokio::test(start_paused = true)]
async fn same_node_requests_take_commit_turns() {
    // Three requests on one node: the commit turns serialise their commits in-process.
    let runs = explore(&[(Op::GetThenSet, 0), (Op::Update, 0), (Op::Mark(3), 0)]).await;
    println!("explored {runs} schedules");
    assert!(runs >= 1);
}
