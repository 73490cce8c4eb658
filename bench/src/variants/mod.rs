//! The servers compared, all serving `GET /counter`, `GET /read` and `GET /health` (see
//! [`Workload`](crate::workload::Workload)), each run as `bench serve <variant>`.
//!
//! Shared policy, so that only the library differs:
//! * one signing key ([`SIGNING_KEY`]), HMAC-signed (not encrypted) cookies named [`COOKIE_NAME`];
//! * a 20-minute idle timeout ([`IDLE_TIMEOUT`]), sliding where the library can: ours slides on
//!   every load; actix-session is a browser-session cookie whose Redis TTL is extended on every
//!   request (`TtlExtensionPolicy::OnEveryRequest`: the only way it slides on a read); tower-sessions
//!   uses `Expiry::OnInactivity` with `always_save` (without it a read never moves the expiry);
//! * the same number of worker threads.

mod actix_session;
mod bare;
mod handwritten;
mod ours;
mod tower;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::cli::ServeArgs;
use crate::error::BenchError;

/// Cookie name of every session variant.
pub const COOKIE_NAME: &str = "session";
/// Idle timeout of every session variant.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// The session value every route reads or writes.
pub const COUNTER_KEY: &str = "counter";

/// The one cookie-signing secret of every variant (64 bytes, the minimum of actix-web's and
/// tower-cookies' `Key`). Fixed rather than random so that every variant signs with the same
/// secret; it protects nothing outside the benchmark.
pub const SIGNING_KEY: [u8; 64] = {
    let mut key = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        // Any fixed bytes do; these are not all equal so no implementation can shortcut them.
        key[i] = (i as u8).wrapping_mul(37).wrapping_add(11);
        i += 1;
    }
    key
};

/// The web framework a variant runs on (ratios normalise by that framework's bare variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framework {
    /// actix-web 4.
    Actix,
    /// axum 0.8.
    Axum,
}

/// One server of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// actix-web, no session: the limit for the middleware.
    ActixBare,
    /// session-actix + cache-memory.
    OursMemory,
    /// session-actix + cache-redis.
    OursRedis,
    /// actix-session 0.11 + `RedisSessionStore`.
    ActixSessionRedis,
    /// An actix-web handler doing the minimal Redis commands itself: the limit for Redis.
    HandwrittenRedis,
    /// axum, no session.
    AxumBare,
    /// tower-sessions + tower-sessions-moka-store.
    TowerMoka,
    /// tower-sessions + tower-sessions-redis-store.
    TowerRedis,
}

impl Variant {
    /// Every variant, in report (and run) order.
    pub const ALL: [Self; 8] = [
        Self::ActixBare,
        Self::OursMemory,
        Self::OursRedis,
        Self::ActixSessionRedis,
        Self::HandwrittenRedis,
        Self::AxumBare,
        Self::TowerMoka,
        Self::TowerRedis,
    ];

    /// The command-line and report name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::ActixBare => "actix-bare",
            Self::OursMemory => "ours-memory",
            Self::OursRedis => "ours-redis",
            Self::ActixSessionRedis => "actix-session-redis",
            Self::HandwrittenRedis => "handwritten-redis",
            Self::AxumBare => "axum-bare",
            Self::TowerMoka => "tower-moka",
            Self::TowerRedis => "tower-redis",
        }
    }

    /// The framework it runs on.
    #[must_use]
    pub const fn framework(self) -> Framework {
        match self {
            Self::AxumBare | Self::TowerMoka | Self::TowerRedis => Framework::Axum,
            _ => Framework::Actix,
        }
    }

    /// Whether it needs the Redis server.
    #[must_use]
    pub const fn uses_redis(self) -> bool {
        matches!(
            self,
            Self::OursRedis | Self::ActixSessionRedis | Self::HandwrittenRedis | Self::TowerRedis
        )
    }

    /// Whether it keeps a session (the bare frameworks answer constants).
    #[must_use]
    pub const fn has_session(self) -> bool {
        !matches!(self, Self::ActixBare | Self::AxumBare)
    }

    /// The commands this variant's client sends itself, when it also runs Lua scripts whose
    /// inner commands `INFO commandstats` counts alongside (`None`: every counted command is a
    /// round trip). cache-redis sends only `EVALSHA` (plus `SCRIPT LOAD` once, `UNLINK` on
    /// removal, `PING` on an idle checkout); see its crate docs.
    #[must_use]
    pub const fn direct_commands(self) -> Option<&'static [&'static str]> {
        match self {
            Self::OursRedis => Some(&["evalsha", "eval", "script|load", "unlink", "ping"]),
            _ => None,
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownVariant;

impl FromStr for Variant {
    type Err = UnknownVariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or(UnknownVariant)
    }
}

/// Serves `args.variant` until the process is killed.
///
/// # Errors
/// The address cannot be bound, Redis is unreachable, or a library refuses its configuration.
pub fn serve(args: &ServeArgs) -> Result<(), BenchError> {
    let redis_url = || {
        args.redis_url
            .clone()
            .ok_or_else(|| BenchError::Child(format!("{} needs --redis-url", args.variant)))
    };
    match args.variant {
        Variant::ActixBare => bare::serve_actix(args),
        Variant::AxumBare => bare::serve_axum(args),
        Variant::OursMemory => ours::serve_memory(args),
        Variant::OursRedis => ours::serve_redis(args, redis_url()?),
        Variant::ActixSessionRedis => actix_session::serve(args, redis_url()?),
        Variant::HandwrittenRedis => handwritten::serve(args, redis_url()?),
        Variant::TowerMoka => tower::serve_moka(args),
        Variant::TowerRedis => tower::serve_redis(args, redis_url()?),
    }
}

/// A multi-threaded tokio runtime with `threads` workers (the axum variants' runtime).
fn tokio_runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for v in Variant::ALL {
            assert_eq!(v.name().parse::<Variant>(), Ok(v));
        }
        assert_eq!("nope".parse::<Variant>(), Err(UnknownVariant));
    }

    #[test]
    fn signing_key_is_accepted_by_both_cookie_crates() {
        assert!(actix_web::cookie::Key::try_from(&SIGNING_KEY[..]).is_ok());
        assert!(tower_sessions::cookie::Key::try_from(&SIGNING_KEY[..]).is_ok());
    }
}
