//! The conformance suite every [`DistributedCache`](crate::DistributedCache) provider runs.
//!
//! The suite is written once, here, and every provider crate runs it from its own
//! `tests/conformance.rs`:
//!
//! ```
//! use session_core::SharedCache;
//! use session_core::conformance::Harness;
//!
//! /// Connects to the store under test, or reports it unavailable with `None`.
//! async fn factory() -> Option<Harness> {
//!     let cache: SharedCache = connect_to_my_store().await?;
//!     Some(Harness::new(cache))
//! }
//! # async fn connect_to_my_store() -> Option<SharedCache> { None }
//!
//! session_core::distributed_cache_conformance!(factory);
//! # fn main() {}
//! ```
//!
//! [`distributed_cache_conformance!`](crate::distributed_cache_conformance) generates one
//! `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]` per case, named after the case.
//! A factory answering `None` means "store not available": the test returns early (the factory is
//! expected to print a loud notice, or to panic when the environment requires the store).
//!
//! Every case works on fresh random keys ([`unique_key`]), so all cases can share one store
//! concurrently without seeing each other.
//!
//! ## Timing
//! Expiry cases use whole-second sliding expirations (SQL Server stores sliding expiration in
//! whole seconds) and keep at least 0.6 s between every check and the deadline it tests, so a
//! busy machine does not make them flaky. No case takes longer than about 6 s.
//!
//! ## Cases
//!
//! | Case | Checks |
//! |:-----|:-------|
//! | [`round_trip`] | a value written is read back unchanged |
//! | [`empty_value_round_trips`] | an empty value is stored and read back as empty, not missing |
//! | [`large_binary_value_round_trips`] | a 1 MiB value holding every byte value survives intact |
//! | [`missing_key_is_none`] | `get` of a key never written is `None` |
//! | [`overwrite_replaces_value`] | a second `set` replaces the first value |
//! | [`remove_is_idempotent`] | `remove` deletes; removing a missing key is `Ok` |
//! | [`keys_are_case_sensitive`] | `"Key"` and `"key"` are different entries |
//! | [`refresh_of_missing_key_is_noop`] | `refresh` of a missing key is `Ok` and creates nothing |
//! | [`ping_succeeds`] | `ping` answers `Ok` |
//! | [`cache_type_is_named`] | `cache_type` is a non-empty name |
//! | [`invalid_options_are_refused`] | `set`/`set_if` with invalid options fail with `InvalidOptions` and write nothing |
//! | [`get_extends_sliding_expiration`] | each `get` pushes a sliding deadline out |
//! | [`refresh_extends_sliding_expiration`] | each `refresh` pushes a sliding deadline out |
//! | [`sliding_expiration_expires`] | an entry not accessed for its sliding window is gone |
//! | [`sliding_is_capped_by_absolute`] | sliding never keeps an entry past its absolute expiration |
//! | [`absolute_relative_expiration_expires`] | an absolute expiration relative to now ends the entry |
//! | [`absolute_point_in_time_expiration_expires`] | an absolute point in time ends the entry |
//! | [`entry_without_expiration_stays`] | an entry with no expiration outlives the others |
//! | [`set_if_absent_applies_on_missing_key`] | `Absent` writes when nothing is there |
//! | [`set_if_absent_refuses_on_live_key`] | `Absent` refuses over a live entry, which is left untouched |
//! | [`set_if_absent_applies_over_expired_entry`] | an expired entry counts as absent |
//! | [`set_if_value_equals_applies_when_equal`] | compare-and-set writes when the value matches |
//! | [`set_if_value_equals_refuses_when_different`] | compare-and-set refuses on a different value, leaving it untouched |
//! | [`set_if_value_equals_refuses_when_missing`] | compare-and-set refuses on a missing key, which stays missing |
//! | [`set_if_lock_held_applies_with_holder_token`] | `LockHeld` writes for the lock holder |
//! | [`set_if_lock_held_refuses_with_other_token`] | `LockHeld` refuses for a token that does not hold the lock |
//! | [`set_if_lock_held_refuses_after_lease_expired`] | `LockHeld` refuses once the lease ran out |
//! | [`set_if_lock_held_refuses_without_lock`] | `LockHeld` refuses when no lock exists |
//! | [`remove_if_equals_removes_when_equal`] | `remove_if_equals` removes a live entry holding exactly the expected value |
//! | [`remove_if_equals_keeps_different_value`] | `remove_if_equals` refuses on a different value, leaving it untouched |
//! | [`remove_if_equals_on_missing_key_is_false`] | `remove_if_equals` of a missing key is `false` |
//! | [`remove_if_equals_on_expired_entry_is_false`] | an expired entry counts as missing for `remove_if_equals` |
//! | [`remove_if_equals_ignores_trailing_zero_difference`] | `ab` and `ab\0` are different values for `remove_if_equals`, either way round |
//! | [`remove_if_equals_leaves_lock_alone`] | `remove_if_equals` of `k`'s entry leaves the lock on `k` held |
//! | [`try_lock_takes_free_lock`] | `try_lock` on a free key succeeds |
//! | [`try_lock_refuses_other_token`] | a held lock refuses another token |
//! | [`try_lock_same_token_extends`] | the holder can take its own lock again |
//! | [`unlock_frees_lock_for_others`] | after the holder unlocks, another token can lock |
//! | [`unlock_with_wrong_token_keeps_lock`] | `unlock` with another token leaves the lock held |
//! | [`expired_lease_can_be_taken`] | a lock whose lease ran out can be taken by another token |
//! | [`locks_and_entries_are_separate`] | a lock on `k` is invisible to `get("k")`; entry and lock operations don't disturb each other |
//! | [`concurrent_distinct_keys`] | 64 tasks writing and reading distinct keys all read their own value |
//! | [`concurrent_compare_and_set`] | 16 tasks × 10 compare-and-set increments of one counter end at exactly 160 |
//! | [`concurrent_remove_if_equals_and_compare_and_set`] | racing compare-and-sets and one `remove_if_equals` of the same value: exactly one wins, and the entry is as the winner left it |
//! | [`session_round_trip`] | a new [`Session`](crate::Session) is stored in the ASP.NET Core format under a new key and read back |
//! | [`optimistic_concurrent_writers_keep_all_keys`] | optimistic mode: 8 overlapping requests writing different keys lose nothing |
//! | [`exclusive_counter_loses_no_update`] | exclusive mode: 24 concurrent increments of one counter end at exactly 24 |
//! | [`exclusive_lock_wait_is_bounded`] | exclusive mode: a request that cannot get the lock gets `LockTimeout`, not a hang |
//! | [`optimistic_stale_read_modify_write_is_refused`] | a get-then-set that raced another commit of the key is refused (`StaleRead`), nothing written |
//! | [`failed_commit_poisons_the_request`] | after a failed commit, later writes and `finish` answer the same conflict |
//! | [`update_merges_concurrent_increments`] | both modes: 16 overlapping `update_i32` increments end at exactly 16, each returning a distinct stored value |
//! | [`commit_after_purge_is_refused`] | a request that loaded a session purged meanwhile cannot write it back (`SessionEnded`) |
//! | [`commit_after_renew_is_refused`] | likewise after a renew; the new key keeps the renewed data |
//! | [`renew_carries_a_concurrent_write`] | a renew that raced a blind write carries it to the new key |
//! | [`commit_after_expiry_is_refused`] | a session that expired mid-request is not brought back |
//! | [`exclusive_lease_is_extended_while_held`] | a handler slower than the lease keeps its lock and commits |
//! | [`exclusive_commit_is_compare_and_set`] | a writer that ignores the lock cannot be overwritten by the holder's stale commit |
//! | [`exclusive_timed_out_lock_acquisition_is_released`] | a `try_lock` whose answer timed out is released, not orphaned for a lease |
//! | [`exclusive_late_landing_lock_is_released`] | a `try_lock` that lands after its request gave up (and after the first unlock) is released within a tenth of the lease |
//! | [`exclusive_lock_wait_bounds_a_stalled_attempt`] | a waiter whose `try_lock` stalls answers within `lock_wait`, and the stalled lock is released once it lands |
//! | [`renew_with_a_lost_removal_answer_never_forks`] | a renewal that lost the answer to the old entry's removal fails without a new key; the old key starts afresh |
//! | [`renew_with_a_late_removal_keeps_a_later_write`] | a renewal's removal that lands after another request wrote the session is refused; that write stays |
//! | [`renew_with_a_lost_write_answer_hands_over_the_new_key`] | a renewal that removed the old entry and lost the answer to the new key's write fails but hands the client the new key |
//! | [`renew_and_purge`] | `renew` moves data to a new key and removes the old entry; `purge` removes the entry |
//! | [`corrupt_payload_starts_empty`] | a corrupt stored payload gives an empty, usable session that a commit replaces |
//! | [`oversized_session_writes_nothing`] | a session over `max_payload_bytes` is refused at commit; the stored value is unchanged |

