//! `bench flood --max-bytes N`: does `max_bytes` bound resident memory? A child process writes
//! brand-new sessions into a `MemoryCache` bounded to `N` bytes, as a flood of cookie-less
//! requests does (each request creates a session; none is read again), until the sessions
//! written weigh [`FLOOD_FACTOR`] times the bound, so the cache has long been evicting. It
//! reports the growth of its resident set over the empty cache: at the end, and at its peak
//! (`VmHWM`), divided by `N`.

use std::collections::BTreeMap;

use bytes::Bytes;
use cache_memory::{MemoryCache, entry_weight};
use session_core::{DistributedCache, EntryOptions, SessionKey, codec};

use crate::error::BenchError;
use crate::memory_scale::resident_bytes;
use crate::variants::{COUNTER_KEY, IDLE_TIMEOUT};

/// The bounds flooded by a full run: the default (64 MiB) and a larger one.
pub const FLOOD_BOUNDS: [u64; 2] = [cache_memory::DEFAULT_MAX_BYTES, 256 * 1024 * 1024];
/// Sessions are written until their weights add up to this many times the bound.
pub const FLOOD_FACTOR: u64 = 4;
/// The largest accepted resident growth at the bound ÷ `max_bytes` (issue 16: within 10 %).
pub const MAX_FLOOD_RATIO: f64 = 1.1;

/// What one `flood` child reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloodSample {
    /// The cache's bound.
    pub max_bytes: u64,
    /// Sessions written.
    pub written: u64,
    /// Entries held at the end (after housekeeping).
    pub held: u64,
    /// Resident set size with the empty cache, bytes.
    pub rss_before: u64,
    /// Resident set size at the end, bytes.
    pub rss_after: u64,
    /// Peak resident set size (`VmHWM`), bytes.
    pub rss_peak: u64,
}

impl FloodSample {
    /// Resident growth at the end ÷ `max_bytes`.
    #[must_use]
    pub fn ratio(&self) -> f64 {
        self.rss_after.saturating_sub(self.rss_before) as f64 / self.max_bytes.max(1) as f64
    }

    /// Peak resident growth ÷ `max_bytes`.
    #[must_use]
    pub fn peak_ratio(&self) -> f64 {
        self.rss_peak.saturating_sub(self.rss_before) as f64 / self.max_bytes.max(1) as f64
    }

    /// The child's one output line.
    #[must_use]
    pub fn to_line(&self) -> String {
        format!(
            "flood max_bytes={} written={} held={} rss_before={} rss_after={} rss_peak={}",
            self.max_bytes, self.written, self.held, self.rss_before, self.rss_after, self.rss_peak
        )
    }

    /// Parses [`to_line`](Self::to_line)'s output.
    #[must_use]
    pub fn parse(line: &str) -> Option<Self> {
        let f = crate::load::key_values(line.strip_prefix("flood ")?);
        Some(Self {
            max_bytes: *f.get("max_bytes")?,
            written: *f.get("written")?,
            held: *f.get("held")?,
            rss_before: *f.get("rss_before")?,
            rss_after: *f.get("rss_after")?,
            rss_peak: *f.get("rss_peak")?,
        })
    }
}

/// The payload the counter example writes for a new session (`counter` = 1), encoded as the
/// middleware encodes it.
///
/// # Errors
/// None in practice (the codec refuses only oversized sessions).
pub fn counter_session() -> Result<Bytes, BenchError> {
    let entries = BTreeMap::from([(
        COUNTER_KEY.to_owned(),
        Bytes::copy_from_slice(&1i32.to_be_bytes()),
    )]);
    codec::encode(&[7; codec::ID_LEN], &entries).map_err(|e| BenchError::setup("flood", e))
}

/// Peak resident set size of this process (`VmHWM`).
fn peak_resident_bytes() -> Result<u64, BenchError> {
    crate::memory_scale::status_kib("VmHWM:").map(|kib| kib * 1024)
}

/// The `flood` child: floods a cache bounded to `max_bytes` and prints a [`FloodSample`] line.
///
/// # Errors
/// The cache refuses its configuration or an insert, or `/proc` is unreadable.
pub fn run_child(max_bytes: u64) -> Result<(), BenchError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let cache = MemoryCache::builder()
        .max_bytes(max_bytes)
        .build()
        .map_err(|e| BenchError::setup("flood", e))?;
    let payload = counter_session()?;
    let options = EntryOptions::sliding(IDLE_TIMEOUT);
    let weight = entry_weight(SessionKey::generate().as_str(), payload.len());
    let sessions = max_bytes.saturating_mul(FLOOD_FACTOR) / weight.max(1);
    let write = |n: u64| {
        let (cache, payload, options) = (&cache, &payload, &options);
        async move {
            for _ in 0..n {
                // A copy per session, as each request encodes its own.
                let value = Bytes::copy_from_slice(payload);
                cache
                    .set(SessionKey::generate().as_str(), value, options)
                    .await
                    .map_err(|e| BenchError::setup("flood", e))?;
            }
            cache.run_pending_tasks().await;
            Ok::<_, BenchError>(())
        }
    };
    // A few sessions first, so that lazily created runtime and cache structures are in the
    // baseline.
    runtime.block_on(write(16))?;
    let rss_before = resident_bytes()?;
    runtime.block_on(write(sessions))?;
    let sample = FloodSample {
        max_bytes,
        written: sessions,
        held: cache.entry_count(),
        rss_before,
        rss_after: resident_bytes()?,
        rss_peak: peak_resident_bytes()?,
    };
    println!("{}", sample.to_line());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_line_round_trips_and_derives_ratios() {
        let s = FloodSample {
            max_bytes: 1000,
            written: 40,
            held: 10,
            rss_before: 5000,
            rss_after: 6050,
            rss_peak: 6100,
        };
        assert_eq!(FloodSample::parse(&s.to_line()), Some(s));
        assert!((s.ratio() - 1.05).abs() < 1e-9);
        assert!((s.peak_ratio() - 1.1).abs() < 1e-9);
        assert_eq!(FloodSample::parse("flood max_bytes=1"), None);
    }

    #[test]
    fn the_flooded_payload_is_a_counter_session() {
        let payload = counter_session().unwrap();
        let decoded = codec::decode(&payload).unwrap();
        assert_eq!(decoded.entries.len(), 1);
        assert!(decoded.entries.contains_key(COUNTER_KEY));
    }
}
