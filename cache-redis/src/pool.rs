//! Connection pools: our own deadpool managers (no round trip on checkout for busy
//! connections) and deadpool-redis pools supplied by the user, behind one [`Backend`].
//!
//! Every pooled connection is *multiplexed* (redis-rs pipelines the commands of all its handles
//! over one socket). An operation therefore borrows a pooled connection only long enough to
//! clone its handle and returns it at once, instead of holding it for the whole round trip:
//! concurrent operations share a few sockets, and their commands leave and arrive in batches
//! (one `writev`/`read` for many commands, on our side and on the server's). Holding one
//! connection per in-flight operation, as a pool normally does, costs one syscall pair per
//! command on both ends and measured 2.7× fewer operations per second on a loaded 2-core machine
//! (32 concurrent GET+SET loops; see `bench/RESULTS.md` for the end-to-end figure).

use std::time::Duration;

use deadpool::managed::{self, Metrics, Pool, PoolError, RecycleResult};
#[cfg(feature = "cluster")]
use redis::IntoConnectionInfo;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{Cmd, Pipeline, RedisError, RedisFuture, Value};

use crate::config::RedisCacheOptions;
use crate::error::RedisConfigError;

/// `PING`s a connection that sat idle for `after` or longer. deadpool-redis' own managers `PING`
/// on every checkout, which doubles the round trips of a one-command operation; skipping the
/// check for recently used connections keeps operations at one round trip under load, while a
/// connection that idled long enough to have been cut (server restart, idle timeout, NAT) is
/// verified before use. A connection that fails anyway is dropped by the caller (see
/// [`Backend::purge_idle`]).
async fn check_if_idle<C: ConnectionLike + Send>(
    conn: &mut C,
    metrics: &Metrics,
    after: Duration,
) -> RecycleResult<RedisError> {
    if metrics.last_used() < after {
        return Ok(());
    }
    redis::cmd("PING").query_async::<()>(conn).await?;
    Ok(())
}

/// Creates standalone multiplexed connections.
pub(crate) struct StandaloneManager {
    client: redis::Client,
    config: redis::AsyncConnectionConfig,
    idle_check_after: Duration,
}

impl managed::Manager for StandaloneManager {
    type Type = MultiplexedConnection;
    type Error = RedisError;

    async fn create(&self) -> Result<MultiplexedConnection, RedisError> {
        self.client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await
    }

    async fn recycle(
        &self,
        conn: &mut MultiplexedConnection,
        metrics: &Metrics,
    ) -> RecycleResult<RedisError> {
        check_if_idle(conn, metrics, self.idle_check_after).await
    }
}

/// Creates cluster connections (which follow slot moves and reconnect to nodes by themselves).
#[cfg(feature = "cluster")]
pub(crate) struct ClusterManager {
    client: redis::cluster::ClusterClient,
    /// The user connections authenticate as, for error messages.
    user: String,
    /// The seeds, `host:port, ...`, for error messages.
    seeds: String,
    idle_check_after: Duration,
}

#[cfg(feature = "cluster")]
impl managed::Manager for ClusterManager {
    type Type = redis::cluster_async::ClusterConnection;
    type Error = RedisError;

    async fn create(&self) -> Result<Self::Type, RedisError> {
        self.client.get_async_connection().await
    }

    async fn recycle(&self, conn: &mut Self::Type, metrics: &Metrics) -> RecycleResult<RedisError> {
        check_if_idle(conn, metrics, self.idle_check_after).await
    }
}

/// Creates connections to the primary a Sentinel set-up names, asking the sentinels anew for
/// each connection (so connections made after a failover go to the new primary). The driver's
/// own Sentinel support finds the primary (it also checks with `ROLE` that the node named is a
/// primary); deadpool-redis' Sentinel manager is not used because it `PING`s on every checkout
/// and takes neither timeouts nor a private CA.
#[cfg(feature = "sentinel")]
pub(crate) struct SentinelManager {
    /// `SentinelClient` needs `&mut` to look up (it caches its sentinel connections).
    client: tokio::sync::Mutex<redis::sentinel::SentinelClient>,
    config: redis::AsyncConnectionConfig,
    service_name: String,
    /// The sentinels, `host:port, ...`, for error messages.
    sentinels: String,
    /// The user connections authenticate as on the primary, for error messages.
    user: String,
    /// The user the sentinels are asked as, for error messages.
    sentinel_user: String,
    idle_check_after: Duration,
}

