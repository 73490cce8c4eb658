//! [`SessionOptions`]: every session setting and its default, in one place.

use std::time::Duration;

use crate::error::ConfigError;

/// How a session protects itself from concurrent requests of the same session.
///
/// ASP.NET Core, actix-session and tower-sessions all let the last writer win: two overlapping
/// requests that both change the session lose one of the changes. [`Optimistic`](Self::Optimistic)
/// (the default) and [`Exclusive`](Self::Exclusive) avoid that; [`LastWriteWins`](Self::LastWriteWins)
/// is there for stores that offer no conditional write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConcurrencyMode {
    /// No lock; a commit applies only if the stored entry is still the one this request loaded.
    /// On a conflict the session re-reads the entry and replays this request's changes on it
    /// (its sets, removes, clears and `update` closures) only if nothing the request read has
    /// changed; otherwise the commit fails with [`SessionError::StaleRead`](crate::SessionError::StaleRead)
    /// and nothing is written. Requests that change *different* keys merge; read-modify-writes
    /// through `update` merge too. Serializable per session; costs no extra round trip without
    /// a conflict.
    #[default]
    Optimistic,
    /// Requests of one session run one at a time across every node sharing the store: the
    /// session takes a lease-based lock in the store on first access and releases it at commit.
    /// Requests changing the *same* key (a counter) never lose updates; the price is that they wait.
    Exclusive,
    /// ASP.NET Core's behaviour: a commit overwrites the stored entry with a plain `set`, so of
    /// two overlapping requests that both change the session, the later commit wins whole and
    /// the other's changes are lost. Only for stores that cannot write conditionally, such as
    /// Redis with scripting disabled (`cache-redis`'s `ScriptMode::Disabled`).
    LastWriteWins,
}

impl std::str::FromStr for ConcurrencyMode {
    type Err = ConfigError;

    /// Parses `"optimistic"`, `"exclusive"` or `"last-write-wins"` (as in the examples'
    /// `SESSION_LOCKING` variable).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "optimistic" => Ok(Self::Optimistic),
            "exclusive" => Ok(Self::Exclusive),
            "last-write-wins" => Ok(Self::LastWriteWins),
            _ => Err(ConfigError::OutOfRange {
                name: "concurrency",
                reason: "expected `optimistic`, `exclusive` or `last-write-wins`",
            }),
        }
    }
}

/// Settings of the per-request session. Build with [`SessionOptions::builder`] (validated) or use
/// [`SessionOptions::default`].
///
/// | setting | default | meaning |
/// |---|---|---|
/// | `idle_timeout` | 20 min | sliding expiration of the stored session (the guide's `IdleTimeout`) |
/// | `io_timeout` | 10 s | limit on **every** store call; `None` disables it (the guide's `IOTimeout`) |
/// | `max_payload_bytes` | 256 KiB | largest encoded session accepted at commit |
/// | `concurrency` | optimistic | see [`ConcurrencyMode`] |
/// | `lock_lease` | 30 s | exclusive mode: how long a lock lives if its holder dies (extended every third of it while held) |
/// | `lock_wait` | 10 s | how long a request waits for the lock (exclusive) or its node's commit turn (optimistic) |
/// | `max_commit_attempts` | 16 | optimistic mode: attempts before [`SessionError::Conflict`](crate::SessionError::Conflict) |
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionOptions {
    /// Inactivity window after which the session is abandoned; the stored entry's sliding expiration.
    pub idle_timeout: Duration,
    /// Maximum time for any one store call (load, commit, refresh, lock); `None` for no limit.
    pub io_timeout: Option<Duration>,
    /// Largest encoded session, in bytes, that a commit will write.
    pub max_payload_bytes: usize,
    /// How concurrent requests of one session are kept from losing each other's writes.
    pub concurrency: ConcurrencyMode,
    /// Exclusive mode: lease of the store lock; a crashed node's lock expires after this.
    pub lock_lease: Duration,
    /// How long a request waits for the lock (exclusive mode) or for its node's turn to commit
    /// (optimistic mode) before [`SessionError::LockTimeout`](crate::SessionError::LockTimeout).
    pub lock_wait: Duration,
    /// Optimistic mode: commit attempts before giving up with [`SessionError::Conflict`](crate::SessionError::Conflict).
    pub max_commit_attempts: u32,
}

impl SessionOptions {
    /// Default idle timeout: 20 minutes, as ASP.NET Core.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(20 * 60);
    /// Default IO timeout: 10 seconds, as the sessions guide configures it (ASP.NET Core's own
    /// default is 60 s; a store call that takes longer than 10 s is an outage, and exclusive
    /// mode needs `io_timeout <= lock_lease / 3`).
    pub const DEFAULT_IO_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default maximum encoded session size: 256 KiB.
    pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 256 * 1024;
    /// Default lock lease: 30 seconds.
    pub const DEFAULT_LOCK_LEASE: Duration = Duration::from_secs(30);
    /// Default lock wait: 10 seconds.
    pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(10);
    /// Default optimistic commit attempts: 16. Retries wait a jittered backoff (2 ms doubling to
    /// 50 ms), so 16 attempts span at least about 0.3 s of contention on one session before
    /// [`SessionError::Conflict`](crate::SessionError::Conflict).
    pub const DEFAULT_MAX_COMMIT_ATTEMPTS: u32 = 16;

