//! Start-up failures of the example servers (`session-node` runs their `common` module and the
//! `redis` example's store set-up): the process exits at once with one line on stderr, the
//! error's `Display` chain, each cause once, naming the environment variable at fault; never
//! "serving" over an unusable store, never a `Debug` dump.
// Test helpers outside #[test] fns: a failed setup must fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::redis_server::RedisServer;

/// Runs `session-node` with `env` (and a free `ADDR` unless given); returns its stderr once it
/// exited, failing if it is still running after 30 s (it would be serving).
fn failed_start(env: &[(&str, &str)]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_session-node"));
    command
        .env_clear()
        .env("RUST_LOG", "warn")
        .env("ADDR", "127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("session-node kept running with {env:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    let line = lines[0];
    assert!(line.starts_with("error: "), "{line}");
    // Display, not Debug: no `Os { code: ..`, `Backend { ..` or `Err(..)` dumps.
    assert!(!line.contains(" { "), "{line}");
    let parts: Vec<&str> = line.trim_start_matches("error: ").split(": ").collect();
    for (i, part) in parts.iter().enumerate() {
        assert!(
            !parts[i + 1..].iter().any(|later| later.contains(part)),
            "`{part}` is said twice: {line}"
        );
    }
    line.to_owned()
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn unreachable_redis_names_redis_url_and_the_address() {
    let port = closed_port();
    let url = format!("redis://127.0.0.1:{port}");
    let line = failed_start(&[("REDIS_URL", &url)]);
    assert!(
        line.starts_with(&format!("error: REDIS_URL: Redis at 127.0.0.1:{port}")),
        "{line}"
    );
    assert!(line.contains("onnection refused"), "{line}");
}

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn wrong_password_or_database_names_redis_url_not_the_password() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let wrong_password = format!("127.0.0.1:{},password=hunter2-secret", server.port());
    let line = failed_start(&[("REDIS_URL", &wrong_password)]);
    assert!(line.starts_with("error: REDIS_URL: "), "{line}");
    assert!(line.contains("authentication failed"), "{line}");
    assert!(!line.contains("hunter2"), "{line}");

    let wrong_database = format!("{}/99", server.url());
    let line = failed_start(&[("REDIS_URL", &wrong_database)]);
    assert!(line.starts_with("error: REDIS_URL: "), "{line}");
    assert!(line.contains("DB index is out of range"), "{line}");
}

#[test]
fn invalid_redis_configuration_names_redis_url() {
    let line = failed_start(&[("REDIS_URL", "localhost,frobnicate=1")]);
    assert_eq!(
        line,
        "error: REDIS_URL: unsupported option `frobnicate` in the configuration string"
    );
}

#[test]
fn address_in_use_names_addr_and_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let line = failed_start(&[("ADDR", &addr)]);
    assert!(
        line.starts_with(&format!(
            "error: ADDR={addr}: cannot listen on this address: "
        )),
        "{line}"
    );
    assert!(line.contains("in use"), "{line}");
}

#[test]
fn invalid_session_setting_names_its_variable() {
    let line = failed_start(&[("IDLE_TIMEOUT_SECS", "0")]);
    assert!(
        line.starts_with("error: IDLE_TIMEOUT_SECS=\"0\": "),
        "{line}"
    );
}
