//! A checker of recorded HTTP histories of the example routes: it judges a torture run
//! (`tests/torture.rs`) from the requests and responses alone, without looking into the store.
//!
//! # What is recorded
//!
//! One [`Record`] per request: the user, the operation ([`Op`]), the session cookie sent (the
//! cookie's value: one value per session key), two positions on one global sequence (taken
//! just before the request is sent and just after its response is read, so `a.end < b.start`
//! means `a` was answered before `b` was sent), the latency, and the outcome: status, body,
//! `Set-Cookie` for the session cookie, `Retry-After`; or a transport error; or no answer
//! within the client's deadline (a hang). [`Wipe`]s mark store restarts that lost every entry.
//! The checker needs the answers of the `/t/...` routes, `/incr` and `/state`: every answer of
//! a request that changed the session names the session it landed in (`sessionId`).
//!
//! # Lineages
//!
//! The unit of counting is the *lineage*: the data of one session, named by the id stored
//! inside its payload (`sessionId`). A brand-new session draws a fresh random id; `renew`
//! (login) carries the id and the data to a new key, so a lineage is a chain of keys, of which
//! at most one is live at a time. A key is bound to the lineage reported by the answers of
//! requests that wrote under it (a 2xx of a writing route reports the id of the session it
//! wrote, under the key of its `Set-Cookie` if it has one, else under the cookie it sent), and
//! by the final reads.
//!
//! After the run, every key ever seen is read twice with `GET /state` (the final reads, while
//! nothing else runs). A key whose two reads report the same id is live, with that data; a key
//! whose reads report two different ids is dead (a request on an unknown key gets a brand-new
//! session each time, never stored because `/state` writes nothing).
//!
//! # The rules
//!
//! Serializability, with the real-time order of the histories (a request answered before
//! another was sent is ordered before it; every store in the tests is one linearizable
//! register per key, so nothing weaker is acceptable), and the documented finality of `renew`
//! and `purge`, give:
//!
//! 1. **Typed failures, bounded time.** Every answer is a 2xx, a 409 (conflict: nothing
//!    written), a 503 (lock timeout: nothing written; with `Retry-After`) or an opaque 500
//!    (store failure: outcome unknown). A transport error or a hang is a violation, and so is
//!    any request slower than [`History::latency_bound`].
//! 2. **Every acknowledged increment is counted exactly once.** For a lineage with exactly one
//!    live key at the end (and untouched by a wipe), with `F` the final value of a counter
//!    (`counter` for `/t/counter`, `rmw` for `/incr`), `A` the 2xx increments that reported
//!    this lineage and `U` the increments whose outcome is unknown (500s, transport errors,
//!    hangs) sent with a key of this lineage: `A ≤ F ≤ A + U`. 409s and 503s count for nothing:
//!    they must not be stored. The values of the 2xx answers of one counter in one lineage are
//!    distinct, each between 1 and `F` (checked for every lineage, live or not: two answers
//!    with one value are a lost update whatever happened later).
//! 3. **Every acknowledged mark is kept.** For such a lineage, every 2xx mark that reported it
//!    is listed at the end; every listed mark was sent by a request of this lineage that was
//!    acknowledged or whose outcome is unknown (never by a 409 or 503 one). Renew carries the
//!    marks: a mark acknowledged on the old key was serialised before the renew (had it been
//!    serialised after, it would have written to a retired key, which rule 4 forbids), so it
//!    must be on the new key. A mark whose lineage was later purged is not checked: the purge
//!    legitimately deleted it.
//! 4. **Retired keys stay dead.** Once a logout (purge) or a login (renew) sent with key `K`
//!    is answered 2xx, every request sent later with `K` is answered without `K`'s data: a
//!    write lands in a brand-new session (a `Set-Cookie` for a new key, counters at 1, a fresh
//!    id) and a read reports a fresh, empty session. A violating key counts as *resurrected*.
//! 5. **Fresh means fresh.** A 2xx write answered with a `Set-Cookie` for a new key started a
//!    brand-new session (a fresh id, counters at 1) — except a login, which may instead carry
//!    the id of the key it was sent with.
//! 6. **No lineage forks or vanishes.** At most one known key of a lineage is live at the end,
//!    and a lineage with no live key at the end was ended by something: a logout or login sent
//!    with one of its keys that was not refused (409/503), or a wipe. A key is bound to one
//!    lineage only.
//! 7. **Wipes.** A restart without persistence loses every entry. Lineages any of whose requests
//!    started before the store was back are not counted; a lineage acknowledged before the wipe
//!    began must never be reported again by a request sent after the store was back, nor be
//!    live at the end (a request that read it before the wipe and wrote after must be refused,
//!    as after a logout).
//! 8. **Merges are not refused.** `/t/counter` (an update) and `/t/mark` (a blind write of a key
//!    nobody else writes) read nothing another request changes, so contention alone never
//!    refuses them: a 409 needs its session to have ended meanwhile, by a logout or login sent
//!    with the same key (not refused, started before the 409 was answered) or a wipe.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::ops::Range;
use std::time::Duration;

