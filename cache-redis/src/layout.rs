//! The stored layout: key names, .NET tick encodings and the fields of an entry hash.
//!
//! Everything here is pure (no I/O) so that it can be unit-tested against the numbers .NET
//! produces.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use session_core::{CacheError, ResolvedExpiration};

/// Hash field holding the absolute expiration (`DateTimeOffset.UtcTicks`, or `-1`).
pub(crate) const FIELD_ABSOLUTE: &str = "absexp";
/// Hash field holding the sliding expiration (`TimeSpan.Ticks`, or `-1`).
pub(crate) const FIELD_SLIDING: &str = "sldexp";
/// Hash field holding the value.
pub(crate) const FIELD_DATA: &str = "data";
/// What .NET stores for "no such expiration".
pub(crate) const NOT_PRESENT: i64 = -1;

/// .NET ticks (100 ns) between 0001-01-01T00:00:00Z and the Unix epoch.
pub(crate) const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;
/// .NET ticks per millisecond.
pub(crate) const TICKS_PER_MS: i64 = 10_000;

/// `time` as .NET `DateTimeOffset.UtcTicks`, saturating at the ends of the `i64` range.
pub(crate) fn utc_ticks(time: SystemTime) -> i64 {
    let unix_100ns: i128 = match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => (after.as_nanos() / 100) as i128,
        Err(before) => -((before.duration().as_nanos() / 100) as i128),
    };
    let ticks = unix_100ns + i128::from(UNIX_EPOCH_TICKS);
    i64::try_from(ticks).unwrap_or(if ticks < 0 { i64::MIN } else { i64::MAX })
}

/// `span` as .NET `TimeSpan.Ticks`, saturating.
pub(crate) fn timespan_ticks(span: Duration) -> i64 {
    i64::try_from(span.as_nanos() / 100).unwrap_or(i64::MAX)
}

/// Milliseconds, rounded up so that a key never dies before its deadline, and at least 1
/// (`PEXPIRE 0` would delete the key at once).
pub(crate) fn ceil_millis(span: Duration) -> u64 {
    let ms = span.as_nanos().div_ceil(1_000_000).max(1);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

/// The three values `set` writes: `absexp`, `sldexp` (ticks or `-1`) and the key's time to
/// live in milliseconds (`None`: no expiry, the key is `PERSIST`ed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WriteFields {
    pub(crate) absolute_ticks: i64,
    pub(crate) sliding_ticks: i64,
    pub(crate) ttl_ms: Option<u64>,
}

impl WriteFields {
    /// Encodes `expiration`, written at `now`.
    pub(crate) fn new(expiration: &ResolvedExpiration, now: SystemTime) -> Self {
        Self {
            absolute_ticks: expiration.absolute.map_or(NOT_PRESENT, utc_ticks),
            sliding_ticks: expiration.sliding.map_or(NOT_PRESENT, timespan_ticks),
            ttl_ms: expiration.time_to_live(now).map(ceil_millis),
        }
    }

    /// The TTL argument of the scripts: milliseconds, or `-1` for none.
    pub(crate) fn ttl_arg(&self) -> i64 {
        self.ttl_ms
            .map_or(NOT_PRESENT, |ms| i64::try_from(ms).unwrap_or(i64::MAX))
    }
}

/// What the stored expiration fields of an entry say, as read back (scripting-disabled mode
/// reads them client-side; the scripts apply the same rules server-side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoredExpiration {
    pub(crate) absolute_ticks: Option<i64>,
    pub(crate) sliding_ticks: Option<i64>,
}

impl StoredExpiration {
    /// Parses the raw `absexp` / `sldexp` fields. A missing field means "none", like in .NET;
    /// anything but a decimal integer (or a non-positive sliding window) is corrupt.
    pub(crate) fn parse(
        absolute: Option<&[u8]>,
        sliding: Option<&[u8]>,
    ) -> Result<Self, CacheError> {
        let absolute_ticks = parse_ticks(FIELD_ABSOLUTE, absolute)?;
        let sliding_ticks = parse_ticks(FIELD_SLIDING, sliding)?;
        if let Some(s) = sliding_ticks
            && s <= 0
        {
            return Err(corrupt(FIELD_SLIDING, sliding.unwrap_or_default()));
        }
        Ok(Self {
            absolute_ticks,
            sliding_ticks,
        })
    }

