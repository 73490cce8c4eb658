//! Decides at build time which Redis tests can run, so that a test that cannot run is reported
//! as *ignored* with its reason, never as passed (libtest cannot ignore a test at run time).
//!
//! * `redis_server_missing`: no `redis-server` on `PATH` (tests that start a private server,
//!   or need one to restart, freeze, count commands on or configure, are ignored);
//! * `redis_missing`: no `redis-server` and no `REDIS_URL` (every Redis test is ignored).
//!
//! `REQUIRE_REDIS=1` (set by CI) sets neither: every Redis test runs and fails if it cannot
//! get its server. The same probe is in `cache-redis/build.rs` (a build script cannot
//! share code with another crate's without a crate of its own for twenty lines).

use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(redis_server_missing)");
    println!("cargo::rustc-check-cfg=cfg(redis_missing)");
    for var in ["PATH", "REDIS_URL", "REQUIRE_REDIS"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    println!("cargo::rerun-if-changed=build.rs");
    let required = std::env::var("REQUIRE_REDIS").as_deref() == Ok("1");
    let url = std::env::var_os("REDIS_URL").is_some_and(|v| !v.is_empty());
    let candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("redis-server"))
                .collect()
        })
        .unwrap_or_default();
    match candidates.iter().find(|c| c.is_file()) {
        // Re-probe if the binary is replaced or removed.
        Some(found) => println!("cargo::rerun-if-changed={}", found.display()),
        None => {
            // Watching the paths where it would appear re-runs this script once it is installed.
            for candidate in &candidates {
                println!("cargo::rerun-if-changed={}", candidate.display());
            }
            if !required {
                println!("cargo::rustc-cfg=redis_server_missing");
                if !url {
                    println!("cargo::rustc-cfg=redis_missing");
                }
            }
        }
    }
}
