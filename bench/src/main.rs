//! The `bench` executable: driver, server, load generator or memory probe, by subcommand
//! (see the library docs).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use bench::cli::{self, Command};
use bench::{driver, error, flood, load, memory_scale, moka_baseline, variants};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let typed = format!("cargo run --release -p bench -- {}", args.join(" "));
    let result =
        cli::parse(args)
            .map_err(error::BenchError::from)
            .and_then(|command| match command {
                Command::Drive(d) => driver::run(d, typed.trim_end().to_owned()),
                Command::Serve(s) => variants::serve(&s),
                Command::Load(l) => load::run_child(&l),
                Command::MemoryScale { sessions } => memory_scale::run_child(sessions),
                Command::MokaBaseline { entries } => moka_baseline::run_child(entries),
                Command::Flood { max_bytes } => flood::run_child(max_bytes),
            });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut message = format!("bench: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                message.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
