//! The HTTP acceptance suite of `session-actix`, written once and run against every cache
//! provider, plus the cache wrappers it needs.
//!
//! A provider runs it from one test file:
//!
//! ```no_run
//! use session_core::conformance::Harness;
//!
//! async fn factory() -> Option<Harness> {
//!     Some(Harness::new(std::sync::Arc::new(cache_memory::MemoryCache::new())))
//! }
//!
//! integration_tests::http_acceptance_suite!(factory);
//! # fn main() {}
//! ```
//!
//! The factory is the same as for the conformance suite (`session_core::conformance`):
//! `None` means "store not available" (the test returns early; the factory prints the notice
//! or panics when the environment requires the store).
//!
//! The app under test serves the example routes ([`routes`], the very module the example
//! servers use) behind [`SessionMiddleware`](session_actix::SessionMiddleware), through
//! `actix_web::test` with a manual cookie jar ([`TestJar`]).
//!
//! | case | checks |
//! |---|---|
//! | [`counter_with_cookie_jar`](cases::counter_with_cookie_jar) | 1, 2, 3 with one jar; cookie set once |
//! | [`new_jar_gets_new_session`](cases::new_jar_gets_new_session) | a new jar starts at 1, the old one goes on |
//! | [`tampered_cookie_starts_fresh_session_without_lookup`](cases::tampered_cookie_starts_fresh_session_without_lookup) | bad cookies: fresh session, no 5xx, no `get` |
//! | [`untouched_route_makes_no_cache_call`](cases::untouched_route_makes_no_cache_call) | `/health` with a valid cookie: zero cache calls |
//! | [`read_only_request_makes_one_get`](cases::read_only_request_makes_one_get) | a read-only request: exactly one `get` |
//! | [`new_session_cookie_attributes`](cases::new_session_cookie_attributes) | `HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure` rules, no-cache headers |
//! | [`renew_keeps_data_and_changes_key`](cases::renew_keeps_data_and_changes_key) | `/login`: data kept, new key, old key dead |
//! | [`purge_removes_entry_and_expires_cookie`](cases::purge_removes_entry_and_expires_cookie) | `/logout`: entry removed, expired cookie |
//! | [`clear_empties_session_keeps_cookie`](cases::clear_empties_session_keeps_cookie) | `/clear`: entries gone, cookie kept |
//! | [`idle_timeout_expires_session`](cases::idle_timeout_expires_session) | idle 2 s, wait 3 s: the counter restarts |
//! | [`failing_cache_answers_opaque_500`](cases::failing_cache_answers_opaque_500) | failing store: opaque 500s, no panic |
//! | [`stalled_cache_ends_within_io_timeout`](cases::stalled_cache_ends_within_io_timeout) | hung store: 500 within the IO timeout |
//! | [`commit_failure_log_only_keeps_response`](cases::commit_failure_log_only_keeps_response) | `LogOnly`: the 200 is kept |
//! | [`refresh_on_every_request_refreshes_untouched`](cases::refresh_on_every_request_refreshes_untouched) | opt-in refresh costs one `refresh` |
//! | [`diag_session_reports_cache`](cases::diag_session_reports_cache) | `/diag/session` answers as the guide's route |
//! | [`exclusive_mode_releases_lock_each_request`](cases::exclusive_mode_releases_lock_each_request) | exclusive mode: lock taken and freed per request |
//! | [`previous_key_cookie_is_resigned_with_current_key`](cases::previous_key_cookie_is_resigned_with_current_key) | key rotation: old-key cookie accepted and re-sent signed by the current key |
//! | [`remembered_session_outlives_the_idle_timeout`](cases::remembered_session_outlives_the_idle_timeout) | `/login?remember=30`: persistent cookie, store entry outlives the idle timeout |
//! | [`persistent_cookie_rolls_past_half_its_life`](cases::persistent_cookie_rolls_past_half_its_life) | a remembered cookie past half its life is re-sent, at no extra store call |
//! | [`cookie_max_age_rolls_with_activity`](cases::cookie_max_age_rolls_with_activity) | `cookie_max_age` cookies roll too; older cookies get the setting |
//! | [`remember_survives_renew_and_ends_with_forget_or_logout`](cases::remember_survives_renew_and_ends_with_forget_or_logout) | remember carried by renew; `/forget` and `/logout` end it; bad `remember` refused |

pub mod cases;
mod client;
// The routes of the example servers, compiled here too so that the suite tests exactly what
// the examples serve (one source of truth; it is not a module of any library).
#[path = "../../../session-actix/examples/common/routes.rs"]
pub mod routes;
mod wrappers;

use std::future::Future;

pub use client::{Client, Reply, TestJar, client, session_key_of, signed_cookie_value};
pub use wrappers::{
    CallCounts, CountingCache, FailingCache, INJECTED_FAILURE_MARKER, InjectedFailure,
    StallingCache,
};

/// Runs one case on an actix system (what `#[actix_web::test]` does), for
/// [`http_acceptance_suite!`](crate::http_acceptance_suite).
pub fn run<F: Future<Output = ()>>(case: F) {
    actix_web::rt::System::new().block_on(case);
}

/// Generates one `#[test]` per HTTP acceptance case, each run on an actix system.
///
/// `$factory` is a path to an `async fn() -> Option<session_core::conformance::Harness>`;
/// each test calls it, returns early on `None` (store not available) and otherwise runs the
/// case of the same name in [`http::cases`](crate::http::cases) against the harness's cache.
#[macro_export]
macro_rules! http_acceptance_suite {
    ($(#[$attr:meta])* $factory:path) => {
        $crate::__http_acceptance_tests!(
            {$(#[$attr])*} $factory;
            counter_with_cookie_jar,
            new_jar_gets_new_session,
            tampered_cookie_starts_fresh_session_without_lookup,
            untouched_route_makes_no_cache_call,
            read_only_request_makes_one_get,
            new_session_cookie_attributes,
            renew_keeps_data_and_changes_key,
            purge_removes_entry_and_expires_cookie,
            clear_empties_session_keeps_cookie,
            idle_timeout_expires_session,
            failing_cache_answers_opaque_500,
            stalled_cache_ends_within_io_timeout,
            commit_failure_log_only_keeps_response,
            refresh_on_every_request_refreshes_untouched,
            diag_session_reports_cache,
            exclusive_mode_releases_lock_each_request,
            previous_key_cookie_is_resigned_with_current_key,
            remembered_session_outlives_the_idle_timeout,
            persistent_cookie_rolls_past_half_its_life,
            cookie_max_age_rolls_with_activity,
            remember_survives_renew_and_ends_with_forget_or_logout,
        );
    };
}

/// Expands the case list of [`http_acceptance_suite!`](crate::http_acceptance_suite).
#[doc(hidden)]
#[macro_export]
macro_rules! __http_acceptance_tests {
    (@case {$(#[$attr:meta])*} $factory:path; $case:ident) => {
        #[test]
        $(#[$attr])*
        fn $case() {
            $crate::http::run(async {
                let Some(harness) = $factory().await else {
                    return;
                };
                $crate::http::cases::$case(harness.cache()).await;
            });
        }
    };
    ($attrs:tt $factory:path; $($case:ident),+ $(,)?) => {
        $(
            $crate::__http_acceptance_tests!(@case $attrs $factory; $case);
        )+
    };
}
