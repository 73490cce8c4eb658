//! Transaction-manager requests (MS-TDS 2.2.6.9), which clients such as `pytds` send to begin,
//! commit and roll back transactions when not in autocommit mode.
//!
//! The engines have no transactions: every statement applies at once, and each of the cache
//! provider's statements is atomic on its own (the provider never sends these requests). The
//! server answers them as SQL Server does (ENVCHANGE with a transaction descriptor, DONE), so
//! such clients work; a rollback undoes nothing.

use super::error::ProtocolError;
use super::reader::Reader;
use super::request::skip_all_headers;
use super::tokens::{DONE, TdsVersion, TokenWriter};

const TM_BEGIN_XACT: u16 = 5;
const TM_COMMIT_XACT: u16 = 7;
const TM_ROLLBACK_XACT: u16 = 8;
/// XactFlags bit of COMMIT / ROLLBACK: begin a new transaction right after.
const BEGIN_NEW: u8 = 0x01;

const ENV_BEGIN: u8 = 8;
const ENV_COMMIT: u8 = 9;
const ENV_ROLLBACK: u8 = 10;

/// A decoded request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request {
    Begin,
    Commit { begin_new: bool },
    Rollback { begin_new: bool },
}

/// Parses the payload (ALL_HEADERS from TDS 7.2 on, RequestType, request data).
pub(crate) fn parse(payload: &[u8], version: TdsVersion) -> Result<Request, ProtocolError> {
    let mut r = Reader::new(payload);
    skip_all_headers(&mut r, version)?;
    let ty = r.u16_le()?;
    let end_flags = |r: &mut Reader<'_>| -> Result<bool, ProtocolError> {
        let name_len = usize::from(r.u8()?);
        r.skip(name_len * 2)?;
        Ok(r.u8()? & BEGIN_NEW != 0)
    };
    match ty {
        TM_BEGIN_XACT => Ok(Request::Begin),
        TM_COMMIT_XACT => Ok(Request::Commit {
            begin_new: end_flags(&mut r)?,
        }),
        TM_ROLLBACK_XACT => Ok(Request::Rollback {
            begin_new: end_flags(&mut r)?,
        }),
        other => Err(ProtocolError::Unsupported(format!(
            "transaction manager request {other}"
        ))),
    }
}

/// A connection's transaction descriptors.
#[derive(Debug, Default)]
pub(crate) struct Transactions {
    /// The open transaction's descriptor.
    open: Option<u64>,
    next: u64,
}

impl Transactions {
    /// The answer to `request`: ENVCHANGEs for what ended and began, then DONE.
    pub(crate) fn answer(&mut self, version: TdsVersion, request: Request) -> Vec<u8> {
        let mut w = TokenWriter::new(version);
        let (end, begin) = match request {
            Request::Begin => (None, true),
            Request::Commit { begin_new } => (Some(ENV_COMMIT), begin_new),
            Request::Rollback { begin_new } => (Some(ENV_ROLLBACK), begin_new),
        };
        if let Some(ty) = end {
            let old = self.open.take().map(u64::to_le_bytes).unwrap_or_default();
            w.env_change_bytes(ty, &[], &old);
        }
        if begin {
            self.next += 1;
            self.open = Some(self.next);
            w.env_change_bytes(ENV_BEGIN, &self.next.to_le_bytes(), &[]);
        }
        w.done(DONE, 0, 0);
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(ty: u16, rest: &[u8]) -> Vec<u8> {
        let mut p = 4u32.to_le_bytes().to_vec();
        p.extend_from_slice(&ty.to_le_bytes());
        p.extend_from_slice(rest);
        p
    }

    fn parse_74(payload: &[u8]) -> Result<Request, ProtocolError> {
        parse(payload, TdsVersion::V7_4)
    }

    #[test]
    fn requests_parse() {
        assert_eq!(parse_74(&payload(5, &[0, 0])).unwrap(), Request::Begin);
        assert_eq!(
            parse_74(&payload(7, &[0, 1, 0, 0])).unwrap(),
            Request::Commit { begin_new: true }
        );
        assert_eq!(
            parse_74(&payload(8, &[0, 0])).unwrap(),
            Request::Rollback { begin_new: false }
        );
        assert!(matches!(
            parse_74(&payload(0, &[])),
            Err(ProtocolError::Unsupported(_))
        ));
        assert!(parse_74(&[1, 2]).is_err());
    }

    #[test]
    fn commit_ends_the_open_transaction_and_may_begin_the_next() {
        let mut t = Transactions::default();
        t.answer(TdsVersion::V7_4, Request::Begin);
        assert_eq!(t.open, Some(1));
        let answer = t.answer(TdsVersion::V7_4, Request::Commit { begin_new: true });
        assert_eq!(t.open, Some(2));
        // ENVCHANGE commit (old descriptor 1), ENVCHANGE begin (new descriptor 2), DONE.
        assert_eq!(answer[0], 0xE3);
        assert_eq!(answer[3], ENV_COMMIT);
        t.answer(TdsVersion::V7_4, Request::Rollback { begin_new: false });
        assert_eq!(t.open, None);
    }
}
