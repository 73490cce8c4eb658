//! [`RedisCache`]: the [`DistributedCache`] implementation.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use deadpool::managed::{PoolError, TimeoutType};
use redis::{FromRedisValue, RedisError, ScriptInvocation, Value};
use session_core::{CacheError, DistributedCache, EntryOptions, LockToken, WriteCondition};

use crate::builder::RedisCacheBuilder;
use crate::config::{RedisCacheOptions, ScriptMode};
use crate::error::{RedisCacheError, RedisConfigError, RedisUnusable};
use crate::layout::{
    FIELD_ABSOLUTE, FIELD_DATA, FIELD_SLIDING, StoredExpiration, WriteFields, ceil_millis, corrupt,
    entry_key, lock_key, utc_ticks,
};
use crate::pool::Backend;
use crate::scripts;
use crate::tls::CertificateFailure;

/// A [`DistributedCache`] on Redis, sharing its stored layout with .NET's
/// `Microsoft.Extensions.Caching.StackExchangeRedis` (see the [crate docs](crate)).
///
/// Cheap to share behind an `Arc`; connections are pooled.
pub struct RedisCache {
    backend: Backend,
    instance_name: String,
    script_mode: ScriptMode,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("instance_name", &self.instance_name)
            .field("script_mode", &self.script_mode)
            .field("backend", &self.backend)
            .finish()
    }
}

/// Whether an operation may be re-sent on a fresh connection after its connection died.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Applying the operation twice has the same effect as once (and the same answer).
    Idempotent,
    /// A second attempt could answer differently if the first was applied but its reply lost
    /// (e.g. `set_if(Absent)` would report `false` for its own write).
    Never,
}