use serde_json::Value;

/// What a request asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `GET /t/counter`: the one-step increment of `counter`.
    Counter,
    /// `POST /incr`: the get-then-set increment of `rmw`.
    Incr,
    /// `POST /t/mark/{name}`: writes `mark:{name}`; names are unique within a history.
    Mark(String),
    /// `POST /t/login?user=..`: renews the session key.
    Login,
    /// `POST /logout`: purges the session.
    Logout,
    /// `GET /state`: reads `counter`, `rmw`, the marks and the id; writes nothing.
    State,
}

impl Op {
    /// Whether a 2xx answer of this operation means the session was written.
    fn writes(&self) -> bool {
        matches!(self, Op::Counter | Op::Incr | Op::Mark(_) | Op::Login)
    }

    /// The method and path of the request.
    #[must_use]
    pub fn request_line(&self, user: &str) -> (&'static str, String) {
        match self {
            Op::Counter => ("GET", "/t/counter".to_owned()),
            Op::Incr => ("POST", "/incr".to_owned()),
            Op::Mark(name) => ("POST", format!("/t/mark/{name}")),
            Op::Login => ("POST", format!("/t/login?user={user}")),
            Op::Logout => ("POST", "/logout".to_owned()),
            Op::State => ("GET", "/state".to_owned()),
        }
    }
}

/// The session cookie as set by a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieUpdate {
    /// A cookie for this (new) key value.
    Set(String),
    /// The removal cookie (after a purge).
    Removed,
}

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body, as text.
    pub body: String,
    /// The session cookie set by the response, if any.
    pub set_cookie: Option<CookieUpdate>,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// An HTTP answer.
    Reply(Reply),
    /// The connection failed or broke before a complete answer.
    Transport(String),
    /// No answer within the client's deadline.
    Hang,
}

/// One request of a history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The logical user (whose cookie jar the request used).
    pub user: usize,
    /// The node the request went to.
    pub node: usize,
    /// What was asked.
    pub op: Op,
    /// The session cookie value sent, if any.
    pub cookie: Option<String>,
    /// Position on the history's sequence just before sending.
    pub start: u64,
    /// Position on the history's sequence just after the answer (or the failure).
    pub end: u64,
    /// Time from sending to the end of the answer.
    pub elapsed: Duration,
    /// How it ended.
    pub outcome: Outcome,
}

impl Record {
    /// The status, for an answer.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match &self.outcome {
            Outcome::Reply(reply) => Some(reply.status),
            _ => None,
        }
    }

    /// True for a 2xx answer.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.status().is_some_and(|s| (200..300).contains(&s))
    }

    /// True when nothing can have been written: a 409 or a 503.
    #[must_use]
    pub fn is_refused(&self) -> bool {
        matches!(self.status(), Some(409 | 503))
    }

    /// True when the outcome is unknown: neither acknowledged nor refused.
    #[must_use]
    pub fn is_ambiguous(&self) -> bool {
        !self.is_ok() && !self.is_refused()
    }

    fn set_cookie(&self) -> Option<&CookieUpdate> {
        match &self.outcome {
            Outcome::Reply(reply) => reply.set_cookie.as_ref(),
            _ => None,
        }
    }

    /// The key a 2xx write landed under: the new key of its `Set-Cookie`, else the one sent.
    fn effective_key(&self) -> Option<&str> {
        match self.set_cookie() {
            Some(CookieUpdate::Set(key)) => Some(key),
            Some(CookieUpdate::Removed) => None,
            None => self.cookie.as_deref(),
        }
    }

    /// Whether the answer set a cookie for a key other than the one sent.
    fn got_new_key(&self) -> bool {
        matches!(self.set_cookie(), Some(CookieUpdate::Set(key)) if Some(key.as_str()) != self.cookie.as_deref())
    }
}

/// A store restart that lost every entry: it began (the store was stopped) after every request
/// that ended before `from`, and the store answered again before every request started after
/// `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wipe {
    /// Sequence position just before the store was stopped.
    pub from: u64,
    /// Sequence position just after the store answered again.
    pub to: u64,
}

/// A recorded run.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Every request, in any order.
    pub records: Vec<Record>,
    /// Store restarts that lost the data.
    pub wipes: Vec<Wipe>,
    /// `GET /state` requests starting in this range are the final reads (two per key, run
    /// after the load while nothing else runs).
    pub final_reads: Range<u64>,
    /// No request may take longer (rule 1).
    pub latency_bound: Duration,
}

