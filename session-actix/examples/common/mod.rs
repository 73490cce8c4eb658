//! What every example server shares: settings from the environment, logging, the session
//! middleware and the routes ([`routes`]). An example only chooses its cache and calls [`serve`].
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `ADDR` | `127.0.0.1:8080` | listen address |
//! | `IDLE_TIMEOUT_SECS` | `1200` | session idle timeout; decimals allowed; durations are at most a year |
//! | `IO_TIMEOUT_SECS` | `10` | limit on every store call; decimals allowed (`0.5`); exclusive mode needs it ≤ `LOCK_LEASE_SECS` / 3 |
//! | `LOCK_WAIT_SECS` | `10` | how long a request waits for the session lock (exclusive) or its commit turn (optimistic); decimals allowed |
//! | `LOCK_LEASE_SECS` | `30` | exclusive mode: lease of the store lock; decimals allowed |
//! | `RUST_LOG` | `info` | `tracing-subscriber` filter, e.g. `info,session_core=debug,session_actix=debug` |
//! | `SESSION_COOKIE_KEY` | generated (with a warning) | standard base64 (line breaks allowed) of 64 or more random bytes, e.g. `head -c 64 /dev/urandom \| base64` |
//! | `COOKIE_NAME` | `session` | the session cookie's name (give each app on one host its own) |
//! | `SESSION_LOCKING` | `optimistic` | `optimistic`, `exclusive` or `last-write-wins` ([`ConcurrencyMode`]) |
//! | `MEMORY_MAX_BYTES` | `67108864` (64 MiB) | `counter` only: the memory cache's bound on the memory its entries occupy, in bytes, at most 1 TiB |

pub mod redis_env;
pub mod report;
pub mod routes;

use std::error::Error;
use std::time::Duration;

use actix_web::cookie::Key;
use actix_web::{App, HttpServer, web};
use base64::Engine as _;
use session_actix::{
    ConcurrencyMode, CookieSecurePolicy, SessionMiddleware, SessionOptions, SharedCache,
};

/// An example's error: examples report any failure to `main` as is.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// The example settings (see the module docs for the variables).
pub struct Settings {
    /// Listen address.
    pub addr: String,
    /// Session idle timeout.
    pub idle_timeout: Duration,
    /// Cookie signing key; `None` to generate one.
    pub key: Option<Key>,
    /// Session concurrency mode.
    pub concurrency: ConcurrencyMode,
    /// Limit on every store call; `None` for the library's default.
    pub io_timeout: Option<Duration>,
    /// Lock (exclusive) or commit-turn (optimistic) wait; `None` for the library's default.
    pub lock_wait: Option<Duration>,
    /// Exclusive mode's lock lease; `None` for the library's default.
    pub lock_lease: Option<Duration>,
    /// The session cookie's name; `None` for the library's default (`session`).
    pub cookie_name: Option<String>,
}

impl Settings {
    /// Reads the settings from the environment.
    ///
    /// # Errors
    /// A variable that is set but does not parse.
    pub fn from_env() -> Result<Self, BoxError> {
        let addr = var("ADDR").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let idle_timeout = seconds("IDLE_TIMEOUT_SECS")?.unwrap_or(Duration::from_secs(1200));
        let key = var("SESSION_COOKIE_KEY")
            .map(|b64| parse_key(&b64))
            .transpose()?;
        let concurrency = match var("SESSION_LOCKING") {
            Some(mode) => mode
                .parse()
                .map_err(|e| format!("SESSION_LOCKING={mode:?}: {e}"))?,
            None => ConcurrencyMode::default(),
        };
        Ok(Self {
            addr,
            idle_timeout,
            key,
            concurrency,
            io_timeout: seconds("IO_TIMEOUT_SECS")?,
            lock_wait: seconds("LOCK_WAIT_SECS")?,
            lock_lease: seconds("LOCK_LEASE_SECS")?,
            cookie_name: var("COOKIE_NAME"),
        })
    }

