//! PRELOGIN (MS-TDS 2.2.6.5): an option table of (token, offset, length) entries followed
//! by the option data. We answer with our version, the encryption both sides settle on (see
//! [`negotiate`]) and MARS off.

use super::error::ProtocolError;
use super::reader::Reader;

const VERSION: u8 = 0x00;
const ENCRYPTION: u8 = 0x01;
const MARS: u8 = 0x04;
const TERMINATOR: u8 = 0xFF;
/// Encrypt the login packet only.
const ENCRYPT_OFF: u8 = 0x00;
/// Encrypt everything (client: wants it; server: will).
const ENCRYPT_ON: u8 = 0x01;
/// Encryption is not available.
const ENCRYPT_NOT_SUP: u8 = 0x02;
/// Encryption is required.
const ENCRYPT_REQ: u8 = 0x03;

/// What the connection does after PRELOGIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encryption {
    /// Plain text throughout.
    None,
    /// TLS for the LOGIN7 packet, plain text from the login response on.
    LoginOnly,
    /// TLS from the LOGIN7 packet on, for the life of the connection.
    Full,
}

/// The server's side of the encryption negotiation (MS-TDS 2.2.6.5, ENCRYPTION): `offer` is
/// `None` without a certificate, else whether the server requires encryption. Returns the
/// byte to answer and what follows, or `None` when the client cannot meet the server's
/// requirement (the server then closes, as SQL Server does).
pub(crate) fn negotiate(client: u8, offer: Option<bool>) -> Option<(u8, Encryption)> {
    match (offer, client) {
        (None, ENCRYPT_REQ | ENCRYPT_ON) => None,
        (None, _) => Some((ENCRYPT_NOT_SUP, Encryption::None)),
        (Some(true), ENCRYPT_NOT_SUP) => None,
        (Some(true), _) => Some((ENCRYPT_REQ, Encryption::Full)),
        (Some(false), ENCRYPT_OFF) => Some((ENCRYPT_OFF, Encryption::LoginOnly)),
        (Some(false), ENCRYPT_NOT_SUP) => Some((ENCRYPT_NOT_SUP, Encryption::None)),
        (Some(false), _) => Some((ENCRYPT_ON, Encryption::Full)),
    }
}

/// Checks that the client's option table is well formed (every option inside the message)
/// and returns its ENCRYPTION byte (ENCRYPT_OFF if absent, as the protocol defaults).
pub(crate) fn parse_request(payload: &[u8]) -> Result<u8, ProtocolError> {
    let mut r = Reader::new(payload);
    let mut encryption = ENCRYPT_OFF;
    loop {
        let token = r.u8()?;
        if token == TERMINATOR {
            return Ok(encryption);
        }
        let offset = usize::from(u16::from_be_bytes([r.u8()?, r.u8()?]));
        let len = usize::from(u16::from_be_bytes([r.u8()?, r.u8()?]));
        if offset + len > payload.len() {
            return Err(ProtocolError::Malformed(
                "PRELOGIN option outside the message",
            ));
        }
        if token == ENCRYPTION && len >= 1 {
            encryption = payload[offset];
        }
    }
}

/// The server's PRELOGIN response payload, with `encryption` (from [`negotiate`]).
pub(crate) fn response(encryption: u8) -> Vec<u8> {
    let options: [(u8, &[u8]); 3] = [
        // SQL Server 16.0.4096, sub-build 0 (big-endian).
        (VERSION, &[16, 0, 0x10, 0x00, 0, 0]),
        (ENCRYPTION, &[encryption]),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_the_protocol_table() {
        use Encryption::{Full, LoginOnly};
        let plain = Encryption::None;
        // No certificate: plain text, unless the client insists.
        assert_eq!(negotiate(ENCRYPT_OFF, None), Some((ENCRYPT_NOT_SUP, plain)));
        assert_eq!(
            negotiate(ENCRYPT_NOT_SUP, None),
            Some((ENCRYPT_NOT_SUP, plain))
        );
        assert_eq!(negotiate(ENCRYPT_REQ, None), None);
        // A certificate: the login only if the client only offers, all if it asks.
        assert_eq!(
            negotiate(ENCRYPT_OFF, Some(false)),
            Some((ENCRYPT_OFF, LoginOnly))
        );
        assert_eq!(negotiate(ENCRYPT_ON, Some(false)), Some((ENCRYPT_ON, Full)));
        assert_eq!(
            negotiate(ENCRYPT_REQ, Some(false)),
            Some((ENCRYPT_ON, Full))
        );
        assert_eq!(
            negotiate(ENCRYPT_NOT_SUP, Some(false)),
            Some((ENCRYPT_NOT_SUP, plain))
        );
        // Required by the server.
        assert_eq!(
            negotiate(ENCRYPT_OFF, Some(true)),
            Some((ENCRYPT_REQ, Full))
        );
        assert_eq!(negotiate(ENCRYPT_NOT_SUP, Some(true)), None);
    }
}
