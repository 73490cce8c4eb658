//! Every T-SQL statement the provider sends, as `const` templates.
//!
//! The templates name the table with the placeholder [`TABLE_PLACEHOLDER`]; [`Statements::render`]
//! substitutes the bracket-quoted, validated `[schema].[table]` once, when the cache is built, so
//! no identifier is ever spliced in per request and no value ever is: values travel as RPC
//! parameters (`@P1`, `@P2`, ... as tiberius names them).
//!
//! The table and its semantics are those of Microsoft.Extensions.Caching.SqlServer (`SqlQueries.cs`),
//! so a .NET application and this crate can share one table:
//! * an entry is live while `@now <= ExpiresAtTime`;
//! * reading an entry slides `ExpiresAtTime` to `now + SlidingExpirationInSeconds`, but never past
//!   `AbsoluteExpiration` (`DATEDIFF_BIG` rather than .NET's `DATEDIFF`, which overflows `int` for
//!   an absolute expiration more than 68 years away);
//! * expired rows are deleted in bulk by [`DELETE_EXPIRED`].
//!
//! Beyond .NET, conditional writes and locks (see `session_core::WriteCondition`) each take one
//! batch whose check and write are atomic. Locks are rows of the same table (see [`crate::keys`]).
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
//! AbsoluteExpiration, `@P6` now; conditional writes add `@P7` (and `@P8`) as documented on each.

/// The placeholder for the quoted table name in every template.
pub const TABLE_PLACEHOLDER: &str = "{table}";

