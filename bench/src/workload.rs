//! The three routes every variant serves, one workload each.

use std::fmt;
use std::str::FromStr;

/// One route, driven alone for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Workload {
    /// `GET /counter`: read, increment and write an `i32` in the session.
    Counter,
    /// `GET /read`: read the `i32` (sliding the expiry where the library can).
    Read,
    /// `GET /health`: the session is never touched.
    Health,
}

impl Workload {
    /// Every workload, in report order.
    pub const ALL: [Self; 3] = [Self::Counter, Self::Read, Self::Health];

    /// The request path.
    #[must_use]
    pub const fn path(self) -> &'static str {
        match self {
            Self::Counter => "/counter",
            Self::Read => "/read",
            Self::Health => "/health",
        }
    }

    /// Whether a client first creates its session with one `/counter`: `/read` needs a value
    /// to read and `/health` is measured for a client that carries a session cookie.
    #[must_use]
    pub const fn primed(self) -> bool {
        !matches!(self, Self::Counter)
    }

    /// The Redis round trips per request our library aims at (issue 6's targets).
    #[must_use]
    pub const fn target_round_trips(self) -> f64 {
        match self {
            Self::Counter => 2.0,
            Self::Read => 1.0,
            Self::Health => 0.0,
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

/// A path that is not one of the three routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownWorkload;

impl FromStr for Workload {
    type Err = UnknownWorkload;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|w| w.path() == s || w.path().trim_start_matches('/') == s)
            .ok_or(UnknownWorkload)
    }
}
