//! Every T-SQL statement the provider sends, as `const` templates.
//!
//! The templates name the entry table with the placeholder [`TABLE_PLACEHOLDER`] and the lock
//! table with [`LOCKS_PLACEHOLDER`]; [`Statements::render`] substitutes the bracket-quoted,
//! validated `[schema].[table]` names once, when the cache is built, so no identifier is ever
//! spliced in per request and no value ever is: values travel as RPC parameters (`@P1`, `@P2`,
//! ... as tiberius names them).
//!
//! The entry table and its semantics are those of Microsoft.Extensions.Caching.SqlServer
//! (`SqlQueries.cs`), so a .NET application and this crate can share one table:
//! * an entry is live while `@now <= ExpiresAtTime` and, stricter than .NET's reads, not past
//!   its `AbsoluteExpiration` (one predicate for every statement: see `live!` in the source);
//! * reading an entry slides `ExpiresAtTime` to `now + SlidingExpirationInSeconds`, but never past
//!   `AbsoluteExpiration` (`DATEDIFF_BIG` rather than .NET's `DATEDIFF`, which overflows `int` for
//!   an absolute expiration more than 68 years away; `DATEDIFF_BIG` needs SQL Server 2016, see
//!   [`crate::server`]);
//! * dead rows are deleted in bulk by [`DELETE_EXPIRED`].
//!
//! Beyond .NET, conditional writes and locks (see `session_core::WriteCondition`) each take one
//! batch whose check and write are atomic. Every comparison of stored bytes with expected bytes
//! (values, lock tokens) also compares `DATALENGTH`, because SQL Server ignores trailing zero
//! bytes when comparing `varbinary`. Locks are rows of a table of their own (`Id`, `Token`,
//! `ExpiresAtTime`), keyed by the cache key itself, so no lock can be mistaken for an entry.
//!
//! The templates are written in forms that `sqlparser`'s `MsSqlDialect` also accepts (a test
//! parses every rendered statement): `CREATE INDEX` rather than `CREATE NONCLUSTERED INDEX` (the
//! same thing on a table with a clustered primary key), and no `MERGE ... WITH (HOLDLOCK)`.
//!
//! Statements whose answer is a count of rows affected (conditional writes, locks, the bulk
//! delete) start with `SET NOCOUNT OFF`, so a server or login configured with `NOCOUNT ON` (the
//! `user options` setting) cannot silently turn every conditional write into "not applied".
//!
//! ## Write parameters
//! The statements that write an entry share one parameter layout, so the caller binds them once:
//! `@P1` Id, `@P2` Value, `@P3` ExpiresAtTime, `@P4` SlidingExpirationInSeconds, `@P5`
//! AbsoluteExpiration, `@P6` now; conditional writes add `@P7` as documented on each.

/// The placeholder for the quoted entry table name in every template.
pub const TABLE_PLACEHOLDER: &str = "{table}";

/// The placeholder for the quoted lock table name.
pub const LOCKS_PLACEHOLDER: &str = "{locks}";

/// The one liveness predicate of an entry row at the time `$now` (a parameter): before its
/// `ExpiresAtTime` **and** not past its `AbsoluteExpiration`. Every statement that asks whether
/// an entry is live uses it, so `get`, `refresh`, `set_if` and `remove_if_equals` agree.
///
/// The second half matters for rows written by .NET: .NET stores `ExpiresAtTime = now + sliding`
/// even when the absolute expiration comes earlier, so such a row can be past its absolute
/// expiration and still before `ExpiresAtTime`. It is dead to every operation here.
macro_rules! live {
    ($now:literal) => {
        concat!(
            "(",
            $now,
            " <= ExpiresAtTime AND (AbsoluteExpiration IS NULL OR ",
            $now,
            " <= AbsoluteExpiration))"
        )
    };
}

/// Byte-for-byte equality of a `varbinary` column and a parameter. SQL Server ignores trailing
/// zero bytes when comparing `varbinary` (`0x6162 = 0x616200`); comparing `DATALENGTH` too makes
/// the comparison exact.
macro_rules! bytes_equal {
    ($column:literal, $param:literal) => {
        concat!(
            "(",
            $column,
            " = ",
            $param,
            " AND DATALENGTH(",
            $column,
            ") = DATALENGTH(",
            $param,
            "))"
        )
    };
}