/// The kinds of violation (see the module docs for the rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Rule 1: a status other than 2xx/409/503/500, a transport error, or a hang.
    UntypedFailure,
    /// Rule 1: a 500 whose body names its cause.
    LeakyError,
    /// Rule 1: a 503 without `Retry-After`.
    MissingRetryAfter,
    /// Rule 1: slower than the latency bound.
    TooSlow,
    /// A 2xx body that does not have the route's shape.
    Malformed,
    /// Rule 2: two 2xx answers of one counter in one lineage with one value.
    DuplicateValue,
    /// Rule 2: fewer increments stored than acknowledged (or an acknowledged value above it).
    LostUpdate,
    /// Rule 2: more increments stored than acknowledged plus unknown (a refused one was stored).
    PhantomUpdate,
    /// Rule 3: an acknowledged mark missing at the end.
    LostMark,
    /// Rule 3: a mark listed that its lineage may not hold.
    PhantomMark,
    /// Rule 4: a retired key answered with its data.
    Resurrected,
    /// Rule 5: a new key that did not start a fresh session.
    NotFresh,
    /// Rule 6: two live keys of one lineage.
    Fork,
    /// Rule 6: a lineage gone without a logout, login or wipe.
    Vanished,
    /// Rule 6: one key reported under two lineages.
    KeyInTwoLineages,
    /// Rule 7: a wiped lineage answered again.
    Revived,
    /// Rule 8: an update or a blind write refused although its session did not end.
    RefusedMerge,
    /// The final reads of a key failed, or disagree.
    FinalRead,
}

/// One broken rule, with what shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which rule.
    pub kind: Kind,
    /// What happened, with the records involved.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.detail)
    }
}

/// Acknowledged, unknown and stored amounts of one counter (or the marks), summed over the
/// lineages that were counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// 2xx answers.
    pub acknowledged: u64,
    /// Requests whose outcome is unknown (500s, transport errors, hangs).
    pub ambiguous: u64,
    /// Found at the end.
    pub stored: u64,
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "acknowledged {} (+{} unknown), stored {}",
            self.acknowledged, self.ambiguous, self.stored
        )
    }
}

/// What the checker found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Requests in the history (final reads included).
    pub requests: usize,
    /// 2xx answers.
    pub ok: usize,
    /// 409 answers.
    pub conflicts: usize,
    /// 503 answers.
    pub unavailable: usize,
    /// 500 answers.
    pub errors: usize,
    /// Other statuses, transport errors and hangs.
    pub untyped: usize,
    /// The slowest request.
    pub max_latency: Duration,
    /// Session keys seen.
    pub keys: usize,
    /// Lineages seen, and those counted (one live key at the end, no wipe).
    pub lineages: usize,
    /// Lineages whose counts were checked.
    pub counted_lineages: usize,
    /// `counter` (`/t/counter`).
    pub counter: Tally,
    /// `rmw` (`/incr`).
    pub rmw: Tally,
    /// Marks.
    pub marks: Tally,
    /// Retired keys that answered with their data (rule 4): must be empty.
    pub resurrected: BTreeSet<String>,
    /// Every broken rule.
    pub violations: Vec<Violation>,
}

impl Report {
    /// The violations of `kind`.
    pub fn of(&self, kind: Kind) -> impl Iterator<Item = &Violation> {
        self.violations.iter().filter(move |v| v.kind == kind)
    }

    /// How many violations of each kind.
    #[must_use]
    pub fn kinds(&self) -> BTreeMap<Kind, usize> {
        let mut kinds = BTreeMap::new();
        for violation in &self.violations {
            *kinds.entry(violation.kind).or_insert(0) += 1;
        }
        kinds
    }

    /// The first `per_kind` violations of each kind, for a readable failure message.
    #[must_use]
    pub fn sample(&self, per_kind: usize) -> Vec<&Violation> {
        self.kinds()
            .into_keys()
            .flat_map(|kind| self.of(kind).take(per_kind))
            .collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} requests (2xx {}, 409 {}, 503 {}, 500 {}, untyped {}), slowest {:?}; {} keys, \
             {} lineages ({} counted); counter: {}; rmw: {}; marks: {}; resurrected keys: {}; \
             violations: {}",
            self.requests,
            self.ok,
            self.conflicts,
            self.unavailable,
            self.errors,
            self.untyped,
            self.max_latency,
            self.keys,
            self.lineages,
            self.counted_lineages,
            self.counter,
            self.rmw,
            self.marks,
            self.resurrected.len(),
            self.violations.len()
        )
    }
}

/// Words a 500 body must not contain: the cause of a failure is logged, never answered.
const LEAKS: &[&str] = &[
    "redis",
    "sql",
    "cache",
    "connection",
    "refused",
    "timeout",
    "timed out",
    "backend",
    "pool",
];

/// The parts of a 2xx body the rules use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Parsed {
    session_id: String,
    /// `/t/counter`'s `counter`, `/incr`'s `rmw`.
    value: Option<i64>,
    /// `/state`'s answer.
    state: Option<State>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct State {
    counter: Option<i64>,
    rmw: Option<i64>,
    marks: BTreeSet<String>,
}

impl State {
    fn is_empty(&self) -> bool {
        self.counter.is_none() && self.rmw.is_none() && self.marks.is_empty()
    }
}

