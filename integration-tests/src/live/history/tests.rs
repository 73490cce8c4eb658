//! The checker's own tests: hand-made histories that must pass, and ones that must fail.

use super::*;

/// Builds histories request by request, with a sequence that advances like the real one.
struct Builder {
    history: History,
    seq: u64,
}

const A: &str = "cookie-a";
const B: &str = "cookie-b";
const C: &str = "cookie-c";
const S1: &str = "11111111-1111-1111-1111-111111111111";
const S2: &str = "22222222-2222-2222-2222-222222222222";

impl Builder {
    fn new() -> Self {
        Self {
            history: History {
                latency_bound: Duration::from_secs(5),
                ..History::default()
            },
            seq: 0,
        }
    }

    /// A request answered before the next one is sent.
    fn req(
        &mut self,
        op: Op,
        cookie: Option<&str>,
        status: u16,
        body: Value,
        set_cookie: Option<CookieUpdate>,
    ) -> &mut Self {
        let start = self.seq;
        self.seq += 2;
        self.push(op, cookie, start, start + 1, status, body, set_cookie);
        self
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        op: Op,
        cookie: Option<&str>,
        start: u64,
        end: u64,
        status: u16,
        body: Value,
        set_cookie: Option<CookieUpdate>,
    ) {
        self.history.records.push(Record {
            user: 0,
            node: 0,
            op,
            cookie: cookie.map(str::to_owned),
            start,
            end,
            elapsed: Duration::from_millis(5),
            outcome: Outcome::Reply(Reply {
                status,
                body: body.to_string(),
                set_cookie,
                retry_after: (status == 503).then(|| "1".to_owned()),
            }),
        });
    }

    fn counter(&mut self, cookie: Option<&str>, n: i64, id: &str, new: Option<&str>) -> &mut Self {
        let set = new.map(|k| CookieUpdate::Set(k.to_owned()));
        self.req(
            Op::Counter,
            cookie,
            200,
            serde_json::json!({"counter": n, "sessionId": id}),
            set,
        )
    }

    fn incr(&mut self, cookie: Option<&str>, n: i64, id: &str) -> &mut Self {
        self.req(
            Op::Incr,
            cookie,
            200,
            serde_json::json!({"rmw": n, "sessionId": id}),
            None,
        )
    }

    fn failed(&mut self, op: Op, cookie: &str, status: u16) -> &mut Self {
        self.req(
            op,
            Some(cookie),
            status,
            Value::String("Internal Server Error".into()),
            None,
        )
    }

    fn mark(&mut self, cookie: &str, name: &str, id: &str) -> &mut Self {
        self.req(
            Op::Mark(name.to_owned()),
            Some(cookie),
            200,
            serde_json::json!({"marked": name, "sessionId": id}),
            None,
        )
    }

    fn login(&mut self, cookie: &str, new: &str, id: &str) -> &mut Self {
        self.req(
            Op::Login,
            Some(cookie),
            200,
            serde_json::json!({"user": "u", "sessionId": id}),
            Some(CookieUpdate::Set(new.to_owned())),
        )
    }

    fn logout(&mut self, cookie: &str) -> &mut Self {
        self.req(
            Op::Logout,
            Some(cookie),
            200,
            serde_json::json!({"session": "purged"}),
            Some(CookieUpdate::Removed),
        )
    }

    fn state(
        &mut self,
        cookie: &str,
        id: &str,
        counter: Option<i64>,
        rmw: Option<i64>,
        marks: &[&str],
    ) -> &mut Self {
        self.req(
            Op::State,
            Some(cookie),
            200,
            serde_json::json!({"counter": counter, "rmw": rmw, "marks": marks, "sessionId": id}),
            None,
        )
    }

    /// The final reads: `(key, Some((id, counter, rmw, marks)))` for a live key, `None`
    /// for a dead one (two fresh ids).
    #[allow(clippy::type_complexity)]
    fn finals(
        &mut self,
        keys: &[(&str, Option<(&str, Option<i64>, Option<i64>, &[&str])>)],
    ) -> &mut Self {
        let from = self.seq;
        for (n, (key, live)) in keys.iter().enumerate() {
            match live {
                Some((id, counter, rmw, marks)) => {
                    self.state(key, id, *counter, *rmw, marks);
                    self.state(key, id, *counter, *rmw, marks);
                }
                None => {
                    self.state(key, &format!("fresh-{n}-1"), None, None, &[]);
                    self.state(key, &format!("fresh-{n}-2"), None, None, &[]);
                }
            }
        }
        self.history.final_reads = from..self.seq;
        self
    }

