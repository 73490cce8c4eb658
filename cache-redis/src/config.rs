//! Configuration: [`RedisCacheOptions`] (plain settings with defaults in one place), where to
//! connect ([`RedisSource`]), and the StackExchange.Redis configuration-string parser.

use std::time::Duration;

use crate::error::RedisConfigError;
use crate::tls::TlsOptions;

/// Whether the cache may use Lua scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ScriptMode {
    /// Every operation is one atomic round trip (scripts run by `EVALSHA`). The default.
    #[default]
    Enabled,
    /// For servers where `EVAL`/`EVALSHA` are disabled or forbidden by ACL. Guarantees weaken:
    /// * `get` and `refresh` take **two** round trips (`HMGET`, then `PEXPIRE`), and a slide can
    ///   race with a concurrent `set` (the slide may apply the old entry's sliding window to the
    ///   new entry's key);
    /// * `set` stays one atomic round trip (a `MULTI`/`HSET`/`PEXPIRE`/`EXEC` pipeline);
    /// * `set_if`, `remove_if_equals`, `try_lock` and `unlock` are unavailable and fail with
    ///   [`RedisCacheError::ScriptingDisabled`](crate::RedisCacheError::ScriptingDisabled)
    ///   (so sessions must use
    ///   [`ConcurrencyMode::LastWriteWins`](session_core::ConcurrencyMode::LastWriteWins)).
    Disabled,
}

/// Settings of a [`RedisCache`](crate::RedisCache). `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisCacheOptions {
    /// Prefix of every Redis key (.NET `RedisCacheOptions.InstanceName`, e.g. `"App_"`).
    /// Default: empty.
    pub instance_name: String,
    /// Maximum number of pooled connections. Connections are multiplexed and an operation
    /// borrows one only to clone its handle, so few are opened even under high concurrency.
    /// Default: 16.
    pub pool_max_size: usize,
    /// How long an operation waits for a free pooled connection before failing with
    /// [`CacheError::Timeout`](session_core::CacheError::Timeout). Default: 5 s.
    pub pool_wait_timeout: Duration,
    /// Timeout for establishing a connection (TCP, TLS and handshake). Default: 5 s.
    pub connect_timeout: Duration,
    /// Timeout for one reply on an established connection; `None` (the default) leaves this
    /// to the session's IO timeout, which wraps every call.
    pub response_timeout: Option<Duration>,
    /// A pooled connection idle for at least this long is checked with a `PING` when taken
    /// from the pool (an extra round trip); busier connections are used directly, and a
    /// connection that fails is dropped. Default: 1 s.
    pub idle_check_after: Duration,
    /// Whether Lua scripts may be used. Default: [`ScriptMode::Enabled`].
    pub script_mode: ScriptMode,
    /// TLS settings for `rediss://` / `ssl=true` connections (feature `tls`): certificate and
    /// host-name verification against the public roots by default. Setting any of them for a
    /// connection without TLS is a [`RedisConfigError::TlsOptionsWithoutTls`].
    pub tls: TlsOptions,
}

impl RedisCacheOptions {
    /// Default [`pool_max_size`](Self::pool_max_size).
    pub const DEFAULT_POOL_MAX_SIZE: usize = 16;
    /// Default [`pool_wait_timeout`](Self::pool_wait_timeout).
    pub const DEFAULT_POOL_WAIT_TIMEOUT: Duration = Duration::from_secs(5);
    /// Default [`connect_timeout`](Self::connect_timeout).
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// Default [`idle_check_after`](Self::idle_check_after).
    pub const DEFAULT_IDLE_CHECK_AFTER: Duration = Duration::from_secs(1);

    /// Checks the settings.
    ///
    /// # Errors
    /// [`RedisConfigError::Zero`] for a zero pool size or timeout.
    pub fn validate(&self) -> Result<(), RedisConfigError> {
        if self.pool_max_size == 0 {
            return Err(RedisConfigError::Zero("pool_max_size"));
        }
        for (name, d) in [
            ("pool_wait_timeout", Some(self.pool_wait_timeout)),
            ("connect_timeout", Some(self.connect_timeout)),
            ("response_timeout", self.response_timeout),
        ] {
            if d == Some(Duration::ZERO) {
                return Err(RedisConfigError::Zero(name));
            }
        }
        Ok(())
    }
}

impl Default for RedisCacheOptions {
    fn default() -> Self {
        Self {
            instance_name: String::new(),
            pool_max_size: Self::DEFAULT_POOL_MAX_SIZE,
            pool_wait_timeout: Self::DEFAULT_POOL_WAIT_TIMEOUT,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            response_timeout: None,
            idle_check_after: Self::DEFAULT_IDLE_CHECK_AFTER,
            script_mode: ScriptMode::Enabled,
            tls: TlsOptions::default(),
        }
    }
}

