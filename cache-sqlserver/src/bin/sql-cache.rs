//! `sql-cache`: creates the cache table, like .NET's `dotnet sql-cache create`.
//!
//! ```text
//! sql-cache create --connection-string "Server=tcp:localhost,1433;User Id=sa;Password=...;TrustServerCertificate=true" --schema dbo --table Sessions
//! sql-cache create --print --schema dbo --table Sessions
//! ```
#![forbid(unsafe_code)]

use std::process::ExitCode;

use cache_sqlserver::sql::Statements;
use cache_sqlserver::{SqlServerCache, SqlServerCacheOptions, TableName};

const USAGE: &str = "\
sql-cache: create the SQL Server table of cache-sqlserver (the table of Microsoft.Extensions.Caching.SqlServer)

USAGE:
    sql-cache create --connection-string <ADO.NET string> [--schema <name>] --table <name>
    sql-cache create --print [--schema <name>] --table <name>
    sql-cache --help

OPTIONS:
    --connection-string <s>   e.g. \"Server=tcp:localhost,1433;Database=app;User Id=sa;Password=...;TrustServerCertificate=true\"
    --schema <name>           schema of the table (default: dbo; it must exist)
    --table <name>            table name, e.g. Sessions
    --print                   only print the DDL (nothing is sent; no connection string needed)
    -h, --help                show this help

The table is created only if it does not exist (with its index on ExpiresAtTime).
";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Help,
    /// `create --print`: print the DDL.
    Print {
        schema: String,
        table: String,
    },
    /// `create`: run it.
    Create {
        connection_string: String,
        schema: String,
        table: String,
    },
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut args = args.into_iter();
    match args.next().as_deref() {
        None | Some("-h" | "--help" | "help") => return Ok(Command::Help),
        Some("create") => {}
        Some(other) => return Err(format!("unknown command `{other}`")),
    }
    let (mut connection_string, mut schema, mut table, mut print) = (None, None, None, false);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("`{name}` needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--print" => print = true,
            "--connection-string" => connection_string = Some(value(&arg)?),
            "--schema" => schema = Some(value(&arg)?),
            "--table" => table = Some(value(&arg)?),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let table = table.ok_or("`--table` is required")?;
    let schema = schema.unwrap_or_else(|| "dbo".to_owned());
    if print {
        return Ok(Command::Print { schema, table });
    }
    let connection_string = connection_string
        .ok_or("`--connection-string` is required (or `--print` to only print the DDL)")?;
    Ok(Command::Create {
        connection_string,
        schema,
        table,
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

fn create(connection_string: String, schema: String, table: String) -> ExitCode {
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
        let mut options = SqlServerCacheOptions::new(connection_string, table);
        options.schema_name = schema;
        let cache = match SqlServerCache::new(options) {
            Ok(cache) => cache,
            Err(e) => {
                report(&e);
                return ExitCode::from(2);
            }
        };
        let outcome = cache.create_table_if_missing().await;
        cache.shutdown().await;
        match outcome {
            Ok(()) => {
                println!("Table {} is ready.", cache.table().quoted());
                ExitCode::SUCCESS
            }
            Err(e) => {
                report(&e);
                ExitCode::FAILURE
            }
        }
    })
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
        Command::Print { schema, table } => match TableName::new(&schema, &table) {
            Ok(name) => {
                println!("{}", Statements::render(&name).create_table);
                ExitCode::SUCCESS
            }
            Err(e) => {
                report(&e);
                ExitCode::from(2)
            }
        },
        Command::Create {
            connection_string,
            schema,
            table,
        } => create(connection_string, schema, table),
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
            Ok(Command::Print {
                schema: "dbo".into(),
                table: "Sessions".into(),
            })
        );
        assert!(parse(args(&["create", "--table", "T"])).is_err());
        assert!(parse(args(&["create", "--print"])).is_err());
        assert!(parse(args(&["create", "--table"])).is_err());
        assert!(parse(args(&["drop"])).is_err());
        assert!(parse(args(&["create", "--bogus"])).is_err());
    }
}