use std::any::Any;
use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use crate::cache::SharedCache;
use crate::error::CacheError;
use crate::token::LockToken;

mod basic;
mod concurrency;
mod conditional;
mod expiry;
mod locks;
mod remove_if;
mod serializable;
mod sessions;

pub use basic::{
    cache_type_is_named, empty_value_round_trips, invalid_options_are_refused,
    keys_are_case_sensitive, large_binary_value_round_trips, missing_key_is_none,
    overwrite_replaces_value, ping_succeeds, refresh_of_missing_key_is_noop, remove_is_idempotent,
    round_trip,
};
pub use concurrency::{concurrent_compare_and_set, concurrent_distinct_keys};
pub use conditional::{
    set_if_absent_applies_on_missing_key, set_if_absent_applies_over_expired_entry,
    set_if_absent_refuses_on_live_key, set_if_lock_held_applies_with_holder_token,
    set_if_lock_held_refuses_after_lease_expired, set_if_lock_held_refuses_with_other_token,
    set_if_lock_held_refuses_without_lock, set_if_value_equals_applies_when_equal,
    set_if_value_equals_refuses_when_different, set_if_value_equals_refuses_when_missing,
};
pub use expiry::{
    absolute_point_in_time_expiration_expires, absolute_relative_expiration_expires,
    entry_without_expiration_stays, get_extends_sliding_expiration,
    refresh_extends_sliding_expiration, sliding_expiration_expires, sliding_is_capped_by_absolute,
};
pub use locks::{
    expired_lease_can_be_taken, locks_and_entries_are_separate, try_lock_refuses_other_token,
    try_lock_same_token_extends, try_lock_takes_free_lock, unlock_frees_lock_for_others,
    unlock_with_wrong_token_keeps_lock,
};
pub use remove_if::{
    concurrent_remove_if_equals_and_compare_and_set,
    remove_if_equals_ignores_trailing_zero_difference, remove_if_equals_keeps_different_value,
    remove_if_equals_leaves_lock_alone, remove_if_equals_on_expired_entry_is_false,
    remove_if_equals_on_missing_key_is_false, remove_if_equals_removes_when_equal,
};

