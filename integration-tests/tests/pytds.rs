//! Keeps the TDS test server honest with a client we did not write: `tests/pytds/check.py` runs
//! cache-sqlserver's statements through pytds (PyPI `python-tds`) against the server and checks
//! the answers, logging in at TDS 7.1 to 7.4, with and without autocommit (transaction-manager
//! requests), with positional parameters.
//!
//! Ignored by default: it needs `python3` with pytds. `.ci/run` installs pytds and runs it
//! (`cargo test --workspace --all-features --test pytds -- --ignored`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] functions

use std::sync::Arc;
use std::time::Duration;

use cache_sqlserver::sql::Statements;
use integration_tests::tds::server::{TdsServer, TdsServerConfig};
use integration_tests::tds::sqlcache_engine::SqlCacheEngine;
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python3 with pytds (pip install python-tds); .ci/run runs it with --ignored"]
async fn pytds_runs_the_provider_statements() {
    let engine = Arc::new(SqlCacheEngine::new("dbo", "Sessions").unwrap());
    let config = TdsServerConfig::default();
    let server = TdsServer::start(engine.clone(), config.clone())
        .await
        .unwrap();
    let statements = Statements::render(engine.table());
    let setup = serde_json::json!({
        "port": server.addr().port(),
        "user": config.user,
        "password": config.password,
        "database": config.database,
        "statements": statements
            .all()
            .into_iter()
            .map(|(name, sql)| (name.to_owned(), serde_json::Value::from(sql)))
            .collect::<serde_json::Map<_, _>>(),
    });
    let file = std::env::temp_dir().join(format!("pytds-check-{}.json", std::process::id()));
    std::fs::write(&file, setup.to_string()).unwrap();

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pytds/check.py");
    let run = Command::new("python3")
        .arg(script)
        .arg(&file)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the pytds check finished within 120 s")
        .expect("python3 runs");
    let _ = std::fs::remove_file(&file);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "pytds check failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // Every version reported; from 7.2 also without autocommit (transaction-manager requests).
    for (version, autocommits) in [
        ("7.1", &["True"][..]),
        ("7.2", &["True", "False"]),
        ("7.3", &["True", "False"]),
        ("7.4", &["True", "False"]),
    ] {
        for autocommit in autocommits {
            let line = format!("pytds TDS {version} autocommit={autocommit}: ok");
            assert!(stdout.contains(&line), "{line} missing:\n{stdout}");
        }
    }
    assert!(engine.table_exists() && engine.lock_table_exists());
}