    fn check(&self) -> Report {
        check(&self.history)
    }
}

fn kinds(report: &Report) -> Vec<Kind> {
    report.violations.iter().map(|v| v.kind).collect()
}

/// A clean history with every feature: a new session, increments of both kinds, marks,
/// a renew carrying everything, an unknown outcome within bounds, refusals not stored, a
/// logout and a fresh session after it.
fn clean() -> Builder {
    let mut b = Builder::new();
    b.counter(None, 1, S1, Some(A))
        .counter(Some(A), 2, S1, None)
        .incr(Some(A), 1, S1)
        .failed(Op::Incr, A, 409)
        .failed(Op::Counter, A, 500)
        .mark(A, "m1", S1)
        .failed(Op::Mark("m2".into()), A, 503)
        .login(A, B, S1)
        .incr(Some(B), 2, S1)
        .counter(Some(B), 4, S1, None)
        .logout(B)
        .counter(Some(B), 1, S2, Some(C))
        .finals(&[(A, None), (B, None), (C, Some((S2, Some(1), None, &[])))]);
    b
}

#[test]
fn a_clean_history_passes() {
    let report = clean().check();
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    assert_eq!(
        (
            report.requests,
            report.ok,
            report.conflicts,
            report.unavailable,
            report.errors
        ),
        (18, 15, 1, 1, 1)
    );
    assert_eq!(report.lineages, 2);
    assert_eq!(report.counted_lineages, 1);
    assert!(report.resurrected.is_empty());
}

#[test]
fn counts_a_live_lineage_through_a_renew() {
    let mut b = Builder::new();
    b.counter(None, 1, S1, Some(A))
        .incr(Some(A), 1, S1)
        .failed(Op::Counter, A, 500)
        .mark(A, "m1", S1)
        .login(A, B, S1)
        .counter(Some(B), 3, S1, None)
        .mark(B, "m2", S1)
        .finals(&[(A, None), (B, Some((S1, Some(3), Some(1), &["m1", "m2"])))]);
    let report = b.check();
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    assert_eq!(
        report.counter,
        Tally {
            acknowledged: 2,
            ambiguous: 1,
            stored: 3
        }
    );
    assert_eq!(
        report.rmw,
        Tally {
            acknowledged: 1,
            ambiguous: 0,
            stored: 1
        }
    );
    assert_eq!(
        report.marks,
        Tally {
            acknowledged: 2,
            ambiguous: 0,
            stored: 2
        }
    );
}

#[test]
fn a_lost_acknowledged_increment_fails() {
    let mut b = Builder::new();
    b.counter(None, 1, S1, Some(A))
        .counter(Some(A), 2, S1, None)
        .finals(&[(A, Some((S1, Some(1), None, &[])))]);
    assert_eq!(kinds(&b.check()), [Kind::LostUpdate]);
}

#[test]
fn an_increment_lost_by_a_renew_fails() {
    // The renew read the counter at 1, the second increment committed before the renew's
    // commit, and the renew moved the old value: the new key has 1, two were acknowledged.
    let mut b = Builder::new();
    b.counter(None, 1, S1, Some(A));
    let login_start = b.seq;
    b.seq += 1;
    b.counter(Some(A), 2, S1, None);
    let end = b.seq;
    b.seq += 1;
    b.push(
        Op::Login,
        Some(A),
        login_start,
        end,
        200,
        serde_json::json!({"user": "u", "sessionId": S1}),
        Some(CookieUpdate::Set(B.to_owned())),
    );
    b.finals(&[(A, None), (B, Some((S1, Some(1), None, &[])))]);
    assert_eq!(kinds(&b.check()), [Kind::LostUpdate]);
}

