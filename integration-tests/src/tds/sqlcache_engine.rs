//! [`SqlCacheEngine`]: an in-memory [`SqlEngine`] that executes exactly the statements of
//! `cache-sqlserver` (its rendered [`Statements`]) with SQL Server's semantics for them, so the
//! provider can be tested over a real TDS socket without a SQL Server.
//!
//! It does not parse SQL: it recognises each statement by its exact text and applies the rules
//! that statement expresses (liveness, sliding capped by `AbsoluteExpiration` with
//! `DATEDIFF_BIG(SECOND, ...)` boundary counting, conditional writes), answering the same result
//! sets and rows-affected counts. Ids compare as the table's collation compares them and
//! `varbinary` values as SQL Server compares them (see [`super::collation`]); the clauses that
//! make the provider exact despite that (the `DATALENGTH` guards, the absolute-expiration half
//! of the liveness predicate) take effect only if the statement's text has them (see
//! [`Clauses`]), so a statement that lost one fails its tests here as it would on a server.
//! Anything else is refused with the error SQL Server would give for an unknown table (208) or
//! a statement it cannot run (102).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use cache_sqlserver::sql::{self, Statements};
use cache_sqlserver::{SqlServerConfigError, TableName};
use chrono::{DateTime, FixedOffset, TimeDelta};

use super::collation::{id_key, varbinary_eq};
use super::engine::{Column, Outcome, ResultSet, SqlEngine, SqlError, SqlParam, SqlType, SqlValue};

type Time = DateTime<FixedOffset>;

/// One row of the entry table.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheRow {
    /// `Value`.
    pub value: Bytes,
    /// `ExpiresAtTime`.
    pub expires_at: Time,
    /// `SlidingExpirationInSeconds`.
    pub sliding_seconds: Option<i64>,
    /// `AbsoluteExpiration`.
    pub absolute: Option<Time>,
}

/// One row of the lock table.
#[derive(Debug, Clone, PartialEq)]
pub struct LockRow {
    /// `Token`.
    pub token: Bytes,
    /// `ExpiresAtTime`.
    pub expires_at: Time,
}

/// What a statement's text says about its comparisons, read from the text itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clauses {
    /// `Value` is compared with `DATALENGTH` too (else with `varbinary` equality alone).
    pub value_exact: bool,
    /// `Token` is compared with `DATALENGTH` too.
    pub token_exact: bool,
    /// Liveness also requires `@now <= AbsoluteExpiration` (else only `@now <= ExpiresAtTime`).
    pub absolute_checked: bool,
}

impl Clauses {
    /// Reads the clauses from a statement's text.
    #[must_use]
    pub fn of(sql: &str) -> Self {
        Self {
            value_exact: sql.contains("DATALENGTH(Value) = DATALENGTH(@P"),
            token_exact: sql.contains("DATALENGTH(Token) = DATALENGTH(@P")
                || sql.contains("DATALENGTH(L.Token) = DATALENGTH(@P"),
            absolute_checked: sql.contains(" <= AbsoluteExpiration)"),
        }
    }

    /// Whether `row` is live at `now` by this statement's predicate.
    #[must_use]
    pub fn is_live(&self, row: &CacheRow, now: Time) -> bool {
        now <= row.expires_at
            && (!self.absolute_checked || row.absolute.is_none_or(|absolute| now <= absolute))
    }

    /// Whether the stored `Value` equals `expected` by this statement's comparison (a NULL
    /// `expected` equals nothing, as in SQL).
    #[must_use]
    pub fn value_equals(&self, stored: &[u8], expected: Option<&Bytes>) -> bool {
        expected.is_some_and(|expected| bytes_equal(stored, expected, self.value_exact))
    }

    /// Whether the stored `Token` equals `expected` by this statement's comparison.
    #[must_use]
    pub fn token_equals(&self, stored: &[u8], expected: Option<&Bytes>) -> bool {
        expected.is_some_and(|expected| bytes_equal(stored, expected, self.token_exact))
    }
}

fn bytes_equal(stored: &[u8], expected: &[u8], exact: bool) -> bool {
    varbinary_eq(stored, expected) && (!exact || stored.len() == expected.len())
}

