//! `sql-cache`: creates the cache tables, like .NET's `dotnet sql-cache create` (which makes only
//! the entry table; this adds the lock table).
//!
//! ```text
//! sql-cache create --connection-string "Server=tcp:localhost,1433;User Id=sa;Password=...;TrustServerCertificate=true" --schema dbo --table Sessions
//! sql-cache create --connection-string "..." --schema dbo --table Sessions --if-not-exists
//! sql-cache create --print --schema dbo --table Sessions
//! ```
#![forbid(unsafe_code)]

use std::process::ExitCode;

use cache_sqlserver::sql::Statements;
use cache_sqlserver::{SqlServerCache, SqlServerCacheOptions, SqlServerConfigError, TableName};

const USAGE: &str = "\
sql-cache: create the SQL Server tables of cache-sqlserver (the entry table of
Microsoft.Extensions.Caching.SqlServer, and a lock table)

USAGE:
    sql-cache create --connection-string <ADO.NET string> [--schema <name>] --table <name> [--lock-table <name>] [--if-not-exists]
    sql-cache create --print [--schema <name>] --table <name> [--lock-table <name>]
    sql-cache --help

OPTIONS:
    --connection-string <s>   e.g. \"Server=tcp:localhost,1433;Database=app;User Id=sa;Password=...;TrustServerCertificate=true\"
    --schema <name>           schema of the tables (default: dbo; it must exist)
    --table <name>            entry table name, e.g. Sessions
    --lock-table <name>       lock table name (default: the table name followed by _Locks)
    --if-not-exists           create only what is missing and succeed if everything exists
                              (e.g. to add the lock table to a table made by `dotnet sql-cache create`)
    --print                   only print the DDL (nothing is sent; no connection string needed)
    -h, --help                show this help

The server must be SQL Server 2016 (13.x) or later, or Azure SQL. Without --if-not-exists, an
existing entry table is reported as an error, as `dotnet sql-cache create` does. The tables and
the index are created in one transaction.
";

/// The tables named on the command line.
#[derive(Debug, PartialEq, Eq)]
struct Names {
    schema: String,
    table: String,
    lock_table: Option<String>,
}

impl Names {
    fn validate(&self) -> Result<TableName, SqlServerConfigError> {
        match &self.lock_table {
            Some(locks) => TableName::with_lock_table(&self.schema, &self.table, locks),
            None => TableName::new(&self.schema, &self.table),
        }
    }
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Help,
    /// `create --print`: print the DDL.
    Print(Names),
    /// `create`: run it.
    Create {
        connection_string: String,
        names: Names,
        if_not_exists: bool,
    },
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut args = args.into_iter();
    match args.next().as_deref() {
        None | Some("-h" | "--help" | "help") => return Ok(Command::Help),
        Some("create") => {}
        Some(other) => return Err(format!("unknown command `{other}`")),
    }
    let (mut connection_string, mut schema, mut table, mut lock_table) = (None, None, None, None);
    let (mut print, mut if_not_exists) = (false, false);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("`{name}` needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--print" => print = true,
            "--if-not-exists" => if_not_exists = true,
            "--connection-string" => connection_string = Some(value(&arg)?),
            "--schema" => schema = Some(value(&arg)?),
            "--table" => table = Some(value(&arg)?),
            "--lock-table" => lock_table = Some(value(&arg)?),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let names = Names {
        table: table.ok_or("`--table` is required")?,
        schema: schema.unwrap_or_else(|| "dbo".to_owned()),
        lock_table,
    };
    if print {
        return Ok(Command::Print(names));
    }
    let connection_string = connection_string
        .ok_or("`--connection-string` is required (or `--print` to only print the DDL)")?;
    Ok(Command::Create {
        connection_string,
        names,
        if_not_exists,
    })
}

/// Prints an error with its whole `source()` chain.
fn report(error: &dyn std::error::Error) {
    eprintln!("error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        eprintln!("  caused by: {cause}");
        source = cause.source();
    }
}

fn create(connection_string: String, names: Names, if_not_exists: bool) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            report(&e);
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let mut options = SqlServerCacheOptions::new(connection_string, names.table);
        options.schema_name = names.schema;
        options.lock_table_name = names.lock_table;
        let cache = match SqlServerCache::new(options) {
            Ok(cache) => cache,
            Err(e) => {
                report(&e);
                return ExitCode::from(2);
            }
        };
        let outcome = create_tables(&cache, if_not_exists).await;
        cache.shutdown().await;
        outcome
    })
}

/// Checks the server, refuses to touch an existing entry table unless `if_not_exists`, then
/// creates what is missing.
async fn create_tables(cache: &SqlServerCache, if_not_exists: bool) -> ExitCode {
    let (table, locks) = (cache.table().quoted(), cache.table().quoted_locks());
    let facts = match cache.inspect_server().await {
        Ok(facts) => facts,
        Err(e) => {
            report(&e);
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = facts.require_supported() {
        report(&e);
        return ExitCode::FAILURE;
    }
    if facts.table_exists && !if_not_exists {
        eprintln!(
            "error: table {table} already exists (pass --if-not-exists to create only what is \
             missing{})",
            if facts.lock_table_exists {
                String::new()
            } else {
                format!(", here the lock table {locks}")
            }
        );
        return ExitCode::FAILURE;
    }
    if facts.table_exists && facts.lock_table_exists {
        println!("Tables {table} and {locks} already exist.");
        return ExitCode::SUCCESS;
    }
    match cache.create_table_if_missing().await {
        Ok(()) => {
            println!("Tables {table} and {locks} are ready.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let command = match parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Command::Print(names) => match names.validate() {
            Ok(name) => {
                println!("{}", Statements::render(&name).create_tables);
                ExitCode::SUCCESS
            }
            Err(e) => {
                report(&e);
                ExitCode::from(2)
            }
        },
        Command::Create {
            connection_string,
            names,
            if_not_exists,
        } => create(connection_string, names, if_not_exists),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses() {
        assert_eq!(parse(args(&[])), Ok(Command::Help));
        assert_eq!(
            parse(args(&["create", "--print", "--table", "Sessions"])),
            Ok(Command::Print(Names {
                schema: "dbo".into(),
                table: "Sessions".into(),
                lock_table: None,
            }))
        );
        assert_eq!(
            parse(args(&[
                "create",
                "--connection-string",
                "cs",
                "--table",
                "T",
                "--lock-table",
                "L",
                "--if-not-exists"
            ])),
            Ok(Command::Create {
                connection_string: "cs".into(),
                names: Names {
                    schema: "dbo".into(),
                    table: "T".into(),
                    lock_table: Some("L".into()),
                },
                if_not_exists: true,
            })
        );
        assert!(parse(args(&["create", "--table", "T"])).is_err());
        assert!(parse(args(&["create", "--print"])).is_err());
        assert!(parse(args(&["create", "--table"])).is_err());
        assert!(parse(args(&["drop"])).is_err());
        assert!(parse(args(&["create", "--bogus"])).is_err());
    }
}
