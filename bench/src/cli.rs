//! Command-line parsing (no parser dependency: four subcommands and a handful of flags).
//!
//! ```text
//! bench [--quick] [--out FILE] [--rounds R] [--duration-secs S] [--warmup-secs S]
//!       [--clients N] [--server-threads T] [--variants a,b,...] [--no-scale]
//! bench serve <variant> --addr HOST:PORT [--redis-url URL] [--prefill N] [--threads T]
//! bench load --addr HOST:PORT --path /read [--clients N] [--warmup-ms M] [--duration-ms D]
//!            [--prime] [--expect-session]
//! bench memory-scale --sessions N
//! bench moka-baseline --entries N
//! bench flood --max-bytes N
//! ```

use std::time::Duration;

use crate::variants::Variant;
use crate::workload::Workload;

/// A command line that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CliError {
    /// A flag this command does not know.
    #[error("unknown argument {0:?}")]
    Unknown(String),
    /// A flag without its value.
    #[error("{0} needs a value")]
    MissingValue(String),
    /// A value that does not parse.
    #[error("bad value {value:?} for {flag}")]
    BadValue {
        /// The flag.
        flag: String,
        /// Its value.
        value: String,
    },
    /// A required flag or operand is absent.
    #[error("missing {0}")]
    Missing(&'static str),
}

/// What the process is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Drive the whole benchmark (the default).
    Drive(DriveArgs),
    /// Serve one variant (a child of the driver).
    Serve(ServeArgs),
    /// Generate load against one server (a child of the driver).
    Load(LoadArgs),
    /// Measure resident memory per live session (a child of the driver).
    MemoryScale {
        /// Sessions to insert.
        sessions: u64,
    },
    /// Measure resident memory per entry of moka alone (see `moka_baseline`).
    MokaBaseline {
        /// Entries to insert.
        entries: u64,
    },
    /// Flood a bounded memory cache with new sessions and measure resident growth (see `flood`).
    Flood {
        /// The cache's bound.
        max_bytes: u64,
    },
}

/// Settings of a benchmark run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriveArgs {
    /// `--quick`: short runs, one round.
    pub quick: bool,
    /// Where to write the Markdown report (`--out`).
    pub out: Option<String>,
    /// Rounds of every variant (A B A B ...); medians are over these.
    pub rounds: u32,
    /// Measured time per run.
    pub duration: Duration,
    /// Unmeasured time before it.
    pub warmup: Duration,
    /// Virtual clients of the load generator.
    pub clients: u32,
    /// Worker threads of every server.
    pub server_threads: usize,
    /// The variants to run (all by default).
    pub variants: Vec<Variant>,
    /// Skip the memory-provider scale measurements (`--no-scale`).
    pub no_scale: bool,
}

impl DriveArgs {
    /// The defaults of a full run (`quick = false`) or of `--quick`.
    #[must_use]
    pub fn defaults(quick: bool) -> Self {
        Self {
            quick,
            out: None,
            rounds: if quick { 1 } else { 3 },
            duration: Duration::from_secs(if quick { 2 } else { 8 }),
            warmup: Duration::from_millis(if quick { 500 } else { 2000 }),
            clients: 32,
            server_threads: 1,
            variants: Variant::ALL.to_vec(),
            no_scale: false,
        }
    }
}

/// Settings of a server child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeArgs {
    /// The variant to serve.
    pub variant: Variant,
    /// Listen address.
    pub addr: String,
    /// Redis URL (Redis variants only).
    pub redis_url: Option<String>,
    /// Live sessions to insert before serving (`ours-memory` only).
    pub prefill: u64,
    /// Worker threads.
    pub threads: usize,
}

/// Settings of a load-generator child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadArgs {
    /// Server address.
    pub addr: String,
    /// The workload (route).
    pub workload: Workload,
    /// Virtual clients, each with its own connection and cookie jar.
    pub clients: u32,
    /// Unmeasured time first.
    pub warmup: Duration,
    /// Measured time.
    pub duration: Duration,
    /// Create each client's session with one `/counter` before the run.
    pub prime: bool,
    /// Check that the answers prove a working session (off for the bare frameworks).
    pub expect_session: bool,
}

/// Parses the arguments after the program name.
///
/// # Errors
/// [`CliError`] for anything not in the module's synopsis.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, CliError> {
    let mut args = args.into_iter().peekable();
    match args.peek().map(String::as_str) {
        Some("serve") => {
            args.next();
            parse_serve(args)
        }
        Some("load") => {
            args.next();
            parse_load(args)
        }
        Some("memory-scale") => {
            args.next();
            let sessions = parse_count(args, "--sessions")?;
            Ok(Command::MemoryScale { sessions })
        }
        Some("moka-baseline") => {
            args.next();
            let entries = parse_count(args, "--entries")?;
            Ok(Command::MokaBaseline { entries })
        }
        Some("flood") => {
            args.next();
            let max_bytes = positive(parse_count(args, "--max-bytes")?, "--max-bytes")?;
            Ok(Command::Flood { max_bytes })
        }
        _ => parse_drive(args),
    }
}

