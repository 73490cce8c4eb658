//! The shared conformance suite against a real SQL Server, when `MSSQL_CONNECTION_STRING` is set
//! when the tests are built (e.g. the `mssql` service of the repository's `docker-compose.yml`).
//! Otherwise this file holds one test, ignored with the reason (or failing when `REQUIRE_MSSQL=1`):
//! a suite that did not run never reports as passed. See `build.rs`.
//!
//! The table is `[dbo].[Sessions]` unless `MSSQL_SCHEMA` / `MSSQL_TABLE` say otherwise; it is
//! created if missing. Cases use random keys, so they can share a table with other data.

#[cfg(real_mssql)]
mod real {
    use std::sync::Arc;

    use cache_sqlserver::SqlServerCache;
    use session_core::conformance::Harness;

    async fn real_sql_server() -> Option<Harness> {
        let connection_string = std::env::var("MSSQL_CONNECTION_STRING").unwrap_or_else(|_| {
            panic!("MSSQL_CONNECTION_STRING was set at build time but not now")
        });
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
}

#[cfg(not(real_mssql))]
#[test]
#[cfg_attr(
    not(require_mssql),
    ignore = "MSSQL_CONNECTION_STRING is not set: the conformance suite did NOT run against a real \
              SQL Server (see docker-compose.yml); it runs over the TDS test server in tests/conformance.rs"
)]
fn real_sql_server_conformance() {
    panic!("REQUIRE_MSSQL=1 but MSSQL_CONNECTION_STRING was not set when the tests were built");
}
