//! End-to-end smoke of the driver with two in-memory variants and very short runs (a few
//! seconds, no Redis): servers and load generator start as children, every request is checked
//! (`--expect-session`), and the report comes out. No timing is asserted.

use std::process::Command;

#[test]
fn driver_runs_two_variants_and_prints_the_report() {
    let output = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args([
            "--quick",
            "--no-scale",
            "--variants",
            "actix-bare,ours-memory",
        ])
        .args([
            "--duration-secs",
            "0.3",
            "--warmup-secs",
            "0.1",
            "--clients",
            "4",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "bench failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    for route in ["/counter", "/read", "/health"] {
        assert!(
            stdout.contains(&format!("| ours-memory | {route} |")),
            "{stdout}"
        );
    }
    assert!(
        stdout.contains("| ours-memory ÷ actix-bare, /read |"),
        "{stdout}"
    );
    // Variants not run are reported as such rather than invented.
    assert!(
        stdout.contains("| ours-redis ÷ handwritten-redis, /read | — | ≥ 0.9 | not measured |")
    );
}