#[cfg(feature = "sentinel")]
impl managed::Manager for SentinelManager {
    type Type = MultiplexedConnection;
    type Error = RedisError;

    async fn create(&self) -> Result<MultiplexedConnection, RedisError> {
        self.client
            .lock()
            .await
            .get_async_connection_with_config(&self.config)
            .await
    }

    async fn recycle(
        &self,
        conn: &mut MultiplexedConnection,
        metrics: &Metrics,
    ) -> RecycleResult<RedisError> {
        check_if_idle(conn, metrics, self.idle_check_after).await
    }
}

fn build_pool<M: managed::Manager>(
    manager: M,
    options: &RedisCacheOptions,
) -> Result<Pool<M>, RedisConfigError> {
    Pool::builder(manager)
        .max_size(options.pool_max_size)
        // The most recently returned connection first: traffic concentrates on few sockets
        // (better batching), and the others idle until the pool needs them.
        .queue_mode(deadpool::managed::QueueMode::Lifo)
        .wait_timeout(Some(options.pool_wait_timeout))
        .create_timeout(Some(options.connect_timeout))
        .recycle_timeout(Some(options.connect_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(RedisConfigError::Pool)
}

/// Resolves `name` as if it were `host` (StackExchange's `sslHost=`): the URL carries `name`, so
/// TLS verifies the server's certificate for it (and sends it as SNI), while the socket goes to
/// the configured endpoint `host`. redis-rs takes the verified name from the URL's host, and
/// offers no other way to tell them apart.
pub(crate) struct ConnectTo {
    pub(crate) name: String,
    pub(crate) host: String,
}

impl redis::io::AsyncDNSResolver for ConnectTo {
    fn resolve<'a, 'b: 'a>(
        &'a self,
        host: &'b str,
        port: u16,
    ) -> RedisFuture<'a, Box<dyn Iterator<Item = std::net::SocketAddr> + Send + 'a>> {
        let target = if host.eq_ignore_ascii_case(&self.name) {
            self.host.as_str()
        } else {
            host
        };
        Box::pin(async move {
            let addresses = tokio::net::lookup_host((target, port)).await?;
            Ok(Box::new(addresses) as Box<dyn Iterator<Item = _> + Send>)
        })
    }
}

/// Where connections come from.
pub(crate) enum Backend {
    Standalone(Pool<StandaloneManager>),
    External(deadpool_redis::Pool),
    #[cfg(feature = "cluster")]
    Cluster(Pool<ClusterManager>),
    #[cfg(feature = "cluster")]
    ExternalCluster(deadpool_redis::cluster::Pool),
    #[cfg(feature = "sentinel")]
    Sentinel(Pool<SentinelManager>),
}

impl Backend {
    /// A pool of standalone connections to `url`.
    pub(crate) fn standalone(
        url: &str,
        options: &RedisCacheOptions,
        connect_to: Option<ConnectTo>,
    ) -> Result<Self, RedisConfigError> {
        let client = crate::tls::client(url, &options.tls)?;
        let mut config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            .set_response_timeout(options.response_timeout);
        if let Some(connect_to) = connect_to {
            config = config.set_dns_resolver(connect_to);
        }
        let manager = StandaloneManager {
            client,
            config,
            idle_check_after: options.idle_check_after,
        };
        Ok(Self::Standalone(build_pool(manager, options)?))
    }

    /// A pool of connections to the primary the sentinels of `sentinel` name.
    #[cfg(feature = "sentinel")]
    pub(crate) fn sentinel(
        sentinel: &crate::SentinelConfig,
        options: &RedisCacheOptions,
    ) -> Result<Self, RedisConfigError> {
        let manager = SentinelManager {
            client: tokio::sync::Mutex::new(sentinel.client(&options.tls)?),
            config: redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(options.connect_timeout))
                .set_response_timeout(options.response_timeout),
            service_name: sentinel.service_name.clone(),
            sentinels: sentinel
                .sentinels
                .iter()
                .map(|(host, port)| format!("{host}:{port}"))
                .collect::<Vec<_>>()
                .join(", "),
            user: sentinel
                .user
                .clone()
                .unwrap_or_else(|| "default".to_owned()),
            sentinel_user: sentinel
                .sentinel_user
                .clone()
                .unwrap_or_else(|| "default".to_owned()),
            idle_check_after: options.idle_check_after,
        };
        Ok(Self::Sentinel(build_pool(manager, options)?))
    }

    /// The Sentinel service name and the user on the sentinels, for a Sentinel backend.
    pub(crate) fn sentinel_names(&self) -> Option<(&str, &str)> {
        match self {
            #[cfg(feature = "sentinel")]
            Self::Sentinel(p) => Some((&p.manager().service_name, &p.manager().sentinel_user)),
            _ => None,
        }
    }

    /// A pool of cluster connections seeded by `urls`.
    #[cfg(feature = "cluster")]
    pub(crate) fn cluster(
        urls: &[String],
        options: &RedisCacheOptions,
    ) -> Result<Self, RedisConfigError> {
        let mut uses_tls = false;
        for url in urls {
            // Checks each URL (and the TLS options against it) the way a standalone client would.
            let client = crate::tls::client(url, &options.tls)?;
            uses_tls |= matches!(
                client.get_connection_info().addr(),
                redis::ConnectionAddr::TcpTls { .. }
            );
        }
        let mut builder = redis::cluster::ClusterClient::builder(urls.iter().map(String::as_str))
            .connection_timeout(options.connect_timeout);
        // A user without a password authenticates as that user (see `with_user_password`).
        let mut user_name = "default".to_owned();
        if let Some(first) = urls.first() {
            let info = crate::tls::with_user_password(
                first
                    .as_str()
                    .into_connection_info()
                    .map_err(RedisConfigError::InvalidUrl)?,
            );
            if let (Some(user), Some(password)) = (
                info.redis_settings().username(),
                info.redis_settings().password(),
            ) {
                builder = builder.username(user).password(password);
                user.clone_into(&mut user_name);
            }
        }
        #[cfg(feature = "tls")]
        if uses_tls {
            if options.tls.danger_accept_invalid_certificates {
                builder = builder.tls(redis::TlsMode::Insecure);
            }
            if let Some(certificates) = crate::tls::certificates(&options.tls)? {
                builder = builder.certs(certificates);
            }
        }
        #[cfg(not(feature = "tls"))]
        let _ = uses_tls;
        if let Some(t) = options.response_timeout {
            builder = builder.response_timeout(t);
        }
        let client = builder.build().map_err(RedisConfigError::InvalidUrl)?;
        let seeds = urls
            .iter()
            .filter_map(|url| url.as_str().into_connection_info().ok())
            .map(|info| info.addr().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let manager = ClusterManager {
            client,
            user: user_name,
            seeds,
            idle_check_after: options.idle_check_after,
        };
        Ok(Self::Cluster(build_pool(manager, options)?))
    }

    /// A handle on a pooled connection (waiting at most the pool's wait timeout for one). The
    /// pooled object goes back to the pool before this returns; see the module docs for why.
    pub(crate) async fn get(&self) -> Result<Conn, PoolError<RedisError>> {
        Ok(match self {
            Self::Standalone(p) => Conn::Standalone((*p.get().await?).clone()),
            Self::External(p) => Conn::Standalone((*p.get().await?).clone()),
            #[cfg(feature = "cluster")]
            Self::Cluster(p) => Conn::Cluster((*p.get().await?).clone()),
            #[cfg(feature = "cluster")]
            Self::ExternalCluster(p) => Conn::Cluster((*p.get().await?).clone()),
            #[cfg(feature = "sentinel")]
            Self::Sentinel(p) => Conn::Standalone((*p.get().await?).clone()),
        })
    }

    /// Drops every idle pooled connection. Called when a connection turned out to be dead (or
    /// stopped answering): the pool holds it again already (handles are returned at once), and
    /// the usual cause (a server restart, a network cut) killed its siblings too; dropping them
    /// now lets the next operations, including those that cannot be retried, start on fresh
    /// connections. A socket closes when its last in-flight handle is done with it.
    pub(crate) fn purge_idle(&self) {
        match self {
            Self::Standalone(p) => drop(p.retain(|_, _| false)),
            Self::External(p) => drop(p.retain(|_, _| false)),
            #[cfg(feature = "cluster")]
            Self::Cluster(p) => drop(p.retain(|_, _| false)),
            #[cfg(feature = "cluster")]
            Self::ExternalCluster(p) => drop(p.retain(|_, _| false)),
            #[cfg(feature = "sentinel")]
            Self::Sentinel(p) => drop(p.retain(|_, _| false)),
        }
    }

    /// The pool's timeouts (reported in [`CacheError::Timeout`](session_core::CacheError::Timeout)).
    pub(crate) fn timeouts(&self) -> deadpool::managed::Timeouts {
        match self {
            Self::Standalone(p) => p.timeouts(),
            Self::External(p) => p.timeouts(),
            #[cfg(feature = "cluster")]
            Self::Cluster(p) => p.timeouts(),
            #[cfg(feature = "cluster")]
            Self::ExternalCluster(p) => p.timeouts(),
            #[cfg(feature = "sentinel")]
            Self::Sentinel(p) => p.timeouts(),
        }
    }

    /// `(size, available)` of the pool, for `Debug`.
    fn status(&self) -> (usize, usize) {
        let s = match self {
            Self::Standalone(p) => p.status(),
            Self::External(p) => p.status(),
            #[cfg(feature = "cluster")]
            Self::Cluster(p) => p.status(),
            #[cfg(feature = "cluster")]
            Self::ExternalCluster(p) => p.status(),
            #[cfg(feature = "sentinel")]
            Self::Sentinel(p) => p.status(),
        };
        (s.size, s.available)
    }

    /// The user our own pools authenticate as (`default` without a user name); `None` for a
    /// pool supplied by the application, whose settings are its own.
    pub(crate) fn user(&self) -> Option<String> {
        let user = |info: &redis::ConnectionInfo| {
            info.redis_settings()
                .username()
                .unwrap_or("default")
                .to_owned()
        };
        match self {
            Self::Standalone(p) => Some(user(p.manager().client.get_connection_info())),
            #[cfg(feature = "cluster")]
            Self::Cluster(p) => Some(p.manager().user.clone()),
            #[cfg(feature = "sentinel")]
            Self::Sentinel(p) => Some(p.manager().user.clone()),
            Self::External(_) => None,
            #[cfg(feature = "cluster")]
            Self::ExternalCluster(_) => None,
        }
    }

    /// What this backend connects to, for messages: addresses, database and user, never a
    /// password.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Standalone(p) => {
                let info = p.manager().client.get_connection_info();
                let tls = match info.addr() {
                    redis::ConnectionAddr::TcpTls { .. } => " over TLS",
                    _ => "",
                };
                format!(
                    "{}{tls} (database {}, user `{}`)",
                    info.addr(),
                    info.redis_settings().db(),
                    info.redis_settings().username().unwrap_or("default")
                )
            }
            Self::External(_) => "the application's deadpool-redis pool".to_owned(),
            #[cfg(feature = "cluster")]
            Self::Cluster(p) => format!(
                "cluster seeds {} (user `{}`)",
                p.manager().seeds,
                p.manager().user
            ),
            #[cfg(feature = "cluster")]
            Self::ExternalCluster(_) => "the application's deadpool-redis cluster pool".to_owned(),
            #[cfg(feature = "sentinel")]
            Self::Sentinel(p) => format!(
                "the primary of service `{}` named by sentinels {} (user `{}`)",
                p.manager().service_name,
                p.manager().sentinels,
                p.manager().user
            ),
        }
    }

    /// A short name of the backend kind.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Standalone(_) => "standalone",
            Self::External(_) => "deadpool-redis pool",
            #[cfg(feature = "cluster")]
            Self::Cluster(_) => "cluster",
            #[cfg(feature = "cluster")]
            Self::ExternalCluster(_) => "deadpool-redis cluster pool",
            #[cfg(feature = "sentinel")]
            Self::Sentinel(_) => "sentinel",
        }
    }
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (size, available) = self.status();
        f.debug_struct("Backend")
            .field("kind", &self.kind())
            .field("size", &size)
            .field("available", &available)
            .finish()
    }
}

/// A handle on a pooled multiplexed connection of any backend.
pub(crate) enum Conn {
    Standalone(MultiplexedConnection),
    #[cfg(feature = "cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Standalone(c) => c.req_packed_command(cmd),
            #[cfg(feature = "cluster")]
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Standalone(c) => c.req_packed_commands(cmd, offset, count),
            #[cfg(feature = "cluster")]
            Self::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Standalone(c) => c.get_db(),
            #[cfg(feature = "cluster")]
            Self::Cluster(c) => c.get_db(),
        }
    }
}
