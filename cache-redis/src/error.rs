//! Errors of this crate: [`RedisConfigError`] when building a cache, [`RedisCacheError`] as the
//! source of a [`CacheError::Backend`](session_core::CacheError::Backend) at run time.

/// Invalid configuration, reported by [`RedisCacheBuilder::build`](crate::RedisCacheBuilder::build).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisConfigError {
    /// Neither a URL, a configuration string nor a pool was given.
    #[error("no Redis connection configured: give a URL, a configuration string or a pool")]
    MissingConnection,
    /// redis-rs refused the URL (or the URL built from a configuration string).
    #[error("invalid Redis connection URL")]
    InvalidUrl(#[source] redis::RedisError),
    /// A configuration string without any `host[:port]` endpoint.
    #[error("the configuration string names no endpoint")]
    NoEndpoint,
    /// An endpoint that is not `host`, `host:port`, `[ipv6]` or `[ipv6]:port`.
    #[error("invalid endpoint `{0}` in the configuration string")]
    InvalidEndpoint(String),
    /// An option with a value it cannot take.
    #[error("invalid value `{value}` for option `{option}`")]
    InvalidValue {
        /// The option (`ssl`, `defaultDatabase`, ...).
        option: &'static str,
        /// The value given.
        value: String,
    },
    /// An option this crate does not know (StackExchange.Redis refuses unknown keywords too).
    #[error("unsupported option `{0}` in the configuration string")]
    UnknownOption(String),
    /// A StackExchange.Redis option (or value) this crate refuses to ignore (see
    /// [`STACKEXCHANGE_OPTIONS`](crate::STACKEXCHANGE_OPTIONS)).
    #[error("configuration option `{option}` is not supported: {reason}")]
    UnsupportedOption {
        /// The option as given (with its value, never a secret one).
        option: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A standalone cache was given several endpoints.
    #[error(
        "the configuration names {0} endpoints; a standalone cache takes one (use the `cluster` feature for a cluster)"
    )]
    MultipleEndpoints(usize),
    /// `sslHost=` in a cluster configuration (nodes are discovered by address, each with its own
    /// certificate name).
    #[error("`sslHost` is supported for a standalone server only, not for a cluster")]
    SslHostWithCluster,
    /// `sslHost=` with Sentinel (the primary's address comes from the sentinels, so its
    /// certificate must name it).
    #[error(
        "`sslHost` is supported for a standalone server only, not with `serviceName` (Sentinel)"
    )]
    SslHostWithSentinel,
    /// A `redis+sentinel://` URL that does not parse; says what is wrong, never echoing it.
    #[error("invalid Sentinel URL: {0}")]
    InvalidSentinelUrl(&'static str),
    /// `serviceName=` or a `redis+sentinel://` URL without the `sentinel` feature.
    #[error("Sentinel was requested but cache-redis was built without its `sentinel` feature")]
    SentinelNotEnabled,
    /// Sentinel credentials ([`RedisCacheBuilder::sentinel_credentials`](crate::RedisCacheBuilder::sentinel_credentials))
    /// for a connection that does not go through Sentinel.
    #[error(
        "Sentinel credentials were set but the connection does not use Sentinel (use `serviceName=` or a `redis+sentinel://` URL)"
    )]
    SentinelCredentialsWithoutSentinel,
    /// `rediss://` or `ssl=true` without the `tls` feature.
    #[error("TLS was requested but cache-redis was built without its `tls` feature")]
    TlsNotEnabled,
    /// TLS options (CA, client certificate, insecure opt-out, `sslHost=`) for a connection
    /// without TLS.
    #[error(
        "TLS options were set but the connection does not use TLS (use a `rediss://` URL or `ssl=true`)"
    )]
    TlsOptionsWithoutTls,
    /// A TLS certificate or key file could not be read.
    #[error("cannot read the TLS {what} file `{}`", path.display())]
    TlsFile {
        /// Which file: `CA certificate`, `client certificate` or `client key`.
        what: &'static str,
        /// The path given.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The CA certificate, client certificate or key is not valid PEM.
    #[error("invalid TLS certificate or key")]
    InvalidTlsCertificates(#[source] redis::RedisError),
    /// A size or timeout that must be positive was zero.
    #[error("`{0}` must be greater than zero")]
    Zero(&'static str),
    /// The connection pool could not be built.
    #[error("the connection pool could not be built")]
    Pool(#[source] deadpool::managed::BuildError),
}

/// Run-time failures specific to this provider, carried as the source of
/// [`CacheError::Backend`](session_core::CacheError::Backend).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisCacheError {
    /// The operation needs Lua scripting, which [`ScriptMode::Disabled`](crate::ScriptMode::Disabled) turned off.
    #[error("`{operation}` needs Lua scripting, which is disabled (ScriptMode::Disabled)")]
    ScriptingDisabled {
        /// The operation refused.
        operation: &'static str,
    },
    /// Redis answered something this crate's scripts never return.
    #[error("unexpected reply from Redis: {0}")]
    UnexpectedReply(&'static str),
    /// A [`WriteCondition`](session_core::WriteCondition) newer than this crate.
    #[error("this version of cache-redis does not support the requested write condition")]
    UnsupportedCondition,
    /// The server's TLS certificate was refused: not signed by a trusted CA, expired, or not
    /// issued for the host name connected to.
    #[error(
        "TLS certificate verification failed: the Redis server's certificate is not trusted (check the CA file and the host name)"
    )]
    TlsCertificate(#[source] DriverError),
    /// The server refused the TLS handshake over the client certificate: none was configured
    /// while the server requires one (`tls-auth-clients yes`), or the server does not trust it.
    #[error(
        "TLS client certificate refused by the Redis server: it requires one (set a client certificate) or does not trust the one given"
    )]
    TlsClientCertificate(#[source] DriverError),
    /// The server refused the credentials. Names the user, never the password.
    #[error(
        "Redis authentication failed for user `{user}`: wrong password, or the user is unknown or disabled"
    )]
    Authentication {
        /// The user connected as (`default` when none was configured).
        user: String,
        /// The driver's error.
        #[source]
        source: DriverError,
    },
    /// Credentials were refused in a Sentinel set-up: by the primary or by the sentinels (the
    /// driver does not say which). Names both users, never a password.
    #[error(
        "Redis authentication failed for service `{service_name}`: the primary refused user `{user}` or the sentinels refused user `{sentinel_user}` (wrong password, or the user is unknown or disabled)"
    )]
    SentinelAuthentication {
        /// The service (master) name.
        service_name: String,
        /// The user connected as on the primary.
        user: String,
        /// The user connected as on the sentinels.
        sentinel_user: String,
        /// The driver's error.
        #[source]
        source: DriverError,
    },
    /// No sentinel named a reachable primary for the service: a wrong `serviceName`, no sentinel
    /// reachable, or the primary itself unreachable or refusing the connection.
    #[error("Sentinel found no usable primary for service `{service_name}`")]
    SentinelPrimaryNotFound {
        /// The service (master) name asked for.
        service_name: String,
        /// The driver's error.
        #[source]
        source: DriverError,
    },
    /// No connection could be taken from the pool (it could not connect, or a pooled connection
    /// failed its check).
    #[error("no connection available from the pool")]
    Pool(#[source] DriverError),
    /// Redis (or the connection to it) failed a command.
    #[error("Redis command failed")]
    Command(#[source] DriverError),
}

/// The store failed the start-up check ([`RedisCache::check`](crate::RedisCache::check),
/// [`RedisCacheBuilder::connect`](crate::RedisCacheBuilder::connect)): it cannot be reached, refused
/// the credentials or the database, or did not answer in time.
#[derive(Debug, thiserror::Error)]
#[error("Redis at {target} is not usable")]
pub struct RedisUnusable {
    /// What was connected to: address(es), database, user; never a password.
    pub target: String,
    /// Why: usually a [`RedisCacheError`] inside
    /// [`CacheError::Backend`](session_core::CacheError::Backend), or a
    /// [`CacheError::Timeout`](session_core::CacheError::Timeout).
    #[source]
    pub source: session_core::CacheError,
}

/// What [`RedisCacheBuilder::connect`](crate::RedisCacheBuilder::connect) reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStartupError {
    /// The configuration is invalid (nothing was tried).
    #[error(transparent)]
    Config(#[from] RedisConfigError),
    /// The configuration is valid but the store is not usable.
    #[error(transparent)]
    Unusable(#[from] RedisUnusable),
}

/// The driver's error behind a [`RedisCacheError`].
///
/// Displayed as the driver displays it, and its [`source`](std::error::Error::source) skips the
/// causes that message already contains: deadpool's and redis-rs' errors repeat their cause both
/// in their message and as their `source()`, so a printed chain would name the same cause two or
/// three times ("Connection refused: Connection refused: Connection refused").
#[derive(Debug)]
pub struct DriverError(Driver);

#[derive(Debug)]
enum Driver {
    Pool(deadpool::managed::PoolError<redis::RedisError>),
    Redis(redis::RedisError),
}

impl DriverError {
    /// The redis-rs error, if there is one (a pool timeout or a closed pool has none).
    #[must_use]
    pub fn redis_error(&self) -> Option<&redis::RedisError> {
        match &self.0 {
            Driver::Pool(deadpool::managed::PoolError::Backend(e)) | Driver::Redis(e) => Some(e),
            Driver::Pool(_) => None,
        }
    }

    /// The error as the driver raised it.
    fn inner(&self) -> &(dyn std::error::Error + 'static) {
        match (&self.0, self.redis_error()) {
            (_, Some(e)) => e,
            (Driver::Pool(e), None) => e,
            (Driver::Redis(e), None) => e,
        }
    }
}

impl From<deadpool::managed::PoolError<redis::RedisError>> for DriverError {
    fn from(e: deadpool::managed::PoolError<redis::RedisError>) -> Self {
        Self(Driver::Pool(e))
    }
}

impl From<redis::RedisError> for DriverError {
    fn from(e: redis::RedisError) -> Self {
        Self(Driver::Redis(e))
    }
}

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A pool's "Error occurred while creating a new object: " adds nothing to the cause.
        std::fmt::Display::fmt(self.inner(), f)
    }
}

impl std::error::Error for DriverError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let shown = self.to_string();
        let mut next = self.inner().source();
        while let Some(cause) = next {
            if !shown.contains(&cause.to_string()) {
                return Some(cause);
            }
            next = cause.source();
        }
        None
    }
}