/// The sliding UPDATE shared by [`GET`] and [`REFRESH`] (a macro so both `const`s can be built
/// with `concat!` from one text).
macro_rules! slide_update {
    () => {
        concat!(
            "UPDATE {table} SET ExpiresAtTime = CASE \
             WHEN DATEDIFF_BIG(SECOND, @P2, AbsoluteExpiration) <= SlidingExpirationInSeconds \
             THEN AbsoluteExpiration \
             ELSE DATEADD(SECOND, SlidingExpirationInSeconds, @P2) END \
             WHERE Id = @P1 AND ",
            live!("@P2"),
            " AND SlidingExpirationInSeconds IS NOT NULL \
             AND (AbsoluteExpiration IS NULL OR AbsoluteExpiration <> ExpiresAtTime);"
        )
    };
}

/// Makes the server report rows affected whatever the session's default (see the module docs).
macro_rules! counted {
    () => {
        "SET NOCOUNT OFF; "
    };
}

/// The column list of an INSERT of a whole row.
macro_rules! row_columns {
    () => {
        "(Id, Value, ExpiresAtTime, SlidingExpirationInSeconds, AbsoluteExpiration)"
    };
}

/// The SET clause that overwrites a whole row with the write parameters.
macro_rules! row_assignments {
    () => {
        "SET Value = @P2, ExpiresAtTime = @P3, SlidingExpirationInSeconds = @P4, \
         AbsoluteExpiration = @P5"
    };
}

/// `SELECT 1`, the ping.
pub const PING: &str = "SELECT 1";

/// What the server is and which of the two tables exist, in one row (no parameters): the
/// product version (`nvarchar`, e.g. `13.0.5026.0`), the engine edition (`int`; 5 is Azure SQL
/// Database, 8 Azure SQL Managed Instance) and the object ids of the entry and lock tables
/// (`int`, NULL when missing). See [`crate::server`] for what is accepted.
pub const SERVER_CHECK: &str = "SELECT CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)), \
     CAST(SERVERPROPERTY('EngineEdition') AS int), \
     OBJECT_ID(N'{table}', N'U'), OBJECT_ID(N'{locks}', N'U');";

/// Slides the entry and reads it, in one batch: `@P1` Id, `@P2` now.
/// Result: zero or one row with one `varbinary(max)` column, `Value`.
pub const GET: &str = concat!(
    slide_update!(),
    " SELECT Value FROM {table} WHERE Id = @P1 AND ",
    live!("@P2"),
    ";"
);

/// Slides the entry without reading it: `@P1` Id, `@P2` now.
pub const REFRESH: &str = slide_update!();

/// Upserts an entry (write parameters `@P1`..`@P5`).
///
/// The `UPDLOCK, SERIALIZABLE` hints hold a key-range lock on the Id from the UPDATE to the end of
/// the transaction, so a concurrent upsert of the same new key waits instead of inserting in the
/// gap: neither write is lost (.NET's version swallows the duplicate-key error instead, dropping
/// the second write). `XACT_ABORT` rolls the transaction back on any error, so a failed batch
/// never leaves a transaction open on a pooled connection.
pub const SET: &str = concat!(
    "SET XACT_ABORT ON; BEGIN TRANSACTION; UPDATE {table} WITH (UPDLOCK, SERIALIZABLE) ",
    row_assignments!(),
    " WHERE Id = @P1; IF @@ROWCOUNT = 0 INSERT INTO {table} ",
    row_columns!(),
    " VALUES (@P1, @P2, @P3, @P4, @P5); COMMIT TRANSACTION;"
);

/// Writes an entry only if no live one exists (write parameters `@P1`..`@P6`).
/// Rows affected: 1 if written, 0 if a live entry was there.
///
/// First replaces a dead row in place; otherwise inserts unless a row exists, the
/// `NOT EXISTS` probe holding a key-range update lock (`UPDLOCK, HOLDLOCK`) so two racing
/// inserts serialize: one writes, the other sees the row and reports 0.
pub const SET_IF_ABSENT: &str = concat!(
    counted!(),
    "UPDATE {table} ",
    row_assignments!(),
    " WHERE Id = @P1 AND NOT ",
    live!("@P6"),
    "; IF @@ROWCOUNT = 0 INSERT INTO {table} ",
    row_columns!(),
    " SELECT @P1, @P2, @P3, @P4, @P5 WHERE NOT EXISTS \
     (SELECT 1 FROM {table} WITH (UPDLOCK, HOLDLOCK) WHERE Id = @P1);"
);

