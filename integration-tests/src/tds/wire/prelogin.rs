//! PRELOGIN (MS-TDS 2.2.6.5): an option table of (token, offset, length) entries followed
//! by the option data. We answer with our version, ENCRYPT_NOT_SUP and MARS off, so the
//! client continues in plain text.

use super::error::ProtocolError;
use super::reader::Reader;

const VERSION: u8 = 0x00;
const ENCRYPTION: u8 = 0x01;
const MARS: u8 = 0x04;
const TERMINATOR: u8 = 0xFF;
/// Encryption is not available on this server.
const ENCRYPT_NOT_SUP: u8 = 0x02;

/// Checks that the client's option table is well formed (every option inside the message).
pub(crate) fn validate_request(payload: &[u8]) -> Result<(), ProtocolError> {
    let mut r = Reader::new(payload);
    loop {
        if r.u8()? == TERMINATOR {
            return Ok(());
        }
        let offset = usize::from(u16::from_be_bytes([r.u8()?, r.u8()?]));
        let len = usize::from(u16::from_be_bytes([r.u8()?, r.u8()?]));
        if offset + len > payload.len() {
            return Err(ProtocolError::Malformed(
                "PRELOGIN option outside the message",
            ));
        }
    }
}

/// The server's PRELOGIN response payload.
pub(crate) fn response() -> Vec<u8> {
    let options: [(u8, &[u8]); 3] = [
        // SQL Server 16.0.4096, sub-build 0 (big-endian).
        (VERSION, &[16, 0, 0x10, 0x00, 0, 0]),
        (ENCRYPTION, &[ENCRYPT_NOT_SUP]),
        (MARS, &[0]),
    ];
    let mut table = Vec::new();
    let mut data = Vec::new();
    let mut offset = options.len() * 5 + 1;
    for (token, value) in options {
        table.push(token);
        // A few bytes of constant data: offsets and lengths always fit in a u16.
        table.extend_from_slice(&u16::try_from(offset).unwrap_or(0).to_be_bytes());
        table.extend_from_slice(&u16::try_from(value.len()).unwrap_or(0).to_be_bytes());
        data.extend_from_slice(value);
        offset += value.len();
    }
    table.push(TERMINATOR);
    table.extend_from_slice(&data);
    table
}