#[test]
fn a_stored_refusal_fails() {
    let mut b = Builder::new();
    b.counter(None, 1, S1, Some(A))
        .failed(Op::Counter, A, 409)
        .failed(Op::Counter, A, 503)
        .finals(&[(A, Some((S1, Some(2), None, &[])))]);
    // (An update refused without its session ending breaks rule 8 as well.)
    assert_eq!(kinds(&b.check()), [Kind::RefusedMerge, Kind::PhantomUpdate]);
}

#[test]
fn a_duplicate_get_then_set_value_fails() {
    // Two overlapping increments both read 0 and both wrote 1: one update is lost, and
    // the two answers say so even though the final value is consistent with one of them.
    let mut b = Builder::new();
    b.counter(None, 1, S1, Some(A));
    let (first, second) = (b.seq, b.seq + 1);
    b.seq += 4;
    for (start, end) in [(first, first + 2), (second, second + 2)] {
        b.push(
            Op::Incr,
            Some(A),
            start,
            end,
            200,
            serde_json::json!({"rmw": 1, "sessionId": S1}),
            None,
        );
    }
    b.finals(&[(A, Some((S1, Some(1), Some(1), &[])))]);
    let report = b.check();
    assert_eq!(kinds(&report), [Kind::DuplicateValue, Kind::LostUpdate]);
}

#[test]
fn a_purged_key_answering_with_old_data_fails() {
    let mut b = Builder::new();
    b.counter(None, 1, S1, Some(A))
        .logout(A)
        // Started after the logout was answered: must be a brand-new session.
        .counter(Some(A), 2, S1, None)
        .finals(&[(A, Some((S1, Some(2), None, &[])))]);
    let report = b.check();
    assert!(
        kinds(&report).contains(&Kind::Resurrected),
        "{:#?}",
        report.violations
    );
    assert_eq!(report.resurrected.len(), 1);
}

#[test]
fn old_data_under_a_new_key_after_a_purge_fails() {
    let mut b = Builder::new();
    b.counter(None, 1, S1, Some(A))
        .logout(A)
        .counter(Some(A), 2, S1, Some(B))
        .finals(&[(A, None), (B, Some((S1, Some(2), None, &[])))]);
    let report = b.check();
    assert!(
        kinds(&report).contains(&Kind::Resurrected),
        "{:#?}",
        report.violations
    );
    assert!(
        kinds(&report).contains(&Kind::NotFresh),
        "{:#?}",
        report.violations
    );
}

#[test]
fn a_write_after_a_purge_that_revives_the_key_fails() {
    // A request that loaded A before the logout and committed after it: A is live again.
    let mut b = Builder::new();
    b.counter(None, 1, S1, Some(A));
    let start = b.seq;
    b.seq += 1;
    b.logout(A);
    let end = b.seq;
    b.seq += 1;
    b.push(
        Op::Counter,
        Some(A),
        start,
        end,
        200,
        serde_json::json!({"counter": 2, "sessionId": S1}),
        None,
    );
    b.finals(&[(A, Some((S1, Some(2), None, &[])))]);
    let report = b.check();
    assert_eq!(kinds(&report), [Kind::Resurrected]);
}

#[test]
fn a_request_that_hangs_fails() {
    let mut b = clean();
    b.history.records.push(Record {
        user: 1,
        node: 1,
        op: Op::Counter,
        cookie: Some(C.to_owned()),
        start: 2,
        end: 3,
        elapsed: Duration::from_secs(30),
        outcome: Outcome::Hang,
    });
    let report = b.check();
    assert_eq!(kinds(&report), [Kind::TooSlow, Kind::UntypedFailure]);
}

#[test]
fn a_slow_answer_fails() {
    let mut b = clean();
    b.history.records[0].elapsed = Duration::from_secs(6);
    assert_eq!(kinds(&b.check()), [Kind::TooSlow]);
}

#[test]
fn untyped_and_leaky_failures_fail() {
    let mut b = Builder::new();
    b.counter(None, 1, S1, Some(A))
        .req(Op::Counter, Some(A), 502, Value::Null, None)
        .req(
            Op::Counter,
            Some(A),
            500,
            Value::String("redis: connection refused".into()),
            None,
        )
        .finals(&[(A, Some((S1, Some(1), None, &[])))]);
    b.history.records.push(Record {
        user: 0,
        node: 0,
        op: Op::State,
        cookie: None,
        start: 100,
        end: 101,
        elapsed: Duration::from_millis(1),
        outcome: Outcome::Transport("reset".into()),
    });
    let mut found = kinds(&b.check());
    found.sort();
    assert_eq!(
        found,
        [Kind::UntypedFailure, Kind::UntypedFailure, Kind::LeakyError]
    );
}

