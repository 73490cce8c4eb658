//! Starts a private `redis-server` (or a 3-master Redis Cluster) for tests.
//!
//! * [`RedisServer::start`] runs `redis-server` without persistence in its own temporary
//!   directory on a free loopback port (never 6379, where a shared Redis may listen), waits until
//!   it answers `PING`, and kills it when dropped.
//! * Without a `redis-server` binary it falls back to the external server in `REDIS_URL`; without
//!   that the test fails, naming the install command. (Without either at build time, the
//!   crates' build scripts mark the Redis tests ignored instead, so they never get here unless
//!   `REQUIRE_REDIS=1`.) [`require_private`] fails a test that needs its own server.
//! * Fault injection: [`RedisServer::restart`] (same port, empty data set; or in two steps,
//!   [`RedisServer::stop`] and [`RedisServer::start_again`]), [`RedisServer::freeze`]
//!   and [`RedisServer::thaw`] (`SIGSTOP` / `SIGCONT` through the `kill` command, no unsafe code).
//! * [`RedisServer::commandstats`] reads per-command call counts from `INFO commandstats`, which
//!   tests use to count round trips.

use std::collections::HashMap;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long a starting server may take to answer `PING` (generous: CI machines are slow).
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(20);
/// The port a shared Redis may use on the machine; tests never touch it.
const SHARED_PORT: u16 = 6379;

/// Environment variable naming an external server used when `redis-server` is not installed.
pub const REDIS_URL_ENV: &str = "REDIS_URL";
/// Environment variable that makes a missing Redis a test failure instead of an ignored test (read by the build scripts).
pub const REQUIRE_REDIS_ENV: &str = "REQUIRE_REDIS";

/// True when `REQUIRE_REDIS=1`.
#[must_use]
pub fn redis_required() -> bool {
    std::env::var(REQUIRE_REDIS_ENV).is_ok_and(|v| v == "1")
}

/// Fails the test that asked for a Redis it cannot have.
///
/// A test only gets here if the build saw a `redis-server` (or `REDIS_URL`), or `REQUIRE_REDIS=1`:
/// without them, the build script of the test's crate (`build.rs`: `redis_server_missing`,
/// `redis_missing`) marks every Redis test *ignored* with its reason, which the test summary
/// shows. So a missing server here is a failure, never a silent pass.
#[track_caller]
pub(crate) fn unavailable(what: &str) {
    panic!(
        "Redis is not available: {what}. Install it (`apt-get install redis-server`) or set \
         {REDIS_URL_ENV}; without either, a fresh build reports the Redis tests as ignored \
         (unless {REQUIRE_REDIS_ENV}=1)."
    );
}

/// Fails a test that needs a private server (to restart, freeze, configure it or count its
/// commands) but got the shared one in `REDIS_URL` because no `redis-server` is installed.
#[track_caller]
pub fn require_private(server: &RedisServer) {
    if !server.is_private() {
        unavailable("this test needs a private redis-server, and REDIS_URL's server is shared");
    }
}

