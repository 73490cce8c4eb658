//! The public face of the TDS test server: start it on a loopback port, point tiberius at
//! [`TdsServer::connection_string`], inject faults, count round trips.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::engine::{SqlEngine, SqlError};
use super::tls::TdsTls;
use super::wire::connection;

/// Login credentials and database the server accepts, and its TLS.
#[derive(Debug, Clone)]
pub struct TdsServerConfig {
    /// SQL login name (compared case-insensitively, like SQL Server's default collation).
    pub user: String,
    /// Password (compared exactly). A wrong user or password fails the login with 18456.
    pub password: String,
    /// The database. LOGIN7 may name it (case-insensitively) or leave it empty; any other
    /// name fails the login with 4060, as on a real server.
    pub database: String,
    /// TLS: `None` answers PRELOGIN with "encryption not supported" (plain text only). With a
    /// certificate, a client offering login-only encryption (`Encrypt=false`) gets its LOGIN7
    /// encrypted, a client asking for encryption (`Encrypt=true`) gets everything encrypted,
    /// and [`TdsTls::require_encryption`] encrypts everything for every client.
    pub tls: Option<TdsTls>,
}

impl Default for TdsServerConfig {
    /// `sa` / `TdsTest-Passw0rd` / `master`, no TLS.
    fn default() -> Self {
        Self {
            user: "sa".to_owned(),
            password: "TdsTest-Passw0rd".to_owned(),
            database: "master".to_owned(),
            tls: None,
        }
    }
}

/// Successful logins by how the connection was encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Logins {
    /// Plain text throughout.
    pub plain: u64,
    /// LOGIN7 encrypted, plain text after.
    pub login_only: u64,
    /// Encrypted from LOGIN7 on.
    pub encrypted: u64,
}

/// A failure mode injected into every connection, old and new, from its next message on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fault {
    /// Normal operation.
    #[default]
    None,
    /// Accept connections and read requests but never answer: the connection hangs until
    /// the client gives up (use it to test timeouts). A stalled connection stays stalled
    /// after the fault is cleared; new connections work again.
    Stall,
    /// Close the socket instead of answering the next message (login included).
    DropConnections,
    /// Answer every statement (SQLBatch or RPC) with this ERROR token. Logins still succeed
    /// and the built-in `SELECT 1` pool validation still answers, so a pooled client reaches
    /// the point of sending its statement and sees exactly this error.
    Error(SqlError),
}

/// State shared by the accept loop, every connection task and the [`TdsServer`] handle.
pub(crate) struct Shared {
    /// Executes statements.
    pub(crate) engine: Arc<dyn SqlEngine>,
    /// Accepted credentials.
    pub(crate) config: TdsServerConfig,
    /// The current fault (a std mutex: held only to clone or replace the value, never
    /// across an await).
    fault: Mutex<Fault>,
    /// TCP connections accepted.
    pub(crate) connections_accepted: AtomicU64,
    /// SQLBatch and RPC requests answered.
    pub(crate) requests_served: AtomicU64,
    /// Statements handed to the engine.
    pub(crate) statements_executed: AtomicU64,
    /// Successful logins by encryption.
    pub(crate) logins: Mutex<Logins>,
}