/// Compare-and-set on `Value` (write parameters `@P1`..`@P6`, `@P7` the expected value).
/// Rows affected: 1 if the live entry held exactly `@P7` and was replaced, else 0.
pub const SET_IF_VALUE_EQUALS: &str = concat!(
    counted!(),
    "UPDATE {table} ",
    row_assignments!(),
    " WHERE Id = @P1 AND ",
    bytes_equal!("Value", "@P7"),
    " AND ",
    live!("@P6"),
    ";"
);

/// Upserts an entry only while the lock on the same key (`@P1`) is live and holds token `@P7`
/// (write parameters `@P1`..`@P6`). Rows affected: 1 if written, 0 if the lock is not held.
///
/// The lock row is read under `UPDLOCK, HOLDLOCK`, so it cannot be taken over between the check
/// and the write.
pub const SET_IF_LOCK_HELD: &str = concat!(
    counted!(),
    "UPDATE {table} ",
    row_assignments!(),
    " WHERE Id = @P1 AND EXISTS (SELECT 1 FROM {locks} AS L WITH (UPDLOCK, HOLDLOCK) \
     WHERE L.Id = @P1 AND ",
    bytes_equal!("L.Token", "@P7"),
    " AND @P6 <= L.ExpiresAtTime); IF @@ROWCOUNT = 0 INSERT INTO {table} ",
    row_columns!(),
    " SELECT @P1, @P2, @P3, @P4, @P5 WHERE NOT EXISTS \
     (SELECT 1 FROM {table} WITH (UPDLOCK, HOLDLOCK) WHERE Id = @P1) \
     AND EXISTS (SELECT 1 FROM {locks} AS L WITH (UPDLOCK, HOLDLOCK) WHERE L.Id = @P1 AND ",
    bytes_equal!("L.Token", "@P7"),
    " AND @P6 <= L.ExpiresAtTime);"
);

/// Removes an entry: `@P1` Id.
pub const REMOVE: &str = "DELETE FROM {table} WHERE Id = @P1;";

/// Removes an entry only if it is live and holds exactly `@P2`: `@P1` Id, `@P2` expected value,
/// `@P3` now. Rows affected: 1 if removed, else 0.
pub const REMOVE_IF_EQUALS: &str = concat!(
    counted!(),
    "DELETE FROM {table} WHERE Id = @P1 AND ",
    bytes_equal!("Value", "@P2"),
    " AND ",
    live!("@P3"),
    ";"
);

/// Takes or extends a lock in the lock table: `@P1` key, `@P2` token, `@P3` lease end, `@P4` now.
/// Rows affected: 1 if the lock is now held with `@P2`, 0 if another live token holds it.
///
/// Takes over an expired lock row or extends one holding the same token in place; otherwise
/// inserts unless a row exists (key-range update lock as in [`SET_IF_ABSENT`]).
pub const TRY_LOCK: &str = concat!(
    counted!(),
    "UPDATE {locks} SET Token = @P2, ExpiresAtTime = @P3 WHERE Id = @P1 AND \
     (@P4 > ExpiresAtTime OR ",
    bytes_equal!("Token", "@P2"),
    "); IF @@ROWCOUNT = 0 INSERT INTO {locks} (Id, Token, ExpiresAtTime) \
     SELECT @P1, @P2, @P3 WHERE NOT EXISTS \
     (SELECT 1 FROM {locks} WITH (UPDLOCK, HOLDLOCK) WHERE Id = @P1);"
);

/// Releases a lock if held with the token: `@P1` key, `@P2` token.
pub const UNLOCK: &str = concat!(
    "DELETE FROM {locks} WHERE Id = @P1 AND ",
    bytes_equal!("Token", "@P2"),
    ";"
);

/// Deletes every dead entry and every expired lock: `@P1` now. Rows affected: both together.
pub const DELETE_EXPIRED: &str = concat!(
    counted!(),
    "DELETE FROM {table} WHERE NOT ",
    live!("@P1"),
    "; DELETE FROM {locks} WHERE @P1 > ExpiresAtTime;"
);