/// Parses the 2xx body of `op`; `None` when it lacks what the route answers.
fn parse(op: &Op, body: &str) -> Option<Parsed> {
    let json: Value = serde_json::from_str(body).ok()?;
    let id = || json["sessionId"].as_str().map(str::to_owned);
    Some(match op {
        Op::Counter => Parsed {
            session_id: id()?,
            value: Some(json["counter"].as_i64()?),
            state: None,
        },
        Op::Incr => Parsed {
            session_id: id()?,
            value: Some(json["rmw"].as_i64()?),
            state: None,
        },
        Op::Mark(name) => {
            if json["marked"].as_str()? != name {
                return None;
            }
            Parsed {
                session_id: id()?,
                ..Parsed::default()
            }
        }
        Op::Login => Parsed {
            session_id: id()?,
            ..Parsed::default()
        },
        Op::Logout => {
            if json["session"].as_str()? != "purged" {
                return None;
            }
            return Some(Parsed::default());
        }
        Op::State => {
            let number = |field: &str| -> Option<Option<i64>> {
                match &json[field] {
                    Value::Null => Some(None),
                    other => other.as_i64().map(Some),
                }
            };
            let marks = json["marks"]
                .as_array()?
                .iter()
                .map(|m| m.as_str().map(str::to_owned))
                .collect::<Option<BTreeSet<_>>>()?;
            Parsed {
                session_id: id()?,
                value: None,
                state: Some(State {
                    counter: number("counter")?,
                    rmw: number("rmw")?,
                    marks,
                }),
            }
        }
    })
}

/// What the final reads say about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    Live { session_id: String, state: State },
    Dead,
    Unknown(String),
}

/// Short, stable names for keys (`k0`, `k1`, ... in order of first appearance) and sessions
/// (`s0`, ...), so that a violation reads as a small history.
struct Names {
    keys: HashMap<String, usize>,
    sessions: HashMap<String, usize>,
}

impl Names {
    fn new(records: &[&Record], parsed: &[Option<Parsed>]) -> Self {
        let mut keys = HashMap::new();
        let mut sessions = HashMap::new();
        for (record, parsed) in records.iter().zip(parsed) {
            for key in record.cookie.iter().chain(match record.set_cookie() {
                Some(CookieUpdate::Set(key)) => Some(key),
                _ => None,
            }) {
                let next = keys.len();
                keys.entry(key.clone()).or_insert(next);
            }
            if let Some(parsed) = parsed.as_ref().filter(|p| !p.session_id.is_empty()) {
                let next = sessions.len();
                sessions.entry(parsed.session_id.clone()).or_insert(next);
            }
        }
        Self { keys, sessions }
    }

    fn key(&self, key: &str) -> String {
        self.keys
            .get(key)
            .map_or_else(|| "k?".to_owned(), |n| format!("k{n}"))
    }

    fn session(&self, id: &str) -> String {
        self.sessions
            .get(id)
            .map_or_else(|| "s?".to_owned(), |n| format!("s{n}"))
    }

    /// One record as a line: `#start..end user op key -> status body set-cookie (elapsed)`.
    fn record(&self, r: &Record) -> String {
        let key = r.cookie.as_deref().map_or("-".to_owned(), |k| self.key(k));
        let outcome = match &r.outcome {
            Outcome::Reply(reply) => {
                let cookie = match &reply.set_cookie {
                    Some(CookieUpdate::Set(k)) => format!(" set-cookie {}", self.key(k)),
                    Some(CookieUpdate::Removed) => " set-cookie removed".to_owned(),
                    None => String::new(),
                };
                let mut body = reply.body.clone();
                for (id, n) in &self.sessions {
                    body = body.replace(id.as_str(), &format!("s{n}"));
                }
                format!("{} {body}{cookie}", reply.status)
            }
            Outcome::Transport(error) => format!("transport error: {error}"),
            Outcome::Hang => "no answer".to_owned(),
        };
        format!(
            "#{}..{} user {} node {} {:?} {key} -> {outcome} ({:?})",
            r.start, r.end, r.user, r.node, r.op, r.elapsed
        )
    }
}

/// Checks `history` against the rules of the module docs.
#[must_use]
pub fn check(history: &History) -> Report {
    Checker::new(history).run()
}

struct Checker<'h> {
    history: &'h History,
    /// The records, sorted by start.
    records: Vec<&'h Record>,
    /// The 2xx bodies, parsed (`None` for anything else), index-aligned with `records`.
    parsed: Vec<Option<Parsed>>,
    names: Names,
    report: Report,
}

impl<'h> Checker<'h> {
    fn new(history: &'h History) -> Self {
        let mut records: Vec<&Record> = history.records.iter().collect();
        records.sort_by_key(|r| (r.start, r.end));
        let parsed: Vec<Option<Parsed>> = records
            .iter()
            .map(|r| match &r.outcome {
                Outcome::Reply(reply) if r.is_ok() => parse(&r.op, &reply.body),
                _ => None,
            })
            .collect();
        let names = Names::new(&records, &parsed);
        Self {
            history,
            records,
            parsed,
            names,
            report: Report::default(),
        }
    }

    fn violation(&mut self, kind: Kind, detail: String) {
        self.report.violations.push(Violation { kind, detail });
    }

    fn is_final_read(&self, r: &Record) -> bool {
        r.op == Op::State && self.history.final_reads.contains(&r.start)
    }

