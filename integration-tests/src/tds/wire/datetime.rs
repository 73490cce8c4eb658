//! `datetimeoffset` wire conversions (MS-TDS 2.2.5.5.1.8): the time of day and the date are
//! in UTC — time as 10^-scale second increments since midnight, date as days since 0001-01-01 —
//! followed by the offset in minutes.

use chrono::{DateTime, Days, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use super::error::ProtocolError;

/// Number of bytes of the time part for a scale (MS-TDS 2.2.5.4.2).
pub(crate) fn time_len(scale: u8) -> Option<usize> {
    match scale {
        0..=2 => Some(3),
        3..=4 => Some(4),
        5..=7 => Some(5),
        _ => None,
    }
}

fn day_zero() -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1, 1, 1)
}

/// Encodes a value as `datetimeoffset(7)`: 5 bytes of time, 3 of date, 2 of offset.
/// `None` when the date is outside SQL Server's range (years 1 to 9999).
pub(crate) fn encode_scale7(value: &DateTime<FixedOffset>) -> Option<[u8; 10]> {
    let utc = value.naive_utc();
    let days = u32::try_from((utc.date() - day_zero()?).num_days()).ok()?;
    if days >= 1 << 24 {
        return None;
    }
    let time = utc.time();
    let nanos =
        u64::from(time.num_seconds_from_midnight()) * 1_000_000_000 + u64::from(time.nanosecond());
    let increments = nanos / 100;
    let offset = i16::try_from(value.offset().local_minus_utc() / 60).ok()?;

    let mut out = [0u8; 10];
    out[..5].copy_from_slice(&increments.to_le_bytes()[..5]);
    out[5..8].copy_from_slice(&days.to_le_bytes()[..3]);
    out[8..].copy_from_slice(&offset.to_le_bytes());
    Some(out)
}

/// Decodes the parts of a received `datetimeoffset(scale)`.
pub(crate) fn decode(
    scale: u8,
    increments: u64,
    days: u32,
    offset_minutes: i16,
) -> Result<DateTime<FixedOffset>, ProtocolError> {
    let invalid = ProtocolError::Malformed("invalid datetimeoffset value");
    if scale > 7 {
        return Err(invalid);
    }
    let nanos = increments
        .checked_mul(10u64.pow(9 - u32::from(scale)))
        .ok_or(ProtocolError::Malformed("invalid datetimeoffset value"))?;
    let secs = u32::try_from(nanos / 1_000_000_000)
        .map_err(|_| ProtocolError::Malformed("datetimeoffset time of day out of range"))?;
    let subsec = u32::try_from(nanos % 1_000_000_000).unwrap_or(0);
    let time = NaiveTime::from_num_seconds_from_midnight_opt(secs, subsec).ok_or(invalid)?;
    let date = day_zero()
        .and_then(|d| d.checked_add_days(Days::new(u64::from(days))))
        .ok_or(ProtocolError::Malformed("datetimeoffset date out of range"))?;
    let offset = FixedOffset::east_opt(i32::from(offset_minutes) * 60).ok_or(
        ProtocolError::Malformed("datetimeoffset offset out of range"),
    )?;
    Ok(DateTime::from_naive_utc_and_offset(
        NaiveDateTime::new(date, time),
        offset,
    ))
}
