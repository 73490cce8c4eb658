//! cache-sqlserver (under construction in a later issue).
#![forbid(unsafe_code)]
