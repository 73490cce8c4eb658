//! The connection's byte stream: plain TCP, or TLS as TDS 7.x carries it.
//!
//! In TDS 7.x the TLS handshake travels inside TDS packets (each handshake chunk behind an
//! 8-byte PRELOGIN header); once it is done, TLS records go straight over TCP, with TDS packets
//! inside them. [`PreloginFramed`] does the framing during the handshake and steps aside after.
//! With login-only encryption the client leaves TLS right after sending LOGIN7, so the server
//! answers the login in plain text ([`Transport::leave_tls`]).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::packet::{HEADER_LEN, PRELOGIN};

/// Largest handshake chunk per packet (the default packet size, header included).
const HANDSHAKE_CHUNK: usize = 4096 - HEADER_LEN;

/// The stream under the TDS packets.
pub(crate) enum Transport {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<PreloginFramed>>),
    /// Left behind while switching; every operation fails.
    Switching,
}

impl Transport {
    /// Runs the TLS handshake (framed in PRELOGIN packets) over a plain stream.
    pub(crate) async fn enter_tls(self, config: Arc<rustls::ServerConfig>) -> io::Result<Self> {
        let Self::Plain(tcp) = self else {
            return Err(io::Error::other("TLS requested twice"));
        };
        let mut tls = TlsAcceptor::from(config)
            .accept(PreloginFramed::new(tcp))
            .await?;
        tls.get_mut().0.handshake_done();
        Ok(Self::Tls(Box::new(tls)))
    }

    /// Back to plain TCP after an encrypted login (login-only encryption). Nothing may be
    /// buffered: the client sends nothing after LOGIN7 until it has the answer.
    pub(crate) fn leave_tls(self) -> Self {
        match self {
            Self::Tls(tls) => Self::Plain(tls.into_inner().0.tcp),
            other => other,
        }
    }
}

fn switching() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "transport is being switched")
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Self::Switching => Poll::Ready(Err(switching())),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Self::Switching => Poll::Ready(Err(switching())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Self::Switching => Poll::Ready(Err(switching())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Self::Switching => Poll::Ready(Ok(())),
        }
    }
}

/// TCP that, until [`handshake_done`](Self::handshake_done), strips the TDS packet headers
/// from what it reads and puts a PRELOGIN header before each chunk it writes.
pub(crate) struct PreloginFramed {
    tcp: TcpStream,
    handshaking: bool,
    /// Bytes of the current incoming packet's header read so far.
    header: [u8; HEADER_LEN],
    header_read: usize,
    /// Payload bytes left in the current incoming packet.
    payload_left: usize,
    /// Framed bytes accepted from the TLS layer and not yet written to the socket.
    pending: Vec<u8>,
}

impl PreloginFramed {
    fn new(tcp: TcpStream) -> Self {
        Self {
            tcp,
            handshaking: true,
            header: [0; HEADER_LEN],
            header_read: 0,
            payload_left: 0,
            pending: Vec::new(),
        }
    }

    fn handshake_done(&mut self) {
        self.handshaking = false;
    }

    /// Writes out `pending`.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let n = ready!(Pin::new(&mut self.tcp).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for PreloginFramed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.handshaking {
            return Pin::new(&mut this.tcp).poll_read(cx, buf);
        }
        while this.payload_left == 0 {
            let mut header = ReadBuf::new(&mut this.header[this.header_read..]);
            ready!(Pin::new(&mut this.tcp).poll_read(cx, &mut header))?;
            let n = header.filled().len();
            if n == 0 {
                // EOF: reported as such to the TLS layer.
                return Poll::Ready(Ok(()));
            }
            this.header_read += n;
            if this.header_read == HEADER_LEN {
                this.header_read = 0;
                let len = usize::from(u16::from_be_bytes([this.header[2], this.header[3]]));
                this.payload_left = len.checked_sub(HEADER_LEN).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, "packet shorter than its header")
                })?;
            }
        }
        let want = this.payload_left.min(buf.remaining());
        let mut limited = ReadBuf::new(buf.initialize_unfilled_to(want));
        ready!(Pin::new(&mut this.tcp).poll_read(cx, &mut limited))?;
        let n = limited.filled().len();
        buf.advance(n);
        this.payload_left -= n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for PreloginFramed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        if !this.handshaking {
            return Pin::new(&mut this.tcp).poll_write(cx, buf);
        }
        let chunk = &buf[..buf.len().min(HANDSHAKE_CHUNK)];
        // At most HANDSHAKE_CHUNK + HEADER_LEN = 4096: fits the u16 length.
        let len = u16::try_from(chunk.len() + HEADER_LEN).unwrap_or(u16::MAX);
        this.pending.extend_from_slice(&[PRELOGIN, 0x01]);
        this.pending.extend_from_slice(&len.to_be_bytes());
        this.pending.extend_from_slice(&[0, 0, 0, 0]);
        this.pending.extend_from_slice(chunk);
        // Accepted: the bytes are buffered, and flushed by the next write or flush.
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(chunk.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.tcp).poll_shutdown(cx)
    }
}
