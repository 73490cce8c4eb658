//! [`RedisCacheBuilder`]: assembles a [`RedisCache`] from a [`RedisSource`] and
//! [`RedisCacheOptions`].

use std::path::PathBuf;
use std::time::Duration;

use crate::cache::RedisCache;
use crate::config::{RedisCacheOptions, RedisSource, ScriptMode, StackExchangeConfig};
use crate::error::{RedisConfigError, RedisStartupError};
use crate::pool::{Backend, ConnectTo};
use crate::sentinel::SentinelConfig;
use crate::tls::{ClientCertificate, TlsOptions};

/// Builds a [`RedisCache`]; start with [`RedisCache::builder`].
///
/// ```
/// use cache_redis::RedisCache;
///
/// let cache = RedisCache::builder()
///     .configuration("localhost:6379,defaultDatabase=2")
///     .instance_name("App_")
///     .pool_max_size(32)
///     .build()
///     .unwrap(); // connects lazily, on first use
/// # let _ = cache;
/// ```
#[derive(Debug, Default)]
#[must_use]
pub struct RedisCacheBuilder {
    source: Option<RedisSource>,
    options: RedisCacheOptions,
    /// `(user, password)` on the sentinels, for a Sentinel source.
    sentinel_credentials: Option<(Option<String>, String)>,
}