pub(crate) fn binary_exists(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A fresh, empty directory under the system temp dir, unique per process and call.
pub(crate) fn unique_dir(tag: &str) -> std::io::Result<PathBuf> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir =
        std::env::temp_dir().join(format!("sessions-{tag}-{}-{n}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A loopback port that was free a moment ago (the OS picks it; never the shared 6379).
pub(crate) fn free_port() -> std::io::Result<u16> {
    loop {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        if port != SHARED_PORT {
            return Ok(port);
        }
    }
}

/// A free port `p` whose cluster bus port `p + 10000` is free too.
fn free_cluster_port() -> std::io::Result<u16> {
    for _ in 0..1000 {
        let port = free_port()?;
        if port < 55_000
            && port + 10_000 != SHARED_PORT
            && TcpListener::bind((Ipv4Addr::LOCALHOST, port + 10_000)).is_ok()
        {
            return Ok(port);
        }
    }
    Err(std::io::Error::other(
        "no free port pair for a cluster node",
    ))
}

/// Spawns `redis-server` on `port` with data in `dir`, plus `extra` arguments.
pub(crate) fn spawn_server(port: u16, dir: &Path, extra: &[&str]) -> std::io::Result<Child> {
    let mut cmd = Command::new("redis-server");
    cmd.arg("--port")
        .arg(port.to_string())
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .arg("--logfile")
        .arg(dir.join("redis.log"))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.spawn()
}

/// Opens a client connection to `url`.
pub(crate) async fn connect(url: &str) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await
}

/// Waits until the server at `url` answers `PING`, or `child` exits, or the start timeout passes.
pub(crate) async fn wait_for_ping(url: &str, child: &mut Child) -> std::io::Result<()> {
    wait_until(child, "redis-server did not answer PING", || async {
        match connect(url).await {
            Ok(mut conn) => redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .is_ok(),
            Err(_) => false,
        }
    })
    .await
}

/// Polls `ready` until it answers true, failing when `child` exits or the start timeout passes
/// (`late` is the message then).
pub(crate) async fn wait_until<F, Fut>(
    child: &mut Child,
    late: &str,
    mut ready: F,
) -> std::io::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if ready().await {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            return Err(std::io::Error::other(format!(
                "redis-server exited early with {status}"
            )));
        }
        if Instant::now() > deadline {
            return Err(std::io::Error::other(late.to_owned()));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Sends `kill -<signal> <pid>`.
fn signal(child: &Child, signal: &str) -> std::io::Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("kill -{signal} failed")))
    }
}

pub(crate) fn stop(child: &mut Child) {
    // A frozen server ignores SIGKILL only until continued; kill works on stopped processes,
    // but CONT first so it also releases its port promptly.
    let _ = signal(child, "CONT");
    let _ = child.kill();
    let _ = child.wait();
}

/// Parses `INFO commandstats` text into `command -> calls`.
fn parse_commandstats(info: &str) -> HashMap<String, u64> {
    info.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("cmdstat_")?;
            let (name, stats) = rest.split_once(':')?;
            let calls = stats
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

/// Per-command call counts of the server at `url` (`INFO commandstats`), excluding `info` itself.
///
/// # Errors
/// If the server cannot be reached.
pub async fn commandstats(url: &str) -> redis::RedisResult<HashMap<String, u64>> {
    let mut conn = connect(url).await?;
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await?;
    let mut stats = parse_commandstats(&info);
    stats.remove("info");
    Ok(stats)
}

/// The change from `before` to `after` (commands whose count did not change are left out).
#[must_use]
pub fn commandstats_delta(
    before: &HashMap<String, u64>,
    after: &HashMap<String, u64>,
) -> HashMap<String, u64> {
    after
        .iter()
        .filter_map(|(name, &calls)| {
            let delta = calls - before.get(name).copied().unwrap_or(0);
            (delta > 0).then(|| (name.clone(), delta))
        })
        .collect()
}

/// The certificate files of a TLS [`RedisServer`] (PEM), and whether it requires client
/// certificates.
#[derive(Debug, Clone)]
pub struct TlsServerFiles {
    /// The server certificate (`--tls-cert-file`).
    pub cert_file: PathBuf,
    /// Its private key (`--tls-key-file`).
    pub key_file: PathBuf,
    /// The CA that client certificates must chain to (`--tls-ca-cert-file`).
    pub ca_file: PathBuf,
    /// `--tls-auth-clients yes` (mutual TLS) instead of `no`.
    pub require_client_certificates: bool,
}

impl TlsServerFiles {
    /// The `redis-server` arguments: plain port off, TLS on `port`.
    fn args(&self, port: u16) -> Vec<String> {
        let path = |p: &Path| p.to_string_lossy().into_owned();
        vec![
            "--tls-port".into(),
            port.to_string(),
            "--tls-cert-file".into(),
            path(&self.cert_file),
            "--tls-key-file".into(),
            path(&self.key_file),
            "--tls-ca-cert-file".into(),
            path(&self.ca_file),
            "--tls-auth-clients".into(),
            if self.require_client_certificates {
                "yes"
            } else {
                "no"
            }
            .into(),
        ]
    }
}

/// True if the installed `redis-server` was built with TLS: with TLS, a TLS port without a
/// certificate is refused with a complaint about `tls-cert-file`; without, the directive is.
fn redis_server_supports_tls() -> bool {
    Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--tls-port",
            "1",
            "--save",
            "",
            "--logfile",
            "",
        ])
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|out| {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            text.contains("tls-cert-file")
        })
}

