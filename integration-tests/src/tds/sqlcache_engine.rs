//! [`SqlCacheEngine`]: an in-memory [`SqlEngine`] that executes exactly the statements of
//! `cache-sqlserver` (its rendered [`Statements`]) with SQL Server's semantics for them, so the
//! provider can be tested over a real TDS socket without a SQL Server.
//!
//! It does not parse SQL: it recognises each statement by its exact text and applies the rules
//! that statement expresses (liveness `@now <= ExpiresAtTime`, sliding capped by
//! `AbsoluteExpiration` with `DATEDIFF_BIG(SECOND, ...)` boundary counting, conditional writes),
//! answering the same result sets and rows-affected counts. Anything else is refused with the
//! error SQL Server would give for an unknown table (208) or a statement it cannot run (102).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use cache_sqlserver::sql::{self, Statements};
use cache_sqlserver::{SqlServerConfigError, TableName};
use chrono::{DateTime, FixedOffset, TimeDelta};

use super::engine::{Column, Outcome, ResultSet, SqlEngine, SqlError, SqlParam, SqlType, SqlValue};

type Time = DateTime<FixedOffset>;

/// One row of the cache table.
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

impl CacheRow {
    fn is_live(&self, now: Time) -> bool {
        now <= self.expires_at
    }
}

/// The statements the engine knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ping,
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
    CreateTable,
}

#[derive(Debug, Default)]
struct State {
    table_exists: bool,
    rows: HashMap<String, CacheRow>,
}

/// The in-memory cache table behind a [`TdsServer`](super) for `cache-sqlserver`'s tests.
#[derive(Debug)]
pub struct SqlCacheEngine {
    table: TableName,
    statements: Statements,
    state: Mutex<State>,
}

impl SqlCacheEngine {
    /// An engine for `[schema].[table]`; the table does not exist until the provider's
    /// `create_table_if_missing` (or [`SqlCacheEngine::with_table`]) creates it.
    ///
    /// # Errors
    /// The names are not valid identifiers.
    pub fn new(schema: &str, table: &str) -> Result<Self, SqlServerConfigError> {
        let table = TableName::new(schema, table)?;
        Ok(Self {
            statements: Statements::render(&table),
            table,
            state: Mutex::new(State::default()),
        })
    }

    /// Like [`new`](Self::new), with the table already created.
    ///
    /// # Errors
    /// The names are not valid identifiers.
    pub fn with_table(schema: &str, table: &str) -> Result<Self, SqlServerConfigError> {
        let engine = Self::new(schema, table)?;
        engine.lock().table_exists = true;
        Ok(engine)
    }

    /// Whether the table has been created.
    pub fn table_exists(&self) -> bool {
        self.lock().table_exists
    }

    /// A copy of the row with this Id, expired or not.
    pub fn row(&self, id: &str) -> Option<CacheRow> {
        self.lock().rows.get(id).cloned()
    }

    /// The number of rows, expired or not.
    pub fn row_count(&self) -> usize {
        self.lock().rows.len()
    }

    /// Inserts or replaces a row directly (to set up expired rows and the like).
    pub fn put_row(&self, id: &str, row: CacheRow) {
        self.lock().rows.insert(id.to_owned(), row);
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
            (s.get.as_str(), Kind::Get),
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
            (&s.create_table, Kind::CreateTable),
        ];
        known
            .into_iter()
            .find(|(text, _)| *text == sql)
            .map(|(_, kind)| kind)
    }

    /// The error for a statement that is not one of ours.
    fn unknown(&self, sql: &str) -> SqlError {
        let ours = self.table.quoted();
        // A statement naming another `[schema].[table]`: SQL Server's "Invalid object name".
        if let Some(other) = quoted_table(sql).filter(|name| *name != ours) {
            return invalid_object(&other);
        }
        let shown: String = sql.chars().take(120).collect();
        SqlError {
            number: 102,
            class: 15,
            message: format!("SqlCacheEngine does not recognise this statement: {shown}"),
        }
    }
}

