//! Issue 6's targets, each beside the figure it judges (reported, never asserted).

use crate::flood::MAX_FLOOD_RATIO;
use crate::results::Measurements;
use crate::variants::Variant::{self, *};
use crate::workload::Workload;

/// Live-session counts of the memory scale measurement.
pub const SCALE_SESSIONS: [u64; 3] = [10_000, 100_000, 1_000_000];
/// Live-session counts of the prefilled read comparison (few, many).
pub const PREFILL_SESSIONS: (u64, u64) = (1_000, 1_000_000);
/// Largest accepted provider overhead per live session, bytes.
pub const MAX_OVERHEAD_BYTES: f64 = 256.0;
/// Largest accepted overhead per live session above moka's own per entry, bytes (issue 16).
pub const MAX_OVERHEAD_ABOVE_MOKA: f64 = 32.0;
/// The session count at which the overhead is compared with moka's.
pub const BASELINE_SESSIONS: u64 = 1_000_000;

/// What a figure should be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// At least this.
    AtLeast(f64),
    /// At most this.
    AtMost(f64),
    /// Reported only.
    Report,
}

impl Goal {
    /// Whether `value` meets the goal (`None` for [`Goal::Report`]). Values are compared as
    /// displayed (two decimals), so 1.996 round trips meets "≤ 2".
    #[must_use]
    pub fn met(self, value: f64) -> Option<bool> {
        let shown = (value * 100.0).round() / 100.0;
        match self {
            Self::AtLeast(t) => Some(shown >= t),
            Self::AtMost(t) => Some(shown <= t),
            Self::Report => None,
        }
    }

    /// `≥ 1.3`, `≤ 256`, or `—`.
    #[must_use]
    pub fn describe(self) -> String {
        match self {
            Self::AtLeast(t) => format!("≥ {t}"),
            Self::AtMost(t) => format!("≤ {t}"),
            Self::Report => "—".to_owned(),
        }
    }
}

/// One judged figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// What it is.
    pub name: String,
    /// Its value, if the run measured it.
    pub value: Option<f64>,
    /// Its target.
    pub goal: Goal,
}

impl Figure {
    fn new(name: impl Into<String>, value: Option<f64>, goal: Goal) -> Self {
        Self {
            name: name.into(),
            value,
            goal,
        }
    }

    /// `met`, `missed`, `—` (no target) or `not measured`.
    #[must_use]
    pub fn status(&self) -> &'static str {
        match self.value.map(|v| self.goal.met(v)) {
            None => "not measured",
            Some(None) => "—",
            Some(Some(true)) => "met",
            Some(Some(false)) => "missed",
        }
    }
}

