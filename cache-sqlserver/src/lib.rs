//! # cache-sqlserver
//!
//! A [`DistributedCache`](session_core::DistributedCache) in SQL Server, sharing its table and
//! semantics with .NET's `Microsoft.Extensions.Caching.SqlServer` (`AddDistributedSqlServerCache`,
//! Kestrun's `Add-KrDistributedSqlServerCache -ConnectionString ... -SchemaName dbo -TableName Sessions`),
//! so Rust and .NET applications can share sessions.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use cache_sqlserver::SqlServerCache;
//!
//! let cache = SqlServerCache::builder()
//!     .connection_string("Server=tcp:localhost,1433;Database=app;User Id=sa;Password=...;TrustServerCertificate=true")
//!     .schema_name("dbo")
//!     .table_name("Sessions")
//!     .build()?;
//! cache.create_table_if_missing().await?; // or once, with `sql-cache create`
//! # Ok(()) }
//! ```
//!
//! ## The table
//! `Id nvarchar(449)` (case-sensitive collation, primary key), `Value varbinary(max)`,
//! `ExpiresAtTime datetimeoffset`, `SlidingExpirationInSeconds bigint NULL`,
//! `AbsoluteExpiration datetimeoffset NULL`, indexed on `ExpiresAtTime`: see [`sql`] for every
//! statement. Create it with the `sql-cache` binary of this crate
//! (`sql-cache create --connection-string ... --schema dbo --table Sessions`, or `--print` to get
//! the DDL) or [`SqlServerCache::create_table_if_missing`].
//!
//! ## Semantics (as .NET)
//! * An entry written with no expiration gets [`SqlServerCacheOptions::default_sliding_expiration`]
//!   (20 minutes). `ExpiresAtTime` is `min(now + sliding, absolute)`; reads slide it, never past the
//!   absolute expiration. Sliding expirations are stored in whole seconds (rounded up).
//! * Expired rows are deleted by a background task every
//!   [`SqlServerCacheOptions::expired_items_deletion_interval`] (30 minutes by default, at least 5),
//!   stopped by [`SqlServerCache::shutdown`] or when the last clone of the cache drops.
//! * Times come from this machine's clock (bound as parameters, like .NET's `SystemClock`): keep
//!   the clocks of the nodes sharing a table synchronised.
//! * Locks (`try_lock`) are rows of the same table whose Id is the key followed by
//!   [`keys::LOCK_SUFFIX`] (U+0001 + `lock`); keys containing U+0001 are refused, so locks and
//!   entries never collide. Keys are at most 444 UTF-16 code units, leaving room for the suffix.
//!
//! ## Connections and failures
//! * Every operation is one round trip on one pooled connection (no `SELECT 1` on checkout).
//! * Waiting for a connection is bounded by [`SqlServerCacheOptions::connection_timeout`]; a
//!   failure to open one (unreachable server, refused login) is reported at once with its cause
//!   ([`SqlServerError::Connect`]).
//! * A connection whose request was abandoned (the caller's timeout dropped the future) or failed
//!   in transport is discarded, never reused half-way through a response.
//! * A pooled connection that died while idle is noticed by its next request; operations that
//!   are safe to repeat (everything but `set_if` and `remove_if_equals`) are then sent again on
//!   another connection.
//! * Errors reach callers as `CacheError::Backend` whose source is the driver's error (or a
//!   [`SqlServerError`]), e.g. to read the SQL error number.
//!
//! ## TLS
//! The `rustls` feature (default) lets tiberius encrypt connections (`Encrypt=true`, with
//! `TrustServerCertificate=true` for self-signed server certificates). **A build without a TLS
//! backend (`default-features = false`) silently ignores `Encrypt=true` and talks in plain text.**
//! To use the platform's TLS (native-tls) instead, turn off this crate's default features and
//! enable `tiberius/native-tls` in your own `Cargo.toml` (tiberius' TLS backends are mutually
//! exclusive, so this crate cannot offer both as features: `--all-features` would not build).
//!
//! The driver crates are re-exported ([`tiberius`], [`bb8`], [`bb8_tiberius`]) so that their
//! errors, found through `CacheError::Backend`'s source, can be downcast with matching versions.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod cache;
mod cleanup;
mod error;
pub mod expiry;
pub mod keys;
mod options;
mod pool;
pub mod sql;

pub use bb8;
pub use bb8_tiberius;
pub use tiberius;

pub use cache::SqlServerCache;
pub use error::{SqlServerConfigError, SqlServerError};
pub use options::{
    DEFAULT_CONNECTION_TIMEOUT, DEFAULT_DELETION_INTERVAL, DEFAULT_POOL_SIZE,
    DEFAULT_SLIDING_EXPIRATION, MIN_DELETION_INTERVAL, SqlServerCacheBuilder,
    SqlServerCacheOptions, TableName,
};
