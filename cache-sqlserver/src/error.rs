//! Errors of this crate: [`SqlServerConfigError`] for settings, [`SqlServerError`] for failures
//! that are not the driver's own (they travel as the source of a `CacheError::Backend`).

use std::time::Duration;

/// Invalid [`SqlServerCacheOptions`](crate::SqlServerCacheOptions), or a cache that cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlServerConfigError {
    /// No connection string was given.
    #[error("a connection string is required")]
    MissingConnectionString,
    /// The connection string could not be parsed (ADO.NET form, e.g.
    /// `Server=tcp:host,1433;Database=app;User Id=sa;Password=...;TrustServerCertificate=true`).
    #[error("invalid connection string")]
    ConnectionString(#[source] tiberius::error::Error),
    /// A schema or table name that is not a plain identifier.
    #[error(
        "invalid {which} name {name:?}: expected a letter or `_` followed by up to 127 letters, digits or `_`"
    )]
    InvalidIdentifier {
        /// `"schema"` or `"table"`.
        which: &'static str,
        /// The name that was refused.
        name: String,
    },
    /// The lock table was given the name of the entry table.
    #[error("the lock table must not be the entry table {0:?}")]
    SameTable(String),
    /// The background deletion of expired rows would run more often than the minimum allows.
    #[error("expired_items_deletion_interval of {got:?} is below the minimum of {min:?}")]
    DeletionIntervalTooShort {
        /// The interval that was given.
        got: Duration,
        /// The minimum (5 minutes, as in .NET).
        min: Duration,
    },
    /// A duration that must be positive was zero.
    #[error("`{0}` must be greater than zero")]
    ZeroDuration(&'static str),
    /// The pool size was zero.
    #[error("`pool_size` must be greater than zero")]
    ZeroPoolSize,
    /// The cache was built outside a Tokio runtime (it spawns its pool and cleanup tasks).
    #[error("SqlServerCache must be built inside a Tokio runtime")]
    NoRuntime(#[source] tokio::runtime::TryCurrentError),
}

/// Failures of the provider that are not errors of the driver itself; they reach callers as the
/// source of [`CacheError::Backend`](session_core::CacheError::Backend).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlServerError {
    /// Opening a connection failed (server unreachable, login refused, TLS failure, ...).
    /// The cause is shared by every caller that was waiting for that connection: downcast the
    /// source to `Arc<bb8_tiberius::Error>` to inspect it (e.g. SQL error 18456 for a refused login).
    #[error("could not open a SQL Server connection")]
    Connect(#[source] std::sync::Arc<bb8_tiberius::Error>),
    /// No pooled connection became available (or could be opened) within the pool's
    /// connection timeout.
    #[error("no SQL Server connection available within {0:?}")]
    PoolTimedOut(Duration),
    /// A table of the cache does not exist (SQL error 208 on a statement using it, or the
    /// start-up check). The source, if any, is the driver's error.
    #[error(
        "table {table} does not exist: create it with `sql-cache create --connection-string ... \
         --schema {schema} --table {entry_table} --if-not-exists` (or \
         `SqlServerCache::create_table_if_missing`)"
    )]
    MissingTable {
        /// The missing table, quoted (`[dbo].[Sessions_Locks]`), or both names joined by `or`
        /// when the statement used both.
        table: String,
        /// The schema, for the command.
        schema: String,
        /// The entry table's name, for the command.
        entry_table: String,
        /// The server's error (downcast the source to `tiberius::error::Error`).
        #[source]
        source: Option<tiberius::error::Error>,
    },
    /// The server is older than this provider supports (see `cache_sqlserver::server`).
    #[error(
        "SQL Server {version} (engine edition {edition}) is not supported: cache-sqlserver needs \
         SQL Server 2016 (13.x) or later, or Azure SQL (it uses DATEDIFF_BIG)"
    )]
    UnsupportedServer {
        /// `SERVERPROPERTY('ProductVersion')`.
        version: String,
        /// `SERVERPROPERTY('EngineEdition')`.
        edition: i32,
    },
    /// The server answered with a result of an unexpected shape.
    #[error("unexpected result from SQL Server: {0}")]
    UnexpectedResult(&'static str),
}
