//! Striped per-key write locks.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use tokio::sync::{Mutex, MutexGuard};

/// Number of stripes: enough that unrelated keys rarely wait on each other, few enough to be a
/// fixed, small allocation.
const STRIPES: usize = 64;

/// Serializes the writes to one key.
///
/// Every operation that writes an entry or a lock (`set`, `set_if`, `remove`, `try_lock`,
/// `unlock`) holds the stripe of its key while it checks and writes. A conditional write reads
/// both maps (the entry for `Absent`/`ValueEquals`, the lock for `LockHeld`) and then writes;
/// holding the stripe makes that check-then-write one atomic step with respect to every other
/// write to the same key. Reads (`get`, `refresh`) need no stripe: each is a single atomic map
/// operation. The mutex is tokio's because it is held across the map's `await`s.
pub(crate) struct KeyStripes {
    stripes: Box<[Mutex<()>]>,
    hasher: RandomState,
}

impl KeyStripes {
    pub(crate) fn new() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: RandomState::new(),
        }
    }

    /// Waits for, and holds, the stripe of `key`.
    pub(crate) async fn lock(&self, key: &str) -> MutexGuard<'_, ()> {
        // Truncating the hash on 32-bit targets only drops bits we do not need for 64 stripes.
        let index = self.hasher.hash_one(key) as usize % self.stripes.len();
        self.stripes[index].lock().await
    }
}
