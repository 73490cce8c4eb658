//! The driver (`bench` without a subcommand): starts a private redis-server and every server
//! variant as children of this executable, runs the load generator (another child) against
//! each in turn, round after round, then the memory probes (scale, moka alone, flood), and
//! renders the report.

use std::io::{BufRead, BufReader, Lines, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::redis_server::{RedisServer, commandstats_delta};
use tokio::runtime::Runtime;

use crate::cli::DriveArgs;
use crate::error::BenchError;
use crate::flood::{FLOOD_BOUNDS, FloodSample};
use crate::http_client::Client;
use crate::load::{LoadResult, PRIMED};
use crate::memory_scale::ScaleSample;
use crate::moka_baseline::BaselineSample;
use crate::redis_counts::RedisCounts;
use crate::report::{Context, Machine, render, with_kept_notes};
use crate::results::{Measurements, PrefillRun, Run};
use crate::stats::RunSample;
use crate::targets::{BASELINE_SESSIONS, PREFILL_SESSIONS, SCALE_SESSIONS, figures};
use crate::variants::Variant;
use crate::workload::Workload;

/// How long a server may take to answer `/health` (1 M prefilled sessions take a while).
const READY_TIMEOUT: Duration = Duration::from_secs(180);

/// A server child, killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(
        exe: &Path,
        variant: Variant,
        redis_url: Option<&str>,
        prefill: u64,
        threads: usize,
        rt: &Runtime,
    ) -> Result<Self, BenchError> {
        let addr = format!("127.0.0.1:{}", free_port()?);
        let mut cmd = Command::new(exe);
        cmd.args(["serve", variant.name(), "--addr", &addr])
            .args(["--threads", &threads.to_string()])
            .args(["--prefill", &prefill.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if let Some(url) = redis_url.filter(|_| variant.uses_redis()) {
            cmd.args(["--redis-url", url]);
        }
        let mut server = Self {
            child: cmd.spawn()?,
            addr,
        };
        server.wait_ready(variant, rt)?;
        Ok(server)
    }

    fn wait_ready(&mut self, variant: Variant, rt: &Runtime) -> Result<(), BenchError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let answered = rt.block_on(async {
                let mut client = Client::connect(&self.addr).await.ok()?;
                client.get(Workload::Health.path()).await.ok()
            });
            if answered.is_some_and(|r| r.status == 200) {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                return Err(BenchError::Child(format!("{variant} exited with {status}")));
            }
            if Instant::now() > deadline {
                return Err(BenchError::Child(format!(
                    "{variant} did not answer /health within {READY_TIMEOUT:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Reads lines until `parse` accepts one.
fn expect_line<T>(
    lines: &mut Lines<BufReader<ChildStdout>>,
    what: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, BenchError> {
    for line in lines {
        if let Some(value) = parse(&line?) {
            return Ok(value);
        }
    }
    Err(BenchError::Child(format!(
        "load generator ended before {what}"
    )))
}

/// Everything a load run needs besides the server.
struct Driver {
    exe: PathBuf,
    rt: Runtime,
    args: DriveArgs,
    redis: Option<RedisServer>,
}

impl Driver {
    /// One load-generator child against `addr`; Redis counted when `count_redis`.
    fn load(
        &self,
        addr: &str,
        workload: Workload,
        expect_session: bool,
        count_redis: bool,
    ) -> Result<RunSample, BenchError> {
        let millis = |d: Duration| d.as_millis().to_string();
        let mut cmd = Command::new(&self.exe);
        cmd.args(["load", "--addr", addr, "--path", workload.path()])
            .args(["--clients", &self.args.clients.to_string()])
            .args(["--warmup-ms", &millis(self.args.warmup)])
            .args(["--duration-ms", &millis(self.args.duration)])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        if workload.primed() {
            cmd.arg("--prime");
        }
        if expect_session {
            cmd.arg("--expect-session");
        }
        let mut child = cmd.spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| BenchError::Child("no stdout of the load generator".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        expect_line(&mut lines, "priming", |l| (l == PRIMED).then_some(()))?;
        let redis = self.redis.as_ref().filter(|_| count_redis);
        let before = redis
            .map(|r| self.rt.block_on(r.commandstats()))
            .transpose()?;
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| BenchError::Child("no stdin of the load generator".into()))?;
        writeln!(stdin, "go")?;
        let load = expect_line(&mut lines, "its result", LoadResult::parse)?;
        let status = child.wait()?;
        if !status.success() {
            return Err(BenchError::Child(format!(
                "load generator exited with {status}"
            )));
        }
        let redis = match (redis, before) {
            (Some(r), Some(before)) => {
                let after = self.rt.block_on(r.commandstats())?;
                Some(RedisCounts::from_delta(
                    &commandstats_delta(&before, &after),
                    load.total,
                ))
            }
            _ => None,
        };
        Ok(RunSample { load, redis })
    }

    fn side_by_side(&self, m: &mut Measurements) -> Result<(), BenchError> {
        let url = self.redis.as_ref().map(RedisServer::url);
        let mut servers = Vec::new();
        for &v in &self.args.variants {
            eprintln!("bench: starting {v}");
            let server = Server::start(&self.exe, v, url, 0, self.args.server_threads, &self.rt)?;
            servers.push((v, server));
        }
        for round in 0..self.args.rounds as usize {
            for w in Workload::ALL {
                for (v, server) in &servers {
                    let sample = self.load(&server.addr, w, v.has_session(), v.uses_redis())?;
                    eprintln!(
                        "bench: round {} {v:<20} {w:<8} {:>8.0} req/s  p50 {:>6} µs  p99 {:>6} µs{}",
                        round + 1,
                        sample.load.rps(),
                        sample.load.p50_us,
                        sample.load.p99_us,
                        if sample.load.errors > 0 {
                            "  FAILED CLIENTS"
                        } else {
                            ""
                        }
                    );
                    m.runs.push(Run {
                        round,
                        variant: *v,
                        workload: w,
                        sample,
                    });
                }
            }
        }
        Ok(())
    }

    /// Runs one probe child (`memory-scale`, `moka-baseline`, `flood`) and parses its line.
    fn probe<T>(&self, args: &[&str], parse: impl Fn(&str) -> Option<T>) -> Result<T, BenchError> {
        eprintln!("bench: {}", args.join(" "));
        let output = Command::new(&self.exe)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()?;
        let text = String::from_utf8_lossy(&output.stdout);
        text.lines().find_map(parse).ok_or_else(|| {
            BenchError::Child(format!(
                "{} exited with {} and no result",
                args.join(" "),
                output.status
            ))
        })
    }

    fn memory_scale(&self, m: &mut Measurements) -> Result<(), BenchError> {
        for n in SCALE_SESSIONS {
            let n = n.to_string();
            m.scale
                .push(self.probe(&["memory-scale", "--sessions", &n], ScaleSample::parse)?);
        }
        let n = BASELINE_SESSIONS.to_string();
        m.baseline
            .push(self.probe(&["moka-baseline", "--entries", &n], BaselineSample::parse)?);
        for bound in FLOOD_BOUNDS {
            let bound = bound.to_string();
            m.flood
                .push(self.probe(&["flood", "--max-bytes", &bound], FloodSample::parse)?);
        }
        let (few, many) = PREFILL_SESSIONS;
        let mut servers = Vec::new();
        for live in [few, many] {
            eprintln!("bench: starting ours-memory with {live} live sessions");
            let server = Server::start(
                &self.exe,
                Variant::OursMemory,
                None,
                live,
                self.args.server_threads,
                &self.rt,
            )?;
            servers.push((live, server));
        }
        for round in 0..self.args.rounds as usize {
            for (live, server) in &servers {
                let load = self.load(&server.addr, Workload::Read, true, false)?.load;
                eprintln!(
                    "bench: round {} ours-memory /read, {live} live: {:.0} req/s",
                    round + 1,
                    load.rps()
                );
                m.prefill.push(PrefillRun {
                    round,
                    live: *live,
                    load,
                });
            }
        }
        Ok(())
    }
}

/// Runs the benchmark, prints the report, and writes it to `args.out` if given.
///
/// # Errors
/// A child or the redis-server fails; a run with failed clients is reported and then
/// returned as an error too, so that a broken variant never passes silently.
pub fn run(args: DriveArgs, command: String) -> Result<(), BenchError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let redis = if args.variants.iter().any(|v| v.uses_redis()) {
        let server = rt
            .block_on(RedisServer::start())
            .ok_or_else(|| BenchError::Child("the Redis variants need redis-server".into()))?;
        if !server.is_private() {
            return Err(BenchError::Child(
                "the Redis variants need a private redis-server (install redis-server), not REDIS_URL: \
                 commandstats would count other clients"
                    .into(),
            ));
        }
        Some(server)
    } else {
        None
    };
    let driver = Driver {
        exe: std::env::current_exe()?,
        rt,
        args,
        redis,
    };
    let started = Instant::now();
    let mut m = Measurements::default();
    driver.side_by_side(&mut m)?;
    if !driver.args.no_scale {
        driver.memory_scale(&mut m)?;
    }
    let ctx = Context {
        machine: Machine::detect(),
        command,
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        args: driver.args.clone(),
    };
    let report = render(&ctx, &m, &figures(&m));
    println!("{report}");
    eprintln!(
        "bench: finished in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    if let Some(out) = &driver.args.out {
        let previous = std::fs::read_to_string(out).ok();
        std::fs::write(out, with_kept_notes(&report, previous.as_deref()))?;
        eprintln!("bench: wrote {out}");
    }
    let failed: u64 = m.runs.iter().map(|r| r.sample.load.errors).sum::<u64>()
        + m.prefill.iter().map(|p| p.load.errors).sum::<u64>();
    if failed > 0 {
        return Err(BenchError::Child(format!(
            "{failed} virtual clients failed (see the table and the log above)"
        )));
    }
    Ok(())
}
