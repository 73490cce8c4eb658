//! The boundary between the TDS protocol layer and whatever executes statements.

use bytes::Bytes;
use chrono::{DateTime, FixedOffset};

/// A typed SQL value as it crosses the wire (parameters in, columns out).
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// `int` (4 bytes), e.g. `SELECT 1`.
    Int(Option<i32>),
    /// `bigint`.
    BigInt(Option<i64>),
    /// `nvarchar(n)` / `nvarchar(max)`.
    NVarChar(Option<String>),
    /// `varbinary(n)` / `varbinary(max)`.
    VarBinary(Option<Bytes>),
    /// `datetimeoffset(7)`.
    DateTimeOffset(Option<DateTime<FixedOffset>>),
}

/// A named, typed parameter of an RPC call (`@P1`, `@P2`, ... as tiberius names them).
#[derive(Debug, Clone, PartialEq)]
pub struct SqlParam {
    /// Parameter name including the `@`.
    pub name: String,
    /// Its value.
    pub value: SqlValue,
}

/// The SQL type of a result column (the protocol layer needs it to write COLMETADATA even for zero rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    /// `int`.
    Int,
    /// `bigint`.
    BigInt,
    /// `nvarchar(max)`.
    NVarCharMax,
    /// `varbinary(max)`.
    VarBinaryMax,
    /// `datetimeoffset(7)`.
    DateTimeOffset,
}

/// One result column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name (may be empty).
    pub name: String,
    /// Column type.
    pub ty: SqlType,
}

/// One result set: columns and rows (each row has one value per column, of the column's type).
#[derive(Debug, Clone, PartialEq)]
pub struct ResultSet {
    /// The columns.
    pub columns: Vec<Column>,
    /// The rows.
    pub rows: Vec<Vec<SqlValue>>,
}

/// What one batch or RPC call produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    /// Result sets in order (none for a pure DML batch).
    pub result_sets: Vec<ResultSet>,
    /// Rows affected by the last DML statement (reported in the final DONE token), if any.
    pub rows_affected: Option<u64>,
}

/// A SQL error to send as an ERROR token (e.g. number 2627 for a primary key violation,
/// 208 for an unknown object, 18456 for a failed login).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    /// Error number.
    pub number: u32,
    /// Severity class (16 for user errors, 14 for login failures).
    pub class: u8,
    /// Message text.
    pub message: String,
}

/// Executes statements for the test server. The text is exactly what the client sent
/// (SQLBatch text, or the `@stmt` argument of `sp_executesql`).
pub trait SqlEngine: Send + Sync + 'static {
    /// Executes one batch or RPC statement with its parameters (empty for SQLBatch).
    ///
    /// # Errors
    /// A [`SqlError`] that the server sends to the client as an ERROR token.
    fn execute(&self, sql: &str, params: &[SqlParam]) -> Result<Outcome, SqlError>;
}
