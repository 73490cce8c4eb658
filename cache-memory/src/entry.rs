//! What the entry map stores per key and when it expires.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use moka::Expiry;
use session_core::ResolvedExpiration;

use crate::key::EntryKey;

/// A value with the expiration it was written with.
///
/// Kept small because moka stores it inline in a per-entry allocation, and clones it on insert:
///
/// * the value is an `Arc<[u8]>`, one heap block holding count and bytes, which moka's clone
///   only counts up. A `Bytes` made from the caller's buffer would allocate a second, shared
///   header block (32 bytes) at that clone, and its handle is 32 bytes instead of 16; `get`
///   wraps the `Arc` in a `Bytes` (`Bytes::from_owner`) instead, a small allocation per read
///   that lives as long as the caller holds the value;
/// * the expiry is packed in 16 bytes ([`PackedExpiration`]), and the weight is not stored
///   (the weigher derives it from the key and the value length).
///
/// 32 bytes in all, which puts moka's allocation in glibc's 64-byte size class; the `Bytes`,
/// a `ResolvedExpiration` (32 bytes) and a cached weight put it in the 112-byte class.
#[derive(Debug, Clone)]
pub(crate) struct StoredEntry {
    pub(crate) value: Arc<[u8]>,
    pub(crate) expiration: PackedExpiration,
}

/// A [`ResolvedExpiration`] in 16 bytes: nanoseconds since the Unix epoch and of the sliding
/// window, `u64::MAX` and `0` standing for "none". Lossless until the year 2554 and for windows
/// under 584 years; later deadlines and longer windows are clamped to those, which only an
/// entry living for centuries could tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PackedExpiration {
    absolute_nanos: u64,
    sliding_nanos: u64,
}

const NO_ABSOLUTE: u64 = u64::MAX;
const NO_SLIDING: u64 = 0;

fn clamp_nanos(d: Duration, max: u64) -> u64 {
    u64::try_from(d.as_nanos()).map_or(max, |n| n.min(max))
}

impl From<ResolvedExpiration> for PackedExpiration {
    fn from(e: ResolvedExpiration) -> Self {
        Self {
            // An absolute expiration before 1970 is long past: the epoch is as good.
            absolute_nanos: e.absolute.map_or(NO_ABSOLUTE, |at| {
                clamp_nanos(
                    at.duration_since(UNIX_EPOCH).unwrap_or_default(),
                    NO_ABSOLUTE - 1,
                )
            }),
            // `resolve` refuses a zero sliding window, so 0 is free to mean "none".
            sliding_nanos: e
                .sliding
                .map_or(NO_SLIDING, |s| clamp_nanos(s, u64::MAX).max(1)),
        }
    }
}

impl PackedExpiration {
    fn unpack(self) -> ResolvedExpiration {
        ResolvedExpiration {
            absolute: (self.absolute_nanos != NO_ABSOLUTE)
                .then(|| UNIX_EPOCH + Duration::from_nanos(self.absolute_nanos)),
            sliding: (self.sliding_nanos != NO_SLIDING)
                .then(|| Duration::from_nanos(self.sliding_nanos)),
        }
    }

    fn has_sliding(self) -> bool {
        self.sliding_nanos != NO_SLIDING
    }

    /// How long from `now` the entry has left; see [`ResolvedExpiration::time_to_live`].
    fn time_to_live(self, now: SystemTime) -> Option<Duration> {
        self.unpack().time_to_live(now)
    }
}

/// Per-entry expiry honouring sliding and absolute expiration.
///
/// moka calls these hooks with its own monotonic `Instant`; the deadlines, however, are defined on
/// the wall clock (an absolute expiration is a [`SystemTime`]), so each hook converts through
/// [`ResolvedExpiration::time_to_live`] as of `SystemTime::now()`.
pub(crate) struct EntryExpiry;

impl Expiry<EntryKey, StoredEntry> for EntryExpiry {
    fn expire_after_create(
        &self,
        _key: &EntryKey,
        entry: &StoredEntry,
        _created_at: Instant,
    ) -> Option<Duration> {
        entry.expiration.time_to_live(SystemTime::now())
    }

    /// A replaced entry starts over with its new options.
    fn expire_after_update(
        &self,
        _key: &EntryKey,
        entry: &StoredEntry,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        entry.expiration.time_to_live(SystemTime::now())
    }

    /// A read slides: `min(now + sliding, absolute)`. Without sliding the deadline stays put.
    fn expire_after_read(
        &self,
        _key: &EntryKey,
        entry: &StoredEntry,
        _read_at: Instant,
        duration_until_expiry: Option<Duration>,
        _last_modified_at: Instant,
    ) -> Option<Duration> {
        if entry.expiration.has_sliding() {
            entry.expiration.time_to_live(SystemTime::now())
        } else {
            duration_until_expiry
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(e: ResolvedExpiration) -> ResolvedExpiration {
        PackedExpiration::from(e).unpack()
    }

    #[test]
    fn packing_is_lossless_in_range() {
        let at = UNIX_EPOCH + Duration::new(1_800_000_000, 123_456_789);
        for e in [
            ResolvedExpiration {
                absolute: None,
                sliding: None,
            },
            ResolvedExpiration {
                absolute: Some(at),
                sliding: None,
            },
            ResolvedExpiration {
                absolute: None,
                sliding: Some(Duration::new(1200, 1)),
            },
            ResolvedExpiration {
                absolute: Some(at),
                sliding: Some(Duration::from_nanos(1)),
            },
        ] {
            assert_eq!(round_trip(e), e);
        }
    }

    #[test]
    fn out_of_range_values_clamp_without_changing_meaning() {
        let far = round_trip(ResolvedExpiration {
            absolute: Some(UNIX_EPOCH + Duration::from_secs(u64::MAX / 2)),
            sliding: Some(Duration::MAX),
        });
        assert!(far.absolute.is_some());
        assert_eq!(far.sliding, Some(Duration::from_nanos(u64::MAX)));
    }

    #[test]
    fn the_stored_entry_stays_in_its_size_class() {
        assert_eq!(std::mem::size_of::<StoredEntry>(), 32);
    }
}
