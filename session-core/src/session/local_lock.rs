//! Per-key in-process wait queues (fair tokio mutexes), used twice:
//!
//! * exclusive mode: requests of one session on the *same* node queue here before they ask the
//!   store for its lock. Without this queue they would all poll the store lock, costing round
//!   trips and starving each other; with it, only the head of each node's queue polls;
//! * optimistic mode: requests of one session on one node take turns to commit (see
//!   `StoreShared::commit_turns`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// Per-key async mutexes, held weakly so that a key nobody waits for costs nothing.
#[derive(Debug, Default)]
pub(crate) struct LocalLocks {
    // A std mutex: it is held only for map lookups, never across an await.
    queues: Mutex<HashMap<String, Weak<AsyncMutex<()>>>>,
}

/// The head-of-queue position for one key; dropping it lets the next request in.
#[derive(Debug)]
pub(crate) struct LocalGuard {
    key: String,
    locks: Arc<LocalLocks>,
    guard: Option<OwnedMutexGuard<()>>,
}

impl LocalLocks {
    /// Waits up to `wait` to be first in line for `key`; `None` when the wait ran out.
    pub(crate) async fn acquire(self: &Arc<Self>, key: &str, wait: Duration) -> Option<LocalGuard> {
        let queue = {
            let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
            match queues.get(key).and_then(Weak::upgrade) {
                Some(queue) => queue,
                None => {
                    let queue = Arc::new(AsyncMutex::new(()));
                    queues.insert(key.to_owned(), Arc::downgrade(&queue));
                    queue
                }
            }
        };
        let guard = tokio::time::timeout(wait, queue.lock_owned()).await.ok();
        match guard {
            Some(guard) => Some(LocalGuard {
                key: key.to_owned(),
                locks: Arc::clone(self),
                guard: Some(guard),
            }),
            None => {
                self.prune(key);
                None
            }
        }
    }

    /// Drops the map entry of `key` once nobody holds or waits for its queue, so the map
    /// never grows with sessions that are no longer active.
    fn prune(&self, key: &str) {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        if queues.get(key).is_some_and(|q| q.strong_count() == 0) {
            queues.remove(key);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.queues.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Drop for LocalGuard {
    fn drop(&mut self) {
        // Release the queue first (dropping the last strong reference if nobody waits), then
        // prune: in the other order the entry would still look alive.
        drop(self.guard.take());
        self.locks.prune(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn second_waiter_times_out_then_gets_in() {
        let locks = Arc::new(LocalLocks::default());
        let first = locks.acquire("k", Duration::from_millis(10)).await;
        assert!(first.is_some());
        assert!(
            locks
                .acquire("k", Duration::from_millis(20))
                .await
                .is_none()
        );
        assert!(
            locks
                .acquire("other", Duration::from_millis(10))
                .await
                .is_some()
        );
        drop(first);
        assert!(
            locks
                .acquire("k", Duration::from_millis(10))
                .await
                .is_some()
        );
        assert_eq!(locks.len(), 0, "released queues are pruned");
    }
}