/// Where a [`RedisCache`](crate::RedisCache) connects.
#[non_exhaustive]
pub enum RedisSource {
    /// A redis-rs URL: `redis://[user[:password]@]host[:port][/db]`, or `rediss://` with the
    /// `tls` feature.
    Url(String),
    /// A StackExchange.Redis configuration string, as .NET and the guide use it:
    /// `host:port[,password=...][,user=...][,ssl=true][,sslHost=name][,defaultDatabase=N][,connectTimeout=ms]`
    /// (see [`StackExchangeConfig::parse`]).
    Configuration(String),
    /// A primary found through Redis Sentinel (feature `sentinel`).
    Sentinel(crate::SentinelConfig),
    /// An existing deadpool-redis pool. It recycles connections with its own `PING` on every
    /// checkout, which costs one extra round trip per operation; prefer [`Url`](Self::Url).
    /// Pool size and timeouts are the pool's own; [`RedisCacheOptions`] pool settings are ignored.
    Pool(deadpool_redis::Pool),
    /// Redis Cluster seed node URLs.
    #[cfg(feature = "cluster")]
    ClusterUrls(Vec<String>),
    /// Redis Cluster seeds as a StackExchange.Redis configuration string (all endpoints are seeds).
    #[cfg(feature = "cluster")]
    ClusterConfiguration(String),
    /// An existing deadpool-redis cluster pool (recycles with a `PING` per checkout, as above).
    #[cfg(feature = "cluster")]
    ClusterPool(deadpool_redis::cluster::Pool),
}

impl std::fmt::Debug for RedisSource {
    // Hand-written so that passwords in URLs and configuration strings never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Url(_) => f.write_str("Url(..)"),
            Self::Configuration(_) => f.write_str("Configuration(..)"),
            Self::Pool(_) => f.write_str("Pool(..)"),
            Self::Sentinel(config) => write!(f, "Sentinel({config:?})"),
            #[cfg(feature = "cluster")]
            Self::ClusterUrls(urls) => write!(f, "ClusterUrls({} seeds)", urls.len()),
            #[cfg(feature = "cluster")]
            Self::ClusterConfiguration(_) => f.write_str("ClusterConfiguration(..)"),
            #[cfg(feature = "cluster")]
            Self::ClusterPool(_) => f.write_str("ClusterPool(..)"),
        }
    }
}

/// A parsed StackExchange.Redis configuration string.
#[derive(Clone, PartialEq, Eq)]
pub struct StackExchangeConfig {
    /// `host:port` endpoints, in order (port defaults to 6379, or 6380 with `ssl=true`).
    pub endpoints: Vec<(String, u16)>,
    /// `user=`.
    pub user: Option<String>,
    /// `password=`.
    pub password: Option<String>,
    /// `ssl=true`.
    pub ssl: bool,
    /// `sslHost=`: the name the server's certificate must carry, when it differs from the
    /// endpoint's host (e.g. connecting by IP address to a server whose certificate names its
    /// DNS name). Needs `ssl=true`; standalone only.
    pub ssl_host: Option<String>,
    /// `defaultDatabase=`.
    pub default_database: Option<i64>,
    /// `connectTimeout=` (milliseconds in the string).
    pub connect_timeout: Option<Duration>,
    /// `serviceName=`: the endpoints are sentinels, which name the primary of this service.
    pub service_name: Option<String>,
    /// `sentinelUser=` (Sentinel; falls back to `user=`, as in StackExchange.Redis).
    pub sentinel_user: Option<String>,
    /// `sentinelPassword=` (Sentinel; falls back to `password=`; empty: no credentials).
    pub sentinel_password: Option<String>,
    /// `syncTimeout=` (milliseconds in the string).
    pub sync_timeout: Option<Duration>,
    /// `asyncTimeout=` (milliseconds in the string).
    pub async_timeout: Option<Duration>,
    /// The options given that are accepted and ignored (see
    /// [`STACKEXCHANGE_OPTIONS`](crate::STACKEXCHANGE_OPTIONS)); building a cache logs a warning
    /// for each.
    pub ignored: Vec<&'static str>,
}

impl std::fmt::Debug for StackExchangeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackExchangeConfig")
            .field("endpoints", &self.endpoints)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ssl", &self.ssl)
            .field("ssl_host", &self.ssl_host)
            .field("default_database", &self.default_database)
            .field("connect_timeout", &self.connect_timeout)
            .field("service_name", &self.service_name)
            .field("sentinel_user", &self.sentinel_user)
            .field(
                "sentinel_password",
                &self.sentinel_password.as_ref().map(|_| "<redacted>"),
            )
            .field("sync_timeout", &self.sync_timeout)
            .field("async_timeout", &self.async_timeout)
            .field("ignored", &self.ignored)
            .finish()
    }
}

