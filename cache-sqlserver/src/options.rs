//! [`SqlServerCacheOptions`], its builder, and the validated [`TableName`].

use std::fmt;
use std::time::Duration;

use crate::error::SqlServerConfigError;

/// Default sliding expiration for entries written with no expiration at all (as .NET: 20 minutes).
pub const DEFAULT_SLIDING_EXPIRATION: Duration = Duration::from_secs(20 * 60);
/// Default interval of the background deletion of expired rows (as .NET: 30 minutes).
pub const DEFAULT_DELETION_INTERVAL: Duration = Duration::from_secs(30 * 60);
/// The shortest allowed deletion interval (as .NET: 5 minutes).
pub const MIN_DELETION_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// Default number of pooled connections.
pub const DEFAULT_POOL_SIZE: u32 = 10;
/// Default bound on waiting for a pooled connection, including opening one (as ADO.NET's
/// `Connect Timeout`: 15 seconds).
pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(15);

/// Settings of a [`SqlServerCache`](crate::SqlServerCache), after .NET's `SqlServerCacheOptions`
/// (`Add-KrDistributedSqlServerCache -ConnectionString ... -SchemaName dbo -TableName Sessions`).
///
/// Its `Debug` form hides the connection string, which usually holds a password.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqlServerCacheOptions {
    /// ADO.NET connection string, e.g.
    /// `Server=tcp:localhost,1433;Database=app;User Id=sa;Password=...;TrustServerCertificate=true`.
    pub connection_string: String,
    /// Schema of the table (default `dbo`).
    pub schema_name: String,
    /// Name of the table (create it with `sql-cache create` or
    /// [`SqlServerCache::create_table_if_missing`](crate::SqlServerCache::create_table_if_missing)).
    pub table_name: String,
    /// Name of the lock table, in the same schema (default: `None`, meaning the table name
    /// followed by [`LOCK_TABLE_SUFFIX`], e.g. `Sessions_Locks`). Created with the entry table.
    pub lock_table_name: Option<String>,
    /// Maximum number of pooled connections (default 10).
    pub pool_size: u32,
    /// Bound on waiting for a pooled connection, including opening one (default 15 s).
    pub connection_timeout: Duration,
    /// Sliding expiration of entries written with neither a sliding nor an absolute expiration
    /// (default 20 minutes), as .NET does.
    pub default_sliding_expiration: Duration,
    /// How often expired rows are deleted in the background (default 30 minutes, at least 5).
    pub expired_items_deletion_interval: Duration,
}

impl Default for SqlServerCacheOptions {
    fn default() -> Self {
        Self {
            connection_string: String::new(),
            schema_name: "dbo".to_owned(),
            table_name: String::new(),
            lock_table_name: None,
            pool_size: DEFAULT_POOL_SIZE,
            connection_timeout: DEFAULT_CONNECTION_TIMEOUT,
            default_sliding_expiration: DEFAULT_SLIDING_EXPIRATION,
            expired_items_deletion_interval: DEFAULT_DELETION_INTERVAL,
        }
    }
}

impl fmt::Debug for SqlServerCacheOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlServerCacheOptions")
            .field("connection_string", &"<redacted>")
            .field("schema_name", &self.schema_name)
            .field("table_name", &self.table_name)
            .field("lock_table_name", &self.lock_table_name)
            .field("pool_size", &self.pool_size)
            .field("connection_timeout", &self.connection_timeout)
            .field(
                "default_sliding_expiration",
                &self.default_sliding_expiration,
            )
            .field(
                "expired_items_deletion_interval",
                &self.expired_items_deletion_interval,
            )
            .finish()
    }
}

impl SqlServerCacheOptions {
    /// Options for this connection string and `[dbo].[table_name]`, other settings at their defaults.
    pub fn new(connection_string: impl Into<String>, table_name: impl Into<String>) -> Self {
        Self {
            connection_string: connection_string.into(),
            table_name: table_name.into(),
            ..Self::default()
        }
    }

