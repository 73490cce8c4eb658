//! The in-repo TDS test server on its own: an in-memory SQL Server for cache-sqlserver's
//! statements, to try the `sqlserver` example (or anything using `SqlServerCache`) without a
//! SQL Server. Prints the ADO.NET connection string on its first line of output, then serves
//! until killed (Ctrl-C). Data lives in memory only.
//!
//! ```text
//! cargo run -p integration-tests --bin tds-test-server -- --port 14330 [--tls]
//! MSSQL_CONNECTION_STRING='<printed>' cargo run -p session-actix --example sqlserver
//! ```
//!
//! `--tls` serves a certificate generated at start (the connection string then says
//! `Encrypt=true;TrustServerCertificate=true`). `--schema` / `--table` name the cache table
//! (default `dbo` / `Sessions`, as the example's `MSSQL_SCHEMA` / `MSSQL_TABLE`); the tables
//! start missing, as on a fresh database (the example creates them).
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use integration_tests::tds::server::{TdsServer, TdsServerConfig};
use integration_tests::tds::sqlcache_engine::SqlCacheEngine;
use integration_tests::tds::tls::TdsTls;

const USAGE: &str = "\
tds-test-server: an in-memory SQL Server (TDS) for cache-sqlserver, on 127.0.0.1

USAGE:
    tds-test-server [--port <n>] [--tls] [--schema <name>] [--table <name>]

OPTIONS:
    --port <n>        port to listen on (default: 0, any free port)
    --tls             offer TLS with a certificate generated at start
    --schema <name>   schema of the cache table (default: dbo)
    --table <name>    cache table (default: Sessions)
    -h, --help        show this help

Prints the connection string on the first line, then serves until killed.
";

#[derive(Debug, PartialEq, Eq)]
struct Args {
    port: u16,
    tls: bool,
    schema: String,
    table: String,
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        port: 0,
        tls: false,
        schema: "dbo".to_owned(),
        table: "Sessions".to_owned(),
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("`{name}` needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--tls" => parsed.tls = true,
            "--port" => {
                let port = value(&arg)?;
                parsed.port = port
                    .parse()
                    .map_err(|_| format!("`--port {port}`: not a port number"))?;
            }
            "--schema" => parsed.schema = value(&arg)?,
            "--table" => parsed.table = value(&arg)?,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Some(parsed))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match serve(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let engine = Arc::new(SqlCacheEngine::new(&args.schema, &args.table)?);
    let tls = if args.tls {
        Some(TdsTls::generate()?)
    } else {
        None
    };
    let config = TdsServerConfig {
        tls,
        ..TdsServerConfig::default()
    };
    let server = TdsServer::start_on(args.port, engine, config).await?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", server.connection_string())?;
    stdout.flush()?;
    drop(stdout);
    // Serves on the runtime's tasks until the process is killed.
    std::future::pending::<()>().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses() {
        assert_eq!(
            parse(args(&["--port", "14330", "--tls"])),
            Ok(Some(Args {
                port: 14330,
                tls: true,
                schema: "dbo".into(),
                table: "Sessions".into(),
            }))
        );
        assert_eq!(parse(args(&["--help"])), Ok(None));
        assert!(parse(args(&["--port", "x"])).is_err());
        assert!(parse(args(&["--port"])).is_err());
        assert!(parse(args(&["--bogus"])).is_err());
    }
}