impl RedisCacheBuilder {
    /// Connects to a redis-rs URL (`redis://host:port/db`; `rediss://` with the `tls` feature), or
    /// through Sentinel with a `redis+sentinel://` URL (feature `sentinel`, see
    /// [`SentinelConfig::parse_url`](crate::SentinelConfig::parse_url)).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.source = Some(RedisSource::Url(url.into()));
        self
    }

    /// Connects as a StackExchange.Redis configuration string says (`host:port,password=...`).
    pub fn configuration(mut self, configuration: impl Into<String>) -> Self {
        self.source = Some(RedisSource::Configuration(configuration.into()));
        self
    }

    /// Connects to the primary that these sentinels name (feature `sentinel`; without it,
    /// building fails with [`RedisConfigError::SentinelNotEnabled`]).
    pub fn sentinel(mut self, sentinel: SentinelConfig) -> Self {
        self.source = Some(RedisSource::Sentinel(sentinel));
        self
    }

    /// Authenticates to the sentinels (not the primary) as `user` (`None`: `default`) with
    /// `password`, for a `serviceName=` configuration string or a `redis+sentinel://` URL, whose
    /// credentials are the primary's. Building fails with
    /// [`RedisConfigError::SentinelCredentialsWithoutSentinel`] for any other source.
    pub fn sentinel_credentials(
        mut self,
        user: Option<String>,
        password: impl Into<String>,
    ) -> Self {
        self.sentinel_credentials = Some((user, password.into()));
        self
    }

    /// Uses an existing deadpool-redis pool (see [`RedisSource::Pool`] for the cost).
    pub fn pool(mut self, pool: deadpool_redis::Pool) -> Self {
        self.source = Some(RedisSource::Pool(pool));
        self
    }

    /// Connects to a Redis Cluster through these seed URLs.
    #[cfg(feature = "cluster")]
    pub fn cluster_urls<S: Into<String>>(mut self, urls: impl IntoIterator<Item = S>) -> Self {
        self.source = Some(RedisSource::ClusterUrls(
            urls.into_iter().map(Into::into).collect(),
        ));
        self
    }

    /// Sets the connection source directly.
    pub fn source(mut self, source: RedisSource) -> Self {
        self.source = Some(source);
        self
    }

    /// Replaces all options at once.
    pub fn options(mut self, options: RedisCacheOptions) -> Self {
        self.options = options;
        self
    }

    /// See [`RedisCacheOptions::instance_name`].
    pub fn instance_name(mut self, name: impl Into<String>) -> Self {
        self.options.instance_name = name.into();
        self
    }

    /// See [`RedisCacheOptions::pool_max_size`].
    pub fn pool_max_size(mut self, size: usize) -> Self {
        self.options.pool_max_size = size;
        self
    }

    /// See [`RedisCacheOptions::pool_wait_timeout`].
    pub fn pool_wait_timeout(mut self, timeout: Duration) -> Self {
        self.options.pool_wait_timeout = timeout;
        self
    }

    /// See [`RedisCacheOptions::connect_timeout`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.connect_timeout = timeout;
        self
    }

    /// See [`RedisCacheOptions::response_timeout`].
    pub fn response_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.options.response_timeout = timeout;
        self
    }

    /// See [`RedisCacheOptions::idle_check_after`].
    pub fn idle_check_after(mut self, after: Duration) -> Self {
        self.options.idle_check_after = after;
        self
    }

    /// See [`RedisCacheOptions::script_mode`].
    pub fn script_mode(mut self, mode: ScriptMode) -> Self {
        self.options.script_mode = mode;
        self
    }

    /// Replaces all TLS settings at once (see [`TlsOptions`]).
    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.options.tls = tls;
        self
    }

    /// Trusts the CA certificate(s) in this PEM file, and only them, for `rediss://` / `ssl=true`
    /// (a private CA). See [`TlsOptions::ca_file`].
    pub fn tls_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.options.tls.ca_file = Some(path.into());
        self
    }

    /// Presents this client certificate (PEM certificate file and PEM key file) to servers that
    /// require one (mutual TLS). See [`TlsOptions::client_certificate`].
    pub fn tls_client_certificate(
        mut self,
        certificate_file: impl Into<PathBuf>,
        key_file: impl Into<PathBuf>,
    ) -> Self {
        self.options.tls.client_certificate = Some(ClientCertificate {
            certificate_file: certificate_file.into(),
            key_file: key_file.into(),
        });
        self
    }

    /// **Dangerous**: accepts any server certificate for any host name (no authentication of
    /// the server, so no protection against a man in the middle). For throw-away test setups
    /// only. See [`TlsOptions::danger_accept_invalid_certificates`].
    pub fn danger_accept_invalid_certificates(mut self, accept: bool) -> Self {
        self.options.tls.danger_accept_invalid_certificates = accept;
        self
    }

    /// [`build`](Self::build)s the cache and [`check`](RedisCache::check)s that the store is
    /// usable (one `PING` on a connection with the configured credentials and database): the
    /// call for application start-up. [`build`](Self::build) alone connects lazily, for an
    /// application that must start while Redis is down.
    ///
    /// # Errors
    /// [`RedisStartupError::Config`] as [`build`](Self::build), or
    /// [`RedisStartupError::Unusable`] when the store cannot be used.
    pub async fn connect(self) -> Result<RedisCache, RedisStartupError> {
        let cache = self.build()?;
        cache.check().await?;
        Ok(cache)
    }

    /// Validates the configuration and creates the cache. No connection is opened yet.
    ///
    /// # Errors
    /// A [`RedisConfigError`] for a missing source, a bad URL or configuration string, a zero
    /// size or timeout, TLS without the `tls` feature, TLS options without TLS, or an unreadable
    /// or invalid certificate file.
    pub fn build(self) -> Result<RedisCache, RedisConfigError> {
        let Self {
            source,
            mut options,
            sentinel_credentials,
        } = self;
        options.validate()?;
        let source = match source.ok_or(RedisConfigError::MissingConnection)? {
            // The Sentinel forms of a URL and of a configuration string.
            RedisSource::Url(url) if is_sentinel_url(&url) => {
                RedisSource::Sentinel(SentinelConfig::parse_url(&url)?)
            }
            RedisSource::Configuration(text) => {
                let config = configure(&text, &mut options)?;
                match config.to_sentinel() {
                    Some(_) if config.ssl_host.is_some() => {
                        return Err(RedisConfigError::SslHostWithSentinel);
                    }
                    Some(sentinel) => RedisSource::Sentinel(sentinel),
                    None => RedisSource::Configuration(text),
                }
            }
            #[cfg(feature = "cluster")]
            RedisSource::ClusterConfiguration(text) => {
                let config = configure(&text, &mut options)?;
                if config.ssl_host.is_some() {
                    return Err(RedisConfigError::SslHostWithCluster);
                }
                if config.service_name.is_some() {
                    return Err(RedisConfigError::UnsupportedOption {
                        option: "serviceName".to_owned(),
                        reason: "a cluster is not found through Sentinel",
                    });
                }
                RedisSource::ClusterConfiguration(text)
            }
            other => other,
        };
        let source = match (source, sentinel_credentials) {
            (RedisSource::Sentinel(mut sentinel), Some((user, password))) => {
                sentinel.sentinel_user = user;
                sentinel.sentinel_password = Some(password);
                RedisSource::Sentinel(sentinel)
            }
            (_, Some(_)) => return Err(RedisConfigError::SentinelCredentialsWithoutSentinel),
            (source, None) => source,
        };
        let backend = match source {
            RedisSource::Url(url) => Backend::standalone(&url, &options, None)?,
            #[cfg(feature = "sentinel")]
            RedisSource::Sentinel(sentinel) => Backend::sentinel(&sentinel, &options)?,
            #[cfg(not(feature = "sentinel"))]
            RedisSource::Sentinel(_) => return Err(RedisConfigError::SentinelNotEnabled),
            RedisSource::Configuration(text) => {
                // Parsed (and its options applied) above already: this cannot fail.
                let config = StackExchangeConfig::parse(&text)?;
                let [(host, port)] = config.endpoints.as_slice() else {
                    return Err(RedisConfigError::MultipleEndpoints(config.endpoints.len()));
                };
                match &config.ssl_host {
                    None => Backend::standalone(&config.url_for(host, *port), &options, None)?,
                    Some(_) if !config.ssl => return Err(RedisConfigError::TlsOptionsWithoutTls),
                    Some(name) => Backend::standalone(
                        &config.url_for(name, *port),
                        &options,
                        Some(ConnectTo {
                            name: name.clone(),
                            host: host.clone(),
                        }),
                    )?,
                }
            }
            RedisSource::Pool(pool) => {
                // Its URL is not visible here: it may be `rediss://`, and its first TLS
                // connection needs a crypto provider like ours do.
                #[cfg(feature = "tls")]
                crate::tls::install_crypto_provider();
                Backend::External(pool)
            }
            #[cfg(feature = "cluster")]
            RedisSource::ClusterUrls(urls) => Backend::cluster(&urls, &options)?,
            #[cfg(feature = "cluster")]
            RedisSource::ClusterConfiguration(text) => {
                Backend::cluster(&StackExchangeConfig::parse(&text)?.to_urls(), &options)?
            }
            #[cfg(feature = "cluster")]
            RedisSource::ClusterPool(pool) => {
                #[cfg(feature = "tls")]
                crate::tls::install_crypto_provider();
                Backend::ExternalCluster(pool)
            }
        };
        Ok(RedisCache::from_parts(backend, options))
    }
}

/// `redis+sentinel://` or `rediss+sentinel://`.
fn is_sentinel_url(url: &str) -> bool {
    url.starts_with("redis+sentinel://") || url.starts_with("rediss+sentinel://")
}

/// Parses a configuration string, applies its timeouts to `options` (its own first, then the
/// builder's response timeout, then StackExchange.Redis' 5 s operation timeout) and warns about
/// each option it gives that is accepted and ignored.
fn configure(
    text: &str,
    options: &mut RedisCacheOptions,
) -> Result<StackExchangeConfig, RedisConfigError> {
    let config = StackExchangeConfig::parse(text)?;
    options.connect_timeout = config.connect_timeout.unwrap_or(options.connect_timeout);
    options.response_timeout = config
        .operation_timeout()
        .or(options.response_timeout)
        .or(Some(StackExchangeConfig::DEFAULT_OPERATION_TIMEOUT));
    for option in &config.ignored {
        tracing::warn!(
            option,
            "StackExchange.Redis configuration option accepted and ignored (see cache_redis::STACKEXCHANGE_OPTIONS)"
        );
    }
    Ok(config)
}
