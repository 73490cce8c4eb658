//! The `sql-cache` binary: `create --print` needs no server and prints the DDL; bad input is refused.

#![allow(clippy::expect_used, clippy::unwrap_used)] // helpers outside #[test] functions

use std::process::Command;

use cache_sqlserver::TableName;
use cache_sqlserver::sql::Statements;

fn sql_cache(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sql-cache"))
        .args(args)
        .output()
        .expect("sql-cache runs")
}

#[test]
fn create_print_outputs_the_ddl() {
    let out = sql_cache(&[
        "create", "--print", "--schema", "dbo", "--table", "Sessions",
    ]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let expected = Statements::render(&TableName::new("dbo", "Sessions").unwrap()).create_tables;
    assert_eq!(stdout.trim_end(), expected);
    assert!(stdout.contains("CREATE TABLE [dbo].[Sessions] ("));
    assert!(stdout.contains("CREATE TABLE [dbo].[Sessions_Locks] ("));
    assert!(stdout.contains("CREATE INDEX Index_ExpiresAtTime"));
}

#[test]
fn lock_table_can_be_named() {
    let out = sql_cache(&[
        "create",
        "--print",
        "--table",
        "Sessions",
        "--lock-table",
        "SessionLocks",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("CREATE TABLE [dbo].[SessionLocks] (")
    );
}

#[test]
fn schema_defaults_to_dbo() {
    let out = sql_cache(&["create", "--print", "--table", "Cache"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("[dbo].[Cache]")
    );
}

#[test]
fn help_and_usage_errors() {
    let help = sql_cache(&["--help"]);
    assert!(help.status.success());
    assert!(
        String::from_utf8(help.stdout)
            .unwrap()
            .contains("--connection-string")
    );

    for bad in [
        &["create", "--table", "Sessions"][..],
        &["create", "--print"],
        &["create", "--print", "--table", "x]; DROP TABLE y; --"],
        &["frobnicate"],
    ] {
        let out = sql_cache(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{bad:?}");
        assert!(
            String::from_utf8(out.stderr).unwrap().contains("error:"),
            "{bad:?}"
        );
    }
}

#[test]
fn unreachable_server_fails_with_its_cause() {
    // A port nothing listens on: bind one, note it, free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cs = format!("Server=tcp:127.0.0.1,{port};User Id=sa;Password=x;Encrypt=false");
    let out = sql_cache(&["create", "--connection-string", &cs, "--table", "Sessions"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("caused by"), "{stderr}");
}

/// Runs `sql-cache create` against `server` with `extra` arguments, off the runtime's threads.
async fn create_on(
    server: &integration_tests::tds::server::TdsServer,
    extra: &[&str],
) -> std::process::Output {
    let args: Vec<String> = [
        "create",
        "--connection-string",
        &server.connection_string(),
        "--schema",
        "dbo",
        "--table",
        "Sessions",
    ]
    .iter()
    .chain(extra)
    .map(|s| (*s).to_owned())
    .collect();
    let run = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        sql_cache(&args)
    });
    tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("sql-cache finished within 60 s")
        .unwrap()
}

async fn start(
    engine: integration_tests::tds::sqlcache_engine::SqlCacheEngine,
) -> (
    std::sync::Arc<integration_tests::tds::sqlcache_engine::SqlCacheEngine>,
    integration_tests::tds::server::TdsServer,
) {
    use integration_tests::tds::server::{TdsServer, TdsServerConfig};
    let engine = std::sync::Arc::new(engine);
    let server = TdsServer::start(engine.clone(), TdsServerConfig::default())
        .await
        .unwrap();
    (engine, server)
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_makes_both_tables_and_reports_an_existing_one() {
    use integration_tests::tds::sqlcache_engine::SqlCacheEngine;

    let (engine, server) = start(SqlCacheEngine::new("dbo", "Sessions").unwrap()).await;
    let out = create_on(&server, &[]).await;
    assert!(out.status.success(), "{out:?}");
    assert!(
        text(out.stdout).contains("Tables [dbo].[Sessions] and [dbo].[Sessions_Locks] are ready")
    );
    assert!(engine.table_exists() && engine.lock_table_exists());

    // Again: refused, as `dotnet sql-cache create` refuses, unless --if-not-exists.
    let out = create_on(&server, &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        text(out.stderr).contains("table [dbo].[Sessions] already exists"),
        "refused"
    );
    let out = create_on(&server, &["--if-not-exists"]).await;
    assert!(out.status.success(), "{out:?}");
    assert!(text(out.stdout).contains("already exist"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_not_exists_adds_the_lock_table_to_a_dotnet_table() {
    use integration_tests::tds::sqlcache_engine::SqlCacheEngine;

    let (engine, server) =
        start(SqlCacheEngine::with_dotnet_table("dbo", "Sessions").unwrap()).await;
    let out = create_on(&server, &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = text(out.stderr);
    assert!(stderr.contains("--if-not-exists"), "{stderr}");
    assert!(stderr.contains("[dbo].[Sessions_Locks]"), "{stderr}");
    assert!(!engine.lock_table_exists());

    let out = create_on(&server, &["--if-not-exists"]).await;
    assert!(out.status.success(), "{out:?}");
    assert!(engine.lock_table_exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_refuses_servers_older_than_2016() {
    use integration_tests::tds::sqlcache_engine::{ServerVersion, SqlCacheEngine};

    let sql_server_2014 = ServerVersion {
        version: "12.0.6024.0".to_owned(),
        edition: 2,
    };
    let (engine, server) = start(
        SqlCacheEngine::new("dbo", "Sessions")
            .unwrap()
            .reporting(sql_server_2014),
    )
    .await;
    for extra in [&[][..], &["--if-not-exists"]] {
        let out = create_on(&server, extra).await;
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let stderr = text(out.stderr);
        assert!(stderr.contains("SQL Server 12.0.6024.0"), "{stderr}");
        assert!(stderr.contains("2016 (13.x) or later"), "{stderr}");
    }
    assert!(!engine.table_exists());
}
