//! The three expiration columns of a row, computed from [`EntryOptions`] as .NET computes them,
//! and the conversion of points in time to `datetimeoffset` parameters.
//!
//! Times are bound as `DateTime<FixedOffset>` (UTC offset) because tiberius sends that type as
//! `datetimeoffset`; a `DateTime<Utc>` would go out as `datetime2` and be converted by the server
//! with its own rules.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use session_core::{EntryOptions, EntryOptionsError};

/// A point in time as bound to a `datetimeoffset` parameter.
pub type SqlTime = DateTime<FixedOffset>;

/// The latest second `datetimeoffset` holds (9999-12-31 23:59:59 UTC); later times are clamped to it.
const SQL_MAX_UTC: DateTime<Utc> = match DateTime::from_timestamp(253_402_300_799, 0) {
    Some(t) => t,
    None => DateTime::<Utc>::MIN_UTC,
};

/// The earliest `datetimeoffset` (0001-01-01 00:00:00 UTC); earlier times are clamped to it.
const SQL_MIN_UTC: DateTime<Utc> = match DateTime::from_timestamp(-62_135_596_800, 0) {
    Some(t) => t,
    None => DateTime::<Utc>::MIN_UTC,
};

/// `DATEADD(SECOND, ...)` takes an `int`: longer sliding expirations (68 years) are clamped to it.
const MAX_SLIDING_SECONDS: i64 = i32::MAX as i64;

/// A [`SystemTime`] as a UTC `datetimeoffset`, clamped to the type's range.
#[must_use]
pub fn sql_time(t: SystemTime) -> SqlTime {
    let utc = match t.duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs())
            .ok()
            .and_then(|secs| DateTime::from_timestamp(secs, since.subsec_nanos()))
            .unwrap_or(SQL_MAX_UTC),
        // Before 1970: nothing we write is (absolute expirations lie in the future), but a badly
        // set clock must not panic.
        Err(_) => SQL_MIN_UTC,
    };
    utc.clamp(SQL_MIN_UTC, SQL_MAX_UTC).fixed_offset()
}

/// `t + d`, saturating at the end of the `datetimeoffset` range.
#[must_use]
pub fn add(t: SqlTime, d: Duration) -> SqlTime {
    TimeDelta::from_std(d)
        .ok()
        .and_then(|delta| t.checked_add_signed(delta))
        .map_or(SQL_MAX_UTC, |sum| sum.to_utc().min(SQL_MAX_UTC))
        .fixed_offset()
}

/// The expiration columns of a row being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowExpiration {
    /// `ExpiresAtTime`: `min(now + sliding, absolute)`.
    pub expires_at: SqlTime,
    /// `SlidingExpirationInSeconds`.
    pub sliding_seconds: Option<i64>,
    /// `AbsoluteExpiration`.
    pub absolute: Option<SqlTime>,
}

/// Resolves `options` at `now` as .NET does: an entry with neither expiration gets
/// `default_sliding`. Sliding expirations are stored in whole seconds, rounded up so that an
/// entry never dies earlier than asked (a sub-second sliding expiration lives one second).
///
/// # Errors
/// Invalid options (see [`EntryOptions::resolve`]).
pub fn row_expiration(
    options: &EntryOptions,
    now: SystemTime,
    default_sliding: Duration,
) -> Result<RowExpiration, EntryOptionsError> {
    let resolved = options.resolve(now)?;
    let sliding = match (resolved.sliding, resolved.absolute) {
        (None, None) => Some(default_sliding),
        (sliding, _) => sliding,
    };
    let sliding_seconds = sliding.map(whole_seconds_up);
    let now_sql = sql_time(now);
    let absolute = resolved.absolute.map(sql_time);
    let slid = sliding_seconds.map(|secs| add(now_sql, Duration::from_secs(secs.unsigned_abs())));
    let expires_at = match (slid, absolute) {
        (Some(slid), Some(absolute)) => slid.min(absolute),
        (Some(at), None) | (None, Some(at)) => at,
        // Unreachable after the default above; "now" keeps the function total.
        (None, None) => now_sql,
    };
    Ok(RowExpiration {
        expires_at,
        sliding_seconds,
        absolute,
    })
}

/// `d` in whole seconds, rounded up, within `1..=i32::MAX`.
fn whole_seconds_up(d: Duration) -> i64 {
    let secs = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
    i64::try_from(secs)
        .unwrap_or(MAX_SLIDING_SECONDS)
        .clamp(1, MAX_SLIDING_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    #[test]
    fn no_expiration_gets_the_default_sliding() {
        let row = row_expiration(&EntryOptions::new(), t0(), Duration::from_secs(1200)).unwrap();
        assert_eq!(row.sliding_seconds, Some(1200));
        assert_eq!(row.absolute, None);
        assert_eq!(row.expires_at, sql_time(t0() + Duration::from_secs(1200)));
    }

    #[test]
    fn absolute_caps_sliding() {
        let options = EntryOptions::sliding(Duration::from_secs(60))
            .absolute_expiration_relative_to_now(Duration::from_secs(30));
        let row = row_expiration(&options, t0(), Duration::from_secs(1200)).unwrap();
        assert_eq!(row.sliding_seconds, Some(60));
        assert_eq!(row.absolute, Some(sql_time(t0() + Duration::from_secs(30))));
        assert_eq!(row.expires_at, sql_time(t0() + Duration::from_secs(30)));
    }

    #[test]
    fn only_absolute() {
        let options =
            EntryOptions::new().absolute_expiration_relative_to_now(Duration::from_secs(5));
        let row = row_expiration(&options, t0(), Duration::from_secs(1200)).unwrap();
        assert_eq!(row.sliding_seconds, None);
        assert_eq!(row.expires_at, sql_time(t0() + Duration::from_secs(5)));
    }

    #[test]
    fn sub_second_sliding_rounds_up() {
        assert_eq!(whole_seconds_up(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds_up(Duration::from_millis(1500)), 2);
        assert_eq!(whole_seconds_up(Duration::from_secs(7)), 7);
        assert_eq!(whole_seconds_up(Duration::MAX), MAX_SLIDING_SECONDS);
    }

    #[test]
    fn times_are_clamped_not_panicking() {
        let far = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        assert_eq!(sql_time(far).to_utc(), SQL_MAX_UTC);
        assert_eq!(add(sql_time(t0()), Duration::MAX).to_utc(), SQL_MAX_UTC);
        assert_eq!(sql_time(t0()).offset().local_minus_utc(), 0);
    }
}
