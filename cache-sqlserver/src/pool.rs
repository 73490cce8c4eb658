//! The connection pool: bb8 over bb8-tiberius, with broken-connection tracking.
//!
//! bb8-tiberius never reports a connection as broken, and bb8 hands a connection back to the pool
//! when its guard drops, even if the request on it was abandoned half-way (the session wraps every
//! cache call in a timeout, which drops our future mid-request). A tiberius connection in that
//! state has half a request written or half a response unread, and must not be reused. So every
//! [`Conn`] carries an `in_flight` flag: set before a request is sent and cleared only when the
//! request finished with a complete answer (success or an error the *server* reported). If the
//! future is dropped, or the transport fails, the flag stays set and [`Manager::has_broken`] makes
//! bb8 discard the connection instead of pooling it.
//!
//! We do not let bb8 test connections on checkout (`SELECT 1` before every operation would double
//! the round trips); a connection that died while idle is detected by its first request instead
//! (see `SqlServerCache::call` for the retry of operations that are safe to repeat).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bb8::{ErrorSink, ManageConnection};
use tiberius::error::Error as DriverError;
use tokio::sync::Notify;

/// The tiberius client type pooled here (tokio TCP stream).
pub type Client = bb8_tiberius::rt::Client;

/// One pooled connection.
pub struct Conn {
    /// The driver's client.
    client: Client,
    /// A request was started and has not completed cleanly (see the module docs).
    in_flight: bool,
    /// The connection has completed at least one request since it was opened (an error on a
    /// fresh connection is not blamed on staleness and is not retried).
    reused: bool,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("in_flight", &self.in_flight)
            .field("reused", &self.reused)
            .finish_non_exhaustive()
    }
}

impl Conn {
    /// Marks the start of a request and gives access to the client. Pair with [`Conn::finish`].
    pub fn begin(&mut self) -> &mut Client {
        self.in_flight = true;
        &mut self.client
    }

    /// Marks the end of a request with its outcome: the connection stays poolable unless the
    /// failure left the stream in an unknown state. Returns whether the connection had served a
    /// request before this one.
    pub fn finish<T>(&mut self, outcome: &Result<T, DriverError>) -> bool {
        let was_reused = self.reused;
        if outcome.as_ref().err().is_none_or(is_server_error) {
            self.in_flight = false;
            self.reused = true;
        }
        was_reused
    }
}

/// True for an error the server reported in a complete response (a SQL error); false for
/// transport, protocol and decoding failures, after which the stream state is unknown.
pub fn is_server_error(e: &DriverError) -> bool {
    matches!(e, DriverError::Server(_))
}

/// True for failures of the connection itself (as opposed to the server rejecting a statement).
pub fn is_transport_error(e: &DriverError) -> bool {
    matches!(e, DriverError::Io { .. } | DriverError::Protocol(_))
}

/// Failures to open a connection, shared between the pool and the callers waiting for one.
///
/// bb8 opens connections in tasks of its own and hands their errors only to its error sink: a
/// caller waiting in `Pool::get` would wait out the whole connection timeout and then learn only
/// that it timed out. So this is the pool's error sink, and callers wait for "a connection, or a
/// failure to open one", whichever comes first, keeping the cause.
///
/// bb8 calls the sink after it has settled its own bookkeeping of the failed attempt, so a caller
/// woken here and checking out again at once is granted a new attempt (publishing from
/// `Manager::connect` instead would race that bookkeeping and could leave the next caller waiting
/// for an attempt nobody makes).
#[derive(Debug, Default)]
pub struct ConnectFailures {
    notify: Notify,
    last: Mutex<Option<Arc<bb8_tiberius::Error>>>,
}

impl ConnectFailures {
    /// Resolves with the next failure to open a connection. It is registered for that failure
    /// as soon as it is created (not first polled), so create it before the checkout it races.
    pub fn next(&self) -> impl Future<Output = Arc<bb8_tiberius::Error>> + Send + '_ {
        let notified = self.notify.notified();
        async move {
            notified.await;
            let last = self.lock().clone();
            match last {
                Some(error) => error,
                // `sink` stores the error before notifying: not reachable.
                None => std::future::pending().await,
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Arc<bb8_tiberius::Error>>> {
        // Only an `Option` is stored: a poisoned lock still holds a consistent value.
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The pool's error sink: publishes to a shared [`ConnectFailures`].
#[derive(Debug, Clone)]
pub struct FailureSink(pub Arc<ConnectFailures>);

impl ErrorSink<bb8_tiberius::Error> for FailureSink {
    fn sink(&self, error: bb8_tiberius::Error) {
        tracing::debug!(%error, "opening a SQL Server connection failed");
        *self.0.lock() = Some(Arc::new(error));
        self.0.notify.notify_waiters();
    }

    fn boxed_clone(&self) -> Box<dyn ErrorSink<bb8_tiberius::Error>> {
        Box::new(self.clone())
    }
}

/// bb8 manager: opens connections with bb8-tiberius (each attempt bounded by a timeout) and
/// discards those left mid-request.
pub struct Manager {
    inner: bb8_tiberius::ConnectionManager,
    connect_timeout: Duration,
}

impl Manager {
    /// A manager connecting with `config`, giving up on an attempt after `connect_timeout`.
    pub fn new(config: tiberius::Config, connect_timeout: Duration) -> Self {
        Self {
            inner: bb8_tiberius::ConnectionManager::new(config),
            connect_timeout,
        }
    }
}

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = bb8_tiberius::Error;

    async fn connect(&self) -> Result<Conn, Self::Error> {
        // bb8 bounds how long a *caller* waits for a connection, not the attempt to open one: an
        // attempt against a server that accepts the socket and never answers the login would
        // run forever in bb8's background task and hold its pool slot for good, so that the pool
        // never recovers once the server does. The attempt is bounded here instead; a timed-out
        // attempt is an ordinary connect failure (reported to the waiting callers, slot freed).
        let client = tokio::time::timeout(self.connect_timeout, self.inner.connect())
            .await
            .map_err(|_| {
                bb8_tiberius::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "opening a SQL Server connection took longer than {:?}",
                        self.connect_timeout
                    ),
                ))
            })??;
        Ok(Conn {
            client,
            in_flight: false,
            reused: false,
        })
    }

    async fn is_valid(&self, conn: &mut Conn) -> Result<(), Self::Error> {
        // Only used if checkout tests were enabled; kept correct anyway.
        let outcome = async {
            conn.begin()
                .simple_query(crate::sql::PING)
                .await?
                .into_results()
                .await
                .map(drop)
        }
        .await;
        conn.finish(&outcome);
        Ok(outcome?)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.in_flight
    }
}

/// The pool type.
pub type Pool = bb8::Pool<Manager>;