    /// The session middleware over `cache` with these settings. The cookie is `Secure` only
    /// over HTTPS ([`CookieSecurePolicy::SameAsRequest`]) so that plain-HTTP `curl` works.
    ///
    /// # Errors
    /// Invalid settings (e.g. a zero idle timeout).
    pub fn middleware(&self, cache: SharedCache) -> Result<SessionMiddleware, BoxError> {
        let mut options = SessionOptions::builder()
            .idle_timeout(self.idle_timeout)
            .concurrency(self.concurrency);
        if let Some(timeout) = self.io_timeout {
            options = options.io_timeout(Some(timeout));
        }
        if let Some(wait) = self.lock_wait {
            options = options.lock_wait(wait);
        }
        if let Some(lease) = self.lock_lease {
            options = options.lock_lease(lease);
        }
        let options = options.build()?;
        let mut builder = SessionMiddleware::builder(cache, self.key.clone())
            .cookie_secure(CookieSecurePolicy::SameAsRequest)
            .session_options(options);
        if let Some(name) = &self.cookie_name {
            builder = builder.cookie_name(name.clone());
        }
        builder.build().map_err(|e| {
            let cause = std::error::Error::source(&e)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            format!("session settings (COOKIE_NAME, *_SECS, SESSION_LOCKING): {e}{cause}").into()
        })
    }
}

/// A set, non-empty environment variable.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A positive number of seconds (decimals allowed, so tests can set sub-second timeouts) from
/// the environment variable `name`, or `None` when it is unset.
fn seconds(name: &str) -> Result<Option<Duration>, BoxError> {
    let Some(text) = var(name) else {
        return Ok(None);
    };
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|e| format!("{name}={text:?}: {e}"))?;
    match Duration::try_from_secs_f64(secs) {
        Ok(duration) if !duration.is_zero() && duration <= MAX_SETTING => Ok(Some(duration)),
        _ => Err(format!(
            "{name}={text:?}: expected a positive number of seconds, at most {} (a year)",
            MAX_SETTING.as_secs()
        )
        .into()),
    }
}

/// The largest byte-count setting accepted: 1 TiB (more is certainly a typo).
const MAX_BYTES_SETTING: u64 = 1 << 40;

/// A positive whole number of bytes, at most 1 TiB, from the environment variable `name`, or
/// `None` when it is unset.
///
/// # Errors
/// A value that is not such a number, naming the variable.
#[allow(dead_code)] // only the memory example has a byte setting
pub fn byte_count(name: &str) -> Result<Option<u64>, BoxError> {
    let Some(text) = var(name) else {
        return Ok(None);
    };
    match text.trim().parse::<u64>() {
        Ok(n) if (1..=MAX_BYTES_SETTING).contains(&n) => Ok(Some(n)),
        _ => Err(format!(
            "{name}={text:?}: expected a whole number of bytes from 1 to {MAX_BYTES_SETTING} (1 TiB)"
        )
        .into()),
    }
}

/// The environment variable `name`, or `default` when it is unset or empty.
#[allow(dead_code)] // not every example has settings of its own
pub fn env_or(name: &str, default: &str) -> String {
    var(name).unwrap_or_else(|| default.to_owned())
}

/// The largest duration setting accepted: a year. Larger values would overflow the stores'
/// expiry arithmetic (and are certainly typos).
const MAX_SETTING: Duration = Duration::from_secs(365 * 24 * 3600);

/// `SESSION_COOKIE_KEY`: standard base64 (line breaks allowed, as `base64` prints it) of at
/// least 64 bytes.
fn parse_key(b64: &str) -> Result<Key, BoxError> {
    let compact: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| format!("SESSION_COOKIE_KEY is not standard base64: {e}"))?;
    if bytes.len() < 64 {
        return Err(format!(
            "SESSION_COOKIE_KEY must decode to at least 64 bytes, not {}",
            bytes.len()
        )
        .into());
    }
    Ok(Key::try_from(bytes.as_slice())?)
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
}

/// Serves [`routes`] with sessions over `cache` until the process is stopped (Ctrl-C).
///
/// # Errors
/// Invalid settings, or the address cannot be bound (a [`report::SettingError`] naming `ADDR`
/// and the address).
pub async fn serve(cache: SharedCache, settings: Settings) -> Result<(), BoxError> {
    let sessions = settings.middleware(cache.clone())?;
    // The cache is shared with routes that need it directly (the diagnostic ping): handlers
    // cannot reach it through their session.
    let shared = web::Data::new(cache.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .wrap(sessions.clone())
            .configure(routes::configure)
    })
    .bind(&settings.addr)
    .map_err(|e| {
        report::SettingError::new(
            format!("ADDR={}: cannot listen on this address", settings.addr),
            e,
        )
    })?;
    tracing::info!(
        addr = %settings.addr,
        cache = cache.cache_type(),
        idle_timeout_secs = settings.idle_timeout.as_secs(),
        concurrency = ?settings.concurrency,
        "serving; try `curl -c jar -b jar http://{}/counter`",
        settings.addr
    );
    server.run().await?;
    Ok(())
}