/// The statements the engine knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ping,
    ServerCheck,
    Get,
    Refresh,
    Set,
    SetIfAbsent,
    SetIfValueEquals,
    SetIfLockHeld,
    Remove,
    RemoveIfEquals,
    TryLock,
    Unlock,
    DeleteExpired,
    CreateTables,
}

/// Rows by [`id_key`] of their Id; `None` while the table does not exist.
type Table<R> = Option<HashMap<String, R>>;

#[derive(Debug, Default)]
struct State {
    entries: Table<CacheRow>,
    locks: Table<LockRow>,
}

/// The product version and engine edition the engine reports (see `cache_sqlserver::server`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerVersion {
    /// `SERVERPROPERTY('ProductVersion')`.
    pub version: String,
    /// `SERVERPROPERTY('EngineEdition')`.
    pub edition: i32,
}

impl Default for ServerVersion {
    /// SQL Server 2022, Developer edition.
    fn default() -> Self {
        Self {
            version: "16.0.4135.4".to_owned(),
            edition: 3,
        }
    }
}

/// The in-memory cache tables behind a [`TdsServer`](super) for `cache-sqlserver`'s tests.
#[derive(Debug)]
pub struct SqlCacheEngine {
    table: TableName,
    statements: Statements,
    version: ServerVersion,
    state: Mutex<State>,
}

impl SqlCacheEngine {
    /// An engine for `[schema].[table]` and its lock table; neither table exists until the
    /// provider's `create_table_if_missing` (or [`SqlCacheEngine::with_table`]) creates them.
    ///
    /// # Errors
    /// The names are not valid identifiers.
    pub fn new(schema: &str, table: &str) -> Result<Self, SqlServerConfigError> {
        let table = TableName::new(schema, table)?;
        Ok(Self {
            statements: Statements::render(&table),
            table,
            version: ServerVersion::default(),
            state: Mutex::new(State::default()),
        })
    }

    /// Like [`new`](Self::new), with both tables already created.
    ///
    /// # Errors
    /// The names are not valid identifiers.
    pub fn with_table(schema: &str, table: &str) -> Result<Self, SqlServerConfigError> {
        let engine = Self::with_dotnet_table(schema, table)?;
        engine.lock().locks = Some(HashMap::new());
        Ok(engine)
    }

    /// Like [`new`](Self::new), with only the entry table created, as `dotnet sql-cache create`
    /// leaves a database.
    ///
    /// # Errors
    /// The names are not valid identifiers.
    pub fn with_dotnet_table(schema: &str, table: &str) -> Result<Self, SqlServerConfigError> {
        let engine = Self::new(schema, table)?;
        engine.lock().entries = Some(HashMap::new());
        Ok(engine)
    }

    /// Reports `version` from now on (e.g. SQL Server 2014, to test that it is refused).
    #[must_use]
    pub fn reporting(mut self, version: ServerVersion) -> Self {
        self.version = version;
        self
    }

    /// The table names whose statements the engine executes.
    pub fn table(&self) -> &TableName {
        &self.table
    }

    /// Whether the entry table has been created.
    pub fn table_exists(&self) -> bool {
        self.lock().entries.is_some()
    }

    /// Whether the lock table has been created.
    pub fn lock_table_exists(&self) -> bool {
        self.lock().locks.is_some()
    }

    /// A copy of the entry row whose Id equals `id` (by the collation), expired or not.
    pub fn row(&self, id: &str) -> Option<CacheRow> {
        self.lock().entries.as_ref()?.get(&id_key(id)).cloned()
    }

    /// A copy of the lock row whose Id equals `id` (by the collation), expired or not.
    pub fn lock_row(&self, id: &str) -> Option<LockRow> {
        self.lock().locks.as_ref()?.get(&id_key(id)).cloned()
    }

    /// The number of entry rows, expired or not.
    pub fn row_count(&self) -> usize {
        self.lock().entries.as_ref().map_or(0, HashMap::len)
    }