    /// Checks every setting without connecting; returns the parsed driver configuration and the
    /// validated table name.
    ///
    /// # Errors
    /// The first invalid setting, as a [`SqlServerConfigError`].
    pub fn validate(&self) -> Result<(tiberius::Config, TableName), SqlServerConfigError> {
        if self.connection_string.trim().is_empty() {
            return Err(SqlServerConfigError::MissingConnectionString);
        }
        let config = tiberius::Config::from_ado_string(&self.connection_string)
            .map_err(SqlServerConfigError::ConnectionString)?;
        let table = match &self.lock_table_name {
            Some(locks) => TableName::with_lock_table(&self.schema_name, &self.table_name, locks)?,
            None => TableName::new(&self.schema_name, &self.table_name)?,
        };
        if self.pool_size == 0 {
            return Err(SqlServerConfigError::ZeroPoolSize);
        }
        if self.connection_timeout.is_zero() {
            return Err(SqlServerConfigError::ZeroDuration("connection_timeout"));
        }
        if self.default_sliding_expiration.is_zero() {
            return Err(SqlServerConfigError::ZeroDuration(
                "default_sliding_expiration",
            ));
        }
        if self.expired_items_deletion_interval < MIN_DELETION_INTERVAL {
            return Err(SqlServerConfigError::DeletionIntervalTooShort {
                got: self.expired_items_deletion_interval,
                min: MIN_DELETION_INTERVAL,
            });
        }
        Ok((config, table))
    }
}

/// Appended to the table name to name the lock table by default (`Sessions` → `Sessions_Locks`).
pub const LOCK_TABLE_SUFFIX: &str = "_Locks";

/// The validated names of the cache's two tables: `[schema].[table]` for entries and
/// `[schema].[lock table]` for locks.
///
/// Every part must match `^[A-Za-z_][A-Za-z0-9_]{0,127}$` and is always bracket-quoted in SQL,
/// so no identifier can inject SQL (nor contain `]` or `'`, which the quoting would need to escape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    schema: String,
    table: String,
    locks: String,
}

impl TableName {
    /// Validates the names; the lock table is `table` followed by [`LOCK_TABLE_SUFFIX`].
    ///
    /// # Errors
    /// [`SqlServerConfigError::InvalidIdentifier`] naming the part that is not a plain identifier
    /// (`"lock table"` when the table name is too long to take the suffix: name the lock table
    /// with [`TableName::with_lock_table`] then).
    pub fn new(schema: &str, table: &str) -> Result<Self, SqlServerConfigError> {
        Self::with_lock_table(schema, table, &format!("{table}{LOCK_TABLE_SUFFIX}"))
    }

    /// Validates the names, with the lock table named `locks` (in the same schema).
    ///
    /// # Errors
    /// [`SqlServerConfigError::InvalidIdentifier`] naming the part that is not a plain identifier,
    /// or [`SqlServerConfigError::SameTable`] if `locks` is `table`.
    pub fn with_lock_table(
        schema: &str,
        table: &str,
        locks: &str,
    ) -> Result<Self, SqlServerConfigError> {
        for (which, name) in [("schema", schema), ("table", table), ("lock table", locks)] {
            if !is_identifier(name) {
                return Err(SqlServerConfigError::InvalidIdentifier {
                    which,
                    name: name.to_owned(),
                });
            }
        }
        // Identifiers compare case-insensitively under the usual database collations.
        if table.eq_ignore_ascii_case(locks) {
            return Err(SqlServerConfigError::SameTable(table.to_owned()));
        }
        Ok(Self {
            schema: schema.to_owned(),
            table: table.to_owned(),
            locks: locks.to_owned(),
        })
    }

    /// The schema.
    #[must_use]
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The table.
    #[must_use]
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The lock table.
    #[must_use]
    pub fn lock_table(&self) -> &str {
        &self.locks
    }

    /// `[schema].[table]`, as the statements use it.
    #[must_use]
    pub fn quoted(&self) -> String {
        format!("[{}].[{}]", self.schema, self.table)
    }

    /// `[schema].[lock table]`, as the statements use it.
    #[must_use]
    pub fn quoted_locks(&self) -> String {
        format!("[{}].[{}]", self.schema, self.locks)
    }
}

