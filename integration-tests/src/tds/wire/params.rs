//! RPC parameter values (MS-TDS 2.2.6.6 ParameterData): TYPE_INFO followed by the value,
//! decoded into [`SqlValue`]s. tiberius sends every NULL as the NULLTYPE (0x1F) without any
//! type information, so NULLs take their type from the `@params` declaration string.

use std::collections::HashMap;

use bytes::Bytes;

use crate::tds::engine::SqlValue;

use super::error::ProtocolError;
use super::reader::{Reader, utf16_to_string};
use super::values::{BIGVARBIN, DATETIMEOFFSETN, IMAGE, INTN, MAX_LEN, NTEXT, NVARCHAR, PLP_NULL};
use super::{datetime, values::PLP_UNKNOWN_LEN};

const NULLTYPE: u8 = 0x1F;
const INT1: u8 = 0x30;
const INT2: u8 = 0x34;
const INT4: u8 = 0x38;
const INT8: u8 = 0x7F;
const NCHAR: u8 = 0xEF;
const BIGBINARY: u8 = 0xAD;

/// Parameter types declared in `sp_executesql`'s `@params` (`@P1 bigint,@P2 nvarchar(4000)`),
/// keyed by lower-case name, as lower-case base type names (`nvarchar`), and the names in
/// declaration order (positional values take them by position).
#[derive(Debug, Default)]
pub(crate) struct Declarations(HashMap<String, String>, Vec<String>);

