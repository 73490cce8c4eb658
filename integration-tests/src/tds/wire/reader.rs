//! A bounds-checked little-endian cursor over a received message: every read returns an
//! error instead of panicking when the client's lengths point past the end.

use super::error::ProtocolError;

/// Reads primitive TDS values from a byte slice.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next `n` bytes.
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.buf.len())
            .ok_or(ProtocolError::Malformed(
                "value runs past the end of the message",
            ))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// Skips `n` bytes.
    pub(crate) fn skip(&mut self, n: usize) -> Result<(), ProtocolError> {
        self.bytes(n).map(|_| ())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtocolError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    /// One byte.
    pub(crate) fn u8(&mut self) -> Result<u8, ProtocolError> {
        Ok(self.array::<1>()?[0])
    }

    /// A little-endian `u16`.
    pub(crate) fn u16_le(&mut self) -> Result<u16, ProtocolError> {
        self.array().map(u16::from_le_bytes)
    }

    /// A little-endian `i16`.
    pub(crate) fn i16_le(&mut self) -> Result<i16, ProtocolError> {
        self.array().map(i16::from_le_bytes)
    }

    /// A little-endian `u32`.
    pub(crate) fn u32_le(&mut self) -> Result<u32, ProtocolError> {
        self.array().map(u32::from_le_bytes)
    }

    /// A little-endian `i32`.
    pub(crate) fn i32_le(&mut self) -> Result<i32, ProtocolError> {
        self.array().map(i32::from_le_bytes)
    }

    /// A little-endian `u64`.
    pub(crate) fn u64_le(&mut self) -> Result<u64, ProtocolError> {
        self.array().map(u64::from_le_bytes)
    }

    /// A little-endian `i64`.
    pub(crate) fn i64_le(&mut self) -> Result<i64, ProtocolError> {
        self.array().map(i64::from_le_bytes)
    }

    /// `chars` UTF-16LE code units decoded into a string.
    pub(crate) fn utf16(&mut self, chars: usize) -> Result<String, ProtocolError> {
        let len = chars
            .checked_mul(2)
            .ok_or(ProtocolError::Malformed("string length overflows"))?;
        utf16_to_string(self.bytes(len)?)
    }
}

/// Decodes UTF-16LE bytes (an even number of them) into a string.
pub(crate) fn utf16_to_string(bytes: &[u8]) -> Result<String, ProtocolError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(ProtocolError::Malformed(
            "odd number of bytes in a UTF-16 string",
        ));
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    String::from_utf16(&units).map_err(|_| ProtocolError::Malformed("invalid UTF-16 string"))
}
