//! Medians over rounds and the per-(variant, workload) summary.

use crate::load::LoadResult;
use crate::redis_counts::RedisCounts;

/// The median (mean of the middle two for an even count); `None` for no values.
#[must_use]
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    })
}

/// One run of one variant on one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSample {
    /// What the load generator measured.
    pub load: LoadResult,
    /// Redis commands meanwhile (Redis variants only).
    pub redis: Option<RedisCounts>,
}

/// Medians over the rounds of one variant on one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Rounds summarised.
    pub rounds: usize,
    /// Requests per second.
    pub rps: f64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 99th percentile latency, µs.
    pub p99_us: f64,
    /// Failed clients, summed over the rounds (should be 0).
    pub errors: u64,
    /// Redis counts summed over the rounds (deterministic per request, so summed, not medians).
    pub redis: Option<RedisCounts>,
}

/// Summarises the rounds; `None` for none.
#[must_use]
pub fn summarize(samples: &[&RunSample]) -> Option<Summary> {
    let pick = |f: fn(&RunSample) -> f64| median(&samples.iter().map(|s| f(s)).collect::<Vec<_>>());
    let redis = samples.iter().filter_map(|s| s.redis.as_ref()).fold(
        None,
        |acc: Option<RedisCounts>, r| {
            let mut acc = acc.unwrap_or_default();
            acc.merge(r);
            Some(acc)
        },
    );
    Some(Summary {
        rounds: samples.len(),
        rps: pick(|s| s.load.rps())?,
        p50_us: pick(|s| s.load.p50_us as f64)?,
        p99_us: pick(|s| s.load.p99_us as f64)?,
        errors: samples.iter().map(|s| s.load.errors).sum(),
        redis,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN, 2.0]), Some(2.0));
    }

    fn sample(measured: u64, p50: u64, redis: Option<RedisCounts>) -> RunSample {
        RunSample {
            load: LoadResult {
                total: measured,
                measured,
                window: Duration::from_secs(1),
                p50_us: p50,
                p99_us: p50 * 3,
                errors: 0,
            },
            redis,
        }
    }

    #[test]
    fn summary_takes_medians_and_sums_redis_counts() {
        let counts = |n| RedisCounts {
            calls: [("get".to_owned(), n)].into_iter().collect(),
            requests: n,
        };
        let runs = [
            sample(100, 10, Some(counts(100))),
            sample(300, 30, Some(counts(300))),
            sample(200, 20, Some(counts(200))),
        ];
        let s = summarize(&runs.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(
            (s.rounds, s.rps, s.p50_us, s.p99_us),
            (3, 200.0, 20.0, 60.0)
        );
        assert_eq!(s.redis.unwrap().requests, 600);
        assert_eq!(summarize(&[]), None);
        assert_eq!(summarize(&[&sample(1, 1, None)]).unwrap().redis, None);
    }
}
