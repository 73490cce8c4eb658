//! Token streams answering a request: result sets and row counts, errors, the login result.
//!
//! A batch ends each statement with DONE; an RPC ends each statement with DONEINPROC and
//! the call with RETURNSTATUS + DONEPROC, as SQL Server does for `sp_executesql`. Every
//! DONE/DONEINPROC but the last sets DONE_MORE. tiberius' `ExecuteResult::rows_affected()`
//! lists the counts of the DONE and DONEINPROC tokens in order: one per result set (its row
//! count), then the engine's `rows_affected`.

use crate::tds::engine::{Column, Outcome, SqlError, SqlType, SqlValue};

use super::tokens::{
    COLLATION, DONE, DONE_ATTN, DONE_COUNT, DONE_ERROR, DONE_IN_PROC, DONE_MORE, DONE_PROC,
    ENV_COLLATION, ENV_DATABASE, ENV_PACKET_SIZE, TdsVersion, TokenWriter,
};

/// How the request arrived, which decides the DONE token flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// SQLBatch.
    Batch,
    /// RPC (`sp_executesql`).
    Rpc,
}

/// The response to a successful statement. If the engine's outcome cannot be encoded
/// (a value of the wrong type, a ragged row), the client gets an error instead.
pub(crate) fn outcome(v: TdsVersion, kind: Kind, outcome: &Outcome) -> Vec<u8> {
    encode_outcome(v, kind, outcome).unwrap_or_else(|err| error(v, kind, &err))
}

fn encode_outcome(v: TdsVersion, kind: Kind, outcome: &Outcome) -> Result<Vec<u8>, SqlError> {
    let mut w = TokenWriter::new(v);
    let statement_done = match kind {
        Kind::Batch => DONE,
        Kind::Rpc => DONE_IN_PROC,
    };
    let counts: Vec<u64> = outcome
        .result_sets
        .iter()
        .map(|rs| rs.rows.len() as u64)
        .chain(outcome.rows_affected)
        .collect();
    // After the last statement's token a batch is complete; an RPC still sends DONEPROC.
    let status = |i: usize| {
        let last = i + 1 == counts.len() && kind == Kind::Batch;
        DONE_COUNT | if last { 0 } else { DONE_MORE }
    };
    for (i, rs) in outcome.result_sets.iter().enumerate() {
        w.col_metadata(&rs.columns)?;
        for row in &rs.rows {
            w.row(&rs.columns, row)?;
        }
        w.done(statement_done, status(i), counts[i]);
    }
    if let Some(rows) = outcome.rows_affected {
        let i = counts.len() - 1;
        w.done(statement_done, status(i), rows);
    }
    match kind {
        Kind::Batch if counts.is_empty() => w.done(DONE, 0, 0),
        Kind::Batch => {}
        Kind::Rpc => {
            w.return_status(0);
            w.done(DONE_PROC, 0, 0);
        }
    }
    Ok(w.finish())
}

/// An ERROR token followed by a DONE (batch) or DONEPROC (RPC) with the error bit.
pub(crate) fn error(v: TdsVersion, kind: Kind, err: &SqlError) -> Vec<u8> {
    let mut w = TokenWriter::new(v);
    match kind {
        Kind::Batch => {
            w.error(err, "");
            w.done(DONE, DONE_ERROR, 0);
        }
        Kind::Rpc => {
            w.error(err, "");
            w.done(DONE_PROC, DONE_ERROR, 0);
        }
    }
    w.finish()
}

/// The built-in answer to `SELECT 1` (pool validation): one unnamed int column, one row.
pub(crate) fn select_one(v: TdsVersion, kind: Kind) -> Vec<u8> {
    let one = Outcome {
        result_sets: vec![crate::tds::engine::ResultSet {
            columns: vec![Column {
                name: String::new(),
                ty: SqlType::Int,
            }],
            rows: vec![vec![SqlValue::Int(Some(1))]],
        }],
        rows_affected: None,
    };
    outcome(v, kind, &one)
}

/// Acknowledges an ATTENTION (cancel): a DONE with the attention bit.
pub(crate) fn attention_ack(v: TdsVersion) -> Vec<u8> {
    let mut w = TokenWriter::new(v);
    w.done(DONE, DONE_ATTN, 0);
    w.finish()
}

/// Successful login: database, collation and packet size changes, LOGINACK, DONE.
pub(crate) fn login_ok(v: TdsVersion, database: &str, packet_size: usize) -> Vec<u8> {
    let mut w = TokenWriter::new(v);
    w.env_change_str(ENV_DATABASE, database, "master");
    w.env_change_bytes(ENV_COLLATION, &COLLATION, &[]);
    let size = packet_size.to_string();
    w.env_change_str(ENV_PACKET_SIZE, &size, &size);
    w.login_ack();
    w.done(DONE, 0, 0);
    w.finish()
}

/// Failed login: ERROR (e.g. 18456) and DONE with the error bit.
pub(crate) fn login_failed(v: TdsVersion, err: &SqlError) -> Vec<u8> {
    error(v, Kind::Batch, err)
}
