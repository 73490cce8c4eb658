//! Redis command counts per request, from `INFO commandstats` deltas on the private
//! redis-server (started by integration-tests' launcher) around each load run.

use std::collections::{BTreeMap, HashMap};

/// Commands that open a connection rather than serve a request: the launcher's own
/// `INFO` connection sends `CLIENT SETINFO` each time it snapshots.
const CONNECTION_SETUP: &[&str] = &["client|setinfo", "hello"];

/// The commands a run caused, and the requests it served.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedisCounts {
    /// Calls per command name (`INFO commandstats` names: `get`, `evalsha`, `script|load`).
    pub calls: BTreeMap<String, u64>,
    /// Requests answered meanwhile.
    pub requests: u64,
}

impl RedisCounts {
    /// Counts from a commandstats delta (connection-setup commands left out).
    #[must_use]
    pub fn from_delta(delta: &HashMap<String, u64>, requests: u64) -> Self {
        Self {
            calls: delta
                .iter()
                .filter(|(name, _)| !CONNECTION_SETUP.contains(&name.as_str()))
                .map(|(name, &calls)| (name.clone(), calls))
                .collect(),
            requests,
        }
    }

    /// Adds another run's counts (rounds are summed, then divided).
    pub fn merge(&mut self, other: &Self) {
        for (name, calls) in &other.calls {
            *self.calls.entry(name.clone()).or_insert(0) += calls;
        }
        self.requests += other.requests;
    }

    fn per_request(&self, calls: u64) -> f64 {
        calls as f64 / self.requests.max(1) as f64
    }

    /// Every command Redis executed, per request (including those a Lua script ran inside).
    #[must_use]
    pub fn commands_per_request(&self) -> f64 {
        self.per_request(self.calls.values().sum())
    }

    /// Commands the client sent, per request: all of them, or only `direct` for a client that
    /// also runs scripts (whose inner commands Redis counts alongside).
    #[must_use]
    pub fn round_trips_per_request(&self, direct: Option<&[&str]>) -> f64 {
        let sent = self
            .calls
            .iter()
            .filter(|(name, _)| direct.is_none_or(|d| d.contains(&name.as_str())))
            .map(|(_, calls)| calls)
            .sum();
        self.per_request(sent)
    }

    /// `name ×calls-per-request` for each command, e.g. `evalsha 1.00, hmget 1.00`.
    #[must_use]
    pub fn breakdown(&self) -> String {
        let parts: Vec<String> = self
            .calls
            .iter()
            .map(|(name, &calls)| format!("{name} {:.2}", self.per_request(calls)))
            .collect();
        if parts.is_empty() {
            "none".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(pairs: &[(&str, u64)]) -> HashMap<String, u64> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    #[test]
    fn per_request_figures_separate_script_inner_commands() {
        let counts = RedisCounts::from_delta(
            &delta(&[
                ("evalsha", 200),
                ("hmget", 200),
                ("pexpire", 200),
                ("client|setinfo", 2),
            ]),
            100,
        );
        assert!((counts.commands_per_request() - 6.0).abs() < 1e-9);
        let direct = crate::variants::Variant::OursRedis.direct_commands();
        assert!((counts.round_trips_per_request(direct) - 2.0).abs() < 1e-9);
        assert!((counts.round_trips_per_request(None) - 6.0).abs() < 1e-9);
        assert_eq!(counts.breakdown(), "evalsha 2.00, hmget 2.00, pexpire 2.00");
    }

    #[test]
    fn rounds_merge_and_empty_is_zero() {
        let mut total = RedisCounts::default();
        assert_eq!(total.commands_per_request(), 0.0);
        assert_eq!(total.breakdown(), "none");
        total.merge(&RedisCounts::from_delta(&delta(&[("get", 10)]), 10));
        total.merge(&RedisCounts::from_delta(
            &delta(&[("get", 30), ("expire", 40)]),
            40,
        ));
        assert_eq!(total.requests, 50);
        assert!((total.commands_per_request() - 1.6).abs() < 1e-9);
    }
}