pub use serializable::{
    commit_after_expiry_is_refused, commit_after_purge_is_refused, commit_after_renew_is_refused,
    exclusive_commit_is_compare_and_set, exclusive_late_landing_lock_is_released,
    exclusive_lease_is_extended_while_held, exclusive_lock_wait_bounds_a_stalled_attempt,
    exclusive_timed_out_lock_acquisition_is_released, failed_commit_poisons_the_request,
    optimistic_stale_read_modify_write_is_refused, renew_carries_a_concurrent_write,
    renew_with_a_late_removal_keeps_a_later_write, renew_with_a_lost_removal_answer_never_forks,
    renew_with_a_lost_write_answer_hands_over_the_new_key, update_merges_concurrent_increments,
};
pub use sessions::{
    corrupt_payload_starts_empty, exclusive_counter_loses_no_update,
    exclusive_lock_wait_is_bounded, last_write_wins_overwrites_whole_session,
    optimistic_concurrent_writers_keep_all_keys, oversized_session_writes_nothing, renew_and_purge,
    session_round_trip,
};

/// A cache under test, plus whatever must stay alive while it is used.
///
/// The guard is typically the handle of a server process the factory started (dropping it stops
/// the server). Fields drop in declaration order, so the cache (and its connection pool) goes
/// before the server it talks to.
pub struct Harness {
    cache: SharedCache,
    _guard: Option<Box<dyn Any + Send + Sync>>,
}

impl Harness {
    /// A harness for a cache that needs nothing else kept alive.
    #[must_use]
    pub fn new(cache: SharedCache) -> Self {
        Self {
            cache,
            _guard: None,
        }
    }

    /// A harness that keeps `guard` alive as long as the cache is used.
    #[must_use]
    pub fn with_guard<G: Any + Send + Sync>(cache: SharedCache, guard: G) -> Self {
        Self {
            cache,
            _guard: Some(Box::new(guard)),
        }
    }

    /// The cache under test.
    #[must_use]
    pub fn cache(&self) -> &SharedCache {
        &self.cache
    }
}

impl fmt::Debug for Harness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Harness")
            .field("cache", &self.cache)
            .field("has_guard", &self._guard.is_some())
            .finish()
    }
}

/// A key no other case (or earlier run against the same store) uses: `conformance:<label>:<random>`.
///
/// The random part is the text of a fresh [`LockToken`] (128 bits from the OS CSPRNG).
#[must_use]
pub fn unique_key(label: &str) -> String {
    format!("conformance:{label}:{}", LockToken::generate().as_str())
}

