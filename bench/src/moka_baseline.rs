//! `bench moka-baseline --entries N`: resident bytes per entry of moka *alone*, configured as
//! `MemoryCache` configures it (byte weigher, LRU eviction, per-entry expiry), holding the
//! smallest possible entries (a 16-byte key, an 8-byte value).
//!
//! It separates what `MemoryCache` adds per session from what moka's own bookkeeping costs
//! (hash-table bucket, entry info with its timestamps and counters, access-order deque node,
//! timer-wheel node, each a separate allocation), which no `MemoryCache` change can remove.

use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use moka::policy::EvictionPolicy;

use crate::error::BenchError;
use crate::memory_scale::{MEMORY_CACHE_BYTES, resident_bytes};

/// Every entry lives 20 minutes (as a session's sliding expiry would set it).
struct Fixed;

impl Expiry<u128, u64> for Fixed {
    fn expire_after_create(&self, _: &u128, _: &u64, _: Instant) -> Option<Duration> {
        Some(Duration::from_secs(20 * 60))
    }
}

/// What one `moka-baseline` child reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaselineSample {
    /// Entries inserted.
    pub entries: u64,
    /// Resident bytes per entry (growth of the resident set ÷ entries, rounded).
    pub bytes_per_entry: u64,
}

impl BaselineSample {
    /// Parses the child's line, `moka-baseline entries=N held=H bytes_per_entry=B`.
    #[must_use]
    pub fn parse(line: &str) -> Option<Self> {
        let f = crate::load::key_values(line.strip_prefix("moka-baseline ")?);
        Some(Self {
            entries: *f.get("entries")?,
            bytes_per_entry: *f.get("bytes_per_entry")?,
        })
    }
}

/// Inserts `entries` entries and prints `moka-baseline entries=N held=H bytes_per_entry=B`.
///
/// # Errors
/// `/proc` is unreadable, or the runtime cannot start.
pub fn run_child(entries: u64) -> Result<(), BenchError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let cache: Cache<u128, u64> = Cache::builder()
        .max_capacity(MEMORY_CACHE_BYTES)
        .weigher(|_: &u128, _: &u64| 200)
        .eviction_policy(EvictionPolicy::lru())
        .expire_after(Fixed)
        .build();
    let (before, after) = runtime.block_on(async {
        cache.insert(u128::MAX, 0).await;
        cache.run_pending_tasks().await;
        let before = resident_bytes()?;
        for i in 0..entries {
            cache.insert(u128::from(i), i).await;
        }
        cache.run_pending_tasks().await;
        Ok::<_, BenchError>((before, resident_bytes()?))
    })?;
    println!(
        "moka-baseline entries={entries} held={} bytes_per_entry={:.0}",
        cache.entry_count().saturating_sub(1),
        after.saturating_sub(before) as f64 / entries.max(1) as f64
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_child_line() {
        assert_eq!(
            BaselineSample::parse("moka-baseline entries=10 held=10 bytes_per_entry=369"),
            Some(BaselineSample {
                entries: 10,
                bytes_per_entry: 369
            })
        );
        assert_eq!(BaselineSample::parse("moka-baseline entries=10"), None);
    }
}
