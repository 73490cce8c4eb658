//! One client connection: PRELOGIN (and the TLS handshake, if encryption was negotiated),
//! LOGIN7, then SQLBatch / RPC requests answered in order.
//!
//! The task owns its socket; dropping the task (server shutdown aborts it) closes the socket.
//! Engine calls run inline: the engines are in-memory and fast, and a request on one
//! connection is answered before the next is read, exactly as a client expects.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::io::BufReader;
use tokio::net::TcpStream;

use crate::tds::engine::SqlError;
use crate::tds::server::{Fault, Shared};

use super::error::ProtocolError;
use super::packet::{self, PacketWriter, read_message};
use super::prelogin::Encryption;
use super::request::{self, Statement};
use super::response::{self, Kind};
use super::tokens::TdsVersion;
use super::transaction::{self, Transactions};
use super::transport::Transport;
use super::{login, prelogin, tokens};

/// Where the connection is in the login sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for PRELOGIN.
    PreLogin,
    /// Waiting for LOGIN7.
    Login,
    /// Logged in: requests are accepted.
    Ready,
}

/// Serves one accepted socket until the client leaves, a fault or malformed input closes
/// it, or the server shuts down (which aborts this task).
pub(crate) async fn serve(stream: TcpStream, shared: Arc<Shared>, spid: u16) {
    // Responses are written in one call per message; Nagle would only add latency.
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "TDS test server: set_nodelay failed");
    }
    let mut conn = Connection {
        stream: BufReader::new(Transport::Plain(stream)),
        shared,
        writer: PacketWriter::new(spid),
        phase: Phase::PreLogin,
        encryption: Encryption::None,
        version: TdsVersion::V7_4,
        transactions: Transactions::default(),
    };
    match conn.run().await {
        Ok(()) => tracing::debug!(spid, "TDS test server: connection closed"),
        Err(e) => tracing::debug!(spid, error = %e, "TDS test server: connection dropped"),
    }
}

struct Connection {
    stream: BufReader<Transport>,
    shared: Arc<Shared>,
    writer: PacketWriter,
    phase: Phase,
    /// Negotiated in PRELOGIN.
    encryption: Encryption,
    /// Negotiated in LOGIN7.
    version: TdsVersion,
    /// Transaction descriptors handed out (see [`transaction`]).
    transactions: Transactions,
}

impl Connection {
    async fn run(&mut self) -> Result<(), ProtocolError> {
        loop {
            let Some(message) = read_message(&mut self.stream).await? else {
                return Ok(());
            };
            // The fault is sampled once per request so that a request sees one consistent mode.
            let injected = match self.shared.fault() {
                Fault::Stall => {
                    // Keep reading (and discarding) so the client's writes succeed, never answer.
                    tokio::io::copy(&mut self.stream, &mut tokio::io::sink()).await?;
                    return Ok(());
                }
                Fault::DropConnections => return Ok(()),
                Fault::Error(err) => Some(err),
                Fault::None => None,
            };
            match (self.phase, message.ty) {
                (Phase::PreLogin, packet::PRELOGIN) => {
                    let client = prelogin::parse_request(&message.payload)?;
                    let offer = self
                        .shared
                        .config
                        .tls
                        .as_ref()
                        .map(|t| t.require_encryption);
                    let Some((answer, encryption)) = prelogin::negotiate(client, offer) else {
                        // The client cannot meet our requirement (or we cannot meet its).
                        return Ok(());
                    };
                    self.send(&prelogin::response(answer)).await?;
                    self.encryption = encryption;
                    if encryption != Encryption::None {
                        self.start_tls().await?;
                    }
                    self.phase = Phase::Login;
                }
                (Phase::PreLogin | Phase::Login, packet::LOGIN7) => {
                    if !self.login(&message.payload).await? {
                        return Ok(());
                    }
                    self.phase = Phase::Ready;
                }
                (Phase::Ready, packet::SQL_BATCH) => {
                    let statement = request::parse_batch(&message.payload, self.version);
                    self.statement(Kind::Batch, statement, injected).await?;
                }
                (Phase::Ready, packet::RPC) => {
                    let statement = request::parse_rpc(&message.payload, self.version);
                    self.statement(Kind::Rpc, statement, injected).await?;
                }
                (Phase::Ready, packet::TRANSACTION_MANAGER) => {
                    let answer = match transaction::parse(&message.payload, self.version) {
                        Ok(request) => self.transactions.answer(self.version, request),
                        Err(ProtocolError::Unsupported(what)) => response::error(
                            self.version,
                            Kind::Batch,
                            &tokens::internal(&format!("not supported: {what}")),
                        ),
                        Err(e) => return Err(e),
                    };
                    self.shared.requests_served.fetch_add(1, Ordering::SeqCst);
                    self.send(&answer).await?;
                }
                (Phase::Ready, packet::ATTENTION) => {
                    // Requests are answered synchronously, so there is never one to cancel.
                    self.send(&response::attention_ack(self.version)).await?;
                }
                _ => {
                    return Err(ProtocolError::Malformed(
                        "unexpected packet type for the connection state",
                    ));
                }
            }
        }
    }

