//! Redis Sentinel (feature `sentinel`): [`SentinelConfig`] (service name, sentinels, and how to
//! talk to the sentinels and to the primary they name), its URL form, and the redis-rs
//! `SentinelClient` built from it.

use crate::error::RedisConfigError;

/// Where a Sentinel-managed primary is found: the sentinels to ask and the service (master) name
/// they know it by, plus how to talk to each side.
///
/// Built from a `serviceName=` configuration string, a `redis+sentinel://` URL
/// ([`parse_url`](Self::parse_url)), or directly:
///
/// ```
/// use cache_redis::{RedisCache, SentinelConfig};
///
/// let mut sentinel = SentinelConfig::new("mymaster", [("10.0.0.1", 26379), ("10.0.0.2", 26379)]);
/// sentinel.password = Some("primary-secret".into()); // the primary's, not the sentinels'
/// let cache = RedisCache::builder().sentinel(sentinel).build()?;
/// # let _ = cache;
/// # Ok::<(), cache_redis::RedisConfigError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentinelConfig {
    /// The name the sentinels monitor the primary under (`sentinel monitor <name> ...`;
    /// StackExchange's `serviceName=`).
    pub service_name: String,
    /// The sentinels, `(host, port)`, asked in this order.
    pub sentinels: Vec<(String, u16)>,
    /// ACL user on the primary (`None`: `default`).
    pub user: Option<String>,
    /// Password on the primary.
    pub password: Option<String>,
    /// Database on the primary.
    pub database: i64,
    /// ACL user on the sentinels (`None`: `default`). Sentinels usually have credentials of their
    /// own, or none, so the primary's are never sent to them.
    pub sentinel_user: Option<String>,
    /// Password on the sentinels (`sentinel requirepass` / `requirepass` in `sentinel.conf`).
    pub sentinel_password: Option<String>,
    /// TLS to the sentinels and to the primary, with the cache's [`TlsOptions`](crate::TlsOptions)
    /// (feature `tls`). Not yet exercised against a TLS Sentinel set-up by this crate's tests.
    pub tls: bool,
}

impl std::fmt::Debug for SentinelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |p: &Option<String>| p.as_ref().map(|_| "<redacted>");
        f.debug_struct("SentinelConfig")
            .field("service_name", &self.service_name)
            .field("sentinels", &self.sentinels)
            .field("user", &self.user)
            .field("password", &redacted(&self.password))
            .field("database", &self.database)
            .field("sentinel_user", &self.sentinel_user)
            .field("sentinel_password", &redacted(&self.sentinel_password))
            .field("tls", &self.tls)
            .finish()
    }
}

/// The default port of a sentinel.
pub(crate) const DEFAULT_SENTINEL_PORT: u16 = 26379;

impl SentinelConfig {
    /// The primary known as `service_name` to these sentinels, without credentials or TLS.
    pub fn new<H: Into<String>>(
        service_name: impl Into<String>,
        sentinels: impl IntoIterator<Item = (H, u16)>,
    ) -> Self {
        Self {
            service_name: service_name.into(),
            sentinels: sentinels
                .into_iter()
                .map(|(host, port)| (host.into(), port))
                .collect(),
            user: None,
            password: None,
            database: 0,
            sentinel_user: None,
            sentinel_password: None,
            tls: false,
        }
    }