impl SqlEngine for SqlCacheEngine {
    fn execute(&self, sql: &str, params: &[SqlParam]) -> Result<Outcome, SqlError> {
        let Some(kind) = self.kind(sql) else {
            return Err(self.unknown(sql));
        };
        let p = Params(params);
        let mut state = self.lock();
        match kind {
            Kind::Ping => return Ok(select_one()),
            Kind::CreateTable => {
                state.table_exists = true;
                return Ok(Outcome::default());
            }
            _ if !state.table_exists => return Err(invalid_object(&self.table.quoted())),
            _ => {}
        }
        let rows = &mut state.rows;
        let outcome = match kind {
            Kind::Get => {
                let (id, now) = (p.string(1)?, p.time(2)?);
                slide(rows, &id, now);
                let value = rows
                    .get(&id)
                    .filter(|row| row.is_live(now))
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
                affected(u64::from(slide(rows, &id, now)))
            }
            Kind::Set => {
                let (id, row) = p.write_row()?;
                rows.insert(id, row);
                affected(1)
            }
            Kind::SetIfAbsent => {
                let (id, row) = p.write_row()?;
                let now = p.time(6)?;
                let free = rows.get(&id).is_none_or(|old| !old.is_live(now));
                write_if(rows, free, id, row)
            }
            Kind::SetIfValueEquals => {
                let (id, row) = p.write_row()?;
                let (now, expected) = (p.time(6)?, p.bytes(7)?);
                let matches = holds_exactly(rows, &id, expected.as_ref(), now);
                write_if(rows, matches, id, row)
            }
            Kind::SetIfLockHeld => {
                let (id, row) = p.write_row()?;
                let (now, lock, token) = (p.time(6)?, p.string(7)?, p.bytes(8)?);
                let held = rows
                    .get(&lock)
                    .is_some_and(|l| l.is_live(now) && Some(&l.value) == token.as_ref());
                write_if(rows, held, id, row)
            }
            Kind::Remove => affected(u64::from(rows.remove(&p.string(1)?).is_some())),
            Kind::RemoveIfEquals => {
                let (id, expected, now) = (p.string(1)?, p.bytes(2)?, p.time(3)?);
                let matches = holds_exactly(rows, &id, expected.as_ref(), now);
                if matches {
                    rows.remove(&id);
                }
                affected(u64::from(matches))
            }
            Kind::TryLock => {
                let (lock, token, until, now) =
                    (p.string(1)?, p.required_bytes(2)?, p.time(3)?, p.time(4)?);
                let free = rows
                    .get(&lock)
                    .is_none_or(|l| !l.is_live(now) || l.value == token);
                let row = CacheRow {
                    value: token,
                    expires_at: until,
                    sliding_seconds: None,
                    absolute: Some(until),
                };
                write_if(rows, free, lock, row)
            }
            Kind::Unlock => {
                let (lock, token) = (p.string(1)?, p.bytes(2)?);
                let held = rows
                    .get(&lock)
                    .is_some_and(|l| Some(&l.value) == token.as_ref());
                if held {
                    rows.remove(&lock);
                }
                affected(u64::from(held))
            }
            Kind::DeleteExpired => {
                let now = p.time(1)?;
                let before = rows.len();
                rows.retain(|_, row| row.is_live(now));
                affected(u64::try_from(before - rows.len()).unwrap_or(u64::MAX))
            }
            Kind::Ping | Kind::CreateTable => Outcome::default(),
        };
        Ok(outcome)
    }
}

/// The sliding UPDATE of `GET`/`REFRESH`; returns whether the row was updated.
fn slide(rows: &mut HashMap<String, CacheRow>, id: &str, now: Time) -> bool {
    let Some(row) = rows.get_mut(id) else {
        return false;
    };
    let Some(sliding) = row.sliding_seconds else {
        return false;
    };
    if !row.is_live(now) || row.absolute == Some(row.expires_at) {
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
/// compare-and-delete statements. Their `DATALENGTH` guard turns SQL Server's `varbinary`
/// equality (which ignores trailing zero bytes) into byte-for-byte equality, which is what `==`
/// on bytes is. A NULL `expected` matches nothing, as in SQL.
fn holds_exactly(
    rows: &HashMap<String, CacheRow>,
    id: &str,
    expected: Option<&Bytes>,
    now: Time,
) -> bool {
    rows.get(id)
        .is_some_and(|row| row.is_live(now) && Some(&row.value) == expected)
}

fn write_if(
    rows: &mut HashMap<String, CacheRow>,
    condition: bool,
    id: String,
    row: CacheRow,
) -> Outcome {
    if condition {
        rows.insert(id, row);
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
