//! Result columns on the wire: TYPE_INFO in COLMETADATA and the matching value encoding in ROW.

use crate::tds::engine::{Column, SqlError, SqlType, SqlValue};

use super::{datetime, tokens};

/// INTN (int, bigint).
pub(crate) const INTN: u8 = 0x26;
/// NVARCHAR.
pub(crate) const NVARCHAR: u8 = 0xE7;
/// BIGVARBINARY (varbinary).
pub(crate) const BIGVARBIN: u8 = 0xA5;
/// DATETIMEOFFSETN.
pub(crate) const DATETIMEOFFSETN: u8 = 0x2B;
/// Maximum length marking a `(max)` type, whose values use PLP encoding.
pub(crate) const MAX_LEN: u16 = 0xFFFF;
/// PLP length of a NULL value.
pub(crate) const PLP_NULL: u64 = u64::MAX;
/// PLP length when the total is not announced.
pub(crate) const PLP_UNKNOWN_LEN: u64 = u64::MAX - 1;
/// Chunk size for PLP values we send (any size is valid; several chunks exercise the client).
const PLP_CHUNK: usize = 64 * 1024;

/// NTEXT: `nvarchar(max)` for clients before TDS 7.2.
pub(crate) const NTEXT: u8 = 0x63;
/// IMAGE: `varbinary(max)` for clients before TDS 7.2.
pub(crate) const IMAGE: u8 = 0x22;
/// The largest `ntext` / `image` value, announced in TYPE_INFO.
const LONG_MAX_LEN: u32 = 0x7FFF_FFFF;
/// Text pointer and timestamp sent before an `ntext` / `image` value (any bytes will do: the
/// client only uses them for the long-obsolete UPDATETEXT).
const TEXT_POINTER: [u8; 16] = [0; 16];
const TEXT_TIMESTAMP: [u8; 8] = [0; 8];

/// Whether `ty` goes out as `ntext` / `image` to a client before TDS 7.2.
pub(crate) fn is_long(ty: SqlType) -> bool {
    matches!(ty, SqlType::NVarCharMax | SqlType::VarBinaryMax)
}

/// Writes the TYPE_INFO of a result column; `legacy` for a client before TDS 7.2, which
/// knows no `(max)` types: they go out as `ntext` / `image`, as SQL Server sends them.
pub(crate) fn put_type_info(buf: &mut Vec<u8>, ty: SqlType, legacy: bool) {
    match ty {
        SqlType::NVarCharMax if legacy => {
            buf.push(NTEXT);
            buf.extend_from_slice(&LONG_MAX_LEN.to_le_bytes());
            buf.extend_from_slice(&tokens::COLLATION);
        }
        SqlType::VarBinaryMax if legacy => {
            buf.push(IMAGE);
            buf.extend_from_slice(&LONG_MAX_LEN.to_le_bytes());
        }
        SqlType::Int => buf.extend_from_slice(&[INTN, 4]),
        SqlType::BigInt => buf.extend_from_slice(&[INTN, 8]),
        SqlType::NVarCharMax => {
            buf.push(NVARCHAR);
            buf.extend_from_slice(&MAX_LEN.to_le_bytes());
            buf.extend_from_slice(&tokens::COLLATION);
        }
        SqlType::VarBinaryMax => {
            buf.push(BIGVARBIN);
            buf.extend_from_slice(&MAX_LEN.to_le_bytes());
        }
        SqlType::DateTimeOffset => buf.extend_from_slice(&[DATETIMEOFFSETN, 7]),
    }
}

/// Writes one ROW value of `column` (`legacy` as in [`put_type_info`]); an error when the
/// value's type does not match.
pub(crate) fn put_value(
    buf: &mut Vec<u8>,
    column: &Column,
    value: &SqlValue,
    legacy: bool,
) -> Result<(), SqlError> {
    match (column.ty, value) {
        (SqlType::NVarCharMax, SqlValue::NVarChar(v)) if legacy => {
            put_long(buf, v.as_ref().map(|s| utf16le(s)).as_deref())?;
        }
        (SqlType::VarBinaryMax, SqlValue::VarBinary(v)) if legacy => {
            put_long(buf, v.as_deref())?;
        }
        (SqlType::Int, SqlValue::Int(v)) => match v {
            Some(v) => {
                buf.push(4);
                buf.extend_from_slice(&v.to_le_bytes());
            }
            None => buf.push(0),
        },
        (SqlType::BigInt, SqlValue::BigInt(v)) => match v {
            Some(v) => {
                buf.push(8);
                buf.extend_from_slice(&v.to_le_bytes());
            }
            None => buf.push(0),
        },
        (SqlType::NVarCharMax, SqlValue::NVarChar(v)) => {
            put_plp(buf, v.as_ref().map(|s| utf16le(s)).as_deref());
        }
        (SqlType::VarBinaryMax, SqlValue::VarBinary(v)) => put_plp(buf, v.as_deref()),
        (SqlType::DateTimeOffset, SqlValue::DateTimeOffset(v)) => match v {
            Some(v) => {
                let bytes = datetime::encode_scale7(v).ok_or_else(|| {
                    tokens::internal(&format!("datetimeoffset {v} is out of SQL Server's range"))
                })?;
                buf.push(10);
                buf.extend_from_slice(&bytes);
            }
            None => buf.push(0),
        },
        (ty, value) => {
            return Err(tokens::internal(&format!(
                "column `{}` is {ty:?} but the engine returned {value:?}",
                column.name
            )));
        }
    }
    Ok(())
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// An `ntext` / `image` value: text pointer, timestamp, 4-byte length, bytes; NULL is an
/// empty text pointer alone.
fn put_long(buf: &mut Vec<u8>, value: Option<&[u8]>) -> Result<(), SqlError> {
    let Some(bytes) = value else {
        buf.push(0);
        return Ok(());
    };
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|len| *len <= LONG_MAX_LEN)
        .ok_or_else(|| tokens::internal("value too long for ntext / image"))?;
    buf.push(16);
    buf.extend_from_slice(&TEXT_POINTER);
    buf.extend_from_slice(&TEXT_TIMESTAMP);
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(bytes);
    Ok(())
}

/// PLP encoding (MS-TDS 2.2.5.2.3): total length, chunks each prefixed by its length,
/// a zero-length terminator; NULL is the total length 0xFFFFFFFFFFFFFFFF alone.
fn put_plp(buf: &mut Vec<u8>, value: Option<&[u8]>) {
    let Some(bytes) = value else {
        buf.extend_from_slice(&PLP_NULL.to_le_bytes());
        return;
    };
    buf.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    for chunk in bytes.chunks(PLP_CHUNK) {
        // PLP_CHUNK fits in a u32.
        buf.extend_from_slice(&u32::try_from(chunk.len()).unwrap_or(0).to_le_bytes());
        buf.extend_from_slice(chunk);
    }
    buf.extend_from_slice(&0u32.to_le_bytes());
}