impl StackExchangeConfig {
    /// StackExchange.Redis' default operation timeout (`syncTimeout`).
    pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_millis(5000);

    /// Parses `host:port[,host:port...][,option=value...]`. Option names are case-insensitive
    /// as in StackExchange.Redis; each is honoured, ignored or refused as
    /// [`STACKEXCHANGE_OPTIONS`](crate::STACKEXCHANGE_OPTIONS) says, and unknown options are
    /// refused rather than silently ignored.
    ///
    /// # Errors
    /// A [`RedisConfigError`] naming the offending part (never echoing a password).
    pub fn parse(text: &str) -> Result<Self, RedisConfigError> {
        let mut config = Self {
            endpoints: Vec::new(),
            user: None,
            password: None,
            ssl: false,
            ssl_host: None,
            default_database: None,
            connect_timeout: None,
            service_name: None,
            sentinel_user: None,
            sentinel_password: None,
            sync_timeout: None,
            async_timeout: None,
            ignored: Vec::new(),
        };
        let mut raw_endpoints = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((name, value)) = part.split_once('=') else {
                raw_endpoints.push(part);
                continue;
            };
            crate::stackexchange::apply(&mut config, name.trim(), value.trim())?;
        }
        if raw_endpoints.is_empty() {
            return Err(RedisConfigError::NoEndpoint);
        }
        // As StackExchange.Redis: sentinels listen on 26379, TLS servers on 6380.
        let default_port = match (&config.service_name, config.ssl) {
            (Some(_), _) => 26379,
            (None, true) => 6380,
            (None, false) => 6379,
        };
        config.endpoints = raw_endpoints
            .into_iter()
            .map(|e| parse_endpoint(e, default_port))
            .collect::<Result<_, _>>()?;
        Ok(config)
    }

    /// The per-operation (response) timeout this configuration asks for: `asyncTimeout`, else
    /// `syncTimeout` (StackExchange.Redis' `AsyncTimeout` defaults to `SyncTimeout`), else `None`
    /// (the builder then applies [`DEFAULT_OPERATION_TIMEOUT`](Self::DEFAULT_OPERATION_TIMEOUT)
    /// unless a response timeout was set on it).
    #[must_use]
    pub fn operation_timeout(&self) -> Option<Duration> {
        self.async_timeout.or(self.sync_timeout)
    }

    /// One redis-rs URL per endpoint, carrying credentials, TLS and database (not `sslHost`,
    /// which a URL cannot express: the builder applies it).
    #[must_use]
    pub fn to_urls(&self) -> Vec<String> {
        self.endpoints
            .iter()
            .map(|(host, port)| self.url_for(host, *port))
            .collect()
    }

    /// The Sentinel set-up this configuration names (`serviceName=`): the endpoints are the
    /// sentinels; credentials, database and TLS are the primary's (TLS applies to the sentinels
    /// too). `None` without `serviceName=`.
    #[must_use]
    pub fn to_sentinel(&self) -> Option<crate::SentinelConfig> {
        let service_name = self.service_name.clone()?;
        let mut sentinel = crate::SentinelConfig::new(service_name, self.endpoints.clone());
        sentinel.user.clone_from(&self.user);
        sentinel.password.clone_from(&self.password);
        sentinel.database = self.default_database.unwrap_or(0);
        sentinel.tls = self.ssl;
        // As StackExchange.Redis: the sentinels get the server's credentials unless they have
        // their own; an empty `sentinelPassword=` means none.
        match self.sentinel_password.as_deref() {
            Some("") => {}
            Some(password) => {
                sentinel.sentinel_password = Some(password.to_owned());
                sentinel
                    .sentinel_user
                    .clone_from(&self.sentinel_user.clone().or(self.user.clone()));
            }
            None => {
                sentinel.sentinel_password.clone_from(&self.password);
                sentinel
                    .sentinel_user
                    .clone_from(&self.sentinel_user.clone().or(self.user.clone()));
            }
        }
        Some(sentinel)
    }

    /// The URL of `host:port` with this configuration's credentials, TLS and database.
    pub(crate) fn url_for(&self, host: &str, port: u16) -> String {
        let scheme = if self.ssl { "rediss" } else { "redis" };
        let auth = match (&self.user, &self.password) {
            (None, None) => String::new(),
            (user, password) => format!(
                "{}{}@",
                percent_encode(user.as_deref().unwrap_or("")),
                password
                    .as_deref()
                    .map(|p| format!(":{}", percent_encode(p)))
                    .unwrap_or_default()
            ),
        };
        let db = self
            .default_database
            .map(|db| format!("/{db}"))
            .unwrap_or_default();
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        format!("{scheme}://{auth}{host}:{port}{db}")
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
pub(crate) fn parse_endpoint(
    text: &str,
    default_port: u16,
) -> Result<(String, u16), RedisConfigError> {
    let bad = || RedisConfigError::InvalidEndpoint(text.to_owned());
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(bad()),
        }
    } else {
        match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let valid_host = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b));
    if !valid_host {
        return Err(bad());
    }
    let port = match port {
        None => default_port,
        Some(p) => p.parse().ok().filter(|p| *p > 0).ok_or_else(bad)?,
    };
    Ok((host.to_owned(), port))
}

