//! `session-node` server processes (the example routes over a memory cache, Redis when
//! `REDIS_URL` is set, or SQL Server when `MSSQL_CONNECTION_STRING` is set; see
//! `src/bin/session-node.rs`), started on free loopback ports and killed on drop.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::client::request;

/// How long a starting node may take to answer `GET /health`.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The variables a node reads its store and session settings from. A node sees only those the
/// test passes: one inherited from the developer's shell (say `MSSQL_CONNECTION_STRING` for the
/// real-server tests) would silently change the store or the settings under test.
const NODE_SETTINGS: &[&str] = &[
    "REDIS_URL",
    "REDIS_INSTANCE_NAME",
    "REDIS_TLS_CA_FILE",
    "REDIS_TLS_CLIENT_CERT",
    "REDIS_TLS_CLIENT_KEY",
    "MSSQL_CONNECTION_STRING",
    "MSSQL_SCHEMA",
    "MSSQL_TABLE",
    "IDLE_TIMEOUT_SECS",
    "IO_TIMEOUT_SECS",
    "LOCK_WAIT_SECS",
    "LOCK_LEASE_SECS",
    "SESSION_COOKIE_KEY",
    "SESSION_LOCKING",
];

/// A running `session-node` process.
#[derive(Debug)]
pub struct SessionNode {
    child: Child,
    addr: SocketAddr,
}

impl SessionNode {
    /// Starts `binary` (pass `env!("CARGO_BIN_EXE_session-node")`) with `env` (e.g.
    /// `REDIS_URL`, `SESSION_COOKIE_KEY`, `SESSION_LOCKING`) on a free port, and waits until it
    /// answers `GET /health`. Its output goes to this process's (`RUST_LOG` defaults to `warn`).
    /// Store and session variables not in `env` are removed from its environment.
    ///
    /// # Errors
    /// The process cannot be spawned, exits, or does not answer in time.
    pub async fn start(binary: &Path, env: &[(&str, &str)]) -> std::io::Result<Self> {
        let port = crate::redis_server::free_port()?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut command = Command::new(binary);
        command
            .env("ADDR", addr.to_string())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            // The examples log to stdout.
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
        for name in NODE_SETTINGS {
            command.env_remove(name);
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let mut node = Self {
            child: command.spawn()?,
            addr,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(reply) = request(addr, "GET", "/health", None).await
                && reply.status == 200
            {
                return Ok(node);
            }
            if let Some(status) = node.child.try_wait()? {
                return Err(std::io::Error::other(format!(
                    "session-node exited early with {status}"
                )));
            }
            if Instant::now() > deadline {
                return Err(std::io::Error::other("session-node did not answer /health"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for SessionNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
