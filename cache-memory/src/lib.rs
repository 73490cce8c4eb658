//! cache-memory (under construction).
#![forbid(unsafe_code)]
