//! The ASP.NET Core session payload, revision 2, byte for byte.
//!
//! ```text
//! offset  size  field
//! 0       1     revision            0x02
//! 1       3     entry count         u24, big-endian
//! 4       16    session id bytes
//! then, per entry:
//!         2     key length          u16, big-endian (≤ 65,535)
//!         n     key                 UTF-8
//!         4     value length        u32, big-endian
//!         m     value               raw bytes
//! ```
//!
//! This is what `Microsoft.AspNetCore.Session.DistributedSession` writes, so a Rust service and a
//! .NET service can share sessions in one store. Decoding never panics: a short, long or
//! otherwise malformed payload is a [`CodecError`].

use std::collections::BTreeMap;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::CodecError;

/// The only revision this codec reads and writes.
pub const REVISION: u8 = 2;
/// Length of the session id inside the payload.
pub const ID_LEN: usize = 16;
/// Size of the fixed header (revision, count, id).
pub const HEADER_LEN: usize = 1 + 3 + ID_LEN;
/// Largest entry count the 24-bit field holds.
pub const MAX_ENTRIES: usize = 0x00FF_FFFF;
/// Largest key the 16-bit length holds, in bytes.
pub const MAX_KEY_LEN: usize = u16::MAX as usize;

/// The decoded content of a session entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionPayload {
    /// The session id (distinct from the session key that names the store entry).
    pub id: [u8; ID_LEN],
    /// The session's values by key.
    pub entries: BTreeMap<String, Bytes>,
}

/// The exact encoded size of a session, without encoding it.
#[must_use]
pub fn encoded_len(entries: &BTreeMap<String, Bytes>) -> usize {
    HEADER_LEN
        + entries
            .iter()
            .map(|(k, v)| 2 + k.len() + 4 + v.len())
            .sum::<usize>()
}

/// Encodes a session.
///
/// # Errors
/// [`CodecError::TooManyEntries`], [`CodecError::KeyTooLong`] or [`CodecError::ValueTooLong`]
/// when the session does not fit the format.
pub fn encode(id: &[u8; ID_LEN], entries: &BTreeMap<String, Bytes>) -> Result<Bytes, CodecError> {
    if entries.len() > MAX_ENTRIES {
        return Err(CodecError::TooManyEntries(entries.len()));
    }
    let mut out = BytesMut::with_capacity(encoded_len(entries));
    out.put_u8(REVISION);
    // `len <= MAX_ENTRIES` was checked above, so the value fits 24 bits.
    let count =
        u32::try_from(entries.len()).map_err(|_| CodecError::TooManyEntries(entries.len()))?;
    out.put_slice(&count.to_be_bytes()[1..]);
    out.put_slice(id);
    for (key, value) in entries {
        let key_len = u16::try_from(key.len()).map_err(|_| CodecError::KeyTooLong(key.len()))?;
        let value_len =
            u32::try_from(value.len()).map_err(|_| CodecError::ValueTooLong(value.len()))?;
        out.put_u16(key_len);
        out.put_slice(key.as_bytes());
        out.put_u32(value_len);
        out.put_slice(value);
    }
    Ok(out.freeze())
}

/// Decodes a session. Values are zero-copy slices of `payload`.
///
/// # Errors
/// A [`CodecError`] describing the first problem found.
pub fn decode(payload: &Bytes) -> Result<SessionPayload, CodecError> {
    let mut reader = Reader {
        buf: payload,
        pos: 0,
    };
    let revision = reader.take(1)?[0];
    if revision != REVISION {
        return Err(CodecError::UnknownRevision(revision));
    }
    let count_bytes = reader.take(3)?;
    let count = usize::from(count_bytes[0]) << 16
        | usize::from(count_bytes[1]) << 8
        | usize::from(count_bytes[2]);
    let mut id = [0u8; ID_LEN];
    id.copy_from_slice(reader.take(ID_LEN)?);

    let mut entries = BTreeMap::new();
    for _ in 0..count {
        let key_at = reader.pos;
        let key_len = usize::from(u16::from_be_bytes([reader.take(1)?[0], reader.take(1)?[0]]));
        let key = std::str::from_utf8(reader.take(key_len)?)
            .map_err(|_| CodecError::InvalidKey { offset: key_at })?
            .to_owned();
        let len_bytes = reader.take(4)?;
        let value_len =
            u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
        let value_len = usize::try_from(value_len).map_err(|_| CodecError::Truncated {
            offset: reader.pos,
            needed: usize::MAX,
        })?;
        let start = reader.pos;
        reader.take(value_len)?;
        let value = payload.slice(start..reader.pos);
        if entries.insert(key, value).is_some() {
            return Err(CodecError::DuplicateKey { offset: key_at });
        }
    }
    let trailing = payload.len() - reader.pos;
    if trailing != 0 {
        return Err(CodecError::TrailingBytes(trailing));
    }
    Ok(SessionPayload { id, entries })
}

