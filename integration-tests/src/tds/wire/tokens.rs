//! Writers for the server's token stream (MS-TDS 2.2.7): the bytes of one response message.

use crate::tds::engine::{Column, SqlError, SqlValue};

use super::values;

/// DONE token (end of a statement in a batch).
pub(crate) const DONE: u8 = 0xFD;
/// DONEPROC token (end of a stored procedure, i.e. of the RPC).
pub(crate) const DONE_PROC: u8 = 0xFE;
/// DONEINPROC token (end of a statement inside a stored procedure).
pub(crate) const DONE_IN_PROC: u8 = 0xFF;

/// DONE status: more results follow.
pub(crate) const DONE_MORE: u16 = 0x01;
/// DONE status: the statement failed.
pub(crate) const DONE_ERROR: u16 = 0x02;
/// DONE status: the row count is valid.
pub(crate) const DONE_COUNT: u16 = 0x10;
/// DONE status: acknowledges an attention.
pub(crate) const DONE_ATTN: u16 = 0x20;

/// ENVCHANGE type: database.
pub(crate) const ENV_DATABASE: u8 = 1;
/// ENVCHANGE type: packet size.
pub(crate) const ENV_PACKET_SIZE: u8 = 4;
/// ENVCHANGE type: SQL collation.
pub(crate) const ENV_COLLATION: u8 = 7;

/// Server collation sent in ENVCHANGE and with every nvarchar column:
/// SQL_Latin1_General_CP1_CI_AS (LCID 0x0409, flags 0xD0, sort id 52).
pub(crate) const COLLATION: [u8; 5] = [0x09, 0x04, 0xD0, 0x00, 0x34];

/// Server name written into ERROR tokens.
pub(crate) const SERVER_NAME: &str = "tds-test-server";

/// Longest message text we send (us_varchar counts UTF-16 units in a u16).
const MAX_MESSAGE_CHARS: usize = 4000;

/// The TDS version of a login (LOGIN7's TDSVersion, e.g. `0x7400_0004`), which decides
/// encodings that changed between 7.1 and 7.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TdsVersion(pub(crate) u32);

impl TdsVersion {
    /// TDS 7.4, what the server speaks before a login says otherwise.
    pub(crate) const V7_4: Self = Self(0x7400_0004);
    /// TDS 7.2, which brought 8-byte row counts and `(max)` types (PLP).
    const V7_2: Self = Self(0x7209_0002);

    /// The version answered in LOGINACK: the client's, at most 7.4 (SQL Server answers a
    /// newer client with the newest it speaks).
    pub(crate) fn negotiate(client: u32) -> Self {
        Self(client.min(Self::V7_4.0))
    }

    /// Before 7.2: 4-byte DONE row counts, and `(max)` columns sent as `ntext` / `image`.
    pub(crate) fn is_pre_7_2(self) -> bool {
        self.0 < Self::V7_2.0
    }
}

/// Accumulates the tokens of one response.
pub(crate) struct TokenWriter {
    buf: Vec<u8>,
    version: TdsVersion,
}

impl TokenWriter {
    /// An empty token stream for a client speaking `version`.
    pub(crate) fn new(version: TdsVersion) -> Self {
        Self {
            buf: Vec::new(),
            version,
        }
    }

    /// The encoded tokens.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }

    /// DONE, DONEPROC or DONEINPROC with a status and a row count.
    pub(crate) fn done(&mut self, token: u8, status: u16, rows: u64) {
        self.buf.push(token);
        self.buf.extend_from_slice(&status.to_le_bytes());
        self.buf.extend_from_slice(&0u16.to_le_bytes()); // CurCmd: informational only
        if self.version.is_pre_7_2() {
            let rows = u32::try_from(rows).unwrap_or(u32::MAX);
            self.buf.extend_from_slice(&rows.to_le_bytes());
        } else {
            self.buf.extend_from_slice(&rows.to_le_bytes());
        }
    }

    /// RETURNSTATUS of a stored procedure.
    pub(crate) fn return_status(&mut self, status: i32) {
        self.buf.push(0x79);
        self.buf.extend_from_slice(&status.to_le_bytes());
    }

    /// ERROR token (state 1, line 1).
    pub(crate) fn error(&mut self, err: &SqlError, procedure: &str) {
        let mut body = Vec::new();
        body.extend_from_slice(&err.number.to_le_bytes());
        body.push(1); // state
        body.push(err.class);
        put_us_varchar(&mut body, &err.message);
        put_b_varchar(&mut body, SERVER_NAME);
        put_b_varchar(&mut body, procedure);
        // Line number: 4 bytes from TDS 7.2 on, 2 before.
        if self.version.is_pre_7_2() {
            body.extend_from_slice(&1u16.to_le_bytes());
        } else {
            body.extend_from_slice(&1u32.to_le_bytes());
        }
        self.length_prefixed(0xAA, &body);
    }

    /// ENVCHANGE carrying an old and a new string value.
    pub(crate) fn env_change_str(&mut self, ty: u8, new: &str, old: &str) {
        let mut body = vec![ty];
        put_b_varchar(&mut body, new);
        put_b_varchar(&mut body, old);
        self.length_prefixed(0xE3, &body);
    }

