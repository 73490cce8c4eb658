//! Starts a private Redis Sentinel set-up for tests: a primary, one replica and 1–3
//! `redis-server --sentinel` processes on free loopback ports, killed on drop; and a forced
//! failover ([`RedisSentinelSet::failover`]) that returns once every sentinel names the new
//! primary.
//!
//! Both data nodes run with `min-replicas-to-write 1` (the set-up the README recommends): a
//! primary whose replica was promoted refuses writes (`NOREPLICAS`) instead of acknowledging
//! writes that Sentinel will discard when it turns it into a replica. The price: the new primary
//! takes writes only once the old one has rejoined as its replica.
//!
//! Like [`RedisServer`](crate::redis_server::RedisServer), a missing `redis-server` fails the
//! test (the build scripts mark such tests ignored when none was there at build time). Waits poll with a deadline; nothing sleeps as
//! synchronisation.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::redis_server::{
    binary_exists, connect, free_port, spawn_server, stop, unavailable, unique_dir, wait_for_ping,
    wait_until,
};

/// The service (master) name the sentinels monitor.
pub const SERVICE_NAME: &str = "mymaster";

/// How long a failover may take to be seen by every sentinel.
const FAILOVER_TIMEOUT: Duration = Duration::from_secs(30);

/// Passwords of a [`RedisSentinelSet`] started with [`RedisSentinelSet::start_with_passwords`].
#[derive(Debug, Clone)]
pub struct SentinelPasswords {
    /// `requirepass` of the data nodes (and `masterauth` of the replica, `auth-pass` of the
    /// sentinels).
    pub data: String,
    /// `requirepass` of the sentinels.
    pub sentinel: String,
}

/// A private primary + replica + sentinels.
#[derive(Debug)]
pub struct RedisSentinelSet {
    /// Ports of the two data nodes: the first primary, then its replica.
    data_ports: [u16; 2],
    sentinel_ports: Vec<u16>,
    children: Vec<Child>,
    dir: PathBuf,
    passwords: Option<SentinelPasswords>,
}

/// Sends `cmd` to the server on `port` (authenticating with `password`) and decodes the reply.
async fn query<T: redis::FromRedisValue>(
    port: u16,
    password: Option<&str>,
    cmd: &redis::Cmd,
) -> redis::RedisResult<T> {
    let auth = password.map(|p| format!(":{p}@")).unwrap_or_default();
    let mut conn = connect(&format!("redis://{auth}127.0.0.1:{port}")).await?;
    cmd.query_async(&mut conn).await
}

/// `field:value` lines of an `INFO` section.
fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(str::trim)
}

impl RedisSentinelSet {
    /// Starts a primary, a replica in sync with it, and `sentinels` sentinels (1 to 3) that all
    /// know the replica and each other. `None` after a loud notice without `redis-server`
    /// (a panic with `REQUIRE_REDIS=1`).
    ///
    /// # Panics
    /// As above, for `sentinels` outside 1..=3, or when the set-up does not come up in time.
    pub async fn start(sentinels: usize) -> Option<Self> {
        Self::start_inner(sentinels, None).await
    }

    /// As [`start`](Self::start), with passwords on the data nodes and on the sentinels
    /// (alphanumeric, so they go into URLs and configuration files as they are).
    ///
    /// # Panics
    /// As [`start`](Self::start).
    pub async fn start_with_passwords(
        sentinels: usize,
        passwords: SentinelPasswords,
    ) -> Option<Self> {
        Self::start_inner(sentinels, Some(passwords)).await
    }

    async fn start_inner(sentinels: usize, passwords: Option<SentinelPasswords>) -> Option<Self> {
        assert!((1..=3).contains(&sentinels), "1 to 3 sentinels");
        if !binary_exists("redis-server") {
            unavailable("no redis-server binary on PATH for the Sentinel tests");
            return None;
        }
        match Self::start_private(sentinels, passwords).await {
            Ok(set) => Some(set),
            Err(e) => panic!("could not start a private Redis Sentinel set-up: {e}"),
        }
    }

