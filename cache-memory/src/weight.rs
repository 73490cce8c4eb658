//! What an entry is charged against
//! [`MemoryCacheOptions::max_bytes`](crate::MemoryCacheOptions::max_bytes): its resident cost,
//! calibrated by measurement, so that the bound is a bound on memory.

use crate::key::EntryKey;

/// Resident bytes of one entry besides the heap blocks of its value and of a non-GUID key:
/// moka's per-entry allocations (hash-table bucket and slot, entry info, value entry with the
/// 32-byte `StoredEntry`, access-order and timer-wheel nodes, the key's `Arc`).
///
/// Calibrated, not estimated (x86-64 Linux, glibc):
///
/// ```text
/// cargo run --release -p bench -- memory-scale --sessions 100000
///   scale sessions=100000 entries=100000 rss_before=6533120 rss_after=58867712
///   → 523 resident bytes per session (100-byte values, GUID keys)
///   − 128 = heap_block(16 + 100), the value's block (`Arc` counts and bytes)
///   = 395
/// ```
///
/// 100,000 sessions, because that is how many a cache of the default 64 MiB holds; at
/// 1,000,000 the same command gives a few bytes less per session (518: fixed tables amortized),
/// so larger caches are charged slightly more than they use, never less. `bench flood` checks the
/// result end to end: it writes new sessions into a bounded cache until it has evicted several
/// times its capacity and reports resident growth ÷ `max_bytes` (`bench/RESULTS.md`).
pub const ENTRY_OVERHEAD: u64 = 395;

/// The `Arc` counts (strong and weak) in front of a value's bytes.
const ARC_COUNTS: usize = 16;

/// The resident size of a heap allocation of `len` bytes: glibc's malloc adds an 8-byte header
/// and rounds up to 16, with a 32-byte minimum; an empty value allocates nothing.
#[must_use]
pub(crate) const fn heap_block(len: usize) -> u64 {
    if len == 0 {
        return 0;
    }
    let len = len as u64;
    let block = len.saturating_add(8 + 15) & !15;
    if block < 32 { 32 } else { block }
}

/// The weight of an entry stored under `key` with a value of `value_len` bytes: what it costs
/// the process in resident memory.
pub(crate) fn weigh(key: &EntryKey, value_len: usize) -> u64 {
    let key_block = match key {
        // Held inline, in moka's key allocation: part of ENTRY_OVERHEAD.
        EntryKey::Guid(_) => 0,
        EntryKey::Text(text) => heap_block(text.len()),
    };
    ENTRY_OVERHEAD
        .saturating_add(key_block)
        .saturating_add(heap_block(value_len.saturating_add(ARC_COUNTS)))
}

/// The weight [`MemoryCache`](crate::MemoryCache) charges an entry of `value_len` bytes under
/// `key` against [`max_bytes`](crate::MemoryCacheOptions::max_bytes): its resident cost in
/// bytes, [`ENTRY_OVERHEAD`] plus the heap blocks of the value and (unless the key is a session
/// key, held as 16 bytes) of the key.
///
/// ```
/// use cache_memory::{ENTRY_OVERHEAD, entry_weight};
///
/// let session_key = "00112233-4455-6677-8899-aabbccddeeff";
/// // A 100-byte value: its bytes and `Arc` counts in one 128-byte heap block.
/// assert_eq!(entry_weight(session_key, 100), ENTRY_OVERHEAD + 128);
/// assert!(entry_weight("color", 100) > entry_weight(session_key, 100));
/// ```
#[must_use]
pub fn entry_weight(key: &str, value_len: usize) -> u64 {
    weigh(&EntryKey::new(key), value_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_blocks_follow_glibc() {
        assert_eq!(heap_block(0), 0);
        assert_eq!(heap_block(1), 32);
        assert_eq!(heap_block(24), 32);
        assert_eq!(heap_block(25), 48);
        assert_eq!(heap_block(100), 112);
        assert_eq!(heap_block(104), 112);
        assert_eq!(heap_block(105), 128);
        assert_eq!(heap_block(usize::MAX), u64::MAX - 15);
    }

    #[test]
    fn session_keys_cost_nothing_beyond_the_overhead() {
        let guid = EntryKey::new("00112233-4455-6677-8899-aabbccddeeff");
        assert_eq!(weigh(&guid, 100), ENTRY_OVERHEAD + 128);
        assert_eq!(weigh(&guid, 0), ENTRY_OVERHEAD + 32);
        assert_eq!(
            weigh(&EntryKey::new("color"), 100),
            ENTRY_OVERHEAD + 32 + 128
        );
    }
}
