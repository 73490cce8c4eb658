//! The `tds-test-server` binary: it prints a connection string on which `SqlServerCache`
//! creates its tables and works, with and without `--tls`, on the port asked for.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] functions

use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use cache_sqlserver::SqlServerCache;
use session_core::{DistributedCache, EntryOptions};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Starts the binary and reads the connection string it prints (killed when dropped).
async fn start(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tds-test-server"))
        .args(args)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("tds-test-server starts");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(30),
        BufReader::new(stdout).read_line(&mut line),
    )
    .await
    .expect("the connection string is printed within 30 s")
    .unwrap();
    (child, line.trim().to_owned())
}

async fn use_it(connection_string: &str) {
    let cache = SqlServerCache::builder()
        .connection_string(connection_string)
        .table_name("Sessions")
        .connection_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    cache.create_table_if_missing().await.unwrap();
    cache.check_server().await.unwrap();
    let value = Bytes::from_static(b"standalone");
    cache
        .set("k", value.clone(), &EntryOptions::new())
        .await
        .unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(value));
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prints_a_working_connection_string() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let (_child, cs) = start(&[]).await;
        assert!(cs.starts_with("Server=tcp:127.0.0.1,"), "{cs}");
        assert!(cs.contains("Encrypt=DANGER_PLAINTEXT"), "{cs}");
        use_it(&cs).await;
    })
    .await
    .expect("within 60 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listens_on_the_port_asked_for_with_tls() {
    tokio::time::timeout(Duration::from_secs(60), async {
        // A free port: bind one, note it, free it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (_child, cs) = start(&["--port", &port.to_string(), "--tls"]).await;
        assert!(
            cs.starts_with(&format!("Server=tcp:127.0.0.1,{port};")),
            "{cs}"
        );
        assert!(
            cs.contains("Encrypt=true;TrustServerCertificate=true"),
            "{cs}"
        );
        use_it(&cs).await;
    })
    .await
    .expect("within 60 s");
}