/// Creates whichever of the two tables is missing, in one transaction (no parameters): the
/// entry table with its index, exactly as `dotnet sql-cache create` makes it (`CREATE INDEX` is
/// nonclustered by default here because the primary key is the clustered index), and the lock
/// table. `XACT_ABORT` rolls everything back on any error, so a failure (say, a missing
/// permission for the index) leaves no half-made table behind. The schema must exist.
pub const CREATE_TABLES: &str = "SET XACT_ABORT ON; BEGIN TRANSACTION; \
     IF OBJECT_ID(N'{table}', N'U') IS NULL BEGIN \
     CREATE TABLE {table} (\
     Id nvarchar(449) COLLATE SQL_Latin1_General_CP1_CS_AS NOT NULL PRIMARY KEY, \
     Value varbinary(max) NOT NULL, \
     ExpiresAtTime datetimeoffset NOT NULL, \
     SlidingExpirationInSeconds bigint NULL, \
     AbsoluteExpiration datetimeoffset NULL); \
     CREATE INDEX Index_ExpiresAtTime ON {table} (ExpiresAtTime); END; \
     IF OBJECT_ID(N'{locks}', N'U') IS NULL BEGIN \
     CREATE TABLE {locks} (\
     Id nvarchar(449) COLLATE SQL_Latin1_General_CP1_CS_AS NOT NULL PRIMARY KEY, \
     Token varbinary(900) NOT NULL, \
     ExpiresAtTime datetimeoffset NOT NULL); END; \
     COMMIT TRANSACTION;";

/// Every statement with the table name filled in; built once per cache.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Statements {
    /// [`GET`].
    pub get: String,
    /// [`REFRESH`].
    pub refresh: String,
    /// [`SET`].
    pub set: String,
    /// [`SET_IF_ABSENT`].
    pub set_if_absent: String,
    /// [`SET_IF_VALUE_EQUALS`].
    pub set_if_value_equals: String,
    /// [`SET_IF_LOCK_HELD`].
    pub set_if_lock_held: String,
    /// [`REMOVE`].
    pub remove: String,
    /// [`REMOVE_IF_EQUALS`].
    pub remove_if_equals: String,
    /// [`TRY_LOCK`].
    pub try_lock: String,
    /// [`UNLOCK`].
    pub unlock: String,
    /// [`DELETE_EXPIRED`].
    pub delete_expired: String,
    /// [`CREATE_TABLES`].
    pub create_tables: String,
    /// [`SERVER_CHECK`].
    pub server_check: String,
}

impl Statements {
    /// Renders every template for `table`: its quoted entry table
    /// ([`TableName::quoted`](crate::TableName::quoted)) and lock table
    /// ([`TableName::quoted_locks`](crate::TableName::quoted_locks)).
    #[must_use]
    pub fn render(table: &crate::TableName) -> Self {
        let (quoted, locks) = (table.quoted(), table.quoted_locks());
        let r = |template: &str| {
            template
                .replace(TABLE_PLACEHOLDER, &quoted)
                .replace(LOCKS_PLACEHOLDER, &locks)
        };
        Self {
            get: r(GET),
            refresh: r(REFRESH),
            set: r(SET),
            set_if_absent: r(SET_IF_ABSENT),
            set_if_value_equals: r(SET_IF_VALUE_EQUALS),
            set_if_lock_held: r(SET_IF_LOCK_HELD),
            remove: r(REMOVE),
            remove_if_equals: r(REMOVE_IF_EQUALS),
            try_lock: r(TRY_LOCK),
            unlock: r(UNLOCK),
            delete_expired: r(DELETE_EXPIRED),
            create_tables: r(CREATE_TABLES),
            server_check: r(SERVER_CHECK),
        }
    }

    /// Every rendered statement with a short name (for tests and diagnostics).
    #[must_use]
    pub fn all(&self) -> [(&'static str, &str); 13] {
        [
            ("get", &self.get),
            ("refresh", &self.refresh),
            ("set", &self.set),
            ("set_if_absent", &self.set_if_absent),
            ("set_if_value_equals", &self.set_if_value_equals),
            ("set_if_lock_held", &self.set_if_lock_held),
            ("remove", &self.remove),
            ("remove_if_equals", &self.remove_if_equals),
            ("try_lock", &self.try_lock),
            ("unlock", &self.unlock),
            ("delete_expired", &self.delete_expired),
            ("create_tables", &self.create_tables),
            ("server_check", &self.server_check),
        ]
    }
}