/// Every ratio and target figure of a run, in report order.
#[must_use]
pub fn figures(m: &Measurements) -> Vec<Figure> {
    let mut out = Vec::new();
    for w in Workload::ALL {
        let rt = m
            .summary(OursRedis, w)
            .and_then(|s| s.redis)
            .map(|r| r.round_trips_per_request(OursRedis.direct_commands()));
        out.push(Figure::new(
            format!("ours-redis Redis round trips per request, {w}"),
            rt,
            Goal::AtMost(w.target_round_trips()),
        ));
    }
    for w in Workload::ALL {
        let goal = if w == Workload::Counter {
            Goal::AtLeast(1.3)
        } else {
            Goal::Report
        };
        out.push(Figure::new(
            format!(
                "ours-redis ÷ actix-session-redis, {w} (both on actix-web: same as normalised)"
            ),
            m.ratio(OursRedis, ActixSessionRedis, w),
            goal,
        ));
    }
    let tower_pairs: [(Variant, Variant); 2] = [(OursMemory, TowerMoka), (OursRedis, TowerRedis)];
    for (ours, tower) in tower_pairs {
        for w in Workload::ALL {
            out.push(Figure::new(
                format!("({ours} ÷ actix-bare) ÷ ({tower} ÷ axum-bare), {w}"),
                m.normalised_ratio((ours, ActixBare), (tower, AxumBare), w),
                Goal::Report,
            ));
        }
    }
    for w in Workload::ALL {
        out.push(Figure::new(
            format!("ours-redis ÷ handwritten-redis, {w}"),
            m.ratio(OursRedis, HandwrittenRedis, w),
            Goal::AtLeast(0.9),
        ));
    }
    out.push(Figure::new(
        "ours-memory ÷ actix-bare, /read",
        m.ratio(OursMemory, ActixBare, Workload::Read),
        Goal::AtLeast(0.9),
    ));
    for sample in &m.scale {
        out.push(Figure::new(
            format!(
                "memory overhead per live session (resident bytes − key − payload), {} sessions",
                sample.sessions
            ),
            Some(sample.overhead_per_session()),
            Goal::AtMost(MAX_OVERHEAD_BYTES),
        ));
    }
    out.push(Figure::new(
        format!(
            "memory overhead per live session above moka's own per entry, {BASELINE_SESSIONS} sessions"
        ),
        m.overhead_above_moka(BASELINE_SESSIONS),
        Goal::AtMost(MAX_OVERHEAD_ABOVE_MOKA),
    ));
    for sample in &m.flood {
        out.push(Figure::new(
            format!(
                "memory flood: resident growth at the bound ÷ max_bytes, max_bytes {} MiB",
                sample.max_bytes / (1024 * 1024)
            ),
            Some(sample.ratio()),
            Goal::AtMost(MAX_FLOOD_RATIO),
        ));
    }
    let (few, many) = PREFILL_SESSIONS;
    out.push(Figure::new(
        format!("ours-memory /read with {many} ÷ with {few} live sessions"),
        m.prefill_ratio(many, few),
        Goal::Report,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory_scale::ScaleSample;
    use crate::results::tests::run;

    #[test]
    fn goals_compare_as_displayed() {
        assert_eq!(Goal::AtLeast(1.3).met(1.3), Some(true));
        assert_eq!(Goal::AtLeast(1.3).met(1.29), Some(false));
        assert_eq!(Goal::AtMost(2.0).met(2.004), Some(true));
        assert_eq!(Goal::AtMost(0.0).met(0.01), Some(false));
        assert_eq!(Goal::Report.met(5.0), None);
        assert_eq!(Goal::AtLeast(0.9).describe(), "≥ 0.9");
    }

    #[test]
    fn figures_judge_what_was_measured() {
        let m = Measurements {
            runs: vec![
                run(0, OursRedis, Workload::Counter, 1400),
                run(0, ActixSessionRedis, Workload::Counter, 1000),
                run(0, HandwrittenRedis, Workload::Counter, 2000),
            ],
            scale: vec![ScaleSample {
                sessions: 10,
                entries: 10,
                rss_before: 0,
                rss_after: 10 * 400,
            }],
            ..Measurements::default()
        };
        let figures = figures(&m);
        let find = |prefix: &str| {
            figures
                .iter()
                .find(|f| f.name.starts_with(prefix))
                .unwrap()
                .clone()
        };
        assert_eq!(
            find("ours-redis ÷ actix-session-redis, /counter").status(),
            "met"
        );
        assert_eq!(
            find("ours-redis ÷ handwritten-redis, /counter").status(),
            "missed"
        );
        assert_eq!(
            find("ours-redis ÷ handwritten-redis, /read").status(),
            "not measured"
        );
        assert_eq!(
            find("ours-redis ÷ actix-session-redis, /read").status(),
            "not measured"
        );
        let overhead = find("memory overhead per live session (");
        assert_eq!((overhead.value, overhead.status()), (Some(264.0), "missed"));
        assert_eq!(
            find("memory overhead per live session above").status(),
            "not measured"
        );
    }

    #[test]
    fn memory_figures_compare_with_moka_and_the_bound() {
        let m = Measurements {
            scale: vec![ScaleSample {
                sessions: BASELINE_SESSIONS,
                entries: BASELINE_SESSIONS,
                rss_before: 0,
                rss_after: BASELINE_SESSIONS * 500,
            }],
            baseline: vec![crate::moka_baseline::BaselineSample {
                entries: BASELINE_SESSIONS,
                bytes_per_entry: 340,
            }],
            flood: vec![crate::flood::FloodSample {
                max_bytes: 64 << 20,
                written: 4,
                held: 1,
                rss_before: 0,
                rss_after: 72 << 20,
                rss_peak: 72 << 20,
            }],
            ..Measurements::default()
        };
        let figures = figures(&m);
        let find = |prefix: &str| figures.iter().find(|f| f.name.starts_with(prefix)).unwrap();
        let above = find("memory overhead per live session above");
        // 500 − 136 (key and payload) − 340.
        assert_eq!((above.value, above.status()), (Some(24.0), "met"));
        let flood = find("memory flood");
        assert_eq!((flood.value, flood.status()), (Some(1.125), "missed"));
        assert!(flood.name.ends_with("64 MiB"));
    }
}