/// The one required flag `name` of a probe subcommand (`memory-scale`, `moka-baseline`,
/// `flood`).
fn parse_count(args: impl Iterator<Item = String>, name: &'static str) -> Result<u64, CliError> {
    let mut count = None;
    let mut flags = Flags(args);
    while let Some(flag) = flags.next_flag() {
        if flag != name {
            return Err(CliError::Unknown(flag));
        }
        count = Some(flags.value(&flag)?);
    }
    count.ok_or(CliError::Missing(name))
}

/// Walks flags and their values.
struct Flags<I: Iterator<Item = String>>(I);

impl<I: Iterator<Item = String>> Flags<I> {
    fn next_flag(&mut self) -> Option<String> {
        self.0.next()
    }

    fn raw(&mut self, flag: &str) -> Result<String, CliError> {
        self.0
            .next()
            .ok_or_else(|| CliError::MissingValue(flag.to_owned()))
    }

    fn value<T: std::str::FromStr>(&mut self, flag: &str) -> Result<T, CliError> {
        let raw = self.raw(flag)?;
        raw.parse().map_err(|_| CliError::BadValue {
            flag: flag.to_owned(),
            value: raw,
        })
    }

    fn duration_secs(&mut self, flag: &str) -> Result<Duration, CliError> {
        let raw = self.raw(flag)?;
        raw.parse::<f64>()
            .ok()
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .filter(|d| !d.is_zero())
            .ok_or(CliError::BadValue {
                flag: flag.to_owned(),
                value: raw,
            })
    }
}

fn parse_drive(args: impl Iterator<Item = String>) -> Result<Command, CliError> {
    let all: Vec<String> = args.collect();
    let quick = all.iter().any(|a| a == "--quick");
    let mut d = DriveArgs::defaults(quick);
    let mut flags = Flags(all.into_iter());
    while let Some(flag) = flags.next_flag() {
        match flag.as_str() {
            "--quick" => {}
            "--no-scale" => d.no_scale = true,
            "--out" => d.out = Some(flags.raw(&flag)?),
            "--rounds" => d.rounds = positive(flags.value(&flag)?, &flag)?,
            "--duration-secs" => d.duration = flags.duration_secs(&flag)?,
            "--warmup-secs" => d.warmup = flags.duration_secs(&flag)?,
            "--clients" => d.clients = positive(flags.value(&flag)?, &flag)?,
            "--server-threads" => d.server_threads = positive(flags.value(&flag)?, &flag)?,
            "--variants" => {
                let raw = flags.raw(&flag)?;
                d.variants = raw
                    .split(',')
                    .map(|name| {
                        name.trim().parse().map_err(|_| CliError::BadValue {
                            flag: flag.clone(),
                            value: name.to_owned(),
                        })
                    })
                    .collect::<Result<_, _>>()?;
            }
            _ => return Err(CliError::Unknown(flag)),
        }
    }
    Ok(Command::Drive(d))
}

fn parse_serve(mut args: impl Iterator<Item = String>) -> Result<Command, CliError> {
    let name = args.next().ok_or(CliError::Missing("<variant>"))?;
    let variant = name.parse().map_err(|_| CliError::BadValue {
        flag: "<variant>".to_owned(),
        value: name,
    })?;
    let mut s = ServeArgs {
        variant,
        addr: String::new(),
        redis_url: None,
        prefill: 0,
        threads: 1,
    };
    let mut flags = Flags(args);
    while let Some(flag) = flags.next_flag() {
        match flag.as_str() {
            "--addr" => s.addr = flags.raw(&flag)?,
            "--redis-url" => s.redis_url = Some(flags.raw(&flag)?),
            "--prefill" => s.prefill = flags.value(&flag)?,
            "--threads" => s.threads = positive(flags.value(&flag)?, &flag)?,
            _ => return Err(CliError::Unknown(flag)),
        }
    }
    if s.addr.is_empty() {
        return Err(CliError::Missing("--addr"));
    }
    Ok(Command::Serve(s))
}

