//! The background task that deletes expired rows every `expired_items_deletion_interval`.
//!
//! Lifetime: the task holds only a [`Weak`] reference to the cache, so it never keeps the cache
//! (and its pool) alive by itself. It stops when
//! * the last clone of the cache is dropped: the [`Cleanup`] inside the cache drops the
//!   [`watch::Sender`], which wakes the task's `changed()` with an error; or a tick finds that the
//!   weak reference no longer upgrades; or
//! * [`SqlServerCache::shutdown`](crate::SqlServerCache::shutdown) is called: it sends `true`,
//!   then awaits the task, so when `shutdown` returns no deletion is running any more.
//!
//! A deletion in progress when the last clone drops holds a temporary strong reference and
//! finishes (bounded by the pool's timeouts); the cache is freed when it returns.

use std::sync::{Mutex, Weak};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::cache::Inner;

/// The stop signal and handle of the cleanup task; owned by the cache.
#[derive(Debug)]
pub struct Cleanup {
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Cleanup {
    /// Spawns the task on the current Tokio runtime; the first deletion runs one `interval` from now.
    pub fn spawn(cache: Weak<Inner>, interval: Duration, runtime: &tokio::runtime::Handle) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let task = runtime.spawn(async move {
            let mut ticks = tokio::time::interval_at(Instant::now() + interval, interval);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    // Err: the sender was dropped with the cache; Ok: shutdown() sent `true`.
                    changed = stopped.changed() => {
                        if changed.is_err() || *stopped.borrow() {
                            break;
                        }
                    }
                    _ = ticks.tick() => {
                        let Some(cache) = cache.upgrade() else { break };
                        match cache.delete_expired().await {
                            Ok(rows) => tracing::debug!(rows, "deleted expired cache rows"),
                            Err(error) => tracing::warn!(%error, "deleting expired cache rows failed"),
                        }
                    }
                }
            }
        });
        Self {
            stop,
            task: Mutex::new(Some(task)),
        }
    }

    /// Signals the task to stop and waits until it has.
    pub async fn shutdown(&self) {
        self.stop.send_replace(true);
        let task = match self.task.lock() {
            Ok(mut guard) => guard.take(),
            // A poisoned lock only means another shutdown panicked mid-way; the handle is intact.
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(task) = task {
            // The task never panics; a cancelled runtime is not an error worth reporting here.
            let _ = task.await;
        }
    }
}