    fn run(mut self) -> Report {
        self.typed_and_bounded();
        let bindings = self.bindings();
        let fates = self.fates();
        let lineage_of = self.bind_all(bindings, &fates);
        self.retired_keys_stay_dead(&lineage_of, &fates);
        self.new_keys_are_fresh(&lineage_of);
        self.merges_are_not_refused();
        self.lineages(&lineage_of, &fates);
        self.report.keys = self.names.keys.len();
        self.report
    }

    /// Rule 1, and the status counts.
    fn typed_and_bounded(&mut self) {
        let bound = self.history.latency_bound;
        let mut found = Vec::new();
        for (r, parsed) in self.records.iter().zip(&self.parsed) {
            self.report.requests += 1;
            self.report.max_latency = self.report.max_latency.max(r.elapsed);
            if r.elapsed > bound || r.outcome == Outcome::Hang {
                found.push((
                    Kind::TooSlow,
                    format!("over {bound:?}: {}", self.names.record(r)),
                ));
            }
            match &r.outcome {
                Outcome::Reply(reply) => match reply.status {
                    200..=299 => {
                        self.report.ok += 1;
                        if parsed.is_none() {
                            found.push((Kind::Malformed, self.names.record(r)));
                        }
                    }
                    409 => self.report.conflicts += 1,
                    503 => {
                        self.report.unavailable += 1;
                        if reply.retry_after.is_none() {
                            found.push((Kind::MissingRetryAfter, self.names.record(r)));
                        }
                    }
                    500 => {
                        self.report.errors += 1;
                        let body = reply.body.to_lowercase();
                        if LEAKS.iter().any(|leak| body.contains(leak)) {
                            found.push((Kind::LeakyError, self.names.record(r)));
                        }
                    }
                    _ => {
                        self.report.untyped += 1;
                        found.push((Kind::UntypedFailure, self.names.record(r)));
                    }
                },
                Outcome::Transport(_) | Outcome::Hang => {
                    self.report.untyped += 1;
                    found.push((Kind::UntypedFailure, self.names.record(r)));
                }
            }
        }
        for (kind, detail) in found {
            self.violation(kind, detail);
        }
    }

    /// Key → lineage, from the 2xx answers of writes (before the final reads add theirs).
    fn bindings(&self) -> Vec<(String, String, usize)> {
        self.records
            .iter()
            .zip(&self.parsed)
            .enumerate()
            .filter(|(_, (r, _))| r.op.writes())
            .filter_map(|(i, (r, parsed))| {
                let parsed = parsed.as_ref()?;
                let key = r.effective_key()?;
                Some((key.to_owned(), parsed.session_id.clone(), i))
            })
            .collect()
    }