/// `^[A-Za-z_][A-Za-z0-9_]{0,127}$`.
fn is_identifier(name: &str) -> bool {
    let bytes = name.as_bytes();
    match bytes.split_first() {
        Some((first, rest)) => {
            (first.is_ascii_alphabetic() || *first == b'_')
                && rest.len() <= 127
                && rest.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        }
        None => false,
    }
}

/// Builds a [`SqlServerCache`](crate::SqlServerCache); see [`SqlServerCacheOptions`] for each setting.
///
/// ```no_run
/// # async fn demo() -> Result<(), cache_sqlserver::SqlServerConfigError> {
/// let cache = cache_sqlserver::SqlServerCache::builder()
///     .connection_string("Server=tcp:localhost,1433;User Id=sa;Password=...;TrustServerCertificate=true")
///     .schema_name("dbo")
///     .table_name("Sessions")
///     .build()?;
/// # let _ = cache; Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct SqlServerCacheBuilder {
    options: SqlServerCacheOptions,
}

impl SqlServerCacheBuilder {
    /// The ADO.NET connection string.
    pub fn connection_string(mut self, value: impl Into<String>) -> Self {
        self.options.connection_string = value.into();
        self
    }

    /// The schema of the table (default `dbo`).
    pub fn schema_name(mut self, value: impl Into<String>) -> Self {
        self.options.schema_name = value.into();
        self
    }

    /// The table name.
    pub fn table_name(mut self, value: impl Into<String>) -> Self {
        self.options.table_name = value.into();
        self
    }

    /// The lock table name (default: the table name followed by `_Locks`).
    pub fn lock_table_name(mut self, value: impl Into<String>) -> Self {
        self.options.lock_table_name = Some(value.into());
        self
    }

    /// Maximum number of pooled connections (default 10).
    pub fn pool_size(mut self, value: u32) -> Self {
        self.options.pool_size = value;
        self
    }

    /// Bound on waiting for a pooled connection (default 15 s).
    pub fn connection_timeout(mut self, value: Duration) -> Self {
        self.options.connection_timeout = value;
        self
    }

    /// Sliding expiration of entries written without any expiration (default 20 minutes).
    pub fn default_sliding_expiration(mut self, value: Duration) -> Self {
        self.options.default_sliding_expiration = value;
        self
    }

    /// Interval of the background deletion of expired rows (default 30 minutes, minimum 5).
    pub fn expired_items_deletion_interval(mut self, value: Duration) -> Self {
        self.options.expired_items_deletion_interval = value;
        self
    }

    /// The options collected so far.
    #[must_use]
    pub fn options(&self) -> &SqlServerCacheOptions {
        &self.options
    }

    /// Validates the options and builds the cache (see [`SqlServerCache::new`](crate::SqlServerCache::new)).
    ///
    /// # Errors
    /// A [`SqlServerConfigError`] for an invalid setting or when called outside a Tokio runtime.
    pub fn build(self) -> Result<crate::SqlServerCache, SqlServerConfigError> {
        crate::SqlServerCache::new(self.options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        for ok in ["dbo", "_x", "Sessions_2", &"a".repeat(128)] {
            assert!(is_identifier(ok), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "a-b",
            "a]b",
            "a'b",
            "a b",
            "Séance",
            &"a".repeat(129),
        ] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn lock_table_names() {
        let name = TableName::new("dbo", "Sessions").unwrap();
        assert_eq!(name.quoted_locks(), "[dbo].[Sessions_Locks]");
        let named = TableName::with_lock_table("dbo", "Sessions", "SessionLocks").unwrap();
        assert_eq!(named.quoted_locks(), "[dbo].[SessionLocks]");
        // 128 characters leave no room for the suffix: the lock table must be named.
        let long = "a".repeat(128);
        assert!(matches!(
            TableName::new("dbo", &long),
            Err(SqlServerConfigError::InvalidIdentifier {
                which: "lock table",
                ..
            })
        ));
        assert!(TableName::with_lock_table("dbo", &long, "Locks").is_ok());
        assert!(matches!(
            TableName::with_lock_table("dbo", "Sessions", "sessions"),
            Err(SqlServerConfigError::SameTable(_))
        ));
        assert!(TableName::with_lock_table("dbo", "Sessions", "x]").is_err());
    }
}
