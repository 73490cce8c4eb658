//! Packet framing (MS-TDS 2.2.3): every message travels as one or more packets with an
//! 8-byte header; the last one carries the END_OF_MESSAGE status bit.

use super::error::ProtocolError;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Size of a packet header.
pub(crate) const HEADER_LEN: usize = 8;
/// SQL batch (client to server).
pub(crate) const SQL_BATCH: u8 = 0x01;
/// Remote procedure call (client to server).
pub(crate) const RPC: u8 = 0x03;
/// Tabular result: every server response.
pub(crate) const TABULAR_RESULT: u8 = 0x04;
/// Attention (cancel the running request).
pub(crate) const ATTENTION: u8 = 0x06;
/// LOGIN7.
pub(crate) const LOGIN7: u8 = 0x10;
/// Transaction manager request.
pub(crate) const TRANSACTION_MANAGER: u8 = 0x0E;
/// PRELOGIN.
pub(crate) const PRELOGIN: u8 = 0x12;
/// Packet size used until LOGIN7 negotiates another one.
pub(crate) const DEFAULT_PACKET_SIZE: usize = 4096;
/// Smallest and largest packet sizes SQL Server accepts in LOGIN7.
pub(crate) const MIN_PACKET_SIZE: usize = 512;
/// See [`MIN_PACKET_SIZE`].
pub(crate) const MAX_PACKET_SIZE: usize = 32767;

const STATUS_EOM: u8 = 0x01;
const STATUS_IGNORE: u8 = 0x02;
/// Upper bound for one reassembled message, so a hostile length cannot exhaust memory.
const MAX_MESSAGE_LEN: usize = 64 << 20;

/// One reassembled client message.
pub(crate) struct Message {
    /// Packet type of every packet of the message.
    pub(crate) ty: u8,
    /// Concatenated packet payloads.
    pub(crate) payload: Vec<u8>,
}

/// Reads packets until END_OF_MESSAGE and returns the message; `None` when the client
/// closed the connection between messages.
pub(crate) async fn read_message<R>(src: &mut R) -> Result<Option<Message>, ProtocolError>
where
    R: AsyncRead + Unpin,
{
    let mut ty = None;
    let mut payload = Vec::new();
    loop {
        let mut header = [0u8; HEADER_LEN];
        match src.read_exact(&mut header).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && ty.is_none() => {
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        }
        let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
        let body_len = len
            .checked_sub(HEADER_LEN)
            .ok_or(ProtocolError::Malformed("packet shorter than its header"))?;
        match ty {
            None => ty = Some(header[0]),
            Some(t) if t != header[0] => {
                return Err(ProtocolError::Malformed(
                    "packet type changed within a message",
                ));
            }
            Some(_) => {}
        }
        let start = payload.len();
        if start + body_len > MAX_MESSAGE_LEN {
            return Err(ProtocolError::Malformed("message too large"));
        }
        payload.resize(start + body_len, 0);
        src.read_exact(&mut payload[start..]).await?;

        let status = header[1];
        if status & STATUS_EOM != 0 {
            if status & STATUS_IGNORE != 0 {
                // The client asked us to drop this message (MS-TDS 2.2.3.1.2).
                ty = None;
                payload.clear();
                continue;
            }
            return Ok(ty.map(|ty| Message { ty, payload }));
        }
    }
}

/// Per-connection state needed to frame outgoing messages.
pub(crate) struct PacketWriter {
    /// Negotiated packet size, header included.
    pub(crate) packet_size: usize,
    /// Server process id shown in every header.
    pub(crate) spid: u16,
    next_id: u8,
}

impl PacketWriter {
    /// A writer using the pre-login packet size.
    pub(crate) fn new(spid: u16) -> Self {
        Self {
            packet_size: DEFAULT_PACKET_SIZE,
            spid,
            next_id: 1,
        }
    }

    /// Splits `payload` into tabular-result packets of the negotiated size and writes them.
    pub(crate) async fn write<W>(&mut self, dst: &mut W, payload: &[u8]) -> std::io::Result<()>
    where
        W: AsyncWrite + Unpin,
    {
        let chunk_len = self.packet_size.saturating_sub(HEADER_LEN).max(1);
        let chunks: Vec<&[u8]> = if payload.is_empty() {
            vec![payload]
        } else {
            payload.chunks(chunk_len).collect()
        };
        let mut out = Vec::with_capacity(payload.len() + chunks.len() * HEADER_LEN);
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            // chunk_len + HEADER_LEN never exceeds MAX_PACKET_SIZE, so this fits in a u16.
            let len = u16::try_from(chunk.len() + HEADER_LEN).unwrap_or(u16::MAX);
            out.push(TABULAR_RESULT);
            out.push(if i == last { STATUS_EOM } else { 0 });
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&self.spid.to_be_bytes());
            out.push(self.next_id);
            out.push(0);
            out.extend_from_slice(chunk);
            self.next_id = self.next_id.wrapping_add(1);
        }
        dst.write_all(&out).await?;
        dst.flush().await
    }
}
