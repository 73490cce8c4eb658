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
    /// A standalone cache was given several endpoints.
    #[error(
        "the configuration names {0} endpoints; a standalone cache takes one (use the `cluster` feature for a cluster)"
    )]
    MultipleEndpoints(usize),
    /// `rediss://` or `ssl=true` without the `tls` feature.
    #[error("TLS was requested but cache-redis was built without its `tls` feature")]
    TlsNotEnabled,
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
    /// No connection could be taken from the pool.
    #[error("no connection available from the pool")]
    Pool(#[source] deadpool::managed::PoolError<redis::RedisError>),
}
