//! [`SqlServerCache`]: the [`DistributedCache`] over SQL Server.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use session_core::{CacheError, DistributedCache, EntryOptions, LockToken, WriteCondition};
use tiberius::ToSql;

use crate::cleanup::{Cleanup, Sweep};
use crate::error::{SqlServerConfigError, SqlServerError};
use crate::expiry::{self, RowExpiration};
use crate::keys::validate_key;
use crate::options::{SqlServerCacheBuilder, SqlServerCacheOptions, TableName};
use crate::pool::{Client, ConnectFailures, FailureSink, Manager, Pool, is_transport_error};
use crate::server::ServerFacts;
use crate::sql::{self, Statements};

/// A [`DistributedCache`] in a SQL Server table shared with Microsoft.Extensions.Caching.SqlServer.
///
/// ```no_run
/// use std::sync::Arc;
///
/// use cache_sqlserver::SqlServerCache;
/// use session_core::{SessionOptions, SessionStore};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let cache = SqlServerCache::builder()
///     .connection_string(&std::env::var("MSSQL_CONNECTION_STRING")?)
///     .build()?;
/// cache.check_server().await?; // fail at start-up, not on the first request
/// // Shared by every request; with session-actix: `SessionMiddleware::new(cache, key)`.
/// let store = SessionStore::new(Arc::new(cache), SessionOptions::default());
/// # let _ = store;
/// # Ok(())
/// # }
/// ```
///
/// Cheap to clone (clones share the pool and the background cleanup). Build it inside a Tokio
/// runtime with [`SqlServerCache::builder`] or [`SqlServerCache::new`]; connections are opened
/// lazily, on first use. Create the table once with the `sql-cache create` binary or
/// [`create_table_if_missing`](Self::create_table_if_missing).
///
/// Every operation is one round trip on one pooled connection. Waiting for a connection is bounded
/// by [`SqlServerCacheOptions::connection_timeout`]; the operation itself is bounded only by the
/// caller (sessions wrap every call in their IO timeout).
#[derive(Clone)]
pub struct SqlServerCache {
    inner: Arc<Inner>,
}

/// The state shared by clones (and weakly by the cleanup task).
pub(crate) struct Inner {
    pool: Pool,
    connect_failures: Arc<ConnectFailures>,
    statements: Statements,
    table: TableName,
    default_sliding: Duration,
    connection_timeout: Duration,
    /// Bound on retries of idempotent operations after stale pooled connections.
    max_stale_retries: u32,
    cleanup: Cleanup,
}

impl fmt::Debug for SqlServerCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlServerCache")
            .field("table", &self.inner.table.quoted())
            .field("pool", &self.inner.pool.state())
            .finish_non_exhaustive()
    }
}

/// Whether an operation may be sent again after its connection failed under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Repeating it has the same effect as doing it once (reads, upserts, deletes, taking a lock
    /// with the same token).
    Idempotent,
    /// It may have been applied before the connection failed, and applying it twice could answer
    /// differently (conditional writes).
    Never,
}

