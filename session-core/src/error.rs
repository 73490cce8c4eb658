//! Error types: [`CacheError`] for the store, [`SessionError`] for the per-request session,
//! [`CodecError`] for the payload format and [`EntryOptionsError`] / [`ConfigError`] for settings.
//!
//! Every error keeps its cause reachable through [`std::error::Error::source`], so a caller (or
//! a log line) can walk the chain down to the driver's own error without us turning it into text.

use std::sync::Arc;
use std::time::Duration;

/// A boxed, thread-safe error from a cache driver (redis, tiberius, moka, ...).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error from a [`DistributedCache`](crate::DistributedCache) operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The operation did not finish within the IO timeout.
    #[error("cache operation `{operation}` timed out after {after:?}")]
    Timeout {
        /// The operation that timed out (`get`, `set`, ...).
        operation: &'static str,
        /// The timeout that elapsed.
        after: Duration,
    },
    /// The store could not be reached or answered with an error.
    #[error("cache backend failure during `{operation}`")]
    Backend {
        /// The operation that failed.
        operation: &'static str,
        /// The driver's error.
        #[source]
        source: BoxError,
    },
    /// The key is not acceptable to this store (empty, too long, ...).
    #[error("invalid cache key: {reason}")]
    InvalidKey {
        /// Why the key was refused.
        reason: &'static str,
    },
    /// The value is larger than this store accepts.
    #[error("payload of {size} bytes exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// Size of the value that was refused.
        size: usize,
        /// The configured or intrinsic limit.
        limit: usize,
    },
    /// A stored entry could not be interpreted (e.g. a Redis hash with a malformed field).
    #[error("corrupt cache entry: {reason}")]
    CorruptEntry {
        /// What was wrong with it.
        reason: String,
    },
    /// The [`EntryOptions`](crate::EntryOptions) were invalid.
    #[error(transparent)]
    InvalidOptions(#[from] EntryOptionsError),
}

impl CacheError {
    /// Wraps a driver error as [`CacheError::Backend`].
    pub fn backend(operation: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Backend {
            operation,
            source: source.into(),
        }
    }

    /// True for [`CacheError::Timeout`].
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }
}

/// Invalid [`EntryOptions`](crate::EntryOptions).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryOptionsError {
    /// A relative or sliding expiration of zero.
    #[error("{which} expiration must be positive")]
    NotPositive {
        /// `"sliding"` or `"relative absolute"`.
        which: &'static str,
    },
    /// The absolute expiration is not in the future.
    #[error("the absolute expiration must be in the future")]
    AbsoluteInThePast,
    /// A relative expiration too large to represent as a point in time.
    #[error("the relative absolute expiration is out of range")]
    OutOfRange,
    /// Both an absolute point in time and a relative absolute expiration were given.
    #[error("set either an absolute expiration or one relative to now, not both")]
    BothAbsoluteForms,
}

/// A malformed session payload (see [`codec`](crate::codec)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The payload is shorter than its header or an entry claims more bytes than remain.
    #[error("payload truncated: needed {needed} more bytes at offset {offset}")]
    Truncated {
        /// Byte offset where reading stopped.
        offset: usize,
        /// Bytes missing.
        needed: usize,
    },
    /// The first byte is not a revision this codec reads.
    #[error("unknown payload revision {0}")]
    UnknownRevision(u8),
    /// An entry key is not valid UTF-8.
    #[error("entry key at offset {offset} is not valid UTF-8")]
    InvalidKey {
        /// Byte offset of the key.
        offset: usize,
    },
    /// The same key occurs twice.
    #[error("duplicate entry key at offset {offset}")]
    DuplicateKey {
        /// Byte offset of the second occurrence.
        offset: usize,
    },
    /// Bytes remain after the last entry.
    #[error("{0} trailing bytes after the last entry")]
    TrailingBytes(usize),
    /// More entries than the format's 24-bit count can hold.
    #[error("{0} entries exceed the format's limit of 16,777,215")]
    TooManyEntries(usize),
    /// A key longer than the format's 16-bit length can hold.
    #[error("entry key of {0} bytes exceeds the format's limit of 65,535")]
    KeyTooLong(usize),
    /// A value longer than the format's 32-bit length can hold.
    #[error("entry value of {0} bytes exceeds the format's 32-bit limit")]
    ValueTooLong(usize),
}