    /// Parses `redis+sentinel://[user[:password]@]host[:port][,host[:port]...]/service[/db]`
    /// (`rediss+sentinel://` for TLS). The credentials and database are the primary's; the port
    /// defaults to 26379. User and password are percent-decoded.
    ///
    /// # Errors
    /// [`RedisConfigError::InvalidSentinelUrl`] naming what is wrong (never the password), or
    /// [`RedisConfigError::InvalidEndpoint`] for a bad sentinel address.
    pub fn parse_url(url: &str) -> Result<Self, RedisConfigError> {
        let bad = |why: &'static str| RedisConfigError::InvalidSentinelUrl(why);
        let (tls, rest) = if let Some(rest) = url.strip_prefix("redis+sentinel://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("rediss+sentinel://") {
            (true, rest)
        } else {
            return Err(bad(
                "the scheme must be `redis+sentinel` or `rediss+sentinel`",
            ));
        };
        let (authority, path) = rest
            .split_once('/')
            .ok_or_else(|| bad("no service name: expected `/<service>` after the sentinels"))?;
        // The last `@` ends the user info: a password may contain `@` (percent-encoding it is
        // optional here, as in redis-rs URLs).
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => (Some(userinfo), hosts),
            None => (None, authority),
        };
        let mut config = Self::new(String::new(), Vec::<(String, u16)>::new());
        config.tls = tls;
        if let Some(userinfo) = userinfo {
            let (user, password) = match userinfo.split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (userinfo, None),
            };
            let decode = |s: &str| percent_decode(s).ok_or_else(|| bad("invalid percent-encoding"));
            config.user = Some(decode(user)?).filter(|u| !u.is_empty());
            config.password = password.map(decode).transpose()?;
        }
        config.sentinels = hosts
            .split(',')
            .map(|host| crate::config::parse_endpoint(host, DEFAULT_SENTINEL_PORT))
            .collect::<Result<_, _>>()?;
        let mut segments = path.split('/');
        config.service_name = segments
            .next()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("no service name: expected `/<service>` after the sentinels"))?
            .to_owned();
        if let Some(db) = segments.next().filter(|s| !s.is_empty()) {
            config.database = db
                .parse()
                .ok()
                .filter(|db| *db >= 0)
                .ok_or_else(|| bad("the database must be a non-negative integer"))?;
        }
        if segments.next().is_some() {
            return Err(bad("unexpected path after `/<service>/<db>`"));
        }
        Ok(config)
    }

    /// Checks what redis-rs would only find at the first connection.
    #[cfg_attr(not(feature = "sentinel"), allow(dead_code))]
    pub(crate) fn validate(&self) -> Result<(), RedisConfigError> {
        if self.service_name.is_empty() {
            return Err(RedisConfigError::InvalidSentinelUrl("empty service name"));
        }
        if self.sentinels.is_empty() {
            return Err(RedisConfigError::NoEndpoint);
        }
        if self.database < 0 {
            return Err(RedisConfigError::InvalidValue {
                option: "database",
                value: self.database.to_string(),
            });
        }
        Ok(())
    }

    /// The redis-rs client that asks the sentinels for the primary and connects to it.
    #[cfg(feature = "sentinel")]
    pub(crate) fn client(
        &self,
        tls: &crate::TlsOptions,
    ) -> Result<redis::sentinel::SentinelClient, RedisConfigError> {
        use redis::sentinel::{SentinelClientBuilder, SentinelServerType};
        self.validate()?;
        if !self.tls && *tls != crate::TlsOptions::default() {
            return Err(RedisConfigError::TlsOptionsWithoutTls);
        }
        #[cfg(not(feature = "tls"))]
        if self.tls {
            return Err(RedisConfigError::TlsNotEnabled);
        }
        let addresses = self.sentinels.iter().map(|(host, port)| {
            if self.tls {
                redis::ConnectionAddr::TcpTls {
                    host: host.clone(),
                    port: *port,
                    insecure: tls.danger_accept_invalid_certificates,
                    tls_params: None,
                }
            } else {
                redis::ConnectionAddr::Tcp(host.clone(), *port)
            }
        });
        let invalid = RedisConfigError::InvalidUrl;
        let mut builder =
            SentinelClientBuilder::new(addresses, &self.service_name, SentinelServerType::Master)
                .map_err(invalid)?
                .set_client_to_redis_db(self.database);
        // A user without a password authenticates as that user with an empty one, as for a
        // standalone server (see `tls::with_user_password`): never silently as `default`.
        if let Some(user) = &self.user {
            builder = builder
                .set_client_to_redis_username(user)
                .set_client_to_redis_password(self.password.as_deref().unwrap_or(""));
        } else if let Some(password) = &self.password {
            builder = builder.set_client_to_redis_password(password);
        }
        if let Some(user) = &self.sentinel_user {
            builder = builder
                .set_client_to_sentinel_username(user)
                .set_client_to_sentinel_password(self.sentinel_password.as_deref().unwrap_or(""));
        } else if let Some(password) = &self.sentinel_password {
            builder = builder.set_client_to_sentinel_password(password);
        }
        #[cfg(feature = "tls")]
        if self.tls {
            crate::tls::install_crypto_provider();
            let mode = if tls.danger_accept_invalid_certificates {
                redis::TlsMode::Insecure
            } else {
                redis::TlsMode::Secure
            };
            builder = builder
                .set_client_to_redis_tls_mode(mode)
                .set_client_to_sentinel_tls_mode(mode);
            if let Some(certificates) = crate::tls::certificates(tls)? {
                builder = builder
                    .set_client_to_redis_certificates(certificates.clone())
                    .set_client_to_sentinel_certificates(certificates);
            }
        }
        builder.build().map_err(invalid)
    }
}

/// `%XX` decoding of URL user info; `None` for a malformed escape or invalid UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_url_form() {
        let c = SentinelConfig::parse_url(
            "redis+sentinel://alice:p%40ss@10.0.0.1,10.0.0.2:26380,[::1]/mymaster/2",
        )
        .unwrap();
        assert_eq!(c.service_name, "mymaster");
        assert_eq!(
            c.sentinels,
            vec![
                ("10.0.0.1".to_owned(), 26379),
                ("10.0.0.2".to_owned(), 26380),
                ("::1".to_owned(), 26379)
            ]
        );
        assert_eq!(c.user.as_deref(), Some("alice"));
        assert_eq!(c.password.as_deref(), Some("p@ss"));
        assert_eq!(c.database, 2);
        assert!(!c.tls);
        assert!(!format!("{c:?}").contains("p@ss"));
        let c = SentinelConfig::parse_url("rediss+sentinel://:secret@h/svc").unwrap();
        assert!(c.tls);
        assert_eq!(c.user, None);
        assert_eq!(c.password.as_deref(), Some("secret"));
        assert_eq!(c.database, 0);
    }

    #[test]
    fn bad_urls_are_typed() {
        for url in [
            "redis://h/svc",
            "redis+sentinel://h",
            "redis+sentinel://h/",
            "redis+sentinel://h/svc/x",
            "redis+sentinel://h/svc/-1",
            "redis+sentinel://h/svc/1/2",
            "redis+sentinel://u:%zz@h/svc",
        ] {
            assert!(
                matches!(
                    SentinelConfig::parse_url(url),
                    Err(RedisConfigError::InvalidSentinelUrl(_))
                ),
                "{url}"
            );
        }
        assert!(matches!(
            SentinelConfig::parse_url("redis+sentinel://h:0/svc"),
            Err(RedisConfigError::InvalidEndpoint(_))
        ));
        assert!(matches!(
            SentinelConfig::parse_url("redis+sentinel://h,/svc"),
            Err(RedisConfigError::InvalidEndpoint(_))
        ));
    }
}
