//! What the lock map stores per key, and its lease expiry.

use std::time::{Duration, Instant};

use moka::Expiry;
use session_core::LockToken;

/// A held lock: who holds it and for how long from its last `try_lock`.
#[derive(Debug, Clone)]
pub(crate) struct Lease {
    pub(crate) token: LockToken,
    pub(crate) lease: Duration,
}

/// Expires a lock when its lease runs out, so abandoned locks are evicted rather than leaked.
/// Reads do not extend a lease; only taking the lock again does.
pub(crate) struct LeaseExpiry;

impl Expiry<String, Lease> for LeaseExpiry {
    fn expire_after_create(&self, _key: &String, lock: &Lease, _at: Instant) -> Option<Duration> {
        Some(lock.lease)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        lock: &Lease,
        _at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(lock.lease)
    }
}