    /// `None` if the entry is dead at `now_ticks`; otherwise the new TTL to apply for a slide
    /// (`Some(None)`: no sliding expiration, nothing to do).
    pub(crate) fn slide(&self, now_ticks: i64) -> Option<Option<u64>> {
        let remaining_absolute = self.absolute_ticks.map(|a| a.saturating_sub(now_ticks));
        if remaining_absolute.is_some_and(|r| r <= 0) {
            return None;
        }
        Some(self.sliding_ticks.map(|s| {
            let ticks = remaining_absolute.map_or(s, |r| r.min(s));
            u64::try_from(ticks.div_ceil_positive(TICKS_PER_MS)).unwrap_or(1)
        }))
    }
}

trait DivCeilPositive {
    fn div_ceil_positive(self, d: i64) -> i64;
}

impl DivCeilPositive for i64 {
    /// Division rounding up, for positive `self` and `d`.
    fn div_ceil_positive(self, d: i64) -> i64 {
        self / d + i64::from(self % d != 0)
    }
}

fn parse_ticks(field: &'static str, raw: Option<&[u8]>) -> Result<Option<i64>, CacheError> {
    let Some(raw) = raw else { return Ok(None) };
    let value = std::str::from_utf8(raw)
        .ok()
        .filter(|s| {
            let digits = s.strip_prefix('-').unwrap_or(s);
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        })
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| corrupt(field, raw))?;
    Ok((value != NOT_PRESENT).then_some(value))
}

/// A [`CacheError::CorruptEntry`] naming the field and (a prefix of) its raw value.
pub(crate) fn corrupt(field: &str, raw: &[u8]) -> CacheError {
    const SHOWN: usize = 32;
    let shown = String::from_utf8_lossy(&raw[..raw.len().min(SHOWN)]);
    let more = if raw.len() > SHOWN { "…" } else { "" };
    CacheError::CorruptEntry {
        reason: format!("field `{field}` is not a valid tick count: {shown:?}{more}"),
    }
}

/// The Redis key of an entry: instance name + key, exactly as .NET builds it.
pub(crate) fn entry_key(instance: &str, key: &str) -> String {
    let mut k = String::with_capacity(instance.len() + key.len());
    k.push_str(instance);
    k.push_str(key);
    k
}

/// The Redis key of the lock on the entry stored under `entry_key`:
/// `{<tag>}lock:<entry key>`, where `<tag>` is a short token that hashes to the entry key's
/// cluster slot. See the crate docs ("Locks") for why.
pub(crate) fn lock_key(entry_key: &str) -> String {
    let tag = slot_tag(key_slot(entry_key.as_bytes()));
    format!("{{{tag}}}lock:{entry_key}")
}

/// Number of Redis Cluster hash slots.
const SLOTS: usize = 16_384;

/// The Redis Cluster hash slot of `key`, with Redis' hash-tag rule: if the key contains `{`
/// followed later by `}` with at least one byte between them, only those bytes are hashed.
pub(crate) fn key_slot(key: &[u8]) -> u16 {
    let hashed = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            let close = rest.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(key);
    crc16(hashed) & (SLOTS as u16 - 1)
}

/// CRC-16/XMODEM (polynomial 0x1021, initial value 0), the checksum Redis Cluster uses.
fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |crc, &b| {
        (0..8).fold(crc ^ (u16::from(b) << 8), |c, _| {
            if c & 0x8000 != 0 {
                (c << 1) ^ 0x1021
            } else {
                c << 1
            }
        })
    })
}

