//! The sessions guide's example server on SQL Server (scale-out and durable): the same routes
//! as `counter`. The table is created if missing (as `sql-cache create` would).
//!
//! ```text
//! MSSQL_CONNECTION_STRING='Server=tcp:127.0.0.1,1433;User Id=sa;Password=...;TrustServerCertificate=true' \
//!     cargo run -p session-actix --example sqlserver
//! ```
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `MSSQL_CONNECTION_STRING` | required | ADO.NET connection string |
//! | `MSSQL_SCHEMA` | `dbo` | schema of the cache table |
//! | `MSSQL_TABLE` | `Sessions` | cache table |
//!
//! plus the common settings (`ADDR`, `IDLE_TIMEOUT_SECS`, `RUST_LOG`, `SESSION_COOKIE_KEY`,
//! `SESSION_LOCKING`; see `common/mod.rs`).

mod common;

use std::process::ExitCode;
use std::sync::Arc;

use cache_sqlserver::SqlServerCache;

#[actix_web::main]
async fn main() -> ExitCode {
    common::init_tracing();
    common::report::exit(run().await)
}

async fn run() -> Result<(), common::BoxError> {
    let settings = common::Settings::from_env()?;
    let connection_string = std::env::var("MSSQL_CONNECTION_STRING")
        .map_err(|_| "MSSQL_CONNECTION_STRING is required (an ADO.NET connection string)")?;
    let cache = SqlServerCache::builder()
        .connection_string(connection_string)
        .schema_name(common::env_or("MSSQL_SCHEMA", "dbo"))
        .table_name(common::env_or("MSSQL_TABLE", "Sessions"))
        .build()
        .map_err(common::report::blame(
            "MSSQL_CONNECTION_STRING / MSSQL_SCHEMA / MSSQL_TABLE",
        ))?;
    cache
        .create_table_if_missing()
        .await
        .map_err(common::report::blame("MSSQL_CONNECTION_STRING"))?;
    common::serve(Arc::new(cache), settings).await
}