    /// Inserts or replaces an entry row directly (to set up expired rows, rows as .NET writes
    /// them, and the like), creating the entry table if needed.
    pub fn put_row(&self, id: &str, row: CacheRow) {
        self.lock()
            .entries
            .get_or_insert_with(HashMap::new)
            .insert(id_key(id), row);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a row half-written (every mutation is a
        // single map operation), so a poisoned lock is still consistent.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn kind(&self, sql: &str) -> Option<Kind> {
        let s = &self.statements;
        let known = [
            (sql::PING, Kind::Ping),
            (s.server_check.as_str(), Kind::ServerCheck),
            (&s.get, Kind::Get),
            (&s.refresh, Kind::Refresh),
            (&s.set, Kind::Set),
            (&s.set_if_absent, Kind::SetIfAbsent),
            (&s.set_if_value_equals, Kind::SetIfValueEquals),
            (&s.set_if_lock_held, Kind::SetIfLockHeld),
            (&s.remove, Kind::Remove),
            (&s.remove_if_equals, Kind::RemoveIfEquals),
            (&s.try_lock, Kind::TryLock),
            (&s.unlock, Kind::Unlock),
            (&s.delete_expired, Kind::DeleteExpired),
            (&s.create_tables, Kind::CreateTables),
        ];
        known
            .into_iter()
            .find(|(text, _)| *text == sql)
            .map(|(_, kind)| kind)
    }

    /// The error for a statement that is not one of ours.
    fn unknown(&self, sql: &str) -> SqlError {
        let ours = [self.table.quoted(), self.table.quoted_locks()];
        // A statement naming another `[schema].[table]`: SQL Server's "Invalid object name".
        if let Some(other) = quoted_table(sql).filter(|name| !ours.contains(name)) {
            return invalid_object(&other);
        }
        let shown: String = sql.chars().take(120).collect();
        SqlError {
            number: 102,
            class: 15,
            message: format!("SqlCacheEngine does not recognise this statement: {shown}"),
        }
    }

    fn server_check(&self, state: &State) -> Outcome {
        let column = |ty| Column {
            name: String::new(),
            ty,
        };
        // Any object id will do: only NULL (missing) or not matters.
        let object_id = |exists: bool| SqlValue::Int(exists.then_some(901_578_250));
        Outcome {
            result_sets: vec![ResultSet {
                columns: vec![
                    column(SqlType::NVarCharMax),
                    column(SqlType::Int),
                    column(SqlType::Int),
                    column(SqlType::Int),
                ],
                rows: vec![vec![
                    SqlValue::NVarChar(Some(self.version.version.clone())),
                    SqlValue::Int(Some(self.version.edition)),
                    object_id(state.entries.is_some()),
                    object_id(state.locks.is_some()),
                ]],
            }],
            rows_affected: None,
        }
    }
}

impl SqlEngine for SqlCacheEngine {
    fn execute(&self, sql: &str, params: &[SqlParam]) -> Result<Outcome, SqlError> {
        let Some(kind) = self.kind(sql) else {
            return Err(self.unknown(sql));
        };
        let p = Params(params);
        let c = Clauses::of(sql);
        let mut guard = self.lock();
        let state = &mut *guard;
        let entries_name = || invalid_object(&self.table.quoted());
        let locks_name = || invalid_object(&self.table.quoted_locks());
        let outcome = match kind {
            Kind::Ping => select_one(),
            Kind::ServerCheck => self.server_check(state),
            Kind::CreateTables => {
                state.entries.get_or_insert_with(HashMap::new);
                state.locks.get_or_insert_with(HashMap::new);
                Outcome::default()
            }
            Kind::TryLock | Kind::Unlock => {
                let locks = state.locks.as_mut().ok_or_else(locks_name)?;
                execute_lock(kind, &p, c, locks)?
            }
            Kind::SetIfLockHeld | Kind::DeleteExpired => {
                let entries = state.entries.as_mut().ok_or_else(entries_name)?;
                let locks = state.locks.as_mut().ok_or_else(locks_name)?;
                if kind == Kind::DeleteExpired {
                    let now = p.time(1)?;
                    let before = entries.len() + locks.len();
                    entries.retain(|_, row| c.is_live(row, now));
                    locks.retain(|_, lock| now <= lock.expires_at);
                    let deleted = before - entries.len() - locks.len();
                    affected(u64::try_from(deleted).unwrap_or(u64::MAX))
                } else {
                    let (id, row) = p.write_row()?;
                    let (now, token) = (p.time(6)?, p.bytes(7)?);
                    let held = locks.get(&id).is_some_and(|lock| {
                        now <= lock.expires_at && c.token_equals(&lock.token, token.as_ref())
                    });
                    write_if(entries, held, &id, row)
                }
            }
            _ => {
                let entries = state.entries.as_mut().ok_or_else(entries_name)?;
                execute_entry(kind, &p, c, entries)?
            }
        };
        Ok(outcome)
    }
}

/// The statements on the entry table alone.
fn execute_entry(
    kind: Kind,
    p: &Params<'_>,
    c: Clauses,
    rows: &mut HashMap<String, CacheRow>,
) -> Result<Outcome, SqlError> {
    Ok(match kind {
        Kind::Get => {
            let (id, now) = (p.string(1)?, p.time(2)?);
            slide(rows, &id, now, c);
            let value = rows
                .get(&id_key(&id))
                .filter(|row| c.is_live(row, now))
                .map(|row| vec![SqlValue::VarBinary(Some(row.value.clone()))]);
            Outcome {
                result_sets: vec![ResultSet {
                    columns: vec![Column {
                        name: "Value".to_owned(),
                        ty: SqlType::VarBinaryMax,
                    }],
                    rows: value.into_iter().collect(),
                }],
                rows_affected: None,
            }
        }
        Kind::Refresh => {
            let (id, now) = (p.string(1)?, p.time(2)?);
            affected(u64::from(slide(rows, &id, now, c)))
        }
        Kind::Set => {
            let (id, row) = p.write_row()?;
            rows.insert(id_key(&id), row);
            affected(1)
        }
        Kind::SetIfAbsent => {
            let (id, row) = p.write_row()?;
            let now = p.time(6)?;
            let free = rows
                .get(&id_key(&id))
                .is_none_or(|old| !c.is_live(old, now));
            write_if(rows, free, &id, row)
        }
        Kind::SetIfValueEquals => {
            let (id, row) = p.write_row()?;
            let (now, expected) = (p.time(6)?, p.bytes(7)?);
            let matches = holds(rows, &id, expected.as_ref(), now, c);
            write_if(rows, matches, &id, row)
        }
        Kind::Remove => affected(u64::from(rows.remove(&id_key(&p.string(1)?)).is_some())),
        Kind::RemoveIfEquals => {
            let (id, expected, now) = (p.string(1)?, p.bytes(2)?, p.time(3)?);
            let matches = holds(rows, &id, expected.as_ref(), now, c);
            if matches {
                rows.remove(&id_key(&id));
            }
            affected(u64::from(matches))
        }
        // Dispatched elsewhere by `execute`.
        _ => Outcome::default(),
    })
}

/// The statements on the lock table alone.
fn execute_lock(
    kind: Kind,
    p: &Params<'_>,
    c: Clauses,
    locks: &mut HashMap<String, LockRow>,
) -> Result<Outcome, SqlError> {
    let key = id_key(&p.string(1)?);
    Ok(match kind {
        Kind::TryLock => {
            let (token, until, now) = (p.required_bytes(2)?, p.time(3)?, p.time(4)?);
            let free = locks.get(&key).is_none_or(|lock| {
                now > lock.expires_at || c.token_equals(&lock.token, Some(&token))
            });
            if free {
                locks.insert(
                    key,
                    LockRow {
                        token,
                        expires_at: until,
                    },
                );
            }
            affected(u64::from(free))
        }
        Kind::Unlock => {
            let token = p.bytes(2)?;
            let held = locks
                .get(&key)
                .is_some_and(|lock| c.token_equals(&lock.token, token.as_ref()));
            if held {
                locks.remove(&key);
            }
            affected(u64::from(held))
        }
        // Dispatched elsewhere by `execute`.
        _ => Outcome::default(),
    })
}

/// The sliding UPDATE of `GET`/`REFRESH`; returns whether the row was updated.
fn slide(rows: &mut HashMap<String, CacheRow>, id: &str, now: Time, c: Clauses) -> bool {
    let Some(row) = rows.get_mut(&id_key(id)) else {
        return false;
    };
    let Some(sliding) = row.sliding_seconds else {
        return false;
    };
    if !c.is_live(row, now) || row.absolute == Some(row.expires_at) {
        return false;
    }
    row.expires_at = match row.absolute {
        // DATEDIFF_BIG(SECOND, now, absolute) counts second boundaries crossed.
        Some(absolute) if absolute.timestamp() - now.timestamp() <= sliding => absolute,
        _ => now + TimeDelta::seconds(sliding),
    };
    true
}

/// Whether row `id` is live and holds `expected`: the `WHERE` of the compare-and-set and
/// compare-and-delete statements, by the statement's own clauses.
fn holds(
    rows: &HashMap<String, CacheRow>,
    id: &str,
    expected: Option<&Bytes>,
    now: Time,
    c: Clauses,
) -> bool {
    rows.get(&id_key(id))
        .is_some_and(|row| c.is_live(row, now) && c.value_equals(&row.value, expected))
}

fn write_if(
    rows: &mut HashMap<String, CacheRow>,
    condition: bool,
    id: &str,
    row: CacheRow,
) -> Outcome {
    if condition {
        rows.insert(id_key(id), row);
    }
    affected(u64::from(condition))
}

fn affected(n: u64) -> Outcome {
    Outcome {
        result_sets: Vec::new(),
        rows_affected: Some(n),
    }
}

fn select_one() -> Outcome {
    Outcome {
        result_sets: vec![ResultSet {
            columns: vec![Column {
                name: String::new(),
                ty: SqlType::Int,
            }],
            rows: vec![vec![SqlValue::Int(Some(1))]],
        }],
        rows_affected: None,
    }
}

fn invalid_object(name: &str) -> SqlError {
    SqlError {
        number: 208,
        class: 16,
        message: format!("Invalid object name '{name}'."),
    }
}

/// The first `[schema].[table]` in `sql`, if any.
fn quoted_table(sql: &str) -> Option<String> {
    let start = sql.find('[')?;
    let rest = &sql[start..];
    let first_end = rest.find(']')?;
    let after = rest.get(first_end + 1..)?;
    let second = after.strip_prefix(".[")?;
    let second_end = second.find(']')?;
    Some(format!(
        "{}.[{}]",
        &rest[..=first_end],
        &second[..second_end]
    ))
}

/// Typed access to the RPC parameters `@P1`, `@P2`, ...
struct Params<'a>(&'a [SqlParam]);

