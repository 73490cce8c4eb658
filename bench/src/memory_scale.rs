//! Memory provider scale: resident bytes per live session, measured in a child process per
//! session count (`bench memory-scale --sessions N`) so that each figure starts from a clean heap,
//! and the prefill used by `bench serve ours-memory --prefill N`.

use std::time::SystemTime;

use bytes::Bytes;
use cache_memory::MemoryCache;
use session_core::{CacheError, DistributedCache, EntryOptions};

use crate::error::BenchError;
use crate::variants::IDLE_TIMEOUT;

/// The byte bound of every `MemoryCache` in the benchmark: 1 M sessions fit without eviction
/// (the default 64 MiB would evict most of them).
pub const MEMORY_CACHE_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// Payload bytes of one prefilled session (issue 6: "sessions of ~100 bytes").
pub const SESSION_BYTES: usize = 100;
/// Key length: a session key as stored (the 36-character GUID text of 128 bits, as
/// `SessionKey::generate` makes and the middleware stores).
pub const KEY_BYTES: usize = 36;

/// The `i`-th prefilled session key: distinct, in the GUID text form of real session keys,
/// spread like random keys.
#[must_use]
pub fn prefill_key(i: u64) -> String {
    // Multiplying by an odd constant is a bijection on u128, so keys never collide.
    let spread = u128::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
    session_core::SessionKey::from_bytes(spread.to_be_bytes())
        .as_str()
        .to_owned()
}

/// Inserts `n` idle sessions of [`SESSION_BYTES`] through the cache API (sliding expiry as a
/// session's).
///
/// # Errors
/// A refused insert (e.g. a too small byte bound).
pub async fn prefill(cache: &MemoryCache, n: u64) -> Result<(), CacheError> {
    let options = EntryOptions::sliding(IDLE_TIMEOUT);
    for i in 0..n {
        // Distinct contents per session, so that no allocator can share them.
        let mut value = vec![b'x'; SESSION_BYTES];
        value[..8].copy_from_slice(&i.to_le_bytes());
        cache
            .set(&prefill_key(i), Bytes::from(value), &options)
            .await?;
    }
    Ok(())
}

/// What one `memory-scale` child reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleSample {
    /// Sessions inserted.
    pub sessions: u64,
    /// Entries the cache holds afterwards (after housekeeping): equals `sessions` unless evicted.
    pub entries: u64,
    /// Resident set size before inserting, bytes.
    pub rss_before: u64,
    /// Resident set size after inserting, bytes.
    pub rss_after: u64,
}

impl ScaleSample {
    /// Resident bytes per live session.
    #[must_use]
    pub fn bytes_per_session(&self) -> f64 {
        self.rss_after.saturating_sub(self.rss_before) as f64 / self.sessions.max(1) as f64
    }

    /// Bytes per session beyond its key and payload: the provider's overhead.
    #[must_use]
    pub fn overhead_per_session(&self) -> f64 {
        self.bytes_per_session() - (KEY_BYTES + SESSION_BYTES) as f64
    }

    /// The child's one output line.
    #[must_use]
    pub fn to_line(&self) -> String {
        format!(
            "scale sessions={} entries={} rss_before={} rss_after={}",
            self.sessions, self.entries, self.rss_before, self.rss_after
        )
    }

    /// Parses [`to_line`](Self::to_line)'s output.
    #[must_use]
    pub fn parse(line: &str) -> Option<Self> {
        let fields = crate::load::key_values(line.strip_prefix("scale ")?);
        Some(Self {
            sessions: *fields.get("sessions")?,
            entries: *fields.get("entries")?,
            rss_before: *fields.get("rss_before")?,
            rss_after: *fields.get("rss_after")?,
        })
    }
}

/// This process's resident set size in bytes (`VmRSS` of `/proc/self/status`).
///
/// # Errors
/// Not on Linux, or an unexpected file format.
pub fn resident_bytes() -> Result<u64, BenchError> {
    status_kib("VmRSS:").map(|kib| kib * 1024)
}

/// The field `name` (e.g. `"VmRSS:"`) of `/proc/self/status`, in KiB.
///
/// # Errors
/// Not on Linux, or an unexpected file format.
pub fn status_kib(name: &str) -> Result<u64, BenchError> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .ok_or_else(|| BenchError::Child(format!("no {name} in /proc/self/status")))
}

/// The `memory-scale` child: inserts `sessions` sessions and prints a [`ScaleSample`] line.
///
/// # Errors
/// The cache refuses an insert, or `/proc` is unreadable.
pub fn run_child(sessions: u64) -> Result<(), BenchError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let cache = MemoryCache::builder()
        .max_bytes(MEMORY_CACHE_BYTES)
        .build()
        .map_err(|e| BenchError::setup("memory-scale", e))?;
    // One insert first, so that lazily created runtime and cache structures are in the baseline.
    runtime.block_on(async {
        let warm = EntryOptions::sliding(IDLE_TIMEOUT);
        cache
            .set("warm-up", Bytes::from_static(b"x"), &warm)
            .await
            .map_err(|e| BenchError::setup("memory-scale", e))?;
        cache
            .remove("warm-up")
            .await
            .map_err(|e| BenchError::setup("memory-scale", e))?;
        cache.run_pending_tasks().await;
        Ok::<_, BenchError>(())
    })?;
    let rss_before = resident_bytes()?;
    let started = SystemTime::now();
    runtime.block_on(async {
        prefill(&cache, sessions)
            .await
            .map_err(|e| BenchError::setup("memory-scale", e))?;
        cache.run_pending_tasks().await;
        Ok::<_, BenchError>(())
    })?;
    let rss_after = resident_bytes()?;
    let sample = ScaleSample {
        sessions,
        entries: cache.entry_count(),
        rss_before,
        rss_after,
    };
    println!("{}", sample.to_line());
    eprintln!(
        "memory-scale: {sessions} sessions inserted in {:?}",
        started.elapsed().unwrap_or_default()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_distinct_and_session_sized() {
        let keys: std::collections::HashSet<String> = (0..10_000).map(prefill_key).collect();
        assert_eq!(keys.len(), 10_000);
        assert!(keys.iter().all(|k| k.len() == KEY_BYTES));
        assert!(
            keys.iter()
                .all(|k| session_core::SessionKey::parse(k).is_some())
        );
    }

    #[test]
    fn sample_line_round_trips_and_derives_per_session_figures() {
        let s = ScaleSample {
            sessions: 1000,
            entries: 1000,
            rss_before: 1_000_000,
            rss_after: 1_300_000,
        };
        assert_eq!(ScaleSample::parse(&s.to_line()), Some(s));
        assert!((s.bytes_per_session() - 300.0).abs() < 1e-9);
        assert!((s.overhead_per_session() - 164.0).abs() < 1e-9);
        assert_eq!(ScaleSample::parse("scale sessions=1"), None);
    }

    #[test]
    fn resident_bytes_reads_proc() {
        assert!(resident_bytes().unwrap() > 0);
    }

    #[tokio::test]
    async fn prefill_inserts_every_session() {
        let cache = MemoryCache::builder()
            .max_bytes(MEMORY_CACHE_BYTES)
            .build()
            .unwrap();
        prefill(&cache, 500).await.unwrap();
        cache.run_pending_tasks().await;
        assert_eq!(cache.entry_count(), 500);
        assert_eq!(
            cache.get(&prefill_key(499)).await.unwrap().unwrap().len(),
            SESSION_BYTES
        );
    }
}
