//! LOGIN7 (MS-TDS 2.2.6.4): a fixed header, then (offset, length-in-characters) pairs
//! pointing at UTF-16 strings. We need the TDS version, packet size, user, password and
//! database; the password is obfuscated by swapping each byte's nibbles and XOR-ing 0xA5.

use super::error::ProtocolError;
use super::packet::{DEFAULT_PACKET_SIZE, MAX_PACKET_SIZE, MIN_PACKET_SIZE};
use super::reader::{Reader, utf16_to_string};

/// Offset of the first (offset, length) pair (ibHostName) in the LOGIN7 header.
const FIELDS_START: usize = 36;
const USER_NAME: usize = 1;
const PASSWORD: usize = 2;
const DATABASE: usize = 8;
/// OptionFlags2 bit: integrated (Windows) security.
const INTEGRATED_SECURITY: u8 = 0x80;

/// What we use from a LOGIN7 message.
#[derive(Debug)]
pub(crate) struct Login7 {
    /// TDS version requested by the client (echoed in LOGINACK).
    pub(crate) tds_version: u32,
    /// Packet size the client asks for, clamped to what SQL Server allows.
    pub(crate) packet_size: usize,
    /// Login name.
    pub(crate) user: String,
    /// Clear-text password.
    pub(crate) password: String,
    /// Initial database (empty: the server's default).
    pub(crate) database: String,
    /// The client wants Windows authentication, which this server does not offer.
    pub(crate) integrated_security: bool,
}

/// Parses a LOGIN7 payload.
pub(crate) fn parse(payload: &[u8]) -> Result<Login7, ProtocolError> {
    let mut r = Reader::new(payload);
    let _length = r.u32_le()?;
    let tds_version = r.u32_le()?;
    let requested = usize::try_from(r.u32_le()?).unwrap_or(usize::MAX);
    r.skip(12)?; // ClientProgVer, ClientPID, ConnectionID
    let _flags1 = r.u8()?;
    let flags2 = r.u8()?;
    let packet_size = if requested == 0 {
        DEFAULT_PACKET_SIZE
    } else {
        requested.clamp(MIN_PACKET_SIZE, MAX_PACKET_SIZE)
    };

    let password_bytes: Vec<u8> = field(payload, PASSWORD)?
        .iter()
        .map(|b| (b ^ 0xA5).rotate_left(4))
        .collect();
    Ok(Login7 {
        tds_version,
        packet_size,
        user: utf16_to_string(field(payload, USER_NAME)?)?,
        password: utf16_to_string(&password_bytes)?,
        database: utf16_to_string(field(payload, DATABASE)?)?,
        integrated_security: flags2 & INTEGRATED_SECURITY != 0,
    })
}

/// The raw UTF-16 bytes of the `index`-th variable field.
fn field(payload: &[u8], index: usize) -> Result<&[u8], ProtocolError> {
    let mut r = Reader::new(payload);
    r.skip(FIELDS_START + index * 4)?;
    let offset = usize::from(r.u16_le()?);
    let chars = usize::from(r.u16_le()?);
    let mut r = Reader::new(payload);
    r.skip(offset)?;
    r.bytes(chars * 2)
}