    /// What the final reads say about every key seen.
    fn fates(&mut self) -> HashMap<String, Fate> {
        let mut reads: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, r) in self.records.iter().enumerate() {
            if self.is_final_read(r)
                && let Some(key) = r.cookie.as_deref()
            {
                reads.entry(key).or_default().push(i);
            }
        }
        let mut fates = HashMap::new();
        let mut found = Vec::new();
        let mut keys: Vec<&String> = self.names.keys.keys().collect();
        keys.sort_by_key(|k| self.names.keys.get(*k));
        for key in keys {
            let answers: Vec<(&Record, &Parsed)> = reads
                .get(key.as_str())
                .into_iter()
                .flatten()
                .filter_map(|&i| Some((self.records[i], self.parsed[i].as_ref()?)))
                .collect();
            let fate = match answers.as_slice() {
                [] | [_] => Fate::Unknown(format!(
                    "{} 2xx final reads of {}",
                    answers.len(),
                    self.names.key(key)
                )),
                [(_, first), rest @ ..] => {
                    if rest.iter().all(|(_, p)| p.session_id == first.session_id) {
                        let state = first.state.clone().unwrap_or_default();
                        if rest.iter().any(|(_, p)| p.state.as_ref() != Some(&state)) {
                            Fate::Unknown(format!(
                                "final reads of {} disagree without a write between them",
                                self.names.key(key)
                            ))
                        } else {
                            Fate::Live {
                                session_id: first.session_id.clone(),
                                state,
                            }
                        }
                    } else if answers
                        .iter()
                        .all(|(_, p)| p.state.as_ref().is_some_and(State::is_empty))
                    {
                        Fate::Dead
                    } else {
                        Fate::Unknown(format!(
                            "final reads of {} report different sessions with data",
                            self.names.key(key)
                        ))
                    }
                }
            };
            if let Fate::Unknown(why) = &fate {
                let lines: Vec<String> =
                    answers.iter().map(|(r, _)| self.names.record(r)).collect();
                found.push(format!("{why}: {lines:?}"));
            }
            fates.insert(key.clone(), fate);
        }
        for detail in found {
            self.violation(Kind::FinalRead, detail);
        }
        fates
    }

    /// Binds every key to its lineage (rule 6: one lineage per key).
    fn bind_all(
        &mut self,
        bindings: Vec<(String, String, usize)>,
        fates: &HashMap<String, Fate>,
    ) -> HashMap<String, String> {
        let mut lineage_of: HashMap<String, (String, String)> = HashMap::new();
        let mut found = Vec::new();
        let finals = fates.iter().filter_map(|(key, fate)| match fate {
            Fate::Live { session_id, .. } => Some((
                key.clone(),
                session_id.clone(),
                format!("the final reads of {}", self.names.key(key)),
            )),
            _ => None,
        });
        let written = bindings
            .into_iter()
            .map(|(key, id, i)| (key, id, self.names.record(self.records[i])));
        for (key, id, why) in written.chain(finals) {
            match lineage_of.get(&key) {
                Some((bound, first)) if *bound != id => found.push(format!(
                    "{} is in {} ({first}) and in {} ({why})",
                    self.names.key(&key),
                    self.names.session(bound),
                    self.names.session(&id)
                )),
                Some(_) => {}
                None => {
                    lineage_of.insert(key, (id, why));
                }
            }
        }
        for detail in found {
            self.violation(Kind::KeyInTwoLineages, detail);
        }
        lineage_of
            .into_iter()
            .map(|(key, (id, _))| (key, id))
            .collect()
    }

    /// Rule 4.
    fn retired_keys_stay_dead(
        &mut self,
        lineage_of: &HashMap<String, String>,
        fates: &HashMap<String, Fate>,
    ) {
        // Each key's retirement: the earliest end of a 2xx logout or login sent with it.
        let mut retired: HashMap<&str, (u64, usize)> = HashMap::new();
        for (i, r) in self.records.iter().enumerate() {
            if matches!(r.op, Op::Logout | Op::Login)
                && r.is_ok()
                && let Some(key) = r.cookie.as_deref()
            {
                let at = retired.entry(key).or_insert((r.end, i));
                if r.end < at.0 {
                    *at = (r.end, i);
                }
            }
        }
        let mut found = Vec::new();
        for (r, parsed) in self.records.iter().zip(&self.parsed) {
            let (Some(key), Some(parsed)) = (r.cookie.as_deref(), parsed.as_ref()) else {
                continue;
            };
            let Some(&(_, by)) = retired.get(key).filter(|(at, _)| r.start > *at) else {
                continue;
            };
            let old = lineage_of.get(key);
            let why = if r.op.writes() && r.effective_key() == Some(key) {
                Some("wrote under the retired key")
            } else if old == Some(&parsed.session_id) && !parsed.session_id.is_empty() {
                Some("answered with the retired key's session")
            } else if parsed.state.as_ref().is_some_and(|s| !s.is_empty()) {
                Some("read data under the retired key")
            } else {
                None
            };
            if let Some(why) = why {
                found.push((
                    key.to_owned(),
                    format!(
                        "{why}: {} after {}",
                        self.names.record(r),
                        self.names.record(self.records[by])
                    ),
                ));
            }
        }
        // A key retired before the final reads must be dead in them.
        for (key, &(at, by)) in &retired {
            if at < self.history.final_reads.start
                && matches!(fates.get(*key), Some(Fate::Live { .. }))
            {
                found.push((
                    (*key).to_owned(),
                    format!(
                        "{} is live at the end after {}",
                        self.names.key(key),
                        self.names.record(self.records[by])
                    ),
                ));
            }
        }
        // One violation per key: the first evidence is enough to read, the rest repeats it.
        for (key, detail) in found {
            if self.report.resurrected.insert(self.names.key(&key)) {
                self.violation(Kind::Resurrected, detail);
            }
        }
    }

    /// Rule 5.
    fn new_keys_are_fresh(&mut self, lineage_of: &HashMap<String, String>) {
        // When each session id was first answered (the earliest end of a 2xx reporting it).
        let mut first_seen: HashMap<&str, u64> = HashMap::new();
        for (r, parsed) in self.records.iter().zip(&self.parsed) {
            if let Some(parsed) = parsed.as_ref().filter(|p| !p.session_id.is_empty()) {
                let seen = first_seen.entry(&parsed.session_id).or_insert(r.end);
                *seen = (*seen).min(r.end);
            }
        }
        let mut found = Vec::new();
        for (r, parsed) in self.records.iter().zip(&self.parsed) {
            let Some(parsed) = parsed.as_ref() else {
                continue;
            };
            if !r.op.writes() {
                continue;
            }
            if !r.got_new_key() {
                if r.op == Op::Login {
                    found.push(format!(
                        "a login without a new key: {}",
                        self.names.record(r)
                    ));
                }
                continue;
            }
            let known_before = first_seen
                .get(parsed.session_id.as_str())
                .is_some_and(|&seen| seen < r.start);
            let carried = r.op == Op::Login
                && r.cookie.as_ref().and_then(|k| lineage_of.get(k)) == Some(&parsed.session_id);
            if known_before && !carried {
                found.push(format!(
                    "a new key with a session answered before: {}",
                    self.names.record(r)
                ));
            } else if parsed.value.is_some_and(|v| v != 1) {
                found.push(format!(
                    "a new session whose counter is not 1: {}",
                    self.names.record(r)
                ));
            }
        }
        for detail in found {
            self.violation(Kind::NotFresh, detail);
        }
    }

    /// Rule 8.
    fn merges_are_not_refused(&mut self) {
        let mut found = Vec::new();
        for r in &self.records {
            if !matches!(r.op, Op::Counter | Op::Mark(_)) || r.status() != Some(409) {
                continue;
            }
            let wiped = self.history.wipes.iter().any(|w| w.from < r.end);
            let ended = r.cookie.is_some()
                && self.records.iter().any(|other| {
                    matches!(other.op, Op::Logout | Op::Login)
                        && other.cookie == r.cookie
                        && !other.is_refused()
                        && other.start < r.end
                });
            if !wiped && !ended {
                found.push(format!(
                    "refused without a logout, login or wipe of its session: {}",
                    self.names.record(r)
                ));
            }
        }
        for detail in found {
            self.violation(Kind::RefusedMerge, detail);
        }
    }

    /// Rules 2, 3, 6 and 7, lineage by lineage.
    fn lineages(&mut self, lineage_of: &HashMap<String, String>, fates: &HashMap<String, Fate>) {
        // Everything each lineage touched: the 2xx answers that reported it, and the requests
        // sent with one of its keys.
        let mut reported: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut sent: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, (r, parsed)) in self.records.iter().zip(&self.parsed).enumerate() {
            if self.is_final_read(r) {
                continue;
            }
            if let Some(parsed) = parsed.as_ref().filter(|p| !p.session_id.is_empty()) {
                // A read of a dead key reports a session that exists nowhere: not a lineage.
                let stored = r.op.writes()
                    || r.cookie.as_ref().and_then(|k| lineage_of.get(k))
                        == Some(&parsed.session_id);
                if stored {
                    reported
                        .entry(parsed.session_id.clone())
                        .or_default()
                        .push(i);
                }
            }
            if let Some(id) = r.cookie.as_ref().and_then(|k| lineage_of.get(k)) {
                sent.entry(id.clone()).or_default().push(i);
            }
        }
        let mut live: BTreeMap<&str, Vec<(&str, &State)>> = BTreeMap::new();
        for (key, fate) in fates {
            if let Fate::Live { session_id, state } = fate {
                live.entry(session_id).or_default().push((key, state));
            }
        }
        // Lineages with a key of unknown fate cannot be counted (a `FinalRead` violation
        // already says why).
        let unknown: BTreeSet<&str> = fates
            .iter()
            .filter(|(_, fate)| matches!(fate, Fate::Unknown(_)))
            .filter_map(|(key, _)| lineage_of.get(key).map(String::as_str))
            .collect();
        let ids: BTreeSet<&str> = reported
            .keys()
            .map(String::as_str)
            .chain(live.keys().copied())
            .collect();
        self.report.lineages = ids.len();
        for id in ids {
            let reported = reported.get(id).map_or(&[][..], Vec::as_slice);
            let sent = sent.get(id).map_or(&[][..], Vec::as_slice);
            let live = live.get(id).map_or(&[][..], Vec::as_slice);
            self.lineage(id, reported, sent, live, unknown.contains(id));
        }
    }

    fn lineage(
        &mut self,
        id: &str,
        reported: &[usize],
        sent: &[usize],
        live: &[(&str, &State)],
        unknown: bool,
    ) {
        let name = self.names.session(id);
        self.distinct_values(&name, reported);
        // Rule 7.
        let wipes = self.history.wipes.clone();
        let mut wiped = false;
        for wipe in &wipes {
            let before = reported.iter().any(|&i| self.records[i].end < wipe.from);
            if before {
                wiped = true;
                let after: Vec<usize> = reported
                    .iter()
                    .copied()
                    .filter(|&i| self.records[i].start > wipe.to)
                    .collect();
                for i in after {
                    let detail = format!(
                        "{name}, stored before the wipe #{}..{}, answered after it: {}",
                        wipe.from,
                        wipe.to,
                        self.names.record(self.records[i])
                    );
                    self.violation(Kind::Revived, detail);
                }
                for (key, _) in live {
                    let detail = format!(
                        "{name}, stored before the wipe #{}..{}, is live at the end under {}",
                        wipe.from,
                        wipe.to,
                        self.names.key(key)
                    );
                    self.violation(Kind::Revived, detail);
                }
            }
            if reported
                .iter()
                .chain(sent)
                .any(|&i| self.records[i].start < wipe.to)
            {
                wiped = true;
            }
        }
        if wiped || unknown {
            return;
        }
        match live {
            [] => {
                // Rule 6: something must have ended it: a logout that was not refused, or a
                // login whose outcome is unknown (it may have moved the data to a key nobody
                // was told). A 2xx login either carried the lineage to its new key, which is
                // then bound to it, or found the key already dead.
                let ended = sent.iter().any(|&i| {
                    let r = self.records[i];
                    match r.op {
                        Op::Logout => !r.is_refused(),
                        Op::Login => r.is_ambiguous(),
                        _ => false,
                    }
                });
                if !ended {
                    let lines: Vec<String> = reported
                        .iter()
                        .map(|&i| self.names.record(self.records[i]))
                        .collect();
                    self.violation(
                        Kind::Vanished,
                        format!(
                            "{name} has no live key and no logout or login ended it: {lines:?}"
                        ),
                    );
                }
            }
            [(key, state)] => {
                self.report.counted_lineages += 1;
                let key = self.names.key(key);
                self.count(&name, &key, reported, sent, state);
            }
            _ => {
                let keys: Vec<String> = live.iter().map(|(k, _)| self.names.key(k)).collect();
                self.violation(Kind::Fork, format!("{name} is live under {keys:?}"));
            }
        }
    }

    /// Rule 2's distinct values, for any lineage.
    fn distinct_values(&mut self, name: &str, reported: &[usize]) {
        let mut found = Vec::new();
        for op in [Op::Counter, Op::Incr] {
            let mut seen: HashMap<i64, usize> = HashMap::new();
            for &i in reported.iter().filter(|&&i| self.records[i].op == op) {
                let Some(value) = self.parsed[i].as_ref().and_then(|p| p.value) else {
                    continue;
                };
                if value < 1 {
                    found.push((
                        Kind::Malformed,
                        format!("{name}: {}", self.names.record(self.records[i])),
                    ));
                }
                if let Some(&j) = seen.get(&value) {
                    found.push((
                        Kind::DuplicateValue,
                        format!(
                            "{name}: {op:?} answered {value} twice: {} and {}",
                            self.names.record(self.records[j]),
                            self.names.record(self.records[i])
                        ),
                    ));
                } else {
                    seen.insert(value, i);
                }
            }
        }
        for (kind, detail) in found {
            self.violation(kind, detail);
        }
    }

    /// Rules 2 and 3 for a lineage with one live key.
    fn count(&mut self, name: &str, key: &str, reported: &[usize], sent: &[usize], state: &State) {
        for (op, stored, label) in [
            (Op::Counter, state.counter, "counter"),
            (Op::Incr, state.rmw, "rmw"),
        ] {
            let acked: Vec<i64> = reported
                .iter()
                .filter(|&&i| self.records[i].op == op)
                .filter_map(|&i| self.parsed[i].as_ref().and_then(|p| p.value))
                .collect();
            let unknown = sent
                .iter()
                .filter(|&&i| self.records[i].op == op && self.records[i].is_ambiguous())
                .count();
            let (acked_n, unknown_n) = (acked.len() as u64, unknown as u64);
            let stored = stored.unwrap_or(0);
            let stored_n = u64::try_from(stored).unwrap_or(0);
            let tally = if op == Op::Counter {
                &mut self.report.counter
            } else {
                &mut self.report.rmw
            };
            tally.acknowledged += acked_n;
            tally.ambiguous += unknown_n;
            tally.stored += stored_n;
            let figures = format!(
                "{name} (live under {key}): {label} acknowledged {acked_n}, unknown {unknown_n}, \
                 stored {stored}"
            );
            if stored_n < acked_n || acked.iter().any(|&v| v > stored) {
                let mut values = acked.clone();
                values.sort_unstable();
                self.violation(
                    Kind::LostUpdate,
                    format!("{figures}; acknowledged values {values:?}"),
                );
            } else if stored_n > acked_n + unknown_n {
                self.violation(Kind::PhantomUpdate, figures);
            }
        }
        // Rule 3.
        let acked: BTreeSet<&str> = reported
            .iter()
            .filter_map(|&i| match &self.records[i].op {
                Op::Mark(m) => Some(m.as_str()),
                _ => None,
            })
            .collect();
        let by_name: HashMap<&str, usize> = self
            .records
            .iter()
            .enumerate()
            .filter_map(|(i, r)| match &r.op {
                Op::Mark(m) => Some((m.as_str(), i)),
                _ => None,
            })
            .collect();
        self.report.marks.acknowledged += acked.len() as u64;
        self.report.marks.stored += state.marks.len() as u64;
        let mut found = Vec::new();
        for mark in acked.iter().filter(|m| !state.marks.contains(**m)) {
            let i = by_name.get(mark).copied().unwrap_or_default();
            found.push((
                Kind::LostMark,
                format!(
                    "{name} (live under {key}) lacks {mark}: {}",
                    self.names.record(self.records[i])
                ),
            ));
        }
        for mark in state.marks.iter().filter(|m| !acked.contains(m.as_str())) {
            let Some(&i) = by_name.get(mark.as_str()) else {
                found.push((
                    Kind::PhantomMark,
                    format!("{name} (live under {key}) lists {mark}, never sent"),
                ));
                continue;
            };
            let r = self.records[i];
            if r.is_ambiguous() && sent.contains(&i) {
                self.report.marks.ambiguous += 1;
            } else {
                found.push((
                    Kind::PhantomMark,
                    format!(
                        "{name} (live under {key}) lists {mark}: {}",
                        self.names.record(r)
                    ),
                ));
            }
        }
        for (kind, detail) in found {
            self.violation(kind, detail);
        }
    }
}

#[cfg(test)]
mod tests;
