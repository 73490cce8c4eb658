//! Jittered exponential backoff between retries of one request against the store: polling an
//! exclusive-mode lock, and retrying an optimistic commit after a conflict.
//!
//! Without it, the losers of a race retry at once and collide again in lockstep (each retry
//! costs two round trips, so a hot session turns into a storm of conflicts). The delay starts at
//! [`FIRST`], doubles per retry up to [`CAP`], and each sleep is drawn uniformly from the upper
//! half of the current step, `[step / 2, step]`, so that concurrent requests spread out while
//! no single sleep exceeds the cap.

use std::time::Duration;

/// The first step.
pub(crate) const FIRST: Duration = Duration::from_millis(2);
/// The largest step (and so the longest single sleep).
pub(crate) const CAP: Duration = Duration::from_millis(50);

/// The delays of one request's successive retries.
#[derive(Debug)]
pub(crate) struct Backoff {
    step: Duration,
}

impl Backoff {
    /// Starts at [`FIRST`].
    pub(crate) fn new() -> Self {
        Self { step: FIRST }
    }

    /// The next delay (in `[step / 2, step]`), then doubles the step up to [`CAP`].
    pub(crate) fn next_delay(&mut self) -> Duration {
        let [a, b, ..] = crate::token::random_16();
        let fraction = u32::from(u16::from_le_bytes([a, b]));
        let half = self.step / 2;
        // `half * fraction / 65_536`, in integer nanoseconds: uniform in [0, half).
        let jitter = half.mul_f64(f64::from(fraction) / 65_536.0);
        let delay = half + jitter;
        self.step = (self.step * 2).min(CAP);
        delay
    }

    /// Sleeps for [`next_delay`](Self::next_delay), but never past `limit` from now.
    pub(crate) async fn sleep(&mut self, limit: Option<Duration>) {
        let delay = self.next_delay();
        let delay = limit.map_or(delay, |limit| delay.min(limit));
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_two_ms_and_stay_under_the_cap() {
        let mut backoff = Backoff::new();
        let mut step = FIRST;
        for _ in 0..20 {
            let delay = backoff.next_delay();
            assert!(
                delay >= step / 2 && delay <= step,
                "{delay:?} for step {step:?}"
            );
            assert!(delay <= CAP);
            step = (step * 2).min(CAP);
        }
    }

    #[test]
    fn delays_are_jittered() {
        let delays: std::collections::HashSet<Duration> =
            (0..32).map(|_| Backoff::new().next_delay()).collect();
        assert!(delays.len() > 1, "32 first delays, all equal: {delays:?}");
    }
}