/// Invalid [`SessionOptions`](crate::SessionOptions) or other configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A duration that must be positive was zero.
    #[error("`{0}` must be greater than zero")]
    ZeroDuration(&'static str),
    /// A size that must be positive was zero.
    #[error("`{0}` must be greater than zero")]
    ZeroSize(&'static str),
    /// A value outside its allowed range.
    #[error("`{name}` is out of range: {reason}")]
    OutOfRange {
        /// The setting.
        name: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
}

/// An error from the per-request [`Session`](crate::Session).
///
/// Cheap to clone: after a failed commit, every later call of the same request answers the
/// same error again.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The session could not be loaded (store down, timed out, ...): [`Session::is_available`](crate::Session::is_available)
    /// is false and every accessor answers this error. The handler decides what to do.
    /// The cause is shared because every accessor of the request returns it again.
    #[error("session store unavailable")]
    Unavailable(#[source] Arc<CacheError>),
    /// Writing the session back to the store failed.
    #[error("session commit failed")]
    Commit(#[source] Arc<CacheError>),
    /// The encoded session is larger than [`SessionOptions::max_payload_bytes`](crate::SessionOptions).
    /// Nothing was written.
    #[error("session payload of {size} bytes exceeds the maximum of {max} bytes")]
    PayloadTooLarge {
        /// The encoded size.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The session could not be encoded (a key over 65,535 bytes, ...).
    #[error("session cannot be encoded")]
    Encode(#[source] CodecError),
    /// A stored value did not have the shape the typed accessor expects
    /// (an `i32` that is not 4 bytes, a string that is not UTF-8, JSON that does not parse).
    #[error("session value `{key}` is not a valid {expected}")]
    InvalidValue {
        /// The entry key.
        key: String,
        /// What the accessor expected (`"i32"`, `"UTF-8 string"`, `"JSON value"`).
        expected: &'static str,
        /// The underlying parse error, if any.
        #[source]
        source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
    },
    /// The session lock (exclusive mode), or this node's turn to commit the session
    /// (optimistic mode), could not be acquired within the configured `lock_wait`.
    #[error("timed out after {0:?} waiting for the session lock")]
    LockTimeout(Duration),
    /// The entry kept changing under this request's commit and the attempts ran out (see
    /// [`SessionOptions::max_commit_attempts`](crate::SessionOptions)). Nothing was written.
    #[error("session commit conflicted {0} times; giving up")]
    Conflict(u32),
    /// Another request changed a value this request had read (`key`; `None`: the set of keys,
    /// read by `keys()`) before this request committed. Replaying this request's writes on the
    /// new value would be unsound (a read-modify-write would lose the other update), so nothing
    /// was written. Retrying the whole request is safe; [`Session::update`](crate::Session::update)
    /// avoids the conflict for read-modify-writes of one value.
    #[error(
        "a session value this request read was changed by a concurrent request; nothing was written"
    )]
    StaleRead {
        /// The entry key whose value changed, or `None` for the key set.
        key: Option<String>,
    },
    /// The session was purged, renewed or expired (by another request or node) after this
    /// request loaded it. Writing would bring a logged-out session back, so nothing was written.
    #[error(
        "the session ended (purged, renewed or expired) while this request used it; nothing was written"
    )]
    SessionEnded,
    /// [`Session::remember`](crate::Session::remember) was given a lifetime under one second
    /// or over [`MAX_REMEMBER`](crate::MAX_REMEMBER).
    #[error("a remembered session's lifetime must be between 1 s and 400 days, not {0:?}")]
    InvalidLifetime(Duration),
    /// The session was already finished (committed at end of request) and can no longer change.
    #[error("the session is already finished")]
    Finished,
}

impl SessionError {
    /// Whether this error is a conflict with a concurrent request of the same session
    /// ([`Conflict`](Self::Conflict), [`StaleRead`](Self::StaleRead),
    /// [`SessionEnded`](Self::SessionEnded)): nothing was written, and the client may retry.
    #[must_use]
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Self::Conflict(_) | Self::StaleRead { .. } | Self::SessionEnded
        )
    }

    /// The cache error behind this session error, if any.
    #[must_use]
    pub fn cache_error(&self) -> Option<&CacheError> {
        match self {
            Self::Unavailable(e) => Some(e),
            Self::Commit(e) => Some(e),
            _ => None,
        }
    }
}