    /// The TLS handshake, right after the PRELOGIN answer (the client sends nothing else
    /// before it, so nothing is buffered in the reader).
    async fn start_tls(&mut self) -> Result<(), ProtocolError> {
        let Some(tls) = &self.shared.config.tls else {
            return Err(ProtocolError::Malformed(
                "TLS negotiated without a certificate",
            ));
        };
        let config = tls.config();
        let plain = std::mem::replace(self.stream.get_mut(), Transport::Switching);
        *self.stream.get_mut() = plain.enter_tls(config).await?;
        Ok(())
    }

    /// Checks the credentials; `false` after answering a failed login (the caller closes).
    async fn login(&mut self, payload: &[u8]) -> Result<bool, ProtocolError> {
        if self.encryption == Encryption::LoginOnly {
            // The client left TLS once LOGIN7 was sent: the answer goes in plain text.
            let tls = std::mem::replace(self.stream.get_mut(), Transport::Switching);
            *self.stream.get_mut() = tls.leave_tls();
        }
        let login = login::parse(payload)?;
        self.version = TdsVersion::negotiate(login.tds_version);
        let config = &self.shared.config;
        let failure = if login.integrated_security
            || !login.user.eq_ignore_ascii_case(&config.user)
            || login.password != config.password
        {
            Some(SqlError {
                number: 18456,
                class: 14,
                message: format!("Login failed for user '{}'.", login.user),
            })
        } else if !login.database.is_empty()
            && !login.database.eq_ignore_ascii_case(&config.database)
        {
            Some(SqlError {
                number: 4060,
                class: 11,
                message: format!(
                    "Cannot open database \"{}\" requested by the login. The login failed.",
                    login.database
                ),
            })
        } else {
            None
        };
        if let Some(err) = failure {
            self.send(&response::login_failed(self.version, &err))
                .await?;
            return Ok(false);
        }
        let response = response::login_ok(self.version, &config.database, login.packet_size);
        self.send(&response).await?;
        {
            let mut logins = self
                .shared
                .logins
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match self.encryption {
                Encryption::None => logins.plain += 1,
                Encryption::LoginOnly => logins.login_only += 1,
                Encryption::Full => logins.encrypted += 1,
            }
        }
        // The ENVCHANGE just sent announces the size; it applies from the next message on.
        self.writer.packet_size = login.packet_size;
        Ok(true)
    }

    /// Executes a batch or RPC statement and answers it.
    async fn statement(
        &mut self,
        kind: Kind,
        statement: Result<Statement, ProtocolError>,
        injected: Option<SqlError>,
    ) -> Result<(), ProtocolError> {
        let response = match statement {
            Err(ProtocolError::Unsupported(what)) => response::error(
                self.version,
                kind,
                &tokens::internal(&format!("not supported: {what}")),
            ),
            Err(e) => return Err(e),
            // Pool validation (bb8-tiberius sends `SELECT 1`) is answered here, so it works
            // with any engine and is not affected by `Fault::Error`.
            Ok(statement) if is_select_one(&statement) => response::select_one(self.version, kind),
            Ok(statement) => match injected {
                Some(err) => response::error(self.version, kind, &err),
                None => {
                    self.shared
                        .statements_executed
                        .fetch_add(1, Ordering::SeqCst);
                    match self
                        .shared
                        .engine
                        .execute(&statement.sql, &statement.params)
                    {
                        Ok(outcome) => response::outcome(self.version, kind, &outcome),
                        Err(err) => response::error(self.version, kind, &err),
                    }
                }
            },
        };
        // Counted before writing, so a client that has read the answer sees the new count.
        self.shared.requests_served.fetch_add(1, Ordering::SeqCst);
        self.send(&response).await
    }

    async fn send(&mut self, payload: &[u8]) -> Result<(), ProtocolError> {
        Ok(self.writer.write(self.stream.get_mut(), payload).await?)
    }
}

/// `SELECT 1` without parameters (case, whitespace and a trailing `;` ignored).
fn is_select_one(statement: &Statement) -> bool {
    let sql = statement.sql.trim().trim_end_matches(';').trim_end();
    statement.params.is_empty()
        && sql
            .split_whitespace()
            .map(str::to_ascii_lowercase)
            .eq(["select", "1"])
}