/// The sliding UPDATE shared by [`GET`] and [`REFRESH`] (a macro so both `const`s can be built
/// with `concat!` from one text).
macro_rules! slide_update {
    () => {
        "UPDATE {table} SET ExpiresAtTime = CASE \
         WHEN DATEDIFF_BIG(SECOND, @P2, AbsoluteExpiration) <= SlidingExpirationInSeconds \
         THEN AbsoluteExpiration \
         ELSE DATEADD(SECOND, SlidingExpirationInSeconds, @P2) END \
         WHERE Id = @P1 AND @P2 <= ExpiresAtTime AND SlidingExpirationInSeconds IS NOT NULL \
         AND (AbsoluteExpiration IS NULL OR AbsoluteExpiration <> ExpiresAtTime);"
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

/// Slides the entry and reads it, in one batch: `@P1` Id, `@P2` now.
/// Result: zero or one row with one `varbinary(max)` column, `Value`.
pub const GET: &str = concat!(
    slide_update!(),
    " SELECT Value FROM {table} WHERE Id = @P1 AND @P2 <= ExpiresAtTime;"
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
/// First replaces an expired row in place; otherwise inserts unless a row exists, the
/// `NOT EXISTS` probe holding a key-range update lock (`UPDLOCK, HOLDLOCK`) so two racing
/// inserts serialize: one writes, the other sees the row and reports 0.
pub const SET_IF_ABSENT: &str = concat!(
    counted!(),
    "UPDATE {table} ",
    row_assignments!(),
    " WHERE Id = @P1 AND @P6 > ExpiresAtTime; IF @@ROWCOUNT = 0 INSERT INTO {table} ",
    row_columns!(),
    " SELECT @P1, @P2, @P3, @P4, @P5 WHERE NOT EXISTS \
     (SELECT 1 FROM {table} WITH (UPDLOCK, HOLDLOCK) WHERE Id = @P1);"
);

/// Compare-and-set on `Value` (write parameters `@P1`..`@P6`, `@P7` the expected value).
/// Rows affected: 1 if the live entry held exactly `@P7` and was replaced, else 0.
///
/// The `DATALENGTH` guard makes the comparison byte-for-byte: SQL Server ignores trailing zero
/// bytes when comparing `varbinary` (`0x6162 = 0x616200`).
pub const SET_IF_VALUE_EQUALS: &str = concat!(
    counted!(),
    "UPDATE {table} ",
    row_assignments!(),
    " WHERE Id = @P1 AND Value = @P7 AND DATALENGTH(Value) = DATALENGTH(@P7) \
     AND ExpiresAtTime >= @P6;"
);

/// Upserts an entry only while the lock row `@P7` holds token `@P8` and is live (write
/// parameters `@P1`..`@P6`). Rows affected: 1 if written, 0 if the lock is not held.
///
/// The lock row is read under `UPDLOCK, HOLDLOCK`, so it cannot be taken over between the check
/// and the write.
pub const SET_IF_LOCK_HELD: &str = concat!(
    counted!(),
    "UPDATE {table} ",
    row_assignments!(),
    " WHERE Id = @P1 AND EXISTS (SELECT 1 FROM {table} AS L WITH (UPDLOCK, HOLDLOCK) \
     WHERE L.Id = @P7 AND L.Value = @P8 AND L.ExpiresAtTime >= @P6); \
     IF @@ROWCOUNT = 0 INSERT INTO {table} ",
    row_columns!(),
    " SELECT @P1, @P2, @P3, @P4, @P5 WHERE NOT EXISTS \
     (SELECT 1 FROM {table} WITH (UPDLOCK, HOLDLOCK) WHERE Id = @P1) \
     AND EXISTS (SELECT 1 FROM {table} AS L WITH (UPDLOCK, HOLDLOCK) \
     WHERE L.Id = @P7 AND L.Value = @P8 AND L.ExpiresAtTime >= @P6);"
);

/// Removes an entry: `@P1` Id.
pub const REMOVE: &str = "DELETE FROM {table} WHERE Id = @P1;";

/// Removes an entry only if it is live and holds exactly `@P2`: `@P1` Id, `@P2` expected value,
/// `@P3` now. Rows affected: 1 if removed, else 0. Liveness and the `DATALENGTH` guard as in
/// [`SET_IF_VALUE_EQUALS`].
pub const REMOVE_IF_EQUALS: &str = concat!(
    counted!(),
    "DELETE FROM {table} WHERE Id = @P1 AND Value = @P2 AND DATALENGTH(Value) = DATALENGTH(@P2) \
     AND ExpiresAtTime >= @P3;"
);

/// Takes or extends a lock: `@P1` lock row Id, `@P2` token, `@P3` lease end, `@P4` now.
/// Rows affected: 1 if the lock is now held with `@P2`, 0 if another live token holds it.
///
/// Takes over an expired lock row or extends one holding the same token in place; otherwise
/// inserts unless a row exists (key-range update lock as in [`SET_IF_ABSENT`]). The lock row has
/// no sliding expiration, so reads never extend it.
pub const TRY_LOCK: &str = concat!(
    counted!(),
    "UPDATE {table} SET Value = @P2, ExpiresAtTime = @P3, SlidingExpirationInSeconds = NULL, \
     AbsoluteExpiration = @P3 WHERE Id = @P1 AND (@P4 > ExpiresAtTime OR Value = @P2); \
     IF @@ROWCOUNT = 0 INSERT INTO {table} ",
    row_columns!(),
    " SELECT @P1, @P2, @P3, NULL, @P3 WHERE NOT EXISTS \
     (SELECT 1 FROM {table} WITH (UPDLOCK, HOLDLOCK) WHERE Id = @P1);"
);

/// Releases a lock if held with the token: `@P1` lock row Id, `@P2` token.
pub const UNLOCK: &str = "DELETE FROM {table} WHERE Id = @P1 AND Value = @P2;";

/// Deletes every expired row (entries and locks): `@P1` now.
pub const DELETE_EXPIRED: &str =
    concat!(counted!(), "DELETE FROM {table} WHERE @P1 > ExpiresAtTime;");

/// Creates the table and its index unless the table exists (no parameters). The table is the one
/// `dotnet sql-cache create` makes; `CREATE INDEX` is nonclustered by default here because the
/// primary key is the clustered index. The schema must exist.
pub const CREATE_TABLE: &str = "IF OBJECT_ID(N'{table}', N'U') IS NULL BEGIN \
     CREATE TABLE {table} (\
     Id nvarchar(449) COLLATE SQL_Latin1_General_CP1_CS_AS NOT NULL PRIMARY KEY, \
     Value varbinary(max) NOT NULL, \
     ExpiresAtTime datetimeoffset NOT NULL, \
     SlidingExpirationInSeconds bigint NULL, \
     AbsoluteExpiration datetimeoffset NULL); \
     CREATE INDEX Index_ExpiresAtTime ON {table} (ExpiresAtTime); END;";

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
    /// [`CREATE_TABLE`].
    pub create_table: String,
}

impl Statements {
    /// Renders every template for `table`, the already quoted `[schema].[table]`
    /// (see [`TableName::quoted`](crate::TableName::quoted)).
    #[must_use]
    pub fn render(table: &crate::TableName) -> Self {
        let quoted = table.quoted();
        let r = |template: &str| template.replace(TABLE_PLACEHOLDER, &quoted);
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
            create_table: r(CREATE_TABLE),
        }
    }

    /// Every rendered statement with a short name (for tests and diagnostics).
    #[must_use]
    pub fn all(&self) -> [(&'static str, &str); 12] {
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
            ("create_table", &self.create_table),
        ]
    }
}
