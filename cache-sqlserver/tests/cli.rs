//! The `sql-cache` binary: `create --print` needs no server and prints the DDL; bad input is refused.

#![allow(clippy::expect_used)] // helpers outside #[test] functions

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
    let expected = Statements::render(&TableName::new("dbo", "Sessions").unwrap()).create_table;
    assert_eq!(stdout.trim_end(), expected);
    assert!(stdout.contains("CREATE TABLE [dbo].[Sessions]"));
    assert!(stdout.contains("CREATE INDEX Index_ExpiresAtTime"));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_makes_the_table_over_the_wire() {
    use std::sync::Arc;

    use integration_tests::tds::server::{TdsServer, TdsServerConfig};
    use integration_tests::tds::sqlcache_engine::SqlCacheEngine;

    let engine = Arc::new(SqlCacheEngine::new("dbo", "Sessions").unwrap());
    let server = TdsServer::start(engine.clone(), TdsServerConfig::default())
        .await
        .unwrap();
    let cs = server.connection_string();
    for _ in 0..2 {
        // Twice: creating an existing table is a no-op.
        let cs = cs.clone();
        let out = tokio::task::spawn_blocking(move || {
            sql_cache(&[
                "create",
                "--connection-string",
                &cs,
                "--schema",
                "dbo",
                "--table",
                "Sessions",
            ])
        })
        .await
        .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert!(
            String::from_utf8(out.stdout)
                .unwrap()
                .contains("[dbo].[Sessions] is ready")
        );
        assert!(engine.table_exists());
    }
}