/// A short alphanumeric string hashing to `slot` (the first in base-62 counting order).
fn slot_tag(slot: u16) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut tags = vec![String::new(); SLOTS];
        let mut missing = SLOTS;
        // Count in base 62 over lengths 1, 2, 3, ... until every slot has a tag; three
        // characters (238,328 candidates) already cover all 16,384 slots.
        let mut len = 1u32;
        while missing > 0 {
            for n in 0..62usize.pow(len) {
                let mut rest = n;
                let text: String = (0..len)
                    .map(|_| {
                        let c = ALPHABET[rest % 62] as char;
                        rest /= 62;
                        c
                    })
                    .collect();
                let slot = usize::from(crc16(text.as_bytes()) & (SLOTS as u16 - 1));
                if tags[slot].is_empty() {
                    tags[slot] = text;
                    missing -= 1;
                }
            }
            len += 1;
        }
        tags
    });
    tags.get(usize::from(slot)).map_or("", String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_match_dotnet() {
        // DateTimeOffset.UnixEpoch.UtcTicks
        assert_eq!(utc_ticks(SystemTime::UNIX_EPOCH), 621_355_968_000_000_000);
        // new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero).UtcTicks
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200);
        assert_eq!(utc_ticks(t), 638_396_640_000_000_000);
        // TimeSpan.FromMinutes(20).Ticks
        assert_eq!(timespan_ticks(Duration::from_secs(1200)), 12_000_000_000);
        assert_eq!(timespan_ticks(Duration::from_nanos(150)), 1);
    }

    #[test]
    fn ttl_rounds_up_to_whole_milliseconds() {
        assert_eq!(ceil_millis(Duration::from_micros(1)), 1);
        assert_eq!(ceil_millis(Duration::from_micros(1001)), 2);
        assert_eq!(ceil_millis(Duration::ZERO), 1);
        assert_eq!(ceil_millis(Duration::from_secs(2)), 2000);
    }

    #[test]
    fn write_fields_follow_dotnet() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200);
        let e = ResolvedExpiration {
            absolute: Some(now + Duration::from_secs(10)),
            sliding: Some(Duration::from_secs(60)),
        };
        let f = WriteFields::new(&e, now);
        assert_eq!(f.absolute_ticks, 638_396_640_100_000_000);
        assert_eq!(f.sliding_ticks, 600_000_000);
        assert_eq!(f.ttl_ms, Some(10_000));
        let none = WriteFields::new(
            &ResolvedExpiration {
                absolute: None,
                sliding: None,
            },
            now,
        );
        assert_eq!(
            (none.absolute_ticks, none.sliding_ticks, none.ttl_arg()),
            (-1, -1, -1)
        );
    }

    #[test]
    fn stored_expiration_parses_and_slides() {
        let s = StoredExpiration::parse(Some(b"1000000"), Some(b"200000")).unwrap();
        assert_eq!(s.slide(0), Some(Some(20)));
        assert_eq!(s.slide(900_000), Some(Some(10)));
        assert_eq!(s.slide(1_000_000), None);
        let none = StoredExpiration::parse(Some(b"-1"), None).unwrap();
        assert_eq!(none.slide(i64::MAX), Some(None));
        for bad in [&b"abc"[..], b"", b"1e5", b"0x10", b" 1", b"--1"] {
            assert!(matches!(
                StoredExpiration::parse(Some(bad), None),
                Err(CacheError::CorruptEntry { .. })
            ));
        }
        assert!(StoredExpiration::parse(None, Some(b"0")).is_err());
        assert!(StoredExpiration::parse(None, Some(b"-5")).is_err());
    }

    #[test]
    fn key_slots_follow_redis() {
        // Values from `CLUSTER KEYSLOT`.
        assert_eq!(key_slot(b"foo"), 12_182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") & 16_383);
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b"123456789"), 0x31C3 & 16_383);
    }

    #[test]
    fn lock_keys_share_the_entry_slot() {
        for key in [
            "App_abc",
            "x",
            "",
            "a{b}c",
            "a}b",
            "{}",
            "{",
            "sess:{tenant}:1",
            "ünï",
        ] {
            let entry = entry_key("App_", key);
            let lock = lock_key(&entry);
            assert_eq!(
                key_slot(lock.as_bytes()),
                key_slot(entry.as_bytes()),
                "{key}"
            );
            assert!(lock.ends_with(&entry));
            assert!(lock.starts_with('{'));
        }
        for slot in [0u16, 1, 16_383] {
            assert_eq!(key_slot(slot_tag(slot).as_bytes()), slot);
        }
        assert!((0..16_384u16).all(|s| !slot_tag(s).is_empty()));
    }
}