/// One request to Redis.
enum Request<'a> {
    Script(&'a ScriptInvocation<'a>),
    Cmd(&'a redis::Cmd),
    Pipeline(&'a redis::Pipeline),
}

/// What the get/set_if/remove_if_equals scripts answer: `{status}` or `{status, value}`.
enum ScriptReply {
    Live(Option<Vec<u8>>),
    Missing,
}

/// `absexp`, `sldexp` and `data` as `HMGET` returns them.
type HashFields = (Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);

/// True for errors after which the connection cannot be used again. A timeout is not one: the
/// server may just be slow (or frozen), and a retry would only wait again.
fn is_dead_connection(e: &RedisError) -> bool {
    !e.is_timeout() && (e.is_unrecoverable_error() || e.is_connection_dropped() || e.is_io_error())
}

/// True for a write refused because the node may not take writes: a replica (`READONLY`, e.g. a
/// primary demoted by a failover) or a primary short of replicas under `min-replicas-to-write`
/// (`NOREPLICAS`, e.g. one whose replica was just promoted). Redis refuses the script's first
/// write command and the scripts read before they write, so nothing was applied: any operation
/// may be re-sent, to the primary a fresh connection finds.
fn is_not_writable(e: &RedisError) -> bool {
    matches!(e.code(), Some("READONLY" | "NOREPLICAS"))
}

fn now_ticks() -> i64 {
    utc_ticks(SystemTime::now())
}

impl RedisCache {
    /// A builder with the default [`RedisCacheOptions`].
    pub fn builder() -> RedisCacheBuilder {
        RedisCacheBuilder::default()
    }

    /// A cache on a redis-rs URL with default options.
    ///
    /// # Errors
    /// See [`RedisCacheBuilder::build`].
    pub fn from_url(url: impl Into<String>) -> Result<Self, RedisConfigError> {
        Self::builder().url(url).build()
    }

    /// A cache on a StackExchange.Redis configuration string with default options.
    ///
    /// # Errors
    /// See [`RedisCacheBuilder::build`].
    pub fn from_configuration(configuration: impl Into<String>) -> Result<Self, RedisConfigError> {
        Self::builder().configuration(configuration).build()
    }

    /// A cache on an existing deadpool-redis pool (see [`RedisSource::Pool`](crate::RedisSource::Pool)).
    ///
    /// # Errors
    /// See [`RedisCacheBuilder::build`].
    pub fn from_pool(
        pool: deadpool_redis::Pool,
        options: RedisCacheOptions,
    ) -> Result<Self, RedisConfigError> {
        Self::builder().pool(pool).options(options).build()
    }

    pub(crate) fn from_parts(backend: Backend, options: RedisCacheOptions) -> Self {
        Self {
            backend,
            instance_name: options.instance_name,
            script_mode: options.script_mode,
        }
    }

    /// Checks that the store is usable, as an application should once at start-up: takes a
    /// connection (connecting with TLS, `AUTH` and `SELECT` of the database as configured; through
    /// the sentinels for Sentinel) and sends one `PING`. A wrong address, password, database or
    /// certificate then stops the application at start, with an error naming the target,
    /// instead of failing every session request later. [`RedisCacheBuilder::connect`] builds and
    /// checks in one call.
    ///
    /// # Errors
    /// [`RedisUnusable`] naming the target (never a password) with the cause as its source.
    pub async fn check(&self) -> Result<(), RedisUnusable> {
        self.ping().await.map_err(|source| RedisUnusable {
            target: self.backend.describe(),
            source,
        })
    }

    /// The key prefix.
    #[must_use]
    pub fn instance_name(&self) -> &str {
        &self.instance_name
    }

    /// The Redis key an entry is stored under (instance name + key, as in .NET).
    #[must_use]
    pub fn redis_key(&self, key: &str) -> String {
        entry_key(&self.instance_name, key)
    }

    /// The Redis key of the lock on `key` (see the crate docs, "Locks").
    #[must_use]
    pub fn redis_lock_key(&self, key: &str) -> String {
        lock_key(&self.redis_key(key))
    }

    fn pool_error(&self, operation: &'static str, e: PoolError<RedisError>) -> CacheError {
        // Waiting for a free connection, connecting, or checking an idle connection took too
        // long: report which limit ran out.
        let timeouts = self.backend.timeouts();
        let limit = match &e {
            PoolError::Timeout(TimeoutType::Wait) => timeouts.wait,
            PoolError::Timeout(TimeoutType::Create) => timeouts.create,
            PoolError::Timeout(TimeoutType::Recycle) => timeouts.recycle,
            _ => None,
        };
        match limit {
            Some(after) => CacheError::Timeout { operation, after },
            None => match crate::tls::certificate_failure(&e) {
                Some(CertificateFailure::Server) => {
                    CacheError::backend(operation, RedisCacheError::TlsCertificate(e.into()))
                }
                Some(CertificateFailure::Client) => {
                    CacheError::backend(operation, RedisCacheError::TlsClientCertificate(e.into()))
                }
                None => match (&e, self.backend.user(), self.backend.sentinel_names()) {
                    (PoolError::Backend(redis_error), Some(user), sentinel)
                        if redis_error.kind() == redis::ErrorKind::AuthenticationFailed =>
                    {
                        let error = match sentinel {
                            Some((service_name, sentinel_user)) => {
                                RedisCacheError::SentinelAuthentication {
                                    service_name: service_name.to_owned(),
                                    user,
                                    sentinel_user: sentinel_user.to_owned(),
                                    source: e.into(),
                                }
                            }
                            None => RedisCacheError::Authentication {
                                user,
                                source: e.into(),
                            },
                        };
                        CacheError::backend(operation, error)
                    }
                    (PoolError::Backend(_), _, Some((service_name, _))) => CacheError::backend(
                        operation,
                        RedisCacheError::SentinelPrimaryNotFound {
                            service_name: service_name.to_owned(),
                            source: e.into(),
                        },
                    ),
                    _ => CacheError::backend(operation, RedisCacheError::Pool(e.into())),
                },
            },
        }
    }

    fn require_scripts(&self, operation: &'static str) -> Result<(), CacheError> {
        match self.script_mode {
            ScriptMode::Enabled => Ok(()),
            ScriptMode::Disabled => Err(CacheError::backend(
                operation,
                RedisCacheError::ScriptingDisabled { operation },
            )),
        }
    }

    /// Sends `request` on a pooled connection. When a connection fails at the connection level
    /// (or times out) the pool's idle connections are dropped; [`Retry::Idempotent`] requests are then sent
    /// once more on a fresh connection, so the first operation after a server restart succeeds
    /// instead of tripping over the dead socket.
    async fn exec<T: FromRedisValue>(
        &self,
        operation: &'static str,
        retry: Retry,
        request: Request<'_>,
    ) -> Result<T, CacheError> {
        let mut retried = false;
        loop {
            let mut conn = self
                .backend
                .get()
                .await
                .map_err(|e| self.pool_error(operation, e))?;
            let result = match request {
                Request::Script(invocation) => invocation.invoke_async(&mut conn).await,
                Request::Cmd(cmd) => cmd.query_async(&mut conn).await,
                Request::Pipeline(pipe) => pipe.query_async(&mut conn).await,
            };
            let error = match result {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            drop(conn);
            let dead = is_dead_connection(&error);
            let not_writable = is_not_writable(&error);
            // A timeout leaves a multiplexed connection usable (a late reply is matched to its
            // abandoned request and dropped), but a peer that vanished without a reset shows
            // only timeouts: start the next operations on fresh connections either way. A node
            // that stopped taking writes has (or is about to have) a successor: new connections
            // find it (through Sentinel).
            if dead || error.is_timeout() || not_writable {
                self.backend.purge_idle();
            }
            if ((dead && retry == Retry::Idempotent) || not_writable) && !retried {
                tracing::debug!(operation, error = %error, "redis connection died; retrying once on a new one");
                retried = true;
                continue;
            }
            return Err(CacheError::backend(
                operation,
                RedisCacheError::Command(error.into()),
            ));
        }
    }

    /// Decodes `{status}` / `{status, value}` from the get, set_if and remove_if_equals scripts.
    fn decode(operation: &'static str, reply: Vec<Value>) -> Result<ScriptReply, CacheError> {
        let unexpected =
            || CacheError::backend(operation, RedisCacheError::UnexpectedReply("script status"));
        let mut items = reply.into_iter();
        let status = match items.next() {
            Some(Value::Int(s)) => s,
            _ => return Err(unexpected()),
        };
        let value = match items.next() {
            None | Some(Value::Nil) => None,
            Some(Value::BulkString(b)) => Some(b),
            Some(_) => return Err(unexpected()),
        };
        match status {
            1 => Ok(ScriptReply::Live(value)),
            0 => Ok(ScriptReply::Missing),
            -1 => Err(corrupt(FIELD_ABSOLUTE, &value.unwrap_or_default())),
            -2 => Err(corrupt(FIELD_SLIDING, &value.unwrap_or_default())),
            _ => Err(unexpected()),
        }
    }

    /// `get` (with data) and `refresh` (without): one script round trip.
    async fn get_and_slide(
        &self,
        operation: &'static str,
        key: &str,
        with_data: bool,
    ) -> Result<Option<Bytes>, CacheError> {
        let redis_key = self.redis_key(key);
        if self.script_mode == ScriptMode::Disabled {
            return self
                .get_and_slide_plain(operation, &redis_key, with_data)
                .await;
        }
        let mut invocation = scripts::GET.key(&redis_key);
        invocation.arg(now_ticks()).arg(u8::from(with_data));
        let reply: Vec<Value> = self
            .exec(operation, Retry::Idempotent, Request::Script(&invocation))
            .await?;
        Ok(match Self::decode(operation, reply)? {
            ScriptReply::Live(data) => data.map(Bytes::from),
            ScriptReply::Missing => None,
        })
    }

    /// [`ScriptMode::Disabled`]: `HMGET`, then `PEXPIRE` (or `DEL` for an entry past its absolute
    /// expiration) — two round trips, not atomic.
    async fn get_and_slide_plain(
        &self,
        operation: &'static str,
        redis_key: &str,
        with_data: bool,
    ) -> Result<Option<Bytes>, CacheError> {
        let mut hmget = redis::cmd("HMGET");
        hmget
            .arg(redis_key)
            .arg(FIELD_ABSOLUTE)
            .arg(FIELD_SLIDING)
            .arg(FIELD_DATA);
        let (absolute, sliding, data): HashFields = self
            .exec(operation, Retry::Idempotent, Request::Cmd(&hmget))
            .await?;
        let Some(data) = data else { return Ok(None) };
        let stored = StoredExpiration::parse(absolute.as_deref(), sliding.as_deref())?;
        let slide = stored.slide(now_ticks());
        let follow_up = match slide {
            None => Some(redis::cmd("DEL").arg(redis_key).clone()),
            Some(Some(ttl_ms)) => Some(redis::cmd("PEXPIRE").arg(redis_key).arg(ttl_ms).clone()),
            Some(None) => None,
        };
        if let Some(cmd) = &follow_up {
            let _: Value = self
                .exec(operation, Retry::Idempotent, Request::Cmd(cmd))
                .await?;
        }
        Ok((slide.is_some() && with_data).then(|| Bytes::from(data)))
    }
}

#[async_trait]
impl DistributedCache for RedisCache {
    fn cache_type(&self) -> &'static str {
        "redis"
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        self.get_and_slide("get", key, true).await
    }

    async fn set(&self, key: &str, value: Bytes, options: &EntryOptions) -> Result<(), CacheError> {
        let now = SystemTime::now();
        let fields = WriteFields::new(&options.resolve(now)?, now);
        let redis_key = self.redis_key(key);
        if self.script_mode == ScriptMode::Disabled {
            // One atomic round trip without scripting: MULTI / HSET / PEXPIRE|PERSIST / EXEC.
            let mut pipe = redis::pipe();
            pipe.atomic()
                .cmd("HSET")
                .arg(&redis_key)
                .arg(FIELD_ABSOLUTE)
                .arg(fields.absolute_ticks)
                .arg(FIELD_SLIDING)
                .arg(fields.sliding_ticks)
                .arg(FIELD_DATA)
                .arg(value.as_ref())
                .ignore();
            match fields.ttl_ms {
                Some(ms) => pipe.cmd("PEXPIRE").arg(&redis_key).arg(ms).ignore(),
                None => pipe.cmd("PERSIST").arg(&redis_key).ignore(),
            };
            return self
                .exec("set", Retry::Idempotent, Request::Pipeline(&pipe))
                .await;
        }
        let mut invocation = scripts::SET.key(&redis_key);
        invocation
            .arg(fields.absolute_ticks)
            .arg(fields.sliding_ticks)
            .arg(fields.ttl_arg())
            .arg(value.as_ref());
        let _: i64 = self
            .exec("set", Retry::Idempotent, Request::Script(&invocation))
            .await?;
        Ok(())
    }

    async fn set_if(
        &self,
        key: &str,
        value: Bytes,
        options: &EntryOptions,
        condition: &WriteCondition,
    ) -> Result<bool, CacheError> {
        self.require_scripts("set_if")?;
        let now = SystemTime::now();
        let fields = WriteFields::new(&options.resolve(now)?, now);
        let redis_key = self.redis_key(key);
        let (kind, operand, retry): (&str, &[u8], Retry) = match condition {
            WriteCondition::Absent => ("absent", b"", Retry::Never),
            WriteCondition::ValueEquals(expected) => ("equals", expected.as_ref(), Retry::Never),
            // Re-checking the lock and rewriting the same value is idempotent.
            WriteCondition::LockHeld(token) => {
                ("lock", token.as_str().as_bytes(), Retry::Idempotent)
            }
            _ => {
                return Err(CacheError::backend(
                    "set_if",
                    RedisCacheError::UnsupportedCondition,
                ));
            }
        };
        // KEYS[2] is read only by the `lock` condition; the others pass the entry key again
        // (same slot, no lock-key computation on the optimistic hot path).
        let second_key = match condition {
            WriteCondition::LockHeld(_) => lock_key(&redis_key),
            _ => redis_key.clone(),
        };
        let mut invocation = scripts::SET_IF.key(&redis_key);
        invocation
            .key(second_key)
            .arg(fields.absolute_ticks)
            .arg(fields.sliding_ticks)
            .arg(fields.ttl_arg())
            .arg(value.as_ref())
            .arg(utc_ticks(now))
            .arg(kind)
            .arg(operand);
        let reply: Vec<Value> = self
            .exec("set_if", retry, Request::Script(&invocation))
            .await?;
        Ok(matches!(
            Self::decode("set_if", reply)?,
            ScriptReply::Live(_)
        ))
    }

    async fn refresh(&self, key: &str) -> Result<(), CacheError> {
        self.get_and_slide("refresh", key, false).await.map(drop)
    }

    async fn remove(&self, key: &str) -> Result<(), CacheError> {
        let mut unlink = redis::cmd("UNLINK");
        unlink.arg(self.redis_key(key));
        let _: i64 = self
            .exec("remove", Retry::Idempotent, Request::Cmd(&unlink))
            .await?;
        Ok(())
    }

    async fn remove_if_equals(&self, key: &str, expected: &Bytes) -> Result<bool, CacheError> {
        // Like `set_if`: no atomic compare-and-delete without scripting, so refuse rather than
        // race.
        self.require_scripts("remove_if_equals")?;
        let mut invocation = scripts::REMOVE_IF_EQUALS.key(self.redis_key(key));
        invocation.arg(now_ticks()).arg(expected.as_ref());
        // Never re-sent, as `set_if(ValueEquals)`: if the first attempt removed the entry and
        // only its reply was lost, a retry would report `false` for our own removal.
        let reply: Vec<Value> = self
            .exec(
                "remove_if_equals",
                Retry::Never,
                Request::Script(&invocation),
            )
            .await?;
        Ok(matches!(
            Self::decode("remove_if_equals", reply)?,
            ScriptReply::Live(_)
        ))
    }

    async fn try_lock(
        &self,
        key: &str,
        token: &LockToken,
        lease: Duration,
    ) -> Result<bool, CacheError> {
        self.require_scripts("try_lock")?;
        let mut invocation = scripts::TRY_LOCK.key(self.redis_lock_key(key));
        invocation.arg(token.as_str()).arg(ceil_millis(lease));
        // Idempotent: a retry after a lost reply finds our own token and extends it again.
        let taken: i64 = self
            .exec("try_lock", Retry::Idempotent, Request::Script(&invocation))
            .await?;
        Ok(taken == 1)
    }

    async fn unlock(&self, key: &str, token: &LockToken) -> Result<(), CacheError> {
        self.require_scripts("unlock")?;
        let mut invocation = scripts::UNLOCK.key(self.redis_lock_key(key));
        invocation.arg(token.as_str());
        let _: i64 = self
            .exec("unlock", Retry::Idempotent, Request::Script(&invocation))
            .await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), CacheError> {
        let ping = redis::cmd("PING");
        let _: Value = self
            .exec("ping", Retry::Idempotent, Request::Cmd(&ping))
            .await?;
        Ok(())
    }
}
