//! The shared conformance suite against a real SQL Server, when `MSSQL_CONNECTION_STRING` is set
//! (e.g. the `mssql` service of the repository's `docker-compose.yml`); otherwise every case
//! prints a notice and returns. Set `REQUIRE_MSSQL=1` to fail instead of skipping.
//!
//! The table is `[dbo].[Sessions]` unless `MSSQL_SCHEMA` / `MSSQL_TABLE` say otherwise; it is
//! created if missing. Cases use random keys, so they can share a table with other data.

use std::io::Write as _;
use std::sync::{Arc, Once};

use cache_sqlserver::SqlServerCache;
use session_core::conformance::Harness;

async fn real_sql_server() -> Option<Harness> {
    let Ok(connection_string) = std::env::var("MSSQL_CONNECTION_STRING") else {
        assert!(
            std::env::var("REQUIRE_MSSQL").as_deref() != Ok("1"),
            "REQUIRE_MSSQL=1 but MSSQL_CONNECTION_STRING is not set"
        );
        // Written to the process' stderr directly (not `eprintln!`, which the test harness
        // captures), once, so the skip is visible in every test run's output.
        static NOTICE: Once = Once::new();
        NOTICE.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: MSSQL_CONNECTION_STRING is not set: the conformance suite did NOT run \
                 against a real SQL Server (see docker-compose.yml). The same suite runs over the \
                 TDS test server in tests/conformance.rs. ***\n"
            );
        });
        return None;
    };
    let schema = std::env::var("MSSQL_SCHEMA").unwrap_or_else(|_| "dbo".to_owned());
    let table = std::env::var("MSSQL_TABLE").unwrap_or_else(|_| "Sessions".to_owned());
    let cache = match SqlServerCache::builder()
        .connection_string(connection_string)
        .schema_name(schema)
        .table_name(table)
        .build()
    {
        Ok(cache) => cache,
        Err(e) => panic!("MSSQL_CONNECTION_STRING / MSSQL_SCHEMA / MSSQL_TABLE: {e} ({e:?})"),
    };
    if let Err(e) = cache.create_table_if_missing().await {
        panic!("cannot create the cache table on the server: {e} ({e:?})");
    }
    Some(Harness::new(Arc::new(cache)))
}

session_core::distributed_cache_conformance!(real_sql_server);
