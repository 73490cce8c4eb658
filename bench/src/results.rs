//! Everything one benchmark run measured, and the ratios derived from it.
//!
//! Ratios are taken per round (both sides measured minutes apart at most, in the same round)
//! and then the median over rounds, so that slow machine drift cancels.

use crate::flood::FloodSample;
use crate::load::LoadResult;
use crate::memory_scale::ScaleSample;
use crate::moka_baseline::BaselineSample;
use crate::stats::{RunSample, Summary, median, summarize};
use crate::variants::Variant;
use crate::workload::Workload;

/// One load run, with where it sits in the schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Round number (0-based).
    pub round: usize,
    /// The server.
    pub variant: Variant,
    /// The route.
    pub workload: Workload,
    /// The figures.
    pub sample: RunSample,
}

/// A `/read` run of `ours-memory` with `live` prefilled sessions.
#[derive(Debug, Clone, PartialEq)]
pub struct PrefillRun {
    /// Round number (0-based).
    pub round: usize,
    /// Live sessions in the cache besides the clients' own.
    pub live: u64,
    /// The figures.
    pub load: LoadResult,
}

/// All measurements of one benchmark run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measurements {
    /// The side-by-side runs.
    pub runs: Vec<Run>,
    /// Resident memory per session count.
    pub scale: Vec<ScaleSample>,
    /// `ours-memory` reads with few and many live sessions.
    pub prefill: Vec<PrefillRun>,
    /// moka alone, per entry count.
    pub baseline: Vec<BaselineSample>,
    /// Resident growth of bounded caches flooded with new sessions.
    pub flood: Vec<FloodSample>,
}

impl Measurements {
    /// Medians over the rounds of `variant` on `workload`.
    #[must_use]
    pub fn summary(&self, variant: Variant, workload: Workload) -> Option<Summary> {
        let samples: Vec<&RunSample> = self
            .runs
            .iter()
            .filter(|r| r.variant == variant && r.workload == workload)
            .map(|r| &r.sample)
            .collect();
        summarize(&samples)
    }

    fn rps(&self, round: usize, variant: Variant, workload: Workload) -> Option<f64> {
        self.runs
            .iter()
            .find(|r| r.round == round && r.variant == variant && r.workload == workload)
            .map(|r| r.sample.load.rps())
    }

    fn rounds(&self) -> std::collections::BTreeSet<usize> {
        self.runs.iter().map(|r| r.round).collect()
    }

    /// Median over rounds of `rps(a) ÷ rps(b)`.
    #[must_use]
    pub fn ratio(&self, a: Variant, b: Variant, workload: Workload) -> Option<f64> {
        let per_round: Vec<f64> = self
            .rounds()
            .into_iter()
            .filter_map(|round| Some(self.rps(round, a, workload)? / self.rps(round, b, workload)?))
            .collect();
        median(&per_round)
    }

    /// Median over rounds of `(rps(a) ÷ rps(a_bare)) ÷ (rps(b) ÷ rps(b_bare))`: each side
    /// normalised by its bare framework.
    #[must_use]
    pub fn normalised_ratio(
        &self,
        (a, a_bare): (Variant, Variant),
        (b, b_bare): (Variant, Variant),
        workload: Workload,
    ) -> Option<f64> {
        let per_round: Vec<f64> = self
            .rounds()
            .into_iter()
            .filter_map(|round| {
                let a = self.rps(round, a, workload)? / self.rps(round, a_bare, workload)?;
                let b = self.rps(round, b, workload)? / self.rps(round, b_bare, workload)?;
                Some(a / b)
            })
            .collect();
        median(&per_round)
    }

    /// Overhead per live session of the memory provider minus moka's own per entry, at
    /// `sessions` (both measured in the same run).
    #[must_use]
    pub fn overhead_above_moka(&self, sessions: u64) -> Option<f64> {
        let ours = self.scale.iter().find(|s| s.sessions == sessions)?;
        let moka = self.baseline.iter().find(|b| b.entries == sessions)?;
        Some(ours.overhead_per_session() - moka.bytes_per_entry as f64)
    }

    /// Median `/read` requests per second of `ours-memory` with `live` prefilled sessions.
    #[must_use]
    pub fn prefill_rps(&self, live: u64) -> Option<f64> {
        median(
            &self
                .prefill
                .iter()
                .filter(|p| p.live == live)
                .map(|p| p.load.rps())
                .collect::<Vec<_>>(),
        )
    }

    /// Median over rounds of `rps(many) ÷ rps(few)` for the prefilled reads.
    #[must_use]
    pub fn prefill_ratio(&self, many: u64, few: u64) -> Option<f64> {
        let rounds: std::collections::BTreeSet<usize> =
            self.prefill.iter().map(|p| p.round).collect();
        let rps = |round, live| {
            self.prefill
                .iter()
                .find(|p| p.round == round && p.live == live)
                .map(|p| p.load.rps())
        };
        median(
            &rounds
                .into_iter()
                .filter_map(|r| Some(rps(r, many)? / rps(r, few)?))
                .collect::<Vec<_>>(),
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;

    /// A run of `measured` requests in one second.
    pub(crate) fn run(round: usize, variant: Variant, workload: Workload, measured: u64) -> Run {
        Run {
            round,
            variant,
            workload,
            sample: RunSample {
                load: LoadResult {
                    total: measured,
                    measured,
                    window: Duration::from_secs(1),
                    p50_us: 100,
                    p99_us: 300,
                    errors: 0,
                },
                redis: None,
            },
        }
    }

    #[test]
    fn ratios_are_medians_of_per_round_ratios() {
        use Variant::*;
        let w = Workload::Read;
        let m = Measurements {
            runs: vec![
                run(0, OursMemory, w, 900),
                run(0, ActixBare, w, 1000),
                run(0, TowerMoka, w, 400),
                run(0, AxumBare, w, 800),
                // A slower machine in round 1: per-round ratios stay the same.
                run(1, OursMemory, w, 450),
                run(1, ActixBare, w, 500),
                run(1, TowerMoka, w, 200),
                run(1, AxumBare, w, 400),
            ],
            ..Measurements::default()
        };
        assert!((m.ratio(OursMemory, ActixBare, w).unwrap() - 0.9).abs() < 1e-9);
        let n = m
            .normalised_ratio((OursMemory, ActixBare), (TowerMoka, AxumBare), w)
            .unwrap();
        assert!((n - 1.8).abs() < 1e-9);
        assert_eq!(m.ratio(OursRedis, ActixBare, w), None);
        assert!((m.summary(OursMemory, w).unwrap().rps - 675.0).abs() < 1e-9);
    }
}