    /// A builder starting from the defaults.
    pub fn builder() -> SessionOptionsBuilder {
        SessionOptionsBuilder {
            options: Self::default(),
        }
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first invalid setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.idle_timeout.is_zero() {
            return Err(ConfigError::ZeroDuration("idle_timeout"));
        }
        if self.io_timeout.is_some_and(|t| t.is_zero()) {
            return Err(ConfigError::ZeroDuration("io_timeout"));
        }
        if self.max_payload_bytes == 0 {
            return Err(ConfigError::ZeroSize("max_payload_bytes"));
        }
        if self.lock_lease.is_zero() {
            return Err(ConfigError::ZeroDuration("lock_lease"));
        }
        if self.concurrency == ConcurrencyMode::Exclusive {
            self.validate_exclusive()?;
        }
        if self.max_commit_attempts == 0 {
            return Err(ConfigError::OutOfRange {
                name: "max_commit_attempts",
                reason: "at least one attempt is needed",
            });
        }
        Ok(())
    }
}

impl SessionOptions {
    /// The relations exclusive mode depends on.
    ///
    /// * The lease is extended every `lock_lease / 3` while a request holds it, each extension a
    ///   store call bounded by `io_timeout`. With `io_timeout <= lock_lease / 3`, even an
    ///   extension that stalls for a whole IO timeout leaves time for another one before the
    ///   lease runs out, so a live request does not lose its lock to one slow call. Without an
    ///   IO timeout, a stalled extension could outlive the lease unnoticed.
    /// * `lock_wait <= lock_lease`: a request waits at most as long as a crashed holder's lock
    ///   can block the session. Behind a crashed holder, waiters answer
    ///   [`LockTimeout`](crate::SessionError::LockTimeout) until its lease runs out (at most
    ///   `lock_lease`); waiting longer would only pile requests up behind a live slow handler.
    fn validate_exclusive(&self) -> Result<(), ConfigError> {
        match self.io_timeout {
            None => Err(ConfigError::OutOfRange {
                name: "io_timeout",
                reason: "exclusive mode needs an IO timeout (at most lock_lease / 3), so that a \
                         stalled lease extension cannot outlive the lease",
            }),
            Some(io) if io > self.lock_lease / 3 => Err(ConfigError::OutOfRange {
                name: "io_timeout",
                reason: "exclusive mode needs io_timeout <= lock_lease / 3 (the lease is extended \
                         every third of it, and one stalled extension must leave time for another)",
            }),
            _ if self.lock_wait > self.lock_lease => Err(ConfigError::OutOfRange {
                name: "lock_wait",
                reason: "exclusive mode needs lock_wait <= lock_lease (a crashed holder blocks \
                         the session for at most one lease)",
            }),
            _ => Ok(()),
        }
    }
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            io_timeout: Some(Self::DEFAULT_IO_TIMEOUT),
            max_payload_bytes: Self::DEFAULT_MAX_PAYLOAD_BYTES,
            concurrency: ConcurrencyMode::default(),
            lock_lease: Self::DEFAULT_LOCK_LEASE,
            lock_wait: Self::DEFAULT_LOCK_WAIT,
            max_commit_attempts: Self::DEFAULT_MAX_COMMIT_ATTEMPTS,
        }
    }
}

/// Builds validated [`SessionOptions`].
///
/// ```
/// use std::time::Duration;
/// use session_core::{ConcurrencyMode, SessionOptions};
///
/// let options = SessionOptions::builder()
///     .idle_timeout(Duration::from_secs(20))
///     .io_timeout(Some(Duration::from_secs(10)))
///     .concurrency(ConcurrencyMode::Exclusive)
///     .build()
///     .unwrap();
/// assert_eq!(options.idle_timeout, Duration::from_secs(20));
/// assert!(SessionOptions::builder().idle_timeout(Duration::ZERO).build().is_err());
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct SessionOptionsBuilder {
    options: SessionOptions,
}

impl SessionOptionsBuilder {
    /// See [`SessionOptions::idle_timeout`].
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.options.idle_timeout = idle;
        self
    }
    /// See [`SessionOptions::io_timeout`].
    pub fn io_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.options.io_timeout = timeout;
        self
    }
    /// See [`SessionOptions::max_payload_bytes`].
    pub fn max_payload_bytes(mut self, max: usize) -> Self {
        self.options.max_payload_bytes = max;
        self
    }
    /// See [`SessionOptions::concurrency`].
    pub fn concurrency(mut self, mode: ConcurrencyMode) -> Self {
        self.options.concurrency = mode;
        self
    }
    /// See [`SessionOptions::lock_lease`].
    pub fn lock_lease(mut self, lease: Duration) -> Self {
        self.options.lock_lease = lease;
        self
    }
    /// See [`SessionOptions::lock_wait`].
    pub fn lock_wait(mut self, wait: Duration) -> Self {
        self.options.lock_wait = wait;
        self
    }
    /// See [`SessionOptions::max_commit_attempts`].
    pub fn max_commit_attempts(mut self, attempts: u32) -> Self {
        self.options.max_commit_attempts = attempts;
        self
    }
    /// Validates and returns the options.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first invalid setting.
    pub fn build(self) -> Result<SessionOptions, ConfigError> {
        self.options.validate()?;
        Ok(self.options)
    }
}
