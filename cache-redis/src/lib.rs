//! # cache-redis
//!
//! A [`DistributedCache`](session_core::DistributedCache) on Redis ([`RedisCache`]), built on
//! deadpool-redis 0.23 / redis-rs 1.x (both re-exported: [`deadpool_redis`], [`redis`]), whose
//! stored entries are **interchangeable with .NET's
//! `Microsoft.Extensions.Caching.StackExchangeRedis`**: a .NET service and a Rust service with the
//! same instance name read and write the same sessions.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use cache_redis::RedisCache;
//! use session_core::{DistributedCache, EntryOptions};
//!
//! // The guide's `-Configuration 'localhost:6379' -InstanceName 'App_'`:
//! let cache = RedisCache::builder()
//!     .configuration("localhost:6379")
//!     .instance_name("App_")
//!     .build()?;
//! cache.set("k", "v".into(), &EntryOptions::sliding(Duration::from_secs(1200))).await?;
//! assert_eq!(cache.get("k").await?.as_deref(), Some(&b"v"[..]));
//! # Ok(()) }
//! ```
//!
//! ## Connecting
//! * a redis-rs URL (`redis://[user[:password]@]host:port/db`; `rediss://` with feature `tls`),
//! * a StackExchange.Redis configuration string (`host:port[,password=...][,user=...]
//!   [,ssl=true][,sslHost=name][,defaultDatabase=N][,connectTimeout=ms][,syncTimeout=ms]`):
//!   every documented option is honoured, accepted and ignored with a warning, or refused, as
//!   [`STACKEXCHANGE_OPTIONS`] lists; unknown ones are a typed error,
//! * with feature `sentinel`, Redis Sentinel: `serviceName=` in a configuration string, a
//!   `redis+sentinel://` URL, or a [`SentinelConfig`] (see below),
//! * ACL users: `user=alice,password=...` or `redis://alice:...@host` authenticate as `alice`; a
//!   user without a password (`user=bob`, `redis://bob@host`) authenticates as that user with an
//!   empty password (accepted by a `nopass` user), never silently as `default`. Refused
//!   credentials are [`RedisCacheError::Authentication`], naming the user but not the password,
//! * an existing `deadpool_redis::Pool`, or
//! * with feature `cluster`, Redis Cluster seeds (URLs, configuration string, or a
//!   `deadpool_redis::cluster::Pool`).
//!
//! Settings live in [`RedisCacheOptions`] (defaults as associated constants); errors in the
//! configuration are [`RedisConfigError`]s. [`RedisCacheBuilder::build`] connects lazily;
//! [`RedisCacheBuilder::connect`] also checks the store at start ([`RedisCache::check`]: one
//! `PING` with credentials and database applied), failing with [`RedisUnusable`], which names the
//! target but never a password. Driver errors are wrapped in [`DriverError`], so a printed error
//! chain names each cause once.
//!
//! ## Stored layout (same as .NET)
//! An entry under key `k` is the Redis **hash** at key `instance_name + k`, with fields
//!
//! | field    | content                                                                  |
//! |----------|--------------------------------------------------------------------------|
//! | `absexp` | absolute expiration as `DateTimeOffset.UtcTicks` in decimal: 100 ns ticks since 0001-01-01T00:00Z, i.e. `unix_100ns + 621_355_968_000_000_000`; `-1` if none |
//! | `sldexp` | sliding expiration as `TimeSpan.Ticks` (100 ns) in decimal; `-1` if none |
//! | `data`   | the value bytes                                                          |
//!
//! The key's Redis TTL is `min(absolute − now, sliding)` when written and after each slide, and
//! the key has no TTL when neither expiration is set. Differences from .NET, all compatible:
//! * TTLs are set in **milliseconds** (`PEXPIRE`, rounded up) where .NET's `set` uses whole
//!   seconds (`EXPIRE`, truncated — it even deletes an entry whose TTL is under a second);
//! * a `set` without expiration `PERSIST`s the key, so it never inherits an old TTL;
//! * `get` also treats an entry whose `absexp` has passed as missing (and deletes it) instead of
//!   trusting the TTL alone.
//!
//! A missing `absexp`/`sldexp` field reads as "none" (like .NET); a field that is not a decimal
//! integer, or a non-positive sliding window, is reported as
//! [`CacheError::CorruptEntry`](session_core::CacheError::CorruptEntry) — stored data never
//! causes a panic. Fields other than these three are ignored and preserved.
//!
//! ## Round trips
//! Every operation is one Lua script (`EVALSHA`) or one command, so **one round trip** and
//! atomic on the server; .NET needs two for `get`/`refresh` (`HMGET`, then `EXPIRE`). Measured
//! with `INFO commandstats` deltas in `tests/round_trips.rs` (inner commands run by the script
//! inside the server, not over the network):
//!
//! | operation  | client → server | executed inside the script          |
//! |------------|-----------------|-------------------------------------|
//! | `get`      | 1 `EVALSHA`     | `HMGET`, `PEXPIRE` (sliding entries) |
//! | `refresh`  | 1 `EVALSHA`     | `HMGET`, `PEXPIRE` (sliding entries) |
//! | `set`      | 1 `EVALSHA`     | `HSET`, `PEXPIRE` or `PERSIST`      |
//! | `set_if`   | 1 `EVALSHA`     | `HMGET` or `GET` (lock), then `HSET` + `PEXPIRE` if applied |
//! | `remove`   | 1 `UNLINK`      | —                                   |
//! | `remove_if_equals` | 1 `EVALSHA` | `HMGET`, then `UNLINK` if equal     |
//! | `try_lock` | 1 `EVALSHA`     | `GET`, `SET … PX`                   |
//! | `unlock`   | 1 `EVALSHA`     | `GET`, `DEL`                        |
//!
//! After a restart or `SCRIPT FLUSH` the first call of each script gets `NOSCRIPT`; redis-rs then
//! loads it (`SCRIPT LOAD`) and retries, transparently (3 round trips, once).
//!
//! Connections are multiplexed and shared: an operation borrows a pooled connection only to
//! clone its handle, so concurrent operations pipeline their commands over a few sockets (fewer
//! syscalls on both ends; this is what lets one process outrun per-request connections).
//! Pooled connections are not `PING`ed on checkout unless idle for
//! [`RedisCacheOptions::idle_check_after`] (deadpool-redis' own pools `PING` on every checkout,
//! which would double every round trip). When a connection fails at the connection level (or
//! times out), the pool's idle connections are dropped (a restart killed them too); idempotent
//! operations (`get`, `refresh`, `set`, `remove`, `try_lock`, `unlock`,
//! `set_if(LockHeld)`) are then re-sent once on a fresh connection, so the first operations
//! after a Redis restart succeed. `set_if(Absent | ValueEquals)` and `remove_if_equals` are never
//! re-sent — if the first attempt was applied and only its reply lost, a retry would report a
//! false conflict — and surface the error instead.
//!
//! [`ScriptMode::Disabled`] serves servers without scripting, with the weaker guarantees listed
//! there.
//!
//! ## Locks
//! The lock on `k` is a plain string key holding the token with a `PX` lease, at
//! `{<tag>}lock:<instance_name + k>`, where `<tag>` is a short alphanumeric string chosen so that
//! the lock key hashes to **the same Redis Cluster slot as the entry key**. Why:
//! * the entry key must stay exactly `instance_name + k` for .NET, so it cannot carry a hash tag;
//! * `set_if(LockHeld)` checks the lock and writes the entry in one script, which in a cluster
//!   requires both keys in one slot — a fixed suffix (`k + ":lock"`) does not guarantee that, and
//!   wrapping the entry key in braces breaks when it contains `}`; a tag computed from the entry
//!   key's slot (with Redis' own hash-tag rule, so entry keys containing `{…}` work too) always
//!   does;
//! * keeping the lock out of the entry hash means the lock neither extends nor is cut short by
//!   the entry's TTL, `remove` (and .NET's `Remove`) leaves it alone, and .NET never sees it;
//! * lock keys begin with `{`, so they cannot collide with the entries of any instance whose
//!   name does not start with `{`.
//!
//! `try_lock` takes a free lock or extends the caller's own (`GET` + `SET PX`), `unlock` is a
//! compare-and-delete; both are scripts, so neither can touch a lock another token took after
//! ours expired.
//!
//! ## Features
//! * `tls`: `rediss://` URLs and `ssl=true`, with rustls and its `ring` crypto provider, which
//!   building a TLS cache installs as the process default (`install_crypto_provider`) unless
//!   the application installed a provider first. The server certificate and host name are
//!   verified against the webpki roots, or only against a private CA
//!   ([`RedisCacheBuilder::tls_ca_file`]); a client certificate is presented with
//!   [`RedisCacheBuilder::tls_client_certificate`]; see [`TlsOptions`]. Handshake failures are
//!   [`RedisCacheError::TlsCertificate`] / [`RedisCacheError::TlsClientCertificate`].
//! * `cluster`: Redis Cluster, over TLS too (`rediss://` seeds). Every operation touches a
//!   single slot (one key, or an entry and its same-slot lock key).
//! * `sentinel`: Redis Sentinel. redis-rs' Sentinel client finds the primary for each new
//!   connection. A write refused because the node no longer takes writes (`READONLY` from a
//!   demoted primary, `NOREPLICAS` from a primary under `min-replicas-to-write` whose replica was
//!   promoted) drops the idle pooled connections and is re-sent once on a new one: Redis refused
//!   it before applying anything, so even conditional writes may be re-sent.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod builder;
mod cache;
mod config;
mod error;
mod layout;
mod pool;
mod scripts;
mod sentinel;
mod stackexchange;
mod tls;

pub use builder::RedisCacheBuilder;
pub use cache::RedisCache;
pub use config::{RedisCacheOptions, RedisSource, ScriptMode, StackExchangeConfig};
pub use error::{DriverError, RedisCacheError, RedisConfigError, RedisStartupError, RedisUnusable};
pub use sentinel::SentinelConfig;
pub use stackexchange::{OptionSupport, STACKEXCHANGE_OPTIONS, StackExchangeOption};
#[cfg(feature = "tls")]
pub use tls::install_crypto_provider;
pub use tls::{ClientCertificate, TlsOptions};

pub use deadpool_redis;
pub use redis;