/// Unwraps the result of a cache operation, failing the case with the operation's name and the
/// full error (including its source chain in `Debug` form) otherwise.
#[track_caller]
fn ok<T>(result: Result<T, CacheError>, operation: &str) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("`{operation}` failed: {error} ({error:?})"),
    }
}

/// Sleeps until `millis` milliseconds after `since`.
///
/// Expiry cases schedule every check against the instant of the write it tests instead of
/// chaining sleeps, so the latency of each round trip does not accumulate and eat the margins.
async fn sleep_until_ms(since: Instant, millis: u64) {
    tokio::time::sleep_until(since + Duration::from_millis(millis)).await;
}

/// Generates one `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]` per conformance case.
///
/// `$factory` is a path to an `async fn() -> Option<Harness>`; each test calls it, returns early
/// on `None` (store not available) and otherwise runs the case of the same name in
/// [`session_core::conformance`](crate::conformance) against [`Harness::cache`].
///
/// The calling crate needs `tokio` with the `macros` and `rt-multi-thread` features as a
/// (dev-)dependency.
#[macro_export]
macro_rules! distributed_cache_conformance {
    ($(#[$attr:meta])* $factory:path) => {
        $crate::__conformance_tests!(
            {$(#[$attr])*} $factory;
            round_trip,
            empty_value_round_trips,
            large_binary_value_round_trips,
            missing_key_is_none,
            overwrite_replaces_value,
            remove_is_idempotent,
            keys_are_case_sensitive,
            refresh_of_missing_key_is_noop,
            ping_succeeds,
            cache_type_is_named,
            invalid_options_are_refused,
            get_extends_sliding_expiration,
            refresh_extends_sliding_expiration,
            sliding_expiration_expires,
            sliding_is_capped_by_absolute,
            absolute_relative_expiration_expires,
            absolute_point_in_time_expiration_expires,
            entry_without_expiration_stays,
            set_if_absent_applies_on_missing_key,
            set_if_absent_refuses_on_live_key,
            set_if_absent_applies_over_expired_entry,
            set_if_value_equals_applies_when_equal,
            set_if_value_equals_refuses_when_different,
            set_if_value_equals_refuses_when_missing,
            set_if_lock_held_applies_with_holder_token,
            set_if_lock_held_refuses_with_other_token,
            set_if_lock_held_refuses_after_lease_expired,
            set_if_lock_held_refuses_without_lock,
            remove_if_equals_removes_when_equal,
            remove_if_equals_keeps_different_value,
            remove_if_equals_on_missing_key_is_false,
            remove_if_equals_on_expired_entry_is_false,
            remove_if_equals_ignores_trailing_zero_difference,
            remove_if_equals_leaves_lock_alone,
            try_lock_takes_free_lock,
            try_lock_refuses_other_token,
            try_lock_same_token_extends,
            unlock_frees_lock_for_others,
            unlock_with_wrong_token_keeps_lock,
            expired_lease_can_be_taken,
            locks_and_entries_are_separate,
            concurrent_distinct_keys,
            concurrent_compare_and_set,
            concurrent_remove_if_equals_and_compare_and_set,
            session_round_trip,
            optimistic_concurrent_writers_keep_all_keys,
            last_write_wins_overwrites_whole_session,
            exclusive_counter_loses_no_update,
            exclusive_lock_wait_is_bounded,
            optimistic_stale_read_modify_write_is_refused,
            failed_commit_poisons_the_request,
            update_merges_concurrent_increments,
            commit_after_purge_is_refused,
            commit_after_renew_is_refused,
            renew_carries_a_concurrent_write,
            commit_after_expiry_is_refused,
            exclusive_lease_is_extended_while_held,
            exclusive_commit_is_compare_and_set,
            exclusive_timed_out_lock_acquisition_is_released,
            exclusive_late_landing_lock_is_released,
            exclusive_lock_wait_bounds_a_stalled_attempt,
            renew_with_a_lost_removal_answer_never_forks,
            renew_with_a_late_removal_keeps_a_later_write,
            renew_with_a_lost_write_answer_hands_over_the_new_key,
            renew_and_purge,
            corrupt_payload_starts_empty,
            oversized_session_writes_nothing,
        );
    };
}

/// Expands the case list of [`distributed_cache_conformance!`] into test functions.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    (@case {$(#[$attr:meta])*} $factory:path; $case:ident) => {
        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $(#[$attr])*
        async fn $case() {
            let Some(h) = $factory().await else {
                return;
            };
            $crate::conformance::$case(h.cache()).await;
        }
    };
    ($attrs:tt $factory:path; $($case:ident),+ $(,)?) => {
        $(
            $crate::__conformance_tests!(@case $attrs $factory; $case);
        )+
    };
}