impl Declarations {
    /// Parses a declaration list; commas inside parentheses (`decimal(18,2)`) do not split.
    pub(crate) fn parse(decl: &str) -> Self {
        let mut map = HashMap::new();
        let mut order = Vec::new();
        let mut depth = 0usize;
        let mut start = 0;
        let mut items = Vec::new();
        for (i, c) in decl.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                ',' if depth == 0 => {
                    items.push(&decl[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        items.push(&decl[start..]);
        for item in items {
            let mut words = item.split_whitespace();
            if let (Some(name), Some(ty)) = (words.next(), words.next()) {
                let base = ty.split('(').next().unwrap_or(ty).to_ascii_lowercase();
                map.insert(name.to_ascii_lowercase(), base);
                order.push(name.to_owned());
            }
        }
        Self(map, order)
    }

    /// The name of the `index`-th declared parameter (from 0).
    pub(crate) fn name_at(&self, index: usize) -> Option<&str> {
        self.1.get(index).map(String::as_str)
    }

    /// The declared base type of a parameter.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

/// Reads TYPE_INFO and the value of one parameter.
pub(crate) fn read_value(
    r: &mut Reader<'_>,
    declared: Option<&str>,
) -> Result<SqlValue, ProtocolError> {
    let ty = r.u8()?;
    match ty {
        NULLTYPE => null_of(declared),
        INT1 => Ok(SqlValue::Int(Some(i32::from(r.u8()?)))),
        INT2 => Ok(SqlValue::Int(Some(i32::from(r.i16_le()?)))),
        INT4 => Ok(SqlValue::Int(Some(r.i32_le()?))),
        INT8 => Ok(SqlValue::BigInt(Some(r.i64_le()?))),
        INTN => {
            let max_len = r.u8()?;
            let len = r.u8()?;
            let wide = max_len == 8;
            Ok(match len {
                0 if wide => SqlValue::BigInt(None),
                0 => SqlValue::Int(None),
                1 => SqlValue::Int(Some(i32::from(r.u8()?))),
                2 => SqlValue::Int(Some(i32::from(r.i16_le()?))),
                4 if wide => SqlValue::BigInt(Some(i64::from(r.i32_le()?))),
                4 => SqlValue::Int(Some(r.i32_le()?)),
                8 => SqlValue::BigInt(Some(r.i64_le()?)),
                _ => return Err(ProtocolError::Malformed("invalid INTN length")),
            })
        }
        NVARCHAR | NCHAR => {
            let max_len = r.u16_le()?;
            r.skip(5)?; // collation
            let bytes = read_var_bytes(r, max_len)?;
            Ok(SqlValue::NVarChar(
                bytes.map(|b| utf16_to_string(&b)).transpose()?,
            ))
        }
        // Long values, as clients before TDS 7.2 send strings and bytes (no `(max)` types):
        // TYPE_INFO is a 4-byte maximum length (and a collation for `ntext`), the value a
        // 4-byte length (all ones for NULL) and the bytes.
        NTEXT => {
            let _max_len = r.u32_le()?;
            r.skip(5)?; // collation
            let bytes = read_long(r)?;
            Ok(SqlValue::NVarChar(
                bytes.map(|b| utf16_to_string(&b)).transpose()?,
            ))
        }
        IMAGE => {
            let _max_len = r.u32_le()?;
            Ok(SqlValue::VarBinary(read_long(r)?.map(Bytes::from)))
        }
        BIGVARBIN | BIGBINARY => {
            let max_len = r.u16_le()?;
            let bytes = read_var_bytes(r, max_len)?;
            Ok(SqlValue::VarBinary(bytes.map(Bytes::from)))
        }
        DATETIMEOFFSETN => {
            let scale = r.u8()?;
            let time_len = datetime::time_len(scale)
                .ok_or(ProtocolError::Malformed("invalid datetimeoffset scale"))?;
            let len = usize::from(r.u8()?);
            if len == 0 {
                return Ok(SqlValue::DateTimeOffset(None));
            }
            if len != time_len + 5 {
                return Err(ProtocolError::Malformed("invalid datetimeoffset length"));
            }
            let mut increments = [0u8; 8];
            increments[..time_len].copy_from_slice(r.bytes(time_len)?);
            let mut days = [0u8; 4];
            days[..3].copy_from_slice(r.bytes(3)?);
            let offset = r.i16_le()?;
            let value = datetime::decode(
                scale,
                u64::from_le_bytes(increments),
                u32::from_le_bytes(days),
                offset,
            )?;
            Ok(SqlValue::DateTimeOffset(Some(value)))
        }
        other => Err(ProtocolError::Unsupported(format!(
            "parameter TYPE_INFO 0x{other:02X}"
        ))),
    }
}

/// A NULL of the declared type.
fn null_of(declared: Option<&str>) -> Result<SqlValue, ProtocolError> {
    Ok(match declared {
        Some("int" | "smallint" | "tinyint") => SqlValue::Int(None),
        Some("bigint") => SqlValue::BigInt(None),
        Some("nvarchar" | "nchar" | "ntext" | "varchar" | "char" | "text") => {
            SqlValue::NVarChar(None)
        }
        Some("varbinary" | "binary" | "image") => SqlValue::VarBinary(None),
        Some("datetimeoffset") => SqlValue::DateTimeOffset(None),
        other => {
            return Err(ProtocolError::Unsupported(format!(
                "NULL parameter of declared type {other:?}"
            )));
        }
    })
}

/// A USHORTLEN value (`len == 0xFFFF` is NULL) or, for `(max)` types, a PLP value.
fn read_var_bytes(r: &mut Reader<'_>, max_len: u16) -> Result<Option<Vec<u8>>, ProtocolError> {
    if max_len == MAX_LEN {
        return read_plp(r);
    }
    match r.u16_le()? {
        0xFFFF => Ok(None),
        len => Ok(Some(r.bytes(usize::from(len))?.to_vec())),
    }
}

/// A LONGLEN value of `ntext` / `image`: u32 length (`0xFFFFFFFF` is NULL), then the bytes.
fn read_long(r: &mut Reader<'_>) -> Result<Option<Vec<u8>>, ProtocolError> {
    match r.u32_le()? {
        u32::MAX => Ok(None),
        len => {
            let len = usize::try_from(len)
                .map_err(|_| ProtocolError::Malformed("long value too large"))?;
            Ok(Some(r.bytes(len)?.to_vec()))
        }
    }
}

/// PLP: u64 total length (or NULL / unknown), then u32-length chunks until a 0 terminator.
fn read_plp(r: &mut Reader<'_>) -> Result<Option<Vec<u8>>, ProtocolError> {
    let total = r.u64_le()?;
    if total == PLP_NULL {
        return Ok(None);
    }
    let mut data = Vec::new();
    loop {
        let chunk = r.u32_le()?;
        if chunk == 0 {
            break;
        }
        let chunk =
            usize::try_from(chunk).map_err(|_| ProtocolError::Malformed("PLP chunk too large"))?;
        data.extend_from_slice(r.bytes(chunk)?);
    }
    if total != PLP_UNKNOWN_LEN && total != data.len() as u64 {
        return Err(ProtocolError::Malformed(
            "PLP chunks do not add up to the announced length",
        ));
    }
    Ok(Some(data))
}