/// Waits until `port` accepts TCP connections (a TLS server cannot be `PING`ed without a TLS
/// client, which this crate does not build), or `child` exits, or the start timeout passes.
async fn wait_for_listen(port: u16, child: &mut Child) -> std::io::Result<()> {
    wait_until(child, "redis-server did not listen", || async {
        tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .is_ok()
    })
    .await
}

/// A private `redis-server` process (or an external server from `REDIS_URL`).
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    url: String,
    /// `None` for an external server.
    private: Option<Private>,
}

#[derive(Debug)]
struct Private {
    child: Child,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts a private server, or uses `REDIS_URL`, or returns `None` after a loud notice
    /// (panics instead when `REQUIRE_REDIS=1`).
    ///
    /// # Panics
    /// When `REQUIRE_REDIS=1` and no server is available, or when `redis-server` exists but fails
    /// to start.
    pub async fn start() -> Option<Self> {
        if !binary_exists("redis-server") {
            if let Ok(url) = std::env::var(REDIS_URL_ENV) {
                let port = url
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.split('/').next())
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(SHARED_PORT);
                return Some(Self {
                    port,
                    url,
                    private: None,
                });
            }
            unavailable("no redis-server binary on PATH and REDIS_URL is not set");
            return None;
        }
        match Self::start_private().await {
            Ok(server) => Some(server),
            Err(e) => panic!("redis-server is installed but could not be started: {e}"),
        }
    }

    /// Starts a private TLS-only server (`--port 0 --tls-port <free>`) with these certificates;
    /// [`url`](Self::url) is then `rediss://127.0.0.1:<port>`. `REDIS_URL` is not used (its
    /// server would not have these certificates). `None` after a loud notice when `redis-server`
    /// is missing or built without TLS (panics instead when `REQUIRE_REDIS=1`).
    ///
    /// Fault injection (restart, freeze) and [`commandstats`](Self::commandstats) are for plain
    /// servers only.
    ///
    /// # Panics
    /// As above, or when `redis-server` supports TLS but fails to start.
    pub async fn start_tls(files: &TlsServerFiles) -> Option<Self> {
        if !binary_exists("redis-server") {
            unavailable("no redis-server binary on PATH for the TLS tests");
            return None;
        }
        if !redis_server_supports_tls() {
            unavailable("the installed redis-server was built without TLS support");
            return None;
        }
        let dir = match unique_dir("redis-tls") {
            Ok(dir) => dir,
            Err(e) => panic!("temporary directory for redis-server: {e}"),
        };
        let mut last_error = None;
        for _ in 0..5 {
            let port = match free_port() {
                Ok(port) => port,
                Err(e) => panic!("no free port: {e}"),
            };
            let args = files.args(port);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut child = match spawn_server(0, &dir, &args) {
                Ok(child) => child,
                Err(e) => panic!("redis-server could not be spawned: {e}"),
            };
            match wait_for_listen(port, &mut child).await {
                Ok(()) => {
                    return Some(Self {
                        port,
                        url: format!("rediss://127.0.0.1:{port}"),
                        private: Some(Private { child, dir }),
                    });
                }
                Err(e) => {
                    stop(&mut child);
                    last_error = Some(e);
                }
            }
        }
        let log = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        panic!("TLS redis-server did not start: {last_error:?}\n{log}");
    }

    async fn start_private() -> std::io::Result<Self> {
        let dir = unique_dir("redis")?;
        let mut last_error = None;
        // The port may be taken between probing and binding: try a few.
        for _ in 0..5 {
            let port = free_port()?;
            let url = format!("redis://127.0.0.1:{port}");
            let mut child = spawn_server(port, &dir, &[])?;
            match wait_for_ping(&url, &mut child).await {
                Ok(()) => {
                    return Ok(Self {
                        port,
                        url,
                        private: Some(Private { child, dir }),
                    });
                }
                Err(e) => {
                    stop(&mut child);
                    last_error = Some(e);
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        Err(last_error.unwrap_or_else(|| std::io::Error::other("redis-server did not start")))
    }

    /// `redis://127.0.0.1:<port>`.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// True for a server this process started (fault injection works only on those).
    #[must_use]
    pub fn is_private(&self) -> bool {
        self.private.is_some()
    }

    fn private_mut(&mut self) -> std::io::Result<&mut Private> {
        self.private.as_mut().ok_or_else(|| {
            std::io::Error::other("fault injection needs a private redis-server, not REDIS_URL")
        })
    }

    /// Kills the server and starts a new one on the same port (with an empty data set, as
    /// persistence is off). Returns once the new server answers `PING`.
    ///
    /// # Errors
    /// For an external server, or if the new process does not come up.
    pub async fn restart(&mut self) -> std::io::Result<()> {
        self.stop()?;
        self.start_again().await
    }

    /// Kills the server (connections are closed, new ones refused) until
    /// [`start_again`](Self::start_again).
    ///
    /// # Errors
    /// For an external server.
    pub fn stop(&mut self) -> std::io::Result<()> {
        stop(&mut self.private_mut()?.child);
        Ok(())
    }

    /// Starts a new server on the port of a [`stop`](Self::stop)ped one (with an empty data set,
    /// as persistence is off). Returns once it answers `PING`.
    ///
    /// # Errors
    /// For an external server, or if the new process does not come up.
    pub async fn start_again(&mut self) -> std::io::Result<()> {
        let port = self.port;
        let url = self.url.clone();
        let private = self.private_mut()?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let mut child = spawn_server(port, &private.dir, &[])?;
            match wait_for_ping(&url, &mut child).await {
                Ok(()) => {
                    private.child = child;
                    return Ok(());
                }
                // The old socket may linger briefly; retry until the deadline.
                Err(_) if Instant::now() < deadline => {
                    stop(&mut child);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    stop(&mut child);
                    return Err(e);
                }
            }
        }
    }

    /// Stops the server process (`SIGSTOP`): connections stay open but nothing is answered.
    ///
    /// # Errors
    /// For an external server, or if `kill` fails.
    pub fn freeze(&mut self) -> std::io::Result<()> {
        signal(&self.private_mut()?.child, "STOP")
    }

    /// Continues a frozen server (`SIGCONT`).
    ///
    /// # Errors
    /// For an external server, or if `kill` fails.
    pub fn thaw(&mut self) -> std::io::Result<()> {
        signal(&self.private_mut()?.child, "CONT")
    }

    /// A deadpool-redis pool of at most one connection on this server, whose checkouts wait at
    /// most `wait`: the application-shared pool (`RedisCache::from_pool`) of the exhausted-pool
    /// tests, where the test itself holds the connection.
    ///
    /// # Panics
    /// If the pool cannot be built (a malformed URL: a bug in the launcher).
    #[must_use]
    pub fn single_connection_pool(
        &self,
        wait: std::time::Duration,
    ) -> cache_redis::deadpool_redis::Pool {
        use cache_redis::deadpool_redis::{Config, PoolConfig, Runtime, Timeouts};
        let mut config = Config::from_url(self.url());
        config.pool = Some(PoolConfig {
            max_size: 1,
            timeouts: Timeouts {
                wait: Some(wait),
                ..Timeouts::default()
            },
            ..PoolConfig::default()
        });
        config
            .create_pool(Some(Runtime::Tokio1))
            .unwrap_or_else(|e| panic!("deadpool-redis pool on {}: {e}", self.url()))
    }

    /// Per-command call counts (`INFO commandstats`, without `info`).
    ///
    /// # Errors
    /// If the server cannot be reached.
    pub async fn commandstats(&self) -> redis::RedisResult<HashMap<String, u64>> {
        commandstats(&self.url).await
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(private) = &mut self.private {
            stop(&mut private.child);
            let _ = std::fs::remove_dir_all(&private.dir);
        }
    }
}

/// A private 3-master Redis Cluster (no replicas) on loopback ports, killed on drop; plain, or
/// TLS-only ([`start_tls`](Self::start_tls)).
#[derive(Debug)]
pub struct RedisCluster {
    ports: Vec<u16>,
    children: Vec<Child>,
    dir: PathBuf,
    /// The CA to trust, for a TLS cluster.
    tls_ca: Option<PathBuf>,
}

impl RedisCluster {
    /// Starts the cluster and waits for `cluster_state:ok` on every node; `None` (after a loud
    /// notice) when `redis-server` or `redis-cli` is missing (panics when `REQUIRE_REDIS=1`).
    ///
    /// # Panics
    /// When `REQUIRE_REDIS=1` and the binaries are missing, or when the cluster fails to form.
    pub async fn start() -> Option<Self> {
        if !binary_exists("redis-server") || !binary_exists("redis-cli") {
            unavailable("redis-server / redis-cli needed for a private cluster are not on PATH");
            return None;
        }
        match Self::start_private(None).await {
            Ok(cluster) => Some(cluster),
            Err(e) => panic!("could not start a private Redis Cluster: {e}"),
        }
    }

    /// Starts a TLS-only cluster (clients, the cluster bus and `redis-cli` all over TLS) with
    /// these certificates; [`urls`](Self::urls) are then `rediss://`. Client certificates are not
    /// required of clients (`files.require_client_certificates` must be false), but the cluster
    /// bus always requires them: nodes present their server certificate, which must therefore
    /// also allow client authentication (extended key usage `clientAuth`). `None` after a loud notice
    /// when the binaries are missing or built without TLS (panics with `REQUIRE_REDIS=1`).
    ///
    /// # Panics
    /// As [`start`](Self::start), or for `require_client_certificates`.
    pub async fn start_tls(files: &TlsServerFiles) -> Option<Self> {
        assert!(
            !files.require_client_certificates,
            "a TLS cluster is started without client authentication"
        );
        if !binary_exists("redis-server") || !binary_exists("redis-cli") {
            unavailable("redis-server / redis-cli needed for a private cluster are not on PATH");
            return None;
        }
        if !redis_server_supports_tls() {
            unavailable("the installed redis-server was built without TLS support");
            return None;
        }
        match Self::start_private(Some(files)).await {
            Ok(cluster) => Some(cluster),
            Err(e) => panic!("could not start a private TLS Redis Cluster: {e}"),
        }
    }

    async fn start_private(tls: Option<&TlsServerFiles>) -> std::io::Result<Self> {
        let dir = unique_dir("redis-cluster")?;
        let mut cluster = Self {
            ports: Vec::new(),
            children: Vec::new(),
            dir,
            tls_ca: tls.map(|files| files.ca_file.clone()),
        };
        for i in 0..3 {
            let node_dir = cluster.dir.join(format!("node{i}"));
            std::fs::create_dir_all(&node_dir)?;
            let port = free_cluster_port()?;
            let mut args: Vec<String> = [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "5000",
            ]
            .map(str::to_owned)
            .to_vec();
            if let Some(files) = tls {
                args.extend(files.args(port));
                args.extend(
                    ["--tls-cluster", "yes", "--tls-replication", "yes"].map(str::to_owned),
                );
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let plain_port = if tls.is_some() { 0 } else { port };
            let mut child = spawn_server(plain_port, &node_dir, &args)?;
            let waited = if tls.is_some() {
                wait_for_listen(port, &mut child).await
            } else {
                wait_for_ping(&format!("redis://127.0.0.1:{port}"), &mut child).await
            };
            cluster.children.push(child);
            waited?;
            cluster.ports.push(port);
        }
        let nodes: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let mut create = cluster
            .cli()
            .arg("--cluster")
            .arg("create")
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        // `redis-cli` waits forever for nodes that cannot talk to each other: bound it.
        let deadline = Instant::now() + START_TIMEOUT;
        while create.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = create.kill();
                let output = create.wait_with_output()?;
                return Err(std::io::Error::other(format!(
                    "redis-cli --cluster create did not finish: {}",
                    String::from_utf8_lossy(&output.stdout)
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let output = create.wait_with_output()?;
        if !output.status.success() {
            return Err(std::io::Error::other(format!(
                "redis-cli --cluster create failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        cluster.wait_until_ok().await?;
        Ok(cluster)
    }

    /// `redis-cli`, with the TLS options of a TLS cluster.
    fn cli(&self) -> Command {
        let mut cli = Command::new("redis-cli");
        cli.stdin(Stdio::null());
        if let Some(ca) = &self.tls_ca {
            cli.arg("--tls").arg("--cacert").arg(ca);
        }
        cli
    }

    async fn wait_until_ok(&self) -> std::io::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        for port in &self.ports {
            loop {
                // Through `redis-cli`: this crate's redis client does not speak TLS.
                let state = self
                    .cli()
                    .args(["-p", &port.to_string(), "cluster", "info"])
                    .output()
                    .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
                    .unwrap_or_default();
                if state.lines().any(|l| l.trim() == "cluster_state:ok") {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(std::io::Error::other(format!(
                        "cluster node {port} never reached cluster_state:ok"
                    )));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// The node URLs (`redis://127.0.0.1:<port>`, or `rediss://` for a TLS cluster), usable as
    /// cluster seeds.
    #[must_use]
    pub fn urls(&self) -> Vec<String> {
        let scheme = if self.tls_ca.is_some() {
            "rediss"
        } else {
            "redis"
        };
        self.ports
            .iter()
            .map(|p| format!("{scheme}://127.0.0.1:{p}"))
            .collect()
    }

    /// The node ports.
    #[must_use]
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// Call counts summed over all nodes (`INFO commandstats`, without `info`); plain clusters
    /// only.
    ///
    /// # Errors
    /// If a node cannot be reached.
    pub async fn commandstats(&self) -> redis::RedisResult<HashMap<String, u64>> {
        let mut total = HashMap::new();
        for url in self.urls() {
            for (name, calls) in commandstats(&url).await? {
                *total.entry(name).or_insert(0) += calls;
            }
        }
        Ok(total)
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            stop(child);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commandstats() {
        let info = "# Commandstats\r\ncmdstat_evalsha:calls=3,usec=10,usec_per_call=3.33,rejected_calls=0,failed_calls=0\r\ncmdstat_ping:calls=1,usec=1\r\n";
        let stats = parse_commandstats(info);
        assert_eq!(stats.get("evalsha"), Some(&3));
        assert_eq!(stats.get("ping"), Some(&1));
        assert_eq!(stats.len(), 2);
    }

    #[tokio::test]
    #[cfg_attr(
        redis_server_missing,
        ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
    )]
    async fn server_starts_restarts_and_stops() {
        let Some(mut server) = RedisServer::start().await else {
            return;
        };
        assert_ne!(server.port(), SHARED_PORT);
        let before = server.commandstats().await.unwrap();
        let mut conn = connect(server.url()).await.unwrap();
        let _: () = redis::cmd("SET")
            .arg("k")
            .arg("v")
            .query_async(&mut conn)
            .await
            .unwrap();
        let delta = commandstats_delta(&before, &server.commandstats().await.unwrap());
        assert_eq!(delta.get("set"), Some(&1));
        if server.is_private() {
            server.restart().await.unwrap();
            let mut conn = connect(server.url()).await.unwrap();
            let v: Option<String> = redis::cmd("GET")
                .arg("k")
                .query_async(&mut conn)
                .await
                .unwrap();
            assert_eq!(v, None, "no persistence: a restart empties the server");
        }
    }
}