#[test]
fn a_lost_mark_and_a_stored_refused_mark_fail() {
    let mut b = Builder::new();
    b.counter(None, 1, S1, Some(A))
        .mark(A, "kept", S1)
        .mark(A, "lost", S1)
        .failed(Op::Mark("refused".into()), A, 409)
        .finals(&[(A, Some((S1, Some(1), None, &["kept", "refused"])))]);
    let mut found = kinds(&b.check());
    found.sort();
    assert_eq!(
        found,
        [Kind::LostMark, Kind::PhantomMark, Kind::RefusedMerge]
    );
}

#[test]
fn a_fork_and_a_vanished_lineage_fail() {
    // Two logins from A both carried S1: two live keys.
    let mut b = Builder::new();
    b.counter(None, 1, S1, Some(A)).login(A, B, S1);
    b.req(
        Op::Login,
        Some(A),
        200,
        serde_json::json!({"user": "u", "sessionId": S1}),
        Some(CookieUpdate::Set(C.to_owned())),
    );
    b.finals(&[
        (A, None),
        (B, Some((S1, Some(1), None, &[]))),
        (C, Some((S1, Some(1), None, &[]))),
    ]);
    let found = kinds(&b.check());
    assert!(found.contains(&Kind::Fork), "{found:?}");

    let mut b = Builder::new();
    b.counter(None, 1, S1, Some(A)).finals(&[(A, None)]);
    assert_eq!(kinds(&b.check()), [Kind::Vanished]);
}

#[test]
fn wipes_excuse_lost_data_but_not_revivals() {
    let mut b = Builder::new();
    b.counter(None, 1, S1, Some(A))
        .counter(Some(A), 2, S1, None);
    let from = b.seq;
    b.seq += 2;
    b.history.wipes.push(Wipe { from, to: from + 1 });
    // After the wipe: A is unknown, a new session starts.
    b.counter(Some(A), 1, S2, Some(B))
        .finals(&[(A, None), (B, Some((S2, Some(1), None, &[])))]);
    let report = b.check();
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    assert_eq!(report.counted_lineages, 1);

    let mut b = Builder::new();
    b.counter(None, 1, S1, Some(A));
    let from = b.seq;
    b.seq += 2;
    b.history.wipes.push(Wipe { from, to: from + 1 });
    b.counter(Some(A), 2, S1, None)
        .finals(&[(A, Some((S1, Some(2), None, &[])))]);
    let found = kinds(&b.check());
    assert_eq!(found, [Kind::Revived, Kind::Revived], "{found:?}");
}

#[test]
fn a_refused_update_needs_an_ended_session() {
    let mut b = Builder::new();
    b.counter(None, 1, S1, Some(A))
        .failed(Op::Counter, A, 409)
        .failed(Op::Mark("m".into()), A, 409)
        .finals(&[(A, Some((S1, Some(1), None, &[])))]);
    assert_eq!(kinds(&b.check()), [Kind::RefusedMerge, Kind::RefusedMerge]);

    // A logout began before the refusal was answered: the session ended meanwhile.
    let mut b = Builder::new();
    b.counter(None, 1, S1, Some(A));
    let start = b.seq;
    b.seq += 1;
    b.logout(A);
    let end = b.seq;
    b.seq += 1;
    b.push(Op::Counter, Some(A), start, end, 409, Value::Null, None);
    b.finals(&[(A, None)]);
    let report = b.check();
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
}

#[test]
fn failed_final_reads_fail() {
    let mut b = Builder::new();
    b.counter(None, 1, S1, Some(A));
    let from = b.seq;
    b.state(A, S1, Some(1), None, &[]).failed(Op::State, A, 500);
    b.history.final_reads = from..b.seq;
    assert_eq!(kinds(&b.check()), [Kind::FinalRead]);
}