/// A bounds-checked cursor: every read either yields exactly the bytes asked for or a
/// [`CodecError::Truncated`], which is what keeps hostile payloads from panicking the decoder.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        let remaining = self.buf.len() - self.pos;
        if n > remaining {
            return Err(CodecError::Truncated {
                offset: self.pos,
                needed: n - remaining,
            });
        }
        let slice = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_entries() -> BTreeMap<String, Bytes> {
        let mut entries = BTreeMap::new();
        entries.insert("color".to_owned(), Bytes::from_static(b"blue"));
        entries.insert(
            "counter".to_owned(),
            Bytes::copy_from_slice(&7i32.to_be_bytes()),
        );
        entries
    }

    /// The fixture, derived by hand from the format description above.
    #[test]
    fn fixture_matches_hand_written_bytes() {
        let id: [u8; 16] = std::array::from_fn(|i| i as u8); // 00 01 .. 0f
        #[rustfmt::skip]
        let expected: Vec<u8> = [
            &[0x02][..],                         // revision 2
            &[0x00, 0x00, 0x02],                 // u24 BE entry count = 2
            &[0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
              0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f], // 16 id bytes
            &[0x00, 0x05],                       // u16 BE key length 5
            b"color",                            // UTF-8 key
            &[0x00, 0x00, 0x00, 0x04],           // u32 BE value length 4
            b"blue",                             // UTF-8 value
            &[0x00, 0x07],                       // u16 BE key length 7
            b"counter",                          // UTF-8 key
            &[0x00, 0x00, 0x00, 0x04],           // u32 BE value length 4
            &[0x00, 0x00, 0x00, 0x07],           // i32 7, big-endian (as .NET SetInt32)
        ]
        .concat();
        let encoded = encode(&id, &fixture_entries()).unwrap();
        assert_eq!(&encoded[..], &expected[..]);
        assert_eq!(encoded.len(), encoded_len(&fixture_entries()));
        let decoded = decode(&encoded).unwrap();
        assert_eq!(decoded.id, id);
        assert_eq!(decoded.entries, fixture_entries());
    }

    #[test]
    fn empty_session_is_header_only() {
        let encoded = encode(&[9; 16], &BTreeMap::new()).unwrap();
        assert_eq!(encoded.len(), HEADER_LEN);
        assert_eq!(decode(&encoded).unwrap().entries.len(), 0);
    }

    #[test]
    fn malformed_payloads_are_typed_errors() {
        let good = encode(&[1; 16], &fixture_entries()).unwrap();
        assert!(matches!(
            decode(&Bytes::new()),
            Err(CodecError::Truncated { .. })
        ));
        assert_eq!(
            decode(&Bytes::from_static(&[1, 0, 0, 0])),
            Err(CodecError::UnknownRevision(1))
        );
        for cut in 0..good.len() {
            assert!(decode(&good.slice(..cut)).is_err(), "cut at {cut}");
        }
        let mut long = good.to_vec();
        long.push(0);
        assert_eq!(
            decode(&Bytes::from(long)),
            Err(CodecError::TrailingBytes(1))
        );
        // An absurd count with no entries behind it.
        let mut absurd = vec![2, 0xff, 0xff, 0xff];
        absurd.extend_from_slice(&[0; 16]);
        assert!(matches!(
            decode(&Bytes::from(absurd)),
            Err(CodecError::Truncated { .. })
        ));
        // A key that is not UTF-8.
        let mut bad_key = vec![2, 0, 0, 1];
        bad_key.extend_from_slice(&[0; 16]);
        bad_key.extend_from_slice(&[0, 1, 0xff, 0, 0, 0, 0]);
        assert!(matches!(
            decode(&Bytes::from(bad_key)),
            Err(CodecError::InvalidKey { .. })
        ));
    }

    #[test]
    fn key_too_long_is_refused() {
        let mut entries = BTreeMap::new();
        entries.insert("k".repeat(MAX_KEY_LEN + 1), Bytes::new());
        assert_eq!(
            encode(&[0; 16], &entries),
            Err(CodecError::KeyTooLong(MAX_KEY_LEN + 1))
        );
        let mut entries = BTreeMap::new();
        entries.insert("k".repeat(MAX_KEY_LEN), Bytes::new());
        assert!(encode(&[0; 16], &entries).is_ok());
    }
}
