//! SQLBatch (MS-TDS 2.2.6.7) and RPC `sp_executesql` (MS-TDS 2.2.6.6) requests, decoded into
//! the statement text and its parameters.

use crate::tds::engine::{SqlParam, SqlValue};

use super::error::ProtocolError;
use super::params::{self, Declarations};
use super::reader::{Reader, utf16_to_string};
use super::tokens::TdsVersion;

/// Well-known ProcID of `sp_executesql`.
const SP_EXECUTESQL_ID: u16 = 10;

/// A statement to execute.
#[derive(Debug)]
pub(crate) struct Statement {
    /// The SQL text.
    pub(crate) sql: String,
    /// Its parameters (empty for a batch).
    pub(crate) params: Vec<SqlParam>,
}

/// ALL_HEADERS (transaction descriptor etc.): a total length that includes itself. Requests
/// carry them from TDS 7.2 on; a 7.1 request starts with its data.
pub(crate) fn skip_all_headers(
    r: &mut Reader<'_>,
    version: TdsVersion,
) -> Result<(), ProtocolError> {
    if version.is_pre_7_2() {
        return Ok(());
    }
    let total = usize::try_from(r.u32_le()?).unwrap_or(usize::MAX);
    let rest = total
        .checked_sub(4)
        .ok_or(ProtocolError::Malformed("ALL_HEADERS length below 4"))?;
    r.skip(rest)
}

/// A SQLBatch: ALL_HEADERS then the UTF-16LE text up to the end of the message.
pub(crate) fn parse_batch(payload: &[u8], version: TdsVersion) -> Result<Statement, ProtocolError> {
    let mut r = Reader::new(payload);
    skip_all_headers(&mut r, version)?;
    let text = r.bytes(r.remaining())?;
    Ok(Statement {
        sql: utf16_to_string(text)?,
        params: Vec::new(),
    })
}

/// An RPC request calling `sp_executesql` with `@stmt`, `@params` and the declared parameters.
pub(crate) fn parse_rpc(payload: &[u8], version: TdsVersion) -> Result<Statement, ProtocolError> {
    let mut r = Reader::new(payload);
    skip_all_headers(&mut r, version)?;
    let name_len = r.u16_le()?;
    if name_len == 0xFFFF {
        let id = r.u16_le()?;
        if id != SP_EXECUTESQL_ID {
            return Err(ProtocolError::Unsupported(format!("RPC procedure id {id}")));
        }
    } else {
        let name = r.utf16(usize::from(name_len))?;
        let bare = name.rsplit('.').next().unwrap_or(&name);
        if !bare.eq_ignore_ascii_case("sp_executesql") {
            return Err(ProtocolError::Unsupported(format!(
                "stored procedure {name}"
            )));
        }
    }
    let _option_flags = r.u16_le()?;

    let (_, stmt) = read_param(&mut r, &Declarations::default(), None)?;
    let SqlValue::NVarChar(Some(sql)) = stmt else {
        return Err(ProtocolError::Unsupported(
            "sp_executesql @stmt must be a non-NULL nvarchar".into(),
        ));
    };
    let declarations = if r.remaining() > 0 {
        match read_param(&mut r, &Declarations::default(), None)? {
            (_, SqlValue::NVarChar(decl)) => Declarations::parse(decl.as_deref().unwrap_or("")),
            _ => {
                return Err(ProtocolError::Unsupported(
                    "sp_executesql @params must be an nvarchar".into(),
                ));
            }
        }
    } else {
        Declarations::default()
    };

    let mut params = Vec::new();
    while r.remaining() > 0 {
        // A value without a name is positional: it is the parameter declared at its position,
        // as SQL Server binds it.
        let position = declarations.name_at(params.len());
        let (name, value) = read_param(&mut r, &declarations, position)?;
        params.push(SqlParam { name, value });
    }
    Ok(Statement { sql, params })
}

/// One ParameterData: B_VARCHAR name, status flags, TYPE_INFO and value; an unnamed one takes
/// `positional` as its name.
fn read_param(
    r: &mut Reader<'_>,
    declarations: &Declarations,
    positional: Option<&str>,
) -> Result<(String, SqlValue), ProtocolError> {
    let name_len = usize::from(r.u8()?);
    let mut name = r.utf16(name_len)?;
    if name.is_empty() {
        name = positional.unwrap_or_default().to_owned();
    }
    let _status = r.u8()?;
    let value = params::read_value(r, declarations.get(&name))?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RPC `sp_executesql` by id, with the statement, its declarations and `values`, each
    /// unnamed (positional) int.
    fn rpc(values: &[i32], all_headers: bool) -> Vec<u8> {
        let utf16 = |s: &str| {
            s.encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect::<Vec<_>>()
        };
        let nvarchar = |p: &mut Vec<u8>, s: &str| {
            p.extend_from_slice(&[0, 0, 0xE7, 0x40, 0x1F, 0, 0, 0, 0, 0]);
            let bytes = utf16(s);
            p.extend_from_slice(&u16::try_from(bytes.len()).unwrap().to_le_bytes());
            p.extend_from_slice(&bytes);
        };
        let mut p = Vec::new();
        if all_headers {
            p.extend_from_slice(&4u32.to_le_bytes());
        }
        p.extend_from_slice(&[0xFF, 0xFF, 10, 0, 0, 0]);
        nvarchar(&mut p, "SELECT @A + @B");
        nvarchar(&mut p, "@A int, @B int");
        for v in values {
            p.extend_from_slice(&[0, 0, 0x26, 4, 4]);
            p.extend_from_slice(&v.to_le_bytes());
        }
        p
    }

    #[test]
    fn positional_values_take_the_declared_names() {
        let statement = parse_rpc(&rpc(&[1, 2], true), TdsVersion::V7_4).unwrap();
        let names: Vec<_> = statement.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["@A", "@B"]);
        assert_eq!(statement.params[1].value, SqlValue::Int(Some(2)));
    }

    #[test]
    fn requests_before_tds_7_2_have_no_all_headers() {
        let statement = parse_rpc(&rpc(&[7], false), TdsVersion(0x7100_0001)).unwrap();
        assert_eq!(statement.sql, "SELECT @A + @B");
        assert!(parse_rpc(&rpc(&[7], false), TdsVersion::V7_4).is_err());
    }
}
