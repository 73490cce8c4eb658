//! Shared setup of the over-the-wire tests: a TDS test server executing the provider's
//! statements in memory, and a `SqlServerCache` connected to it (see `integration_tests::tds::sql_cache`).

#[allow(unused_imports)] // each test crate uses a part
pub use integration_tests::tds::sql_cache::{Wire, connect, start};