impl Params<'_> {
    fn get(&self, n: u8) -> Result<&SqlValue, SqlError> {
        let name = format!("@P{n}");
        self.0
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(&name))
            .map(|p| &p.value)
            .ok_or_else(|| SqlError {
                number: 8178,
                class: 16,
                message: format!("The parameterized query expects the parameter '{name}', which was not supplied."),
            })
    }

    fn string(&self, n: u8) -> Result<String, SqlError> {
        match self.get(n)? {
            SqlValue::NVarChar(Some(s)) => Ok(s.clone()),
            other => Err(conversion(n, "nvarchar", other)),
        }
    }

    fn bytes(&self, n: u8) -> Result<Option<Bytes>, SqlError> {
        match self.get(n)? {
            SqlValue::VarBinary(b) => Ok(b.clone()),
            other => Err(conversion(n, "varbinary", other)),
        }
    }

    fn required_bytes(&self, n: u8) -> Result<Bytes, SqlError> {
        self.bytes(n)?.ok_or_else(|| not_null("Value"))
    }

    fn time(&self, n: u8) -> Result<Time, SqlError> {
        self.optional_time(n)?
            .ok_or_else(|| not_null("ExpiresAtTime"))
    }

    fn optional_time(&self, n: u8) -> Result<Option<Time>, SqlError> {
        match self.get(n)? {
            SqlValue::DateTimeOffset(t) => Ok(*t),
            other => Err(conversion(n, "datetimeoffset", other)),
        }
    }

    fn optional_bigint(&self, n: u8) -> Result<Option<i64>, SqlError> {
        match self.get(n)? {
            SqlValue::BigInt(v) => Ok(*v),
            SqlValue::Int(v) => Ok(v.map(i64::from)),
            other => Err(conversion(n, "bigint", other)),
        }
    }

    /// The write parameters `@P1`..`@P5` as a row.
    fn write_row(&self) -> Result<(String, CacheRow), SqlError> {
        Ok((
            self.string(1)?,
            CacheRow {
                value: self.required_bytes(2)?,
                expires_at: self.time(3)?,
                sliding_seconds: self.optional_bigint(4)?,
                absolute: self.optional_time(5)?,
            },
        ))
    }
}

