//! What the entry map stores per key, how much it weighs and when it expires.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use moka::Expiry;
use session_core::ResolvedExpiration;

use crate::key::EntryKey;

/// The fixed number of bytes each entry is charged on top of its key and value: a rough figure
/// for the key's `String`, the `Bytes` handle, the expiration and moka's own node bookkeeping,
/// so that many tiny entries cannot grow the cache far beyond its byte bound.
pub const ENTRY_OVERHEAD: usize = 128;

/// A value with the expiration it was written with.
#[derive(Debug, Clone)]
pub(crate) struct StoredEntry {
    pub(crate) value: Bytes,
    pub(crate) expiration: ResolvedExpiration,
    /// What moka's weigher answers: [`entry_weight`] of the key as written and the value,
    /// computed once at write time (the map holds keys in compact form, so the weigher could not
    /// measure the text key). Entries heavier than `u32` are refused before they reach the map.
    pub(crate) weight: u32,
}

/// The size an entry is charged against the byte bound.
pub(crate) fn entry_weight(key: &str, value: &Bytes) -> usize {
    key.len()
        .saturating_add(value.len())
        .saturating_add(ENTRY_OVERHEAD)
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
        if entry.expiration.sliding.is_some() {
            entry.expiration.time_to_live(SystemTime::now())
        } else {
            duration_until_expiry
        }
    }
}
