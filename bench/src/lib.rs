//! Side-by-side HTTP benchmark of this workspace's sessions against actix-session,
//! tower-sessions and the hand-written limits (issue 6).
//!
//! ```text
//! cargo run --release -p bench -- --quick                    # < 3 min on 2 cores, prints the table
//! cargo run --release -p bench -- --out bench/RESULTS.md     # the full run
//! ```
//!
//! One executable plays every role, each in its own process: the driver (default) starts a
//! private `redis-server`, the servers (`serve <variant>`), the load generator (`load`) and the
//! memory probes (`memory-scale`, `moka-baseline`, `flood`) as children of itself; see [`cli`] for every flag.
#![forbid(unsafe_code)]

pub mod cli;
pub mod driver;
pub mod error;
pub mod flood;
pub mod http_client;
pub mod load;
pub mod memory_scale;
pub mod moka_baseline;
pub mod redis_counts;
pub mod report;
pub mod results;
pub mod stats;
pub mod targets;
pub mod variants;
pub mod workload;
