//! Why a client message could not be handled.

/// A failure while reading or decoding a client message.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProtocolError {
    /// The bytes do not form a valid TDS message: the connection is closed, because after
    /// a framing or length error we can no longer tell where the next message starts.
    #[error("malformed TDS input: {0}")]
    Malformed(&'static str),
    /// A well-formed request this test server does not implement (another stored procedure,
    /// a parameter type outside the provider's needs). The whole message has been read, so
    /// the connection stays usable and the client gets an ERROR token with this text.
    #[error("not supported by the TDS test server: {0}")]
    Unsupported(String),
    /// The socket failed.
    #[error("TDS connection I/O failed")]
    Io(#[from] std::io::Error),
}
