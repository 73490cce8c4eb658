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
//! cache.check_server().await?; // supported server, both tables present
//! # Ok(()) }
//! ```
//!
//! ## Server version
//! **SQL Server 2016 (13.x) or later, or Azure SQL Database / Managed Instance** (the sliding
//! expiration uses `DATEDIFF_BIG`). [`SqlServerCache::check_server`] (the start-up check),
//! [`SqlServerCache::create_table_if_missing`] and `sql-cache create` refuse older servers with
//! [`SqlServerError::UnsupportedServer`]; see [`server`].
//!
//! ## The tables
//! * The entry table is .NET's: `Id nvarchar(449) COLLATE SQL_Latin1_General_CP1_CS_AS` primary
//!   key, `Value varbinary(max)`, `ExpiresAtTime datetimeoffset`,
//!   `SlidingExpirationInSeconds bigint NULL`, `AbsoluteExpiration datetimeoffset NULL`, indexed
//!   on `ExpiresAtTime`.
//! * The lock table (`<table>_Locks` by default, [`SqlServerCacheOptions::lock_table_name`]):
//!   `Id` as above, `Token varbinary(900)`, `ExpiresAtTime datetimeoffset`. Locks live there
//!   under the key itself, so no lock can be read, overwritten or matched as an entry, whatever
//!   the collation ignores.
//!
//! See [`sql`] for every statement. Create both with the `sql-cache` binary of this crate, in one
//! transaction (`sql-cache create --connection-string ... --schema dbo --table Sessions`; it
//! refuses an existing table as `dotnet sql-cache create` does, `--if-not-exists` creates only
//! what is missing, e.g. the lock table next to a table .NET made; `--print` prints the DDL), or
//! with [`SqlServerCache::create_table_if_missing`]. When the lock table is missing, locking
//! fails with [`SqlServerError::MissingTable`], which names the table and the command to run.
//!
//! ## Keys
//! SQL Server compares Ids by the column's collation: trailing spaces, control characters and
//! character width are ignored (`'k '` = `'k'`, `N'ＡBC'` = `N'ABC'`). So that two different keys
//! never name one row, keys must be **printable ASCII (U+0020 to U+007E), not end with a space**,
//! and be at most 449 characters; other keys are refused with `CacheError::InvalidKey` (see
//! [`keys`]). Session keys always qualify.
//!
//! ## Sharing the table with .NET
//! A .NET application (`AddDistributedSqlServerCache`) and this crate read and write the same
//! rows with the same expiration rules, with these differences a .NET application sharing the
//! table may notice:
//! * an entry past its `AbsoluteExpiration` is dead here even if its `ExpiresAtTime` (which
//!   .NET sets to `now + sliding` regardless of the absolute expiration) lies ahead: `get`,
//!   `refresh`, `set_if` and `remove_if_equals` all treat it as absent, and the cleanup deletes it;
//! * keys outside the key policy, which .NET may write, cannot be read from here;
//! * the lock table is this crate's own; .NET neither reads nor needs it.
//!
//! Compare-and-set (`set_if(ValueEquals)`, `remove_if_equals`) is exact to the byte: SQL Server
//! ignores trailing zero bytes when comparing `varbinary`, so every comparison also compares
//! `DATALENGTH`.
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
//! The `rustls` feature (default) lets tiberius encrypt connections (`Encrypt=true`, the default
//! for Azure SQL; with `TrustServerCertificate=true` for self-signed server certificates, which
//! skips verifying the server: use it only on a trusted network). **A build without a TLS
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
pub mod server;
pub mod sql;

pub use bb8;
pub use bb8_tiberius;
pub use tiberius;

pub use cache::SqlServerCache;
pub use error::{SqlServerConfigError, SqlServerError};
pub use options::{
    DEFAULT_CONNECTION_TIMEOUT, DEFAULT_DELETION_INTERVAL, DEFAULT_POOL_SIZE,
    DEFAULT_SLIDING_EXPIRATION, LOCK_TABLE_SUFFIX, MIN_DELETION_INTERVAL, SqlServerCacheBuilder,
    SqlServerCacheOptions, TableName,
};
