//! Every statement the provider sends parses as T-SQL (sqlparser's `MsSqlDialect`), names its
//! table only bracket-quoted, and uses parameters `@P1..@Pn` without gaps.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::collections::BTreeSet;

use cache_sqlserver::TableName;
use cache_sqlserver::sql::{self, Statements};
use sqlparser::dialect::MsSqlDialect;
use sqlparser::parser::Parser;

fn statements() -> Statements {
    Statements::render(&TableName::new("dbo", "Sessions").unwrap())
}

/// The parameter numbers a statement refers to.
fn parameters(sql: &str) -> BTreeSet<u32> {
    sql.match_indices("@P")
        .filter_map(|(i, _)| {
            let digits: String = sql[i + 2..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .collect()
}

#[test]
fn every_rendered_statement_parses() {
    let statements = statements();
    for (name, sql) in statements.all().into_iter().chain([("ping", sql::PING)]) {
        let parsed = Parser::parse_sql(&MsSqlDialect {}, sql)
            .unwrap_or_else(|e| panic!("{name} does not parse: {e}\n{sql}"));
        assert!(!parsed.is_empty(), "{name}");
        assert!(!sql.contains(sql::TABLE_PLACEHOLDER), "{name}: {sql}");
    }
}

#[test]
fn statement_shapes() {
    let s = statements();
    let count = |sql: &str| Parser::parse_sql(&MsSqlDialect {}, sql).unwrap().len();
    // get = the sliding UPDATE and the SELECT, in one batch.
    assert_eq!(count(&s.get), 2);
    assert!(s.get.starts_with(&s.refresh));
    // set = SET XACT_ABORT, BEGIN, UPDATE, IF .. INSERT, COMMIT.
    assert_eq!(count(&s.set), 5);
    for single in [&s.remove, &s.unlock, &s.server_check] {
        assert_eq!(count(single), 1, "{single}");
    }
    // Counted statements: SET NOCOUNT OFF, then the statement.
    for counted in [&s.set_if_value_equals, &s.remove_if_equals] {
        assert!(counted.starts_with("SET NOCOUNT OFF; "), "{counted}");
        assert_eq!(count(counted), 2, "{counted}");
    }
    // Counted guarded writes: SET NOCOUNT OFF, UPDATE, IF @@ROWCOUNT = 0 INSERT.
    for guarded in [
        &s.set_if_absent,
        &s.set_if_lock_held,
        &s.try_lock,
        &s.delete_expired,
    ] {
        assert!(guarded.starts_with("SET NOCOUNT OFF; "), "{guarded}");
        assert_eq!(count(guarded), 3, "{guarded}");
    }
    let create = &s.create_tables;
    assert!(create.contains("CREATE TABLE [dbo].[Sessions] ("));
    assert!(create.contains("CREATE TABLE [dbo].[Sessions_Locks] ("));
    assert_eq!(
        create
            .matches("Id nvarchar(449) COLLATE SQL_Latin1_General_CP1_CS_AS NOT NULL PRIMARY KEY")
            .count(),
        2
    );
    assert!(
        create.contains("CREATE INDEX Index_ExpiresAtTime ON [dbo].[Sessions] (ExpiresAtTime)")
    );
    // Locks live in their own table only: no statement on the entry table touches a lock.
    for (name, sql) in [("try_lock", &s.try_lock), ("unlock", &s.unlock)] {
        assert!(!sql.contains("[dbo].[Sessions] "), "{name}: {sql}");
        assert!(sql.contains("[dbo].[Sessions_Locks]"), "{name}: {sql}");
    }
}

/// Table, index and lock table are made in one transaction that any error rolls back, so a
/// failure cannot leave half the schema behind; each table only if missing.
#[test]
fn create_tables_is_one_transaction() {
    let create = statements().create_tables;
    assert!(
        create.starts_with("SET XACT_ABORT ON; BEGIN TRANSACTION; "),
        "{create}"
    );
    assert!(create.ends_with(" COMMIT TRANSACTION;"), "{create}");
    assert_eq!(create.matches("BEGIN TRANSACTION").count(), 1);
    assert!(create.contains(
        "IF OBJECT_ID(N'[dbo].[Sessions]', N'U') IS NULL BEGIN CREATE TABLE [dbo].[Sessions] ("
    ));
    assert!(create.contains(
        "IF OBJECT_ID(N'[dbo].[Sessions_Locks]', N'U') IS NULL BEGIN CREATE TABLE [dbo].[Sessions_Locks] ("
    ));
}

/// Every statement that asks whether an entry is live asks it with the same predicate, the
/// absolute expiration included (rows written by .NET can be past it and before ExpiresAtTime).
#[test]
fn liveness_is_one_predicate() {
    let s = statements();
    let live = |now: &str| {
        format!(
            "({now} <= ExpiresAtTime AND (AbsoluteExpiration IS NULL OR {now} <= AbsoluteExpiration))"
        )
    };
    for (name, sql, now, uses) in [
        ("get", &s.get, "@P2", 2),
        ("refresh", &s.refresh, "@P2", 1),
        ("set_if_absent", &s.set_if_absent, "@P6", 1),
        ("set_if_value_equals", &s.set_if_value_equals, "@P6", 1),
        ("remove_if_equals", &s.remove_if_equals, "@P3", 1),
        ("delete_expired", &s.delete_expired, "@P1", 1),
    ] {
        // The entry table's part (delete_expired then clears the lock table).
        let entries = sql
            .split("; DELETE FROM [dbo].[Sessions_Locks]")
            .next()
            .unwrap();
        assert_eq!(entries.matches(&live(now)).count(), uses, "{name}: {sql}");
        // ...and no other comparison of now with ExpiresAtTime.
        assert_eq!(
            entries.matches("<= ExpiresAtTime").count(),
            uses,
            "{name}: {sql}"
        );
        for other in [
            " > ExpiresAtTime",
            "ExpiresAtTime >",
            "ExpiresAtTime <",
            ">= ExpiresAtTime",
        ] {
            assert!(!entries.contains(other), "{name}: {sql}");
        }
    }
    assert!(
        s.set_if_absent
            .contains(&format!("AND NOT {}", live("@P6")))
    );
}

#[test]
fn parameters_are_numbered_without_gaps() {
    let s = statements();
    let expected: [(&str, u32); 13] = [
        (&s.get, 2),
        (&s.refresh, 2),
        (&s.set, 5),
        (&s.set_if_absent, 6),
        (&s.set_if_value_equals, 7),
        (&s.set_if_lock_held, 7),
        (&s.remove, 1),
        (&s.remove_if_equals, 3),
        (&s.try_lock, 4),
        (&s.unlock, 2),
        (&s.delete_expired, 1),
        (&s.create_tables, 0),
        (&s.server_check, 0),
    ];
    for (sql, n) in expected {
        assert_eq!(parameters(sql), (1..=n).collect(), "{sql}");
    }
    // Every write statement writes the whole row from @P1..@P5.
    for sql in [
        &s.set,
        &s.set_if_absent,
        &s.set_if_value_equals,
        &s.set_if_lock_held,
    ] {
        let used = parameters(sql);
        assert!((1..=5).all(|p| used.contains(&p)), "{sql}");
    }
}

/// SQL Server compares `varbinary` ignoring trailing zero bytes (`0x6162 = 0x616200`), so every
/// comparison against an expected value also compares lengths, to be byte-for-byte.
#[test]
fn value_comparisons_are_byte_exact() {
    let s = statements();
    for (sql, column, param, uses) in [
        (&s.set_if_value_equals, "Value", "@P7", 1),
        (&s.remove_if_equals, "Value", "@P2", 1),
        (&s.set_if_lock_held, "L.Token", "@P7", 2),
        (&s.try_lock, "Token", "@P2", 1),
        (&s.unlock, "Token", "@P2", 1),
    ] {
        let exact = format!("({column} = {param} AND DATALENGTH({column}) = DATALENGTH({param}))");
        assert_eq!(sql.matches(&exact).count(), uses, "{sql}");
        // Every comparison (not assignment) of the column with the parameter is guarded.
        let comparisons = sql.matches(&format!("{column} = {param}")).count()
            - sql.matches(&format!("SET {column} = {param}")).count();
        assert_eq!(comparisons, uses, "every comparison is guarded: {sql}");
    }
}

#[test]
fn identifiers_cannot_inject() {
    for (schema, table) in [
        ("dbo", "x]; DROP TABLE t; --"),
        ("dbo]", "t"),
        ("dbo", "t'"),
        ("", "t"),
        ("dbo", ""),
    ] {
        assert!(TableName::new(schema, table).is_err(), "{schema}.{table}");
    }
    let name = TableName::new("cache_1", "_Sessions").unwrap();
    assert_eq!(name.quoted(), "[cache_1].[_Sessions]");
    assert!(
        Statements::render(&name)
            .get
            .contains("UPDATE [cache_1].[_Sessions] SET")
    );
}