fn conversion(n: u8, expected: &str, got: &SqlValue) -> SqlError {
    SqlError {
        number: 8114,
        class: 16,
        message: format!("Error converting @P{n} ({got:?}) to {expected}."),
    }
}

fn not_null(column: &str) -> SqlError {
    SqlError {
        number: 515,
        class: 16,
        message: format!(
            "Cannot insert the value NULL into column '{column}'; column does not allow nulls."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> SqlCacheEngine {
        SqlCacheEngine::with_table("dbo", "Sessions").unwrap()
    }

    fn t(secs: i64) -> Time {
        DateTime::from_timestamp(1_700_000_000 + secs, 0)
            .unwrap()
            .fixed_offset()
    }

    fn param(n: u8, value: SqlValue) -> SqlParam {
        SqlParam {
            name: format!("@P{n}"),
            value,
        }
    }

    fn write_params(
        id: &str,
        value: &[u8],
        expires: i64,
        sliding: Option<i64>,
        abs: Option<i64>,
        now: i64,
    ) -> Vec<SqlParam> {
        vec![
            param(1, SqlValue::NVarChar(Some(id.to_owned()))),
            param(2, SqlValue::VarBinary(Some(Bytes::copy_from_slice(value)))),
            param(3, SqlValue::DateTimeOffset(Some(t(expires)))),
            param(4, SqlValue::BigInt(sliding)),
            param(5, SqlValue::DateTimeOffset(abs.map(t))),
            param(6, SqlValue::DateTimeOffset(Some(t(now)))),
        ]
    }

    fn get(e: &SqlCacheEngine, id: &str, now: i64) -> Option<Bytes> {
        let sql = e.statements.get.clone();
        let out = e
            .execute(
                &sql,
                &[
                    param(1, SqlValue::NVarChar(Some(id.to_owned()))),
                    param(2, SqlValue::DateTimeOffset(Some(t(now)))),
                ],
            )
            .unwrap();
        match out.result_sets[0].rows.first().map(|r| r[0].clone()) {
            Some(SqlValue::VarBinary(v)) => v,
            _ => None,
        }
    }

    #[test]
    fn clauses_come_from_the_text() {
        let e = engine();
        let exact = Clauses::of(&e.statements.set_if_value_equals);
        assert!(exact.value_exact && exact.absolute_checked);
        assert!(Clauses::of(&e.statements.unlock).token_exact);
        assert!(Clauses::of(&e.statements.set_if_lock_held).token_exact);
        // A statement without the guards gets SQL Server's weaker comparisons.
        let weak = Clauses::of(
            "UPDATE t SET Value = @P2 WHERE Id = @P1 AND Value = @P7 AND @P6 <= ExpiresAtTime;",
        );
        assert!(!weak.value_exact && !weak.absolute_checked);
        let expected = Bytes::from_static(b"ab\0");
        assert!(weak.value_equals(b"ab", Some(&expected)));
        assert!(!exact.value_equals(b"ab", Some(&expected)));
        // A row as .NET writes it: past its absolute expiration, before ExpiresAtTime.
        let dotnet = CacheRow {
            value: Bytes::new(),
            expires_at: t(100),
            sliding_seconds: Some(100),
            absolute: Some(t(10)),
        };
        assert!(weak.is_live(&dotnet, t(50)));
        assert!(!exact.is_live(&dotnet, t(50)));
    }

    #[test]
    fn ids_compare_by_the_collation() {
        let e = engine();
        let set = e.statements.set.clone();
        e.execute(&set, &write_params("k", b"v", 10, Some(10), None, 0))
            .unwrap();
        assert_eq!(get(&e, "k  ", 1).as_deref(), Some(&b"v"[..]));
        assert_eq!(get(&e, "\u{FF4B}", 1).as_deref(), Some(&b"v"[..]));
        assert_eq!(get(&e, "K", 1), None);
    }

    #[test]
    fn sliding_is_capped_by_absolute() {
        let e = engine();
        let set = e.statements.set.clone();
        e.execute(&set, &write_params("k", b"v", 10, Some(10), Some(15), 0))
            .unwrap();
        assert_eq!(get(&e, "k", 8).as_deref(), Some(&b"v"[..]));
        // DATEDIFF(8, 15) = 7 <= 10: capped at the absolute expiration.
        assert_eq!(e.row("k").unwrap().expires_at, t(15));
        assert!(get(&e, "k", 16).is_none());
    }

    #[test]
    fn unknown_statements_and_missing_table() {
        let e = SqlCacheEngine::new("dbo", "Sessions").unwrap();
        let refresh = e.statements.refresh.clone();
        assert_eq!(e.execute(&refresh, &[]).unwrap_err().number, 208);
        let e = SqlCacheEngine::with_dotnet_table("dbo", "Sessions").unwrap();
        let unlock = e.statements.unlock.clone();
        let error = e.execute(&unlock, &[]).unwrap_err();
        assert_eq!(error.number, 208);
        assert!(
            error.message.contains("[dbo].[Sessions_Locks]"),
            "{error:?}"
        );
        assert_eq!(
            e.execute("SELECT * FROM [dbo].[Other]", &[])
                .unwrap_err()
                .number,
            208
        );
        assert_eq!(e.execute("DROP TABLE x", &[]).unwrap_err().number, 102);
        assert_eq!(e.execute("SELECT 1", &[]).unwrap().result_sets.len(), 1);
    }

    #[test]
    fn set_if_absent_replaces_only_expired_rows() {
        let e = engine();
        let sql = e.statements.set_if_absent.clone();
        let first = e
            .execute(&sql, &write_params("k", b"a", 5, None, Some(5), 0))
            .unwrap();
        assert_eq!(first.rows_affected, Some(1));
        let live = e
            .execute(&sql, &write_params("k", b"b", 9, None, Some(9), 1))
            .unwrap();
        assert_eq!(live.rows_affected, Some(0));
        let expired = e
            .execute(&sql, &write_params("k", b"c", 20, None, Some(20), 6))
            .unwrap();
        assert_eq!(expired.rows_affected, Some(1));
        assert_eq!(e.row("k").unwrap().value, Bytes::from_static(b"c"));
    }

    #[test]
    fn remove_if_equals_removes_only_a_live_exact_match() {
        let e = engine();
        let set = e.statements.set.clone();
        let sql = e.statements.remove_if_equals.clone();
        let remove_if = |id: &str, expected: &[u8], now: i64| {
            e.execute(
                &sql,
                &[
                    param(1, SqlValue::NVarChar(Some(id.to_owned()))),
                    param(
                        2,
                        SqlValue::VarBinary(Some(Bytes::copy_from_slice(expected))),
                    ),
                    param(3, SqlValue::DateTimeOffset(Some(t(now)))),
                ],
            )
            .unwrap()
            .rows_affected
        };
        e.execute(&set, &write_params("k", b"ab", 10, None, Some(10), 0))
            .unwrap();
        assert_eq!(remove_if("k", b"ab\0", 1), Some(0));
        assert_eq!(remove_if("missing", b"ab", 1), Some(0));
        assert_eq!(remove_if("k", b"ab", 11), Some(0), "expired");
        assert!(e.row("k").is_some());
        assert_eq!(remove_if("k", b"ab", 1), Some(1));
        assert!(e.row("k").is_none());
    }
}