/// One request to the server.
enum Request<'a> {
    /// RPC; answers the total of rows affected.
    Execute(&'a str, &'a [&'a dyn ToSql]),
    /// RPC; answers the first column of the first row, as bytes.
    QueryBytes(&'a str, &'a [&'a dyn ToSql]),
    /// SQL batch `SELECT 1`.
    Ping,
    /// SQL batch [`sql::SERVER_CHECK`] (rendered).
    Check(&'a str),
}

/// The tables a statement uses: which one to name when the server says one does not exist
/// (error 208).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tables {
    Entries,
    Locks,
    Both,
    /// The statement creates or inspects tables: a 208 cannot mean one of ours is missing.
    Neither,
}

/// The entry a write stores.
struct Entry<'a> {
    key: &'a str,
    value: &'a [u8],
    options: &'a EntryOptions,
}

/// Its answer.
enum Reply {
    Rows(u64),
    Bytes(Option<Vec<u8>>),
    Pong,
    Server(ServerFacts),
}

impl SqlServerCache {
    /// A builder with the defaults of [`SqlServerCacheOptions`].
    pub fn builder() -> SqlServerCacheBuilder {
        SqlServerCacheBuilder::default()
    }

    /// Validates `options` and builds the cache; no connection is opened yet.
    ///
    /// Must be called inside a Tokio runtime: the pool and the background deletion of expired rows
    /// run on it.
    ///
    /// # Errors
    /// A [`SqlServerConfigError`] for an invalid setting or when no Tokio runtime is running.
    pub fn new(options: SqlServerCacheOptions) -> Result<Self, SqlServerConfigError> {
        let (config, table) = options.validate()?;
        let runtime =
            tokio::runtime::Handle::try_current().map_err(SqlServerConfigError::NoRuntime)?;
        let connect_failures = Arc::new(ConnectFailures::default());
        let pool = bb8::Pool::builder()
            .max_size(options.pool_size)
            .connection_timeout(options.connection_timeout)
            // One round trip per operation: no `SELECT 1` on checkout (see `pool`).
            .test_on_check_out(false)
            // Surface a failed connect at once, with its cause (see `ConnectFailures`), rather
            // than retrying silently until the connection timeout.
            .retry_connection(false)
            .error_sink(Box::new(FailureSink(Arc::clone(&connect_failures))))
            // An attempt to open a connection gets as long as a caller waits for one.
            .build_unchecked(Manager::new(config, options.connection_timeout));
        let statements = Statements::render(&table);
        let inner = Arc::new_cyclic(|weak| Inner {
            pool,
            connect_failures,
            statements,
            table,
            default_sliding: options.default_sliding_expiration,
            connection_timeout: options.connection_timeout,
            max_stale_retries: options.pool_size,
            cleanup: Cleanup::spawn(
                weak.clone(),
                options.expired_items_deletion_interval,
                &runtime,
            ),
        });
        Ok(Self { inner })
    }

    /// The validated table name.
    #[must_use]
    pub fn table(&self) -> &TableName {
        &self.inner.table
    }

    /// Creates whichever of the entry table (with its index) and the lock table is missing, in
    /// one transaction (see [`sql::CREATE_TABLES`]), after checking that the server is supported
    /// (see [`crate::server`]).
    ///
    /// # Errors
    /// [`CacheError::Backend`] if the server is too old ([`SqlServerError::UnsupportedServer`])
    /// or refuses (missing schema, no permission, ...).
    pub async fn create_table_if_missing(&self) -> Result<(), CacheError> {
        const OP: &str = "create_table";
        self.inspect_server()
            .await?
            .require_supported()
            .map_err(|e| CacheError::backend(OP, e))?;
        let sql = &self.inner.statements.create_tables;
        self.inner
            .call(
                OP,
                Retry::Idempotent,
                Tables::Neither,
                Request::Execute(sql, &[]),
            )
            .await
            .map(drop)
    }

    /// The start-up check: the server is supported (see [`crate::server`]) and both tables
    /// exist. One round trip; call it once when the application starts to fail early with a
    /// clear message rather than on the first request.
    ///
    /// # Errors
    /// [`CacheError::Backend`] whose source is [`SqlServerError::UnsupportedServer`] or
    /// [`SqlServerError::MissingTable`] (naming the table and the command that creates it), or
    /// the driver's error.
    pub async fn check_server(&self) -> Result<(), CacheError> {
        const OP: &str = "check_server";
        let facts = self.inspect_server().await?;
        facts
            .require_supported()
            .map_err(|e| CacheError::backend(OP, e))?;
        let table = &self.inner.table;
        let missing = match (facts.table_exists, facts.lock_table_exists) {
            (true, true) => return Ok(()),
            (false, true) => table.quoted(),
            (true, false) => table.quoted_locks(),
            (false, false) => format!("{} and {}", table.quoted(), table.quoted_locks()),
        };
        Err(CacheError::backend(
            OP,
            self.inner.missing_table(missing, None),
        ))
    }

    /// What the start-up check reads: the server's version and edition and which of the two
    /// tables exist (one round trip).
    ///
    /// # Errors
    /// [`CacheError::Backend`].
    pub async fn inspect_server(&self) -> Result<ServerFacts, CacheError> {
        const OP: &str = "inspect_server";
        let sql = &self.inner.statements.server_check;
        match self
            .inner
            .call(OP, Retry::Idempotent, Tables::Neither, Request::Check(sql))
            .await?
        {
            Reply::Server(facts) => Ok(facts),
            Reply::Rows(_) | Reply::Bytes(_) | Reply::Pong => Err(unexpected(OP)),
        }
    }

    /// Deletes every expired row now (the background task does this every
    /// `expired_items_deletion_interval`); returns how many rows went.
    ///
    /// # Errors
    /// [`CacheError::Backend`].
    pub async fn delete_expired(&self) -> Result<u64, CacheError> {
        self.inner.delete_expired().await
    }

    /// Stops the background deletion of expired rows and waits until it has stopped. The cache
    /// itself stays usable. Dropping the last clone stops the task too, without waiting.
    pub async fn shutdown(&self) {
        self.inner.cleanup.shutdown().await;
    }

    /// Writes a row with the write parameters (see [`sql`]) plus `extra` (`@P7`).
    async fn write(
        &self,
        (op, retry, tables, statement): (&'static str, Retry, Tables, &str),
        Entry {
            key,
            value,
            options,
        }: Entry<'_>,
        extra: &[&dyn ToSql],
    ) -> Result<u64, CacheError> {
        validate_key(key)?;
        let now = SystemTime::now();
        let RowExpiration {
            expires_at,
            sliding_seconds,
            absolute,
        } = expiry::row_expiration(options, now, self.inner.default_sliding)?;
        let now = expiry::sql_time(now);
        let mut params: Vec<&dyn ToSql> =
            vec![&key, &value, &expires_at, &sliding_seconds, &absolute, &now];
        params.extend_from_slice(extra);
        self.inner
            .rows(op, retry, tables, Request::Execute(statement, &params))
            .await
    }
}

impl Inner {
    /// Runs `request` on a pooled connection, mapping every failure to [`CacheError::Backend`].
    ///
    /// A connection that fails under a request is discarded (see [`crate::pool`]). If it had
    /// served requests before, it most likely died while idle in the pool (server restart,
    /// failover, idle timeout on a proxy): an idempotent request is then sent again on another
    /// connection, at most `max_stale_retries` times, so a pool full of dead connections heals
    /// within one operation. A conditional write is never sent twice: it may have been applied.
    async fn call(
        &self,
        op: &'static str,
        retry: Retry,
        tables: Tables,
        request: Request<'_>,
    ) -> Result<Reply, CacheError> {
        let mut retries = 0;
        loop {
            let mut conn = self.checkout(op).await?;
            let outcome = send(conn.begin(), &request).await;
            let was_reused = conn.finish(&outcome);
            // Return (or discard) the connection before a retry checks out another.
            drop(conn);
            match outcome {
                Ok(reply) => return Ok(reply),
                Err(e)
                    if retry == Retry::Idempotent
                        && was_reused
                        && is_transport_error(&e)
                        && retries < self.max_stale_retries =>
                {
                    retries += 1;
                    tracing::debug!(op, error = %e, "stale pooled connection; retrying");
                }
                Err(e) => return Err(self.failure(op, tables, e)),
            }
        }
    }

    /// The error of a failed request: a missing table (208) becomes
    /// [`SqlServerError::MissingTable`] naming it, anything else stays the driver's error.
    fn failure(&self, op: &'static str, tables: Tables, e: tiberius::error::Error) -> CacheError {
        let is_missing_object =
            matches!(&e, tiberius::error::Error::Server(token) if token.code() == 208);
        let table = &self.table;
        let missing = match tables {
            _ if !is_missing_object => None,
            Tables::Entries => Some(table.quoted()),
            Tables::Locks => Some(table.quoted_locks()),
            Tables::Both => Some(format!("{} or {}", table.quoted(), table.quoted_locks())),
            Tables::Neither => None,
        };
        match missing {
            Some(missing) => CacheError::backend(op, self.missing_table(missing, Some(e))),
            None => CacheError::backend(op, e),
        }
    }

    fn missing_table(
        &self,
        table: String,
        source: Option<tiberius::error::Error>,
    ) -> SqlServerError {
        SqlServerError::MissingTable {
            table,
            schema: self.table.schema().to_owned(),
            entry_table: self.table.table().to_owned(),
            source,
        }
    }

    /// A pooled connection, or the reason none could be had: the failure to open one (as soon as
    /// it happens), or the pool's connection timeout.
    async fn checkout(
        &self,
        op: &'static str,
    ) -> Result<bb8::PooledConnection<'_, Manager>, CacheError> {
        let failed = self.connect_failures.next();
        tokio::select! {
            // Prefer a connection that is ready over a failure reported at the same moment.
            biased;
            checkout = self.pool.get() => match checkout {
                Ok(conn) => Ok(conn),
                Err(bb8::RunError::User(e)) => {
                    Err(CacheError::backend(op, SqlServerError::Connect(Arc::new(e))))
                }
                Err(bb8::RunError::TimedOut) => Err(CacheError::backend(
                    op,
                    SqlServerError::PoolTimedOut(self.connection_timeout),
                )),
            },
            error = failed => Err(CacheError::backend(op, SqlServerError::Connect(error))),
        }
    }

    /// [`call`](Self::call) for a request answering rows affected.
    async fn rows(
        &self,
        op: &'static str,
        retry: Retry,
        tables: Tables,
        request: Request<'_>,
    ) -> Result<u64, CacheError> {
        match self.call(op, retry, tables, request).await? {
            Reply::Rows(n) => Ok(n),
            Reply::Bytes(_) | Reply::Pong | Reply::Server(_) => Err(unexpected(op)),
        }
    }

    async fn delete_expired(&self) -> Result<u64, CacheError> {
        let now = expiry::sql_time(SystemTime::now());
        let sql = &self.statements.delete_expired;
        self.rows(
            "delete_expired",
            Retry::Idempotent,
            Tables::Both,
            Request::Execute(sql, &[&now]),
        )
        .await
    }
}

impl Sweep for Inner {
    async fn sweep(&self) -> Result<u64, CacheError> {
        self.delete_expired().await
    }
}

fn unexpected(op: &'static str) -> CacheError {
    CacheError::backend(
        op,
        SqlServerError::UnexpectedResult("reply of another kind than the request"),
    )
}

/// Sends one request and reads its whole answer.
async fn send(client: &mut Client, request: &Request<'_>) -> Result<Reply, tiberius::error::Error> {
    match *request {
        Request::Execute(sql, params) => {
            Ok(Reply::Rows(client.execute(sql, params).await?.total()))
        }
        Request::QueryBytes(sql, params) => {
            let row = client.query(sql, params).await?.into_row().await?;
            let value = match row {
                Some(row) => row.try_get::<&[u8], _>(0)?.map(<[u8]>::to_vec),
                None => None,
            };
            Ok(Reply::Bytes(value))
        }
        Request::Ping => {
            client.simple_query(sql::PING).await?.into_results().await?;
            Ok(Reply::Pong)
        }
        Request::Check(sql) => {
            let row = client.simple_query(sql).await?.into_row().await?;
            let Some(row) = row else {
                return Err(tiberius::error::Error::Protocol(
                    "the server check answered no row".into(),
                ));
            };
            Ok(Reply::Server(ServerFacts {
                version: row.try_get::<&str, _>(0)?.unwrap_or_default().to_owned(),
                edition: row.try_get::<i32, _>(1)?.unwrap_or_default(),
                table_exists: row.try_get::<i32, _>(2)?.is_some(),
                lock_table_exists: row.try_get::<i32, _>(3)?.is_some(),
            }))
        }
    }
}

#[async_trait]
impl DistributedCache for SqlServerCache {
    fn cache_type(&self) -> &'static str {
        "sqlserver"
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        validate_key(key)?;
        let now = expiry::sql_time(SystemTime::now());
        let sql = &self.inner.statements.get;
        match self
            .inner
            .call(
                "get",
                Retry::Idempotent,
                Tables::Entries,
                Request::QueryBytes(sql, &[&key, &now]),
            )
            .await?
        {
            Reply::Bytes(value) => Ok(value.map(Bytes::from)),
            Reply::Rows(_) | Reply::Pong | Reply::Server(_) => Err(unexpected("get")),
        }
    }

    async fn set(&self, key: &str, value: Bytes, options: &EntryOptions) -> Result<(), CacheError> {
        let statement = &self.inner.statements.set;
        let entry = Entry {
            key,
            value: &value,
            options,
        };
        self.write(
            ("set", Retry::Idempotent, Tables::Entries, statement),
            entry,
            &[],
        )
        .await
        .map(drop)
    }

    async fn set_if(
        &self,
        key: &str,
        value: Bytes,
        options: &EntryOptions,
        condition: &WriteCondition,
    ) -> Result<bool, CacheError> {
        let statements = &self.inner.statements;
        let entry = Entry {
            key,
            value: &value,
            options,
        };
        let rows = match condition {
            WriteCondition::Absent => {
                let statement = &statements.set_if_absent;
                self.write(
                    ("set_if", Retry::Never, Tables::Entries, statement),
                    entry,
                    &[],
                )
                .await?
            }
            WriteCondition::ValueEquals(expected) => {
                let statement = &statements.set_if_value_equals;
                let expected: &[u8] = expected;
                self.write(
                    ("set_if", Retry::Never, Tables::Entries, statement),
                    entry,
                    &[&expected],
                )
                .await?
            }
            WriteCondition::LockHeld(token) => {
                let statement = &statements.set_if_lock_held;
                let token = token.as_str().as_bytes();
                self.write(
                    ("set_if", Retry::Never, Tables::Both, statement),
                    entry,
                    &[&token],
                )
                .await?
            }
            // `WriteCondition` is non-exhaustive: a condition this provider does not know cannot
            // be checked, so it is reported rather than ignored.
            _ => {
                return Err(CacheError::backend(
                    "set_if",
                    SqlServerError::UnexpectedResult("unsupported write condition"),
                ));
            }
        };
        Ok(rows > 0)
    }

    async fn refresh(&self, key: &str) -> Result<(), CacheError> {
        validate_key(key)?;
        let now = expiry::sql_time(SystemTime::now());
        let sql = &self.inner.statements.refresh;
        self.inner
            .rows(
                "refresh",
                Retry::Idempotent,
                Tables::Entries,
                Request::Execute(sql, &[&key, &now]),
            )
            .await
            .map(drop)
    }

    async fn remove(&self, key: &str) -> Result<(), CacheError> {
        validate_key(key)?;
        let sql = &self.inner.statements.remove;
        self.inner
            .rows(
                "remove",
                Retry::Idempotent,
                Tables::Entries,
                Request::Execute(sql, &[&key]),
            )
            .await
            .map(drop)
    }

    async fn remove_if_equals(&self, key: &str, expected: &Bytes) -> Result<bool, CacheError> {
        validate_key(key)?;
        let now = expiry::sql_time(SystemTime::now());
        let expected: &[u8] = expected;
        let sql = &self.inner.statements.remove_if_equals;
        // Never re-sent, as `set_if`: if the first attempt deleted the row and only its reply was
        // lost, a retry would report `false` for our own removal.
        let rows = self
            .inner
            .rows(
                "remove_if_equals",
                Retry::Never,
                Tables::Entries,
                Request::Execute(sql, &[&key, &expected, &now]),
            )
            .await?;
        Ok(rows > 0)
    }

    async fn try_lock(
        &self,
        key: &str,
        token: &LockToken,
        lease: Duration,
    ) -> Result<bool, CacheError> {
        validate_key(key)?;
        let now = expiry::sql_time(SystemTime::now());
        let until = expiry::add(now, lease);
        let token = token.as_str().as_bytes();
        let sql = &self.inner.statements.try_lock;
        // Idempotent: taking a lock already held with the same token succeeds and extends it.
        let rows = self
            .inner
            .rows(
                "try_lock",
                Retry::Idempotent,
                Tables::Locks,
                Request::Execute(sql, &[&key, &token, &until, &now]),
            )
            .await?;
        Ok(rows > 0)
    }

    async fn unlock(&self, key: &str, token: &LockToken) -> Result<(), CacheError> {
        validate_key(key)?;
        let token = token.as_str().as_bytes();
        let sql = &self.inner.statements.unlock;
        self.inner
            .rows(
                "unlock",
                Retry::Idempotent,
                Tables::Locks,
                Request::Execute(sql, &[&key, &token]),
            )
            .await
            .map(drop)
    }

    async fn ping(&self) -> Result<(), CacheError> {
        match self
            .inner
            .call("ping", Retry::Idempotent, Tables::Neither, Request::Ping)
            .await?
        {
            Reply::Pong => Ok(()),
            Reply::Rows(_) | Reply::Bytes(_) | Reply::Server(_) => Err(unexpected("ping")),
        }
    }
}
