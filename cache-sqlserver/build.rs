//! Decides at build time whether the real-SQL-Server test suite (`tests/real_server.rs`) is
//! compiled: a suite that cannot run must show up as *ignored*, never as 45 passing tests.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(real_mssql)");
    println!("cargo::rustc-check-cfg=cfg(require_mssql)");
    println!("cargo::rerun-if-env-changed=MSSQL_CONNECTION_STRING");
    println!("cargo::rerun-if-env-changed=REQUIRE_MSSQL");
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var_os("MSSQL_CONNECTION_STRING").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=real_mssql");
    }
    if std::env::var("REQUIRE_MSSQL").as_deref() == Ok("1") {
        println!("cargo::rustc-cfg=require_mssql");
    }
}
