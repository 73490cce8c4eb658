//! The load generator (`bench load`, a child of the driver, so that it never shares a runtime
//! with the server): N virtual clients, each with its own keep-alive connection and cookie jar,
//! on one thread. Protocol with the driver: it prints `primed` once every client is connected
//! (and, for `/read` and `/health`, has created its session with one `/counter`), waits for a
//! line on stdin (the driver snapshots Redis meanwhile), runs warm-up plus the measured window,
//! and prints one [`LoadResult`] line.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::task::JoinSet;

use crate::cli::LoadArgs;
use crate::error::BenchError;
use crate::http_client::{Client, Response};
use crate::workload::Workload;

/// The line the child prints when its clients are ready.
pub const PRIMED: &str = "primed";

/// What one load run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadResult {
    /// Requests answered after the go signal (warm-up included): the divisor for Redis counts.
    pub total: u64,
    /// Requests started and answered inside the measured window.
    pub measured: u64,
    /// The measured window.
    pub window: Duration,
    /// Median latency, microseconds.
    pub p50_us: u64,
    /// 99th percentile latency, microseconds.
    pub p99_us: u64,
    /// Failed requests (status, body or I/O); each stops its client.
    pub errors: u64,
}

impl LoadResult {
    /// Requests per second in the measured window.
    #[must_use]
    pub fn rps(&self) -> f64 {
        self.measured as f64 / self.window.as_secs_f64()
    }

    /// The child's result line.
    #[must_use]
    pub fn to_line(&self) -> String {
        format!(
            "result total={} measured={} window_us={} p50_us={} p99_us={} errors={}",
            self.total,
            self.measured,
            self.window.as_micros(),
            self.p50_us,
            self.p99_us,
            self.errors
        )
    }

    /// Parses [`to_line`](Self::to_line)'s output.
    #[must_use]
    pub fn parse(line: &str) -> Option<Self> {
        let f = key_values(line.strip_prefix("result ")?);
        Some(Self {
            total: *f.get("total")?,
            measured: *f.get("measured")?,
            window: Duration::from_micros(*f.get("window_us")?),
            p50_us: *f.get("p50_us")?,
            p99_us: *f.get("p99_us")?,
            errors: *f.get("errors")?,
        })
    }
}

/// Parses `a=1 b=2` into a map (fields that are not `name=integer` are ignored).
#[must_use]
pub fn key_values(text: &str) -> HashMap<&str, u64> {
    text.split_whitespace()
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k, v.parse().ok()?))
        })
        .collect()
}

/// Checks one answer: status 200, and with `expect_session` a body that proves the session
/// works (`/counter` counts up by one per client, `/read` sees the primed 1).
///
/// # Errors
/// A description of what was wrong.
pub fn check(
    workload: Workload,
    expect_session: bool,
    last: &mut Option<i32>,
    response: &Response,
) -> Result<(), String> {
    if response.status != 200 {
        return Err(format!("{workload}: status {}", response.status));
    }
    if !expect_session {
        return Ok(());
    }
    let body = String::from_utf8_lossy(&response.body);
    let ok = match workload {
        Workload::Health => body == "ok",
        Workload::Read => body == "1",
        Workload::Counter => match body.parse::<i32>() {
            Ok(n) => {
                let ok = last.is_none_or(|l| n == l + 1);
                *last = Some(n);
                ok
            }
            Err(_) => false,
        },
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{workload}: unexpected body {body:?} (last {last:?})"
        ))
    }
}

/// One client's tally.
struct Tally {
    histogram: Histogram<u64>,
    total: u64,
    measured: u64,
    error: Option<String>,
}

