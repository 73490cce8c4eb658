//! The conformance suite every [`DistributedCache`](crate::DistributedCache) provider runs.
//! (Filled in by the foundation issue; see ARCHITECTURE.md.)