fn parse_load(args: impl Iterator<Item = String>) -> Result<Command, CliError> {
    let mut addr = None;
    let mut workload = None;
    let mut l = LoadArgs {
        addr: String::new(),
        workload: Workload::Health,
        clients: 32,
        warmup: Duration::from_millis(500),
        duration: Duration::from_secs(2),
        prime: false,
        expect_session: false,
    };
    let mut flags = Flags(args);
    while let Some(flag) = flags.next_flag() {
        match flag.as_str() {
            "--addr" => addr = Some(flags.raw(&flag)?),
            "--path" => workload = Some(flags.value(&flag)?),
            "--clients" => l.clients = positive(flags.value(&flag)?, &flag)?,
            "--warmup-ms" => l.warmup = Duration::from_millis(flags.value(&flag)?),
            "--duration-ms" => {
                l.duration = Duration::from_millis(positive(flags.value(&flag)?, &flag)?);
            }
            "--prime" => l.prime = true,
            "--expect-session" => l.expect_session = true,
            _ => return Err(CliError::Unknown(flag)),
        }
    }
    l.addr = addr.ok_or(CliError::Missing("--addr"))?;
    l.workload = workload.ok_or(CliError::Missing("--path"))?;
    Ok(Command::Load(l))
}

fn positive<T: Default + PartialEq + ToString>(v: T, flag: &str) -> Result<T, CliError> {
    if v == T::default() {
        Err(CliError::BadValue {
            flag: flag.to_owned(),
            value: v.to_string(),
        })
    } else {
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(line: &str) -> Result<Command, CliError> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn no_arguments_is_a_full_run_with_every_variant() {
        let Command::Drive(d) = cmd("").unwrap() else {
            panic!("not a drive")
        };
        assert_eq!(d, DriveArgs::defaults(false));
        assert_eq!(d.variants.len(), Variant::ALL.len());
        assert!(d.rounds > 1, "a full run alternates over several rounds");
    }

    #[test]
    fn quick_and_overrides_in_any_order() {
        let Command::Drive(d) = cmd(
            "--rounds 2 --quick --duration-secs 0.5 --out r.md --variants actix-bare,ours-memory",
        )
        .unwrap() else {
            panic!("not a drive")
        };
        assert!(d.quick);
        assert_eq!(d.rounds, 2);
        assert_eq!(d.duration, Duration::from_millis(500));
        assert_eq!(d.warmup, DriveArgs::defaults(true).warmup);
        assert_eq!(d.out.as_deref(), Some("r.md"));
        assert_eq!(d.variants, vec![Variant::ActixBare, Variant::OursMemory]);
    }

    #[test]
    fn serve_and_load_children() {
        assert_eq!(
            cmd("serve ours-redis --addr 127.0.0.1:1 --redis-url redis://x --threads 2").unwrap(),
            Command::Serve(ServeArgs {
                variant: Variant::OursRedis,
                addr: "127.0.0.1:1".into(),
                redis_url: Some("redis://x".into()),
                prefill: 0,
                threads: 2,
            })
        );
        let Command::Load(l) =
            cmd("load --addr a:1 --path /counter --clients 4 --duration-ms 100 --prime").unwrap()
        else {
            panic!("not a load")
        };
        assert_eq!(l.workload, Workload::Counter);
        assert_eq!(
            (l.clients, l.duration, l.prime),
            (4, Duration::from_millis(100), true)
        );
        assert_eq!(
            cmd("memory-scale --sessions 10").unwrap(),
            Command::MemoryScale { sessions: 10 }
        );
        assert_eq!(
            cmd("moka-baseline --entries 10").unwrap(),
            Command::MokaBaseline { entries: 10 }
        );
        assert_eq!(
            cmd("flood --max-bytes 1024").unwrap(),
            Command::Flood { max_bytes: 1024 }
        );
        assert!(matches!(
            cmd("flood --max-bytes 0"),
            Err(CliError::BadValue { .. })
        ));
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(
            cmd("--frobnicate"),
            Err(CliError::Unknown("--frobnicate".into()))
        );
        assert_eq!(
            cmd("--rounds"),
            Err(CliError::MissingValue("--rounds".into()))
        );
        assert!(matches!(cmd("--rounds 0"), Err(CliError::BadValue { .. })));
        assert!(matches!(
            cmd("--duration-secs -1"),
            Err(CliError::BadValue { .. })
        ));
        assert!(matches!(
            cmd("--variants nope"),
            Err(CliError::BadValue { .. })
        ));
        assert_eq!(cmd("serve"), Err(CliError::Missing("<variant>")));
        assert_eq!(cmd("serve axum-bare"), Err(CliError::Missing("--addr")));
        assert_eq!(cmd("load --addr a:1"), Err(CliError::Missing("--path")));
        assert!(matches!(
            cmd("load --addr a:1 --path /nope"),
            Err(CliError::BadValue { .. })
        ));
    }
}
