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

use std::future::Future;
use std::sync::{Mutex, Weak};
use std::time::Duration;

use session_core::CacheError;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

/// What the task runs on each tick (the cache's `delete_expired`; a counter in tests).
pub trait Sweep: Send + Sync + 'static {
    /// Deletes expired rows; returns how many.
    fn sweep(&self) -> impl Future<Output = Result<u64, CacheError>> + Send;
}

/// The stop signal and handle of the cleanup task; owned by the cache.
#[derive(Debug)]
pub struct Cleanup {
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Cleanup {
    /// Spawns the task on the current Tokio runtime; the first deletion runs one `interval` from now.
    pub fn spawn<S: Sweep>(
        cache: Weak<S>,
        interval: Duration,
        runtime: &tokio::runtime::Handle,
    ) -> Self {
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
                        match cache.sweep().await {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    #[derive(Default)]
    struct Counter(AtomicU64);

    impl Sweep for Counter {
        async fn sweep(&self) -> Result<u64, CacheError> {
            Ok(self.0.fetch_add(1, Ordering::SeqCst))
        }
    }

    const INTERVAL: Duration = Duration::from_secs(300);

    fn finished(cleanup: &Cleanup) -> bool {
        cleanup
            .task
            .lock()
            .unwrap()
            .as_ref()
            .is_none_or(JoinHandle::is_finished)
    }

    /// Lets the spawned task run until it waits again.
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn sweeps_every_interval_and_stops_when_the_owner_is_gone() {
        let counter = Arc::new(Counter::default());
        let cleanup = Cleanup::spawn(
            Arc::downgrade(&counter),
            INTERVAL,
            &tokio::runtime::Handle::current(),
        );
        settle().await;
        assert_eq!(counter.0.load(Ordering::SeqCst), 0, "not at once");
        for expected in 1..=3 {
            tokio::time::advance(INTERVAL).await;
            settle().await;
            assert_eq!(counter.0.load(Ordering::SeqCst), expected);
        }
        drop(counter);
        tokio::time::advance(INTERVAL).await;
        settle().await;
        assert!(finished(&cleanup));
    }

    #[tokio::test(start_paused = true)]
    async fn stops_when_dropped_or_shut_down() {
        let counter = Arc::new(Counter::default());
        let runtime = tokio::runtime::Handle::current();
        let cleanup = Cleanup::spawn(Arc::downgrade(&counter), INTERVAL, &runtime);
        let handle = cleanup.task.lock().unwrap().take().unwrap();
        // Dropping the owner of the stop signal ends the task without any tick.
        drop(cleanup);
        settle().await;
        assert!(handle.is_finished());

        let cleanup = Cleanup::spawn(Arc::downgrade(&counter), INTERVAL, &runtime);
        cleanup.shutdown().await;
        assert!(finished(&cleanup));
        tokio::time::advance(INTERVAL * 2).await;
        settle().await;
        assert_eq!(counter.0.load(Ordering::SeqCst), 0);
        // Idempotent.
        cleanup.shutdown().await;
    }
}