    async fn start_private(
        sentinels: usize,
        passwords: Option<SentinelPasswords>,
    ) -> std::io::Result<Self> {
        let mut set = Self {
            data_ports: [0; 2],
            sentinel_ports: Vec::new(),
            children: Vec::new(),
            dir: unique_dir("redis-sentinel")?,
            passwords,
        };
        let data_password = set.passwords.as_ref().map(|p| p.data.clone());
        let mut guard = vec![
            "--min-replicas-to-write",
            "1",
            "--min-replicas-max-lag",
            "10",
        ];
        if let Some(password) = &data_password {
            guard.extend(["--requirepass", password, "--masterauth", password]);
        }
        for i in 0..2 {
            let node_dir = set.dir.join(format!("node{i}"));
            std::fs::create_dir_all(&node_dir)?;
            let port = free_port()?;
            let primary = set.data_ports[0].to_string();
            let mut args = guard.clone();
            if i == 1 {
                args.extend(["--replicaof", "127.0.0.1", &primary]);
            }
            let mut child = spawn_server(port, &node_dir, &args)?;
            let auth = data_password
                .as_ref()
                .map(|p| format!(":{p}@"))
                .unwrap_or_default();
            let waited =
                wait_for_ping(&format!("redis://{auth}127.0.0.1:{port}"), &mut child).await;
            set.children.push(child);
            waited?;
            set.data_ports[i] = port;
        }
        let primary = set.data_ports[0];
        let data = data_password.clone();
        set.wait("the replica to sync", || {
            let data = data.clone();
            async move {
                let info: String = query(
                    primary,
                    data.as_deref(),
                    redis::cmd("INFO").arg("replication"),
                )
                .await
                .unwrap_or_default();
                info_field(&info, "slave0").is_some_and(|s| s.contains("state=online"))
            }
        })
        .await?;
        for i in 0..sentinels {
            set.spawn_sentinel(i, sentinels.min(2)).await?;
        }
        let ports = set.sentinel_ports.clone();
        let password = set.passwords.as_ref().map(|p| p.sentinel.clone());
        for port in ports {
            let others = sentinels - 1;
            let password = password.clone();
            set.wait("the sentinels to know the replica and each other", || {
                let password = password.clone();
                async move {
                    let password = password.as_deref();
                    let ask =
                        |what: &str| redis::cmd("SENTINEL").arg(what).arg(SERVICE_NAME).clone();
                    let replicas: Vec<std::collections::HashMap<String, String>> =
                        query(port, password, &ask("REPLICAS"))
                            .await
                            .unwrap_or_default();
                    let peers: Vec<redis::Value> = query(port, password, &ask("SENTINELS"))
                        .await
                        .unwrap_or_default();
                    replicas.iter().any(|r| {
                        r.get("flags").is_some_and(|f| f == "slave")
                            && r.get("master-link-status").is_some_and(|s| s == "ok")
                    }) && peers.len() == others
                }
            })
            .await?;
        }
        Ok(set)
    }

    async fn spawn_sentinel(&mut self, index: usize, quorum: usize) -> std::io::Result<()> {
        let dir = self.dir.join(format!("sentinel{index}"));
        std::fs::create_dir_all(&dir)?;
        let port = free_port()?;
        let conf = dir.join("sentinel.conf");
        // Sentinel rewrites its configuration file, so each gets its own. Short
        // `down-after-milliseconds`: a stopped primary is noticed quickly.
        let mut text = format!(
            "port {port}\nbind 127.0.0.1\ndir {dir}\nlogfile {log}\n\
             sentinel monitor {SERVICE_NAME} 127.0.0.1 {primary} {quorum}\n\
             sentinel down-after-milliseconds {SERVICE_NAME} 3000\n\
             sentinel failover-timeout {SERVICE_NAME} 30000\n",
            dir = dir.display(),
            log = dir.join("sentinel.log").display(),
            primary = self.data_ports[0],
        );
        if let Some(passwords) = &self.passwords {
            // The sentinels' own password, which they also use with each other.
            text.push_str(&format!(
                "sentinel auth-pass {SERVICE_NAME} {}\nrequirepass {}\nsentinel sentinel-pass {}\n",
                passwords.data, passwords.sentinel, passwords.sentinel
            ));
        }
        std::fs::write(&conf, text)?;
        let mut child = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let auth = self
            .passwords
            .as_ref()
            .map(|p| format!(":{}@", p.sentinel))
            .unwrap_or_default();
        let waited = wait_for_ping(&format!("redis://{auth}127.0.0.1:{port}"), &mut child).await;
        self.children.push(child);
        waited?;
        self.sentinel_ports.push(port);
        Ok(())
    }

