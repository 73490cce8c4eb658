//! SQLBatch (MS-TDS 2.2.6.7) and RPC `sp_executesql` (MS-TDS 2.2.6.6) requests, decoded into
//! the statement text and its parameters.

use crate::tds::engine::{SqlParam, SqlValue};

use super::error::ProtocolError;
use super::params::{self, Declarations};
use super::reader::{Reader, utf16_to_string};

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

/// ALL_HEADERS (transaction descriptor etc.): a total length that includes itself.
fn skip_all_headers(r: &mut Reader<'_>) -> Result<(), ProtocolError> {
    let total = usize::try_from(r.u32_le()?).unwrap_or(usize::MAX);
    let rest = total
        .checked_sub(4)
        .ok_or(ProtocolError::Malformed("ALL_HEADERS length below 4"))?;
    r.skip(rest)
}

/// A SQLBatch: ALL_HEADERS then the UTF-16LE text up to the end of the message.
pub(crate) fn parse_batch(payload: &[u8]) -> Result<Statement, ProtocolError> {
    let mut r = Reader::new(payload);
    skip_all_headers(&mut r)?;
    let text = r.bytes(r.remaining())?;
    Ok(Statement {
        sql: utf16_to_string(text)?,
        params: Vec::new(),
    })
}

/// An RPC request calling `sp_executesql` with `@stmt`, `@params` and the declared parameters.
pub(crate) fn parse_rpc(payload: &[u8]) -> Result<Statement, ProtocolError> {
    let mut r = Reader::new(payload);
    skip_all_headers(&mut r)?;
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

    let (_, stmt) = read_param(&mut r, &Declarations::default())?;
    let SqlValue::NVarChar(Some(sql)) = stmt else {
        return Err(ProtocolError::Unsupported(
            "sp_executesql @stmt must be a non-NULL nvarchar".into(),
        ));
    };
    let declarations = if r.remaining() > 0 {
        match read_param(&mut r, &Declarations::default())? {
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
        let (name, value) = read_param(&mut r, &declarations)?;
        params.push(SqlParam { name, value });
    }
    Ok(Statement { sql, params })
}

/// One ParameterData: B_VARCHAR name, status flags, TYPE_INFO and value.
fn read_param(
    r: &mut Reader<'_>,
    declarations: &Declarations,
) -> Result<(String, SqlValue), ProtocolError> {
    let name_len = usize::from(r.u8()?);
    let name = r.utf16(name_len)?;
    let _status = r.u8()?;
    let value = params::read_value(r, declarations.get(&name))?;
    Ok((name, value))
}
