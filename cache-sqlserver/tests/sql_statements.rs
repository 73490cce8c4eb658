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
    for single in [&s.remove, &s.unlock] {
        assert_eq!(count(single), 1, "{single}");
    }
    // Counted statements: SET NOCOUNT OFF, then the statement.
    for counted in [
        &s.delete_expired,
        &s.set_if_value_equals,
        &s.remove_if_equals,
    ] {
        assert!(counted.starts_with("SET NOCOUNT OFF; "), "{counted}");
        assert_eq!(count(counted), 2, "{counted}");
    }
    // Counted guarded writes: SET NOCOUNT OFF, UPDATE, IF @@ROWCOUNT = 0 INSERT.
    for guarded in [&s.set_if_absent, &s.set_if_lock_held, &s.try_lock] {
        assert!(guarded.starts_with("SET NOCOUNT OFF; "), "{guarded}");
        assert_eq!(count(guarded), 3, "{guarded}");
    }
    assert!(s.create_table.contains("CREATE TABLE [dbo].[Sessions]"));
    assert!(
        s.create_table
            .contains("Id nvarchar(449) COLLATE SQL_Latin1_General_CP1_CS_AS NOT NULL PRIMARY KEY")
    );
    assert!(
        s.create_table
            .contains("CREATE INDEX Index_ExpiresAtTime ON [dbo].[Sessions] (ExpiresAtTime)")
    );
}

#[test]
fn parameters_are_numbered_without_gaps() {
    let s = statements();
    let expected: [(&str, u32); 12] = [
        (&s.get, 2),
        (&s.refresh, 2),
        (&s.set, 5),
        (&s.set_if_absent, 6),
        (&s.set_if_value_equals, 7),
        (&s.set_if_lock_held, 8),
        (&s.remove, 1),
        (&s.remove_if_equals, 3),
        (&s.try_lock, 4),
        (&s.unlock, 2),
        (&s.delete_expired, 1),
        (&s.create_table, 0),
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
    for (sql, param) in [
        (&s.set_if_value_equals, "@P7"),
        (&s.remove_if_equals, "@P2"),
    ] {
        assert!(sql.contains(&format!("Value = {param}")), "{sql}");
        assert!(
            sql.contains(&format!("DATALENGTH(Value) = DATALENGTH({param})")),
            "{sql}"
        );
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