    /// Polls `ready` until true, failing after the start timeout or when a process exited.
    async fn wait<F, Fut>(&mut self, what: &str, ready: F) -> std::io::Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        // Any child will do for the "exited early" check; the first data node matters most.
        let late = format!("timed out waiting for {what}");
        wait_until(&mut self.children[0], &late, ready).await
    }

    fn sentinel_password(&self) -> Option<&str> {
        self.passwords.as_ref().map(|p| p.sentinel.as_str())
    }

    fn data_password(&self) -> Option<&str> {
        self.passwords.as_ref().map(|p| p.data.as_str())
    }

    /// The sentinels' addresses, `("127.0.0.1", port)`, in start order.
    #[must_use]
    pub fn sentinels(&self) -> Vec<(String, u16)> {
        self.sentinel_ports
            .iter()
            .map(|p| ("127.0.0.1".to_owned(), *p))
            .collect()
    }

    /// The ports of the two data nodes (the first primary, then its replica).
    #[must_use]
    pub fn data_ports(&self) -> [u16; 2] {
        self.data_ports
    }

    /// The primary's port as the sentinel `index` names it.
    ///
    /// # Errors
    /// If the sentinel cannot be reached or answers something unexpected.
    pub async fn primary_port(&self, index: usize) -> std::io::Result<u16> {
        let port = self.sentinel_ports[index];
        let (_, primary): (String, u16) = query(
            port,
            self.sentinel_password(),
            redis::cmd("SENTINEL")
                .arg("GET-MASTER-ADDR-BY-NAME")
                .arg(SERVICE_NAME),
        )
        .await
        .map_err(std::io::Error::other)?;
        Ok(primary)
    }

    /// `SENTINEL FAILOVER` on the first sentinel (retried while it answers that no replica is
    /// suitable yet), then waits until every sentinel names the other data node as the primary
    /// and that node reports itself primary. Returns its port.
    ///
    /// # Errors
    /// If the failover is refused until the deadline, or not seen everywhere in time.
    pub async fn failover(&self) -> std::io::Result<u16> {
        let old = self.primary_port(0).await?;
        let new = if old == self.data_ports[0] {
            self.data_ports[1]
        } else {
            self.data_ports[0]
        };
        let deadline = Instant::now() + FAILOVER_TIMEOUT;
        let failover = redis::cmd("SENTINEL")
            .arg("FAILOVER")
            .arg(SERVICE_NAME)
            .clone();
        loop {
            match query::<String>(self.sentinel_ports[0], self.sentinel_password(), &failover).await
            {
                Ok(_) => break,
                // NOGOODSLAVE until the sentinel has fresh information on the replica.
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(std::io::Error::other(format!("SENTINEL FAILOVER: {e}"))),
            }
        }
        loop {
            let mut agreed = true;
            for index in 0..self.sentinel_ports.len() {
                agreed &= self.primary_port(index).await.ok() == Some(new);
            }
            let role: Vec<redis::Value> = query(new, self.data_password(), &redis::cmd("ROLE"))
                .await
                .unwrap_or_default();
            let is_primary =
                matches!(role.first(), Some(redis::Value::BulkString(r)) if r == b"master");
            if agreed && is_primary {
                return Ok(new);
            }
            if Instant::now() > deadline {
                return Err(std::io::Error::other(
                    "the sentinels did not all name the new primary in time",
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the data node on `port` is a replica whose link to its primary is up (the old
    /// primary after a failover, once Sentinel has turned it into a replica).
    ///
    /// # Errors
    /// If that does not happen within `timeout`.
    pub async fn wait_for_replica(&self, port: u16, timeout: Duration) -> std::io::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let info: String = query(
                port,
                self.data_password(),
                redis::cmd("INFO").arg("replication"),
            )
            .await
            .unwrap_or_default();
            if info_field(&info, "role") == Some("slave")
                && info_field(&info, "master_link_status") == Some("up")
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(std::io::Error::other(format!(
                    "node {port} did not become a synced replica in time"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for RedisSentinelSet {
    fn drop(&mut self) {
        for child in &mut self.children {
            stop(child);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