/// Percent-encodes everything but RFC 3986 unreserved characters (for URL userinfo).
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_guide_form() {
        let c = StackExchangeConfig::parse("localhost:6379").unwrap();
        assert_eq!(c.endpoints, vec![("localhost".to_owned(), 6379)]);
        assert_eq!(c.to_urls(), vec!["redis://localhost:6379".to_owned()]);
    }

    #[test]
    fn parses_options() {
        let c = StackExchangeConfig::parse(
            "redis.example:7000, password=p@ss:w , SSL=True,defaultDatabase=3,abortConnect=false,connectTimeout=2500",
        )
        .unwrap();
        assert_eq!(c.endpoints, vec![("redis.example".to_owned(), 7000)]);
        assert_eq!(c.password.as_deref(), Some("p@ss:w"));
        assert!(c.ssl);
        assert_eq!(c.default_database, Some(3));
        assert_eq!(c.connect_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(
            c.to_urls(),
            vec!["rediss://:p%40ss%3Aw@redis.example:7000/3".to_owned()]
        );
        assert!(!format!("{c:?}").contains("p@ss"));
    }

    #[test]
    fn ssl_host() {
        let c = StackExchangeConfig::parse("10.0.0.5:6380,ssl=true,sslHost=redis.example").unwrap();
        assert_eq!(c.ssl_host.as_deref(), Some("redis.example"));
        // The URLs name the endpoints; the builder applies sslHost.
        assert_eq!(c.to_urls(), vec!["rediss://10.0.0.5:6380".to_owned()]);
        assert!(matches!(
            StackExchangeConfig::parse("h,ssl=true,sslHost=a/b"),
            Err(RedisConfigError::InvalidValue {
                option: "sslHost",
                ..
            })
        ));
    }

    #[test]
    fn default_ports_and_ipv6() {
        let c = StackExchangeConfig::parse("a,b:1,[::1]:2,[::1],ssl=true").unwrap();
        assert_eq!(
            c.endpoints,
            vec![
                ("a".to_owned(), 6380),
                ("b".to_owned(), 1),
                ("::1".to_owned(), 2),
                ("::1".to_owned(), 6380)
            ]
        );
        assert_eq!(c.to_urls()[2], "rediss://[::1]:2");
    }

    #[test]
    fn bad_input_is_typed() {
        assert!(matches!(
            StackExchangeConfig::parse(""),
            Err(RedisConfigError::NoEndpoint)
        ));
        assert!(matches!(
            StackExchangeConfig::parse("password=x"),
            Err(RedisConfigError::NoEndpoint)
        ));
        assert!(matches!(
            StackExchangeConfig::parse("h:notaport"),
            Err(RedisConfigError::InvalidEndpoint(_))
        ));
        assert!(matches!(
            StackExchangeConfig::parse("h:0"),
            Err(RedisConfigError::InvalidEndpoint(_))
        ));
        assert!(matches!(
            StackExchangeConfig::parse("h/x:1"),
            Err(RedisConfigError::InvalidEndpoint(_))
        ));
        assert!(matches!(
            StackExchangeConfig::parse("h,ssl=maybe"),
            Err(RedisConfigError::InvalidValue { option: "ssl", .. })
        ));
        assert!(matches!(
            StackExchangeConfig::parse("h,defaultDatabase=-1"),
            Err(RedisConfigError::InvalidValue { .. })
        ));
        assert!(matches!(
            StackExchangeConfig::parse("h,frobnicate=1"),
            Err(RedisConfigError::UnknownOption(o)) if o == "frobnicate"
        ));
    }

    #[test]
    fn options_validate() {
        assert!(RedisCacheOptions::default().validate().is_ok());
        let zero = RedisCacheOptions {
            pool_max_size: 0,
            ..RedisCacheOptions::default()
        };
        assert!(matches!(
            zero.validate(),
            Err(RedisConfigError::Zero("pool_max_size"))
        ));
        let zero = RedisCacheOptions {
            response_timeout: Some(Duration::ZERO),
            ..RedisCacheOptions::default()
        };
        assert!(zero.validate().is_err());
    }
}
