//! The minimum server version, and what the start-up check learns about the server.
//!
//! **SQL Server 2016 (13.x) or later, or Azure SQL Database / Managed Instance.** The sliding
//! UPDATE uses `DATEDIFF_BIG` (see [`crate::sql`]), which SQL Server 2012 and 2014 do not have:
//! there every `get` and `refresh` would fail. Azure SQL reports product version 12 while having
//! every feature of the current engine, so it is recognised by its engine edition instead.
//! [`SqlServerCache::check_server`](crate::SqlServerCache::check_server),
//! [`SqlServerCache::create_table_if_missing`](crate::SqlServerCache::create_table_if_missing)
//! and `sql-cache create` refuse older servers with [`SqlServerError::UnsupportedServer`].

use crate::error::SqlServerError;

/// The oldest supported major version of a boxed SQL Server (13 = SQL Server 2016).
pub const MIN_MAJOR_VERSION: u32 = 13;

/// `SERVERPROPERTY('EngineEdition')` of Azure SQL Database.
pub const EDITION_AZURE_SQL_DATABASE: i32 = 5;

/// `SERVERPROPERTY('EngineEdition')` of Azure SQL Managed Instance.
pub const EDITION_AZURE_SQL_MANAGED_INSTANCE: i32 = 8;

/// The answer of [`sql::SERVER_CHECK`](crate::sql::SERVER_CHECK).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerFacts {
    /// `SERVERPROPERTY('ProductVersion')`, e.g. `16.0.4135.4`.
    pub version: String,
    /// `SERVERPROPERTY('EngineEdition')`.
    pub edition: i32,
    /// Whether the entry table exists.
    pub table_exists: bool,
    /// Whether the lock table exists.
    pub lock_table_exists: bool,
}

impl ServerFacts {
    /// Whether this provider supports the server (see the module docs).
    #[must_use]
    pub fn is_supported(&self) -> bool {
        matches!(
            self.edition,
            EDITION_AZURE_SQL_DATABASE | EDITION_AZURE_SQL_MANAGED_INSTANCE
        ) || major_version(&self.version).is_some_and(|major| major >= MIN_MAJOR_VERSION)
    }

    /// `Ok` if the server is supported.
    ///
    /// # Errors
    /// [`SqlServerError::UnsupportedServer`].
    // `SqlServerError` is large (it can hold the driver's error), but this runs once at start-up
    // and its callers box the error into a `CacheError` at once.
    #[allow(clippy::result_large_err)]
    pub fn require_supported(&self) -> Result<(), SqlServerError> {
        if self.is_supported() {
            Ok(())
        } else {
            Err(SqlServerError::UnsupportedServer {
                version: self.version.clone(),
                edition: self.edition,
            })
        }
    }
}

/// The major version of a product version (`13.0.5026.0` → 13); `None` if it does not parse
/// (an unknown server is refused, not assumed recent).
fn major_version(version: &str) -> Option<u32> {
    version.split('.').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(version: &str, edition: i32) -> ServerFacts {
        ServerFacts {
            version: version.to_owned(),
            edition,
            table_exists: true,
            lock_table_exists: true,
        }
    }

    #[test]
    fn versions() {
        assert!(facts("13.0.1601.5", 3).is_supported(), "2016");
        assert!(facts("16.0.4135.4", 2).is_supported(), "2022");
        assert!(!facts("12.0.6024.0", 3).is_supported(), "2014");
        assert!(!facts("11.0.7001.0", 3).is_supported(), "2012");
        assert!(!facts("", 3).is_supported(), "unknown");
        assert!(facts("12.0.2000.8", 5).is_supported(), "Azure SQL Database");
        assert!(
            facts("12.0.2000.8", 8).is_supported(),
            "Azure SQL Managed Instance"
        );
        let error = facts("12.0.6024.0", 3).require_supported().unwrap_err();
        let message = error.to_string();
        assert!(message.contains("12.0.6024.0"), "{message}");
        assert!(
            message.contains("SQL Server 2016 (13.x) or later"),
            "{message}"
        );
    }
}