async fn drive_client(
    mut client: Client,
    args: LoadArgs,
    measure_from: Instant,
    end: Instant,
) -> Result<Tally, BenchError> {
    let mut tally = Tally {
        histogram: Histogram::new(3).map_err(|e| BenchError::Child(e.to_string()))?,
        total: 0,
        measured: 0,
        error: None,
    };
    let path = args.workload.path();
    let mut last = None;
    loop {
        let started = Instant::now();
        if started >= end {
            break;
        }
        let answer = client.get(path).await.map_err(|e| e.to_string());
        let finished = Instant::now();
        if let Err(e) =
            answer.and_then(|r| check(args.workload, args.expect_session, &mut last, &r))
        {
            tally.error = Some(e);
            break;
        }
        tally.total += 1;
        if started >= measure_from && finished <= end {
            let micros = u64::try_from(finished.duration_since(started).as_micros())
                .unwrap_or(u64::MAX)
                .max(1);
            tally
                .histogram
                .record(micros)
                .map_err(|e| BenchError::Child(e.to_string()))?;
            tally.measured += 1;
        }
    }
    Ok(tally)
}

/// The `load` child (see the module docs).
///
/// # Errors
/// Connection or priming failures, or a broken pipe to the driver.
pub fn run_child(args: &LoadArgs) -> Result<(), BenchError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let clients = runtime.block_on(async {
        let mut clients = Vec::new();
        for _ in 0..args.clients {
            let mut client = Client::connect(&args.addr).await?;
            if args.workload.primed() {
                let response = client.get(Workload::Counter.path()).await?;
                check(Workload::Counter, args.expect_session, &mut None, &response)
                    .map_err(BenchError::Http)?;
            }
            clients.push(client);
        }
        Ok::<_, BenchError>(clients)
    })?;
    println!("{PRIMED}");
    std::io::stdout().flush()?;
    let mut go = String::new();
    std::io::stdin().lock().read_line(&mut go)?;

    let result = runtime.block_on(async {
        let measure_from = Instant::now() + args.warmup;
        let end = measure_from + args.duration;
        let mut tasks = JoinSet::new();
        for client in clients {
            tasks.spawn(drive_client(client, args.clone(), measure_from, end));
        }
        let mut histogram =
            Histogram::<u64>::new(3).map_err(|e| BenchError::Child(e.to_string()))?;
        let (mut total, mut measured, mut errors) = (0, 0, 0);
        while let Some(joined) = tasks.join_next().await {
            let tally = joined.map_err(|e| BenchError::Child(e.to_string()))??;
            histogram
                .add(&tally.histogram)
                .map_err(|e| BenchError::Child(e.to_string()))?;
            total += tally.total;
            measured += tally.measured;
            if let Some(e) = tally.error {
                eprintln!("load: client stopped: {e}");
                errors += 1;
            }
        }
        Ok::<_, BenchError>(LoadResult {
            total,
            measured,
            window: args.duration,
            p50_us: histogram.value_at_quantile(0.5),
            p99_us: histogram.value_at_quantile(0.99),
            errors,
        })
    })?;
    println!("{}", result.to_line());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> Response {
        Response {
            status: 200,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn result_line_round_trips() {
        let r = LoadResult {
            total: 1200,
            measured: 1000,
            window: Duration::from_secs(2),
            p50_us: 250,
            p99_us: 900,
            errors: 0,
        };
        assert_eq!(LoadResult::parse(&r.to_line()), Some(r));
        assert!((r.rps() - 500.0).abs() < 1e-9);
        assert_eq!(LoadResult::parse("result total=1"), None);
        assert_eq!(LoadResult::parse("primed"), None);
    }

    #[test]
    fn counter_must_count_up_by_one() {
        let mut last = None;
        assert!(check(Workload::Counter, true, &mut last, &ok("1")).is_ok());
        assert!(check(Workload::Counter, true, &mut last, &ok("2")).is_ok());
        assert!(check(Workload::Counter, true, &mut last, &ok("2")).is_err());
        // Bare frameworks answer constants: only the status is checked.
        let mut last = None;
        assert!(check(Workload::Counter, false, &mut last, &ok("1")).is_ok());
        assert!(check(Workload::Counter, false, &mut last, &ok("1")).is_ok());
    }

    #[test]
    fn read_health_and_status_checks() {
        assert!(check(Workload::Read, true, &mut None, &ok("1")).is_ok());
        assert!(check(Workload::Read, true, &mut None, &ok("0")).is_err());
        assert!(check(Workload::Health, true, &mut None, &ok("ok")).is_ok());
        let failed = Response {
            status: 500,
            body: Vec::new(),
        };
        assert!(check(Workload::Health, false, &mut None, &failed).is_err());
    }
}