    /// ENVCHANGE carrying an old and a new binary value (collation).
    pub(crate) fn env_change_bytes(&mut self, ty: u8, new: &[u8], old: &[u8]) {
        let mut body = vec![ty];
        for value in [new, old] {
            // Callers pass 5-byte collations or nothing.
            body.push(u8::try_from(value.len()).unwrap_or(0));
            body.extend_from_slice(value);
        }
        self.length_prefixed(0xE3, &body);
    }

    /// LOGINACK: the login succeeded, for this writer's TDS version.
    pub(crate) fn login_ack(&mut self) {
        let mut body = vec![1]; // interface: SQL_TSQL
        // TDSVersion is sent most significant byte first (0x74000004 -> 74 00 00 04).
        body.extend_from_slice(&self.version.0.to_be_bytes());
        put_b_varchar(&mut body, "Microsoft SQL Server");
        body.extend_from_slice(&[16, 0, 0x10, 0x00]); // ProgVersion 16.0.4096
        self.length_prefixed(0xAD, &body);
    }

    /// COLMETADATA describing a result set.
    pub(crate) fn col_metadata(&mut self, columns: &[Column]) -> Result<(), SqlError> {
        let count = u16::try_from(columns.len())
            .ok()
            .filter(|n| *n < u16::MAX)
            .ok_or_else(|| internal("too many result columns"))?;
        self.buf.push(0x81);
        self.buf.extend_from_slice(&count.to_le_bytes());
        for column in columns {
            // UserType: 4 bytes from TDS 7.2 on, 2 before.
            if self.version.is_pre_7_2() {
                self.buf.extend_from_slice(&0u16.to_le_bytes());
            } else {
                self.buf.extend_from_slice(&0u32.to_le_bytes());
            }
            self.buf.extend_from_slice(&1u16.to_le_bytes()); // Flags: fNullable
            let legacy = self.version.is_pre_7_2();
            values::put_type_info(&mut self.buf, column.ty, legacy);
            if legacy && values::is_long(column.ty) {
                // TDS 7.1: a text / image column names its table (US_VARCHAR); none here.
                self.buf.extend_from_slice(&0u16.to_le_bytes());
            }
            put_b_varchar(&mut self.buf, &column.name);
        }
        Ok(())
    }

    /// ROW with one value per column.
    pub(crate) fn row(&mut self, columns: &[Column], row: &[SqlValue]) -> Result<(), SqlError> {
        if row.len() != columns.len() {
            return Err(internal(&format!(
                "row has {} values but the result set has {} columns",
                row.len(),
                columns.len()
            )));
        }
        self.buf.push(0xD1);
        for (column, value) in columns.iter().zip(row) {
            values::put_value(&mut self.buf, column, value, self.version.is_pre_7_2())?;
        }
        Ok(())
    }

    fn length_prefixed(&mut self, token: u8, body: &[u8]) {
        // Every body we build is far below 64 KiB (strings are truncated).
        let len = u16::try_from(body.len()).unwrap_or(u16::MAX);
        self.buf.push(token);
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(body);
    }
}

/// An error in what the engine produced, reported to the client instead of a result.
pub(crate) fn internal(message: &str) -> SqlError {
    SqlError {
        number: 50000,
        class: 16,
        message: format!("TDS test server: {message}"),
    }
}

/// B_VARCHAR: a UTF-16 string with a one-byte length in characters (truncated to 255).
pub(crate) fn put_b_varchar(buf: &mut Vec<u8>, s: &str) {
    let units: Vec<u16> = s.encode_utf16().take(usize::from(u8::MAX)).collect();
    buf.push(u8::try_from(units.len()).unwrap_or(u8::MAX));
    units
        .iter()
        .for_each(|u| buf.extend_from_slice(&u.to_le_bytes()));
}

/// US_VARCHAR: a UTF-16 string with a two-byte length in characters (truncated).
fn put_us_varchar(buf: &mut Vec<u8>, s: &str) {
    let units: Vec<u16> = s.encode_utf16().take(MAX_MESSAGE_CHARS).collect();
    buf.extend_from_slice(&u16::try_from(units.len()).unwrap_or(0).to_le_bytes());
    units
        .iter()
        .for_each(|u| buf.extend_from_slice(&u.to_le_bytes()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_row_counts_are_4_bytes_before_tds_7_2() {
        let done = |version| {
            let mut w = TokenWriter::new(version);
            w.done(DONE, DONE_COUNT, 3);
            w.finish()
        };
        assert_eq!(
            done(TdsVersion(0x7100_0001)),
            [0xFD, 0x10, 0, 0, 0, 3, 0, 0, 0]
        );
        assert_eq!(done(TdsVersion::V7_4).len(), 13);
        assert_eq!(TdsVersion::negotiate(0x7500_0000), TdsVersion::V7_4);
        assert!(TdsVersion::negotiate(0x730B_0003) == TdsVersion(0x730B_0003));
    }
}