impl Shared {
    /// The current fault.
    pub(crate) fn fault(&self) -> Fault {
        self.fault
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// An in-memory SQL Server speaking TDS 7.4 on `127.0.0.1`, with TLS if configured.
///
/// Dropping it stops the server: see the [`Drop`] implementation for the order.
pub struct TdsServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// Fired (or dropped) by [`Drop`] to stop the accept loop.
    shutdown: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for TdsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TdsServer")
            .field("addr", &self.addr)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl TdsServer {
    /// Binds `127.0.0.1:0` and starts accepting connections on the current Tokio runtime.
    ///
    /// # Errors
    /// The bind failed.
    pub async fn start(
        engine: Arc<dyn SqlEngine>,
        config: TdsServerConfig,
    ) -> std::io::Result<TdsServer> {
        Self::start_on(0, engine, config).await
    }

    /// Like [`start`](Self::start) on `127.0.0.1:port` (0: any free port).
    ///
    /// # Errors
    /// The bind failed (e.g. the port is taken).
    pub async fn start_on(
        port: u16,
        engine: Arc<dyn SqlEngine>,
        config: TdsServerConfig,
    ) -> std::io::Result<TdsServer> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            engine,
            config,
            fault: Mutex::new(Fault::None),
            connections_accepted: AtomicU64::new(0),
            requests_served: AtomicU64::new(0),
            statements_executed: AtomicU64::new(0),
            logins: Mutex::new(Logins::default()),
        });
        let (shutdown, stop) = oneshot::channel();
        tokio::spawn(accept_loop(listener, Arc::clone(&shared), stop));
        Ok(TdsServer {
            addr,
            shared,
            shutdown: Some(shutdown),
        })
    }

    /// The bound address (`127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// An ADO.NET connection string for `tiberius::Config::from_ado_string`, e.g.
    /// `Server=tcp:127.0.0.1,PORT;User Id=sa;Password=..;Database=master;Encrypt=DANGER_PLAINTEXT;TrustServerCertificate=true`.
    ///
    /// Without TLS, `Encrypt=DANGER_PLAINTEXT` selects `EncryptionLevel::NotSupported` whether
    /// or not tiberius is built with a TLS feature (`Encrypt=false` would select `Off`, which
    /// still encrypts the login when TLS is compiled in — impossible against this server).
    /// With TLS, `Encrypt=true` (the server's certificate is self-issued, so trusted blindly).
    /// Values with `;`, `=`, quotes or spaces are wrapped in `{...}`.
    pub fn connection_string(&self) -> String {
        let encryption = if self.shared.config.tls.is_some() {
            "Encrypt=true"
        } else {
            "Encrypt=DANGER_PLAINTEXT"
        };
        format!(
            "{};{encryption};TrustServerCertificate=true",
            self.base_connection_string()
        )
    }

    /// [`connection_string`](Self::connection_string) without the `Encrypt` and
    /// `TrustServerCertificate` settings, for tests choosing their own.
    pub fn base_connection_string(&self) -> String {
        let config = &self.shared.config;
        format!(
            "Server=tcp:127.0.0.1,{};User Id={};Password={};Database={}",
            self.addr.port(),
            ado_value(&config.user),
            ado_value(&config.password),
            ado_value(&config.database),
        )
    }

    /// Successful logins since start, by encryption.
    pub fn logins(&self) -> Logins {
        *self
            .shared
            .logins
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the fault applied from every connection's next message on.
    pub fn set_fault(&self, fault: Fault) {
        *self
            .shared
            .fault
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = fault;
    }

    /// TCP connections accepted since start.
    pub fn connections_accepted(&self) -> u64 {
        self.shared.connections_accepted.load(Ordering::SeqCst)
    }

    /// SQLBatch and RPC requests answered since start, including the built-in `SELECT 1`
    /// and error answers, excluding logins and requests swallowed by a fault. Counted before
    /// the answer is written, so it is up to date once the client has its answer.
    pub fn requests_served(&self) -> u64 {
        self.shared.requests_served.load(Ordering::SeqCst)
    }

    /// Statements handed to the engine since start: [`requests_served`](Self::requests_served)
    /// without pool validations (`SELECT 1`) and without faults or protocol errors.
    pub fn statements_executed(&self) -> u64 {
        self.shared.statements_executed.load(Ordering::SeqCst)
    }
}

impl Drop for TdsServer {
    /// Signals the accept loop, which then, in this order:
    /// 1. stops accepting and drops the listener, so new connections are refused;
    /// 2. aborts every connection task and waits for them, closing their sockets (a client
    ///    blocked on a stalled request gets EOF);
    /// 3. returns.
    ///
    /// Shutdown completes asynchronously on the runtime; a connection attempt racing the
    /// drop may still complete the TCP handshake but is closed before any TDS answer.
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // An Err means the loop has already ended (runtime shut down): nothing to stop.
            let _ = shutdown.send(());
        }
    }
}

/// Accepts connections until shutdown, each served by a task in a [`JoinSet`] so that
/// shutdown can abort them all.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let mut connections = JoinSet::new();
    // SQL Server numbers user sessions from 51; the spid only shows in packet headers.
    let mut next_spid: u16 = 51;
    loop {
        tokio::select! {
            // Shutdown first: a connection accepted after the drop must not be served.
            biased;
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.connections_accepted.fetch_add(1, Ordering::SeqCst);
                    let spid = next_spid;
                    next_spid = next_spid.wrapping_add(1);
                    connections.spawn(connection::serve(stream, Arc::clone(&shared), spid));
                }
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "TDS test server: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            // Reap finished connections so the set does not grow with every connection.
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = done {
                    tracing::warn!(error = %e, "TDS test server: connection task failed");
                }
            }
        }
    }
    drop(listener);
    connections.shutdown().await;
}

/// Quotes an ADO.NET value with braces when it contains separators or spaces.
fn ado_value(value: &str) -> String {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| matches!(c, ';' | '=' | '\'' | '"' | '{' | '}' | ' '));
    if plain {
        value.to_owned()
    } else {
        format!("{{{value}}}")
    }
}
