//! # session-actix
//!
//! Server-side HTTP sessions for actix-web over any [`DistributedCache`](session_core::DistributedCache)
//! (in-memory, Redis, SQL Server, ...): the actix-web face of `session-core`.
//!
//! * [`SessionMiddleware`]: wrap an `App` or scope; one cache and one configuration per
//!   middleware, built with [`SessionMiddleware::builder`] (defaults are listed in
//!   [`SessionMiddlewareBuilder`]).
//! * [`Session`]: the handler argument (or [`SessionExt::get_session`] on a request). It
//!   dereferences to [`session_core::Session`]: typed values `get::<T>` / `insert` / `update`
//!   (any serde type as JSON; feature `serde`, on by default), `remove`, `clear`, `keys`,
//!   `commit`, `renew` (at login), `purge` (at logout); ASP.NET Core's encodings
//!   `get_string`/`set_string`/`get_i32`/`set_i32`/`update_i32`; raw `get_bytes`/`insert_bytes`.
//!   Ending the session is the middleware's alone.
//! * [`SessionHttpError`]: lets handlers use `?` on session calls; answered opaquely with the
//!   cause logged: 409 for a conflict with a concurrent request of the same session, 503 for a
//!   busy session (exclusive mode), 500 otherwise.
//! * [`CookieVerifier`]: the checks a client's session cookie must pass (signature by the
//!   current or a previous key, size, one cookie of the name, well-formed key), usable on its
//!   own.
//!
//! The cookie holds only the session key, signed (HMAC) with an [`actix_web::cookie::Key`];
//! the data stays in the cache. Sessions are lazy: a request that never touches its session
//! makes no cache call.
//!
//! ## Quick start
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use actix_web::{App, HttpResponse, HttpServer, cookie::Key, web};
//! use cache_memory::MemoryCache;
//! use session_actix::{Session, SessionHttpError, SessionMiddleware};
//!
//! async fn counter(session: Session) -> Result<HttpResponse, SessionHttpError> {
//!     // A read-modify-write that merges with concurrent requests instead of losing them.
//!     let n = session.update("counter", |n: Option<u32>| n.unwrap_or(0) + 1).await?;
//!     Ok(HttpResponse::Ok().body(n.to_string()))
//! }
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Share one secret of 64+ bytes between nodes and restarts (e.g. from configuration).
//!     let key = Key::generate();
//!     let sessions = SessionMiddleware::builder(Arc::new(MemoryCache::new()), key)
//!         .cookie_name("app.session")
//!         .build()?;
//!     HttpServer::new(move || {
//!         App::new()
//!             .wrap(sessions.clone())
//!             .route("/counter", web::get().to(counter))
//!     })
//!     .bind("127.0.0.1:8080")?
//!     .run()
//!     .await?;
//!     Ok(())
//! }
//! ```
//!
//! The `counter` example (`cargo run -p session-actix --example counter`) is a complete server
//! with the usage patterns of the sessions guide (counter, user, login/logout, diagnostics).
//!
//! ## Choose your concurrency mode
//!
//! Set with [`SessionOptions::builder`]`().concurrency(..)` (see [`ConcurrencyMode`]); what it
//! costs in store round trips per request, without contention:
//!
//! | mode | guarantee for concurrent requests of one session | untouched / read / read + write | under contention | use it when |
//! |---|---|---|---|---|
//! | [`Optimistic`](ConcurrencyMode::Optimistic) (default) | serializable: a commit is a compare-and-set; on a conflict it is replayed only if nothing the request read changed, else refused (409). `update` merges read-modify-writes. Logout and renewal are final | 0 / 1 / 2 | retries (jittered), 409 for a stale read | almost always |
//! | [`Exclusive`](ConcurrencyMode::Exclusive) | the same, and requests of one session run one at a time across nodes (lease lock in the store, extended while held) | 0 / 3 / 4 (adds lock and unlock) | requests wait (up to `lock_wait`, then 503 with `Retry-After`) | handlers that read-modify-write several keys and must not be refused |
//! | [`LastWriteWins`](ConcurrencyMode::LastWriteWins) | none: ASP.NET Core's behaviour, the later commit overwrites the whole session | 0 / 1 / 2 | lost updates | only a store without conditional writes (Redis with scripting disabled) |
//!
//! The README's "Concurrency guarantees" section lists what is proven, and by which tests.
//!
//! ## Persistent sessions
//!
//! Sessions use browser-session cookies by default. [`Session::remember`](session_core::Session::remember)
//! (at login) makes one session persistent: its cookie gets a `Max-Age` and its store entry the
//! same lifetime; [`cookie_max_age`](SessionMiddlewareBuilder::cookie_max_age) makes every
//! cookie persistent. Persistent cookies roll with activity (see [`CookieLifetime`]).
//!
//! ```
//! use std::time::Duration;
//!
//! use actix_web::HttpResponse;
//! use session_actix::{Session, SessionHttpError};
//!
//! async fn login(session: Session) -> Result<HttpResponse, SessionHttpError> {
//!     session.renew().await?; // a new key whenever privileges change
//!     session.insert("user", &"alice").await?;
//!     session.remember(Duration::from_secs(30 * 24 * 3600)).await?; // "remember me"
//!     Ok(HttpResponse::Ok().finish())
//! }
//! ```
//!
//! ## Errors and unavailability
//!
//! If the store cannot be read (down, or slower than the IO timeout), the session is
//! unavailable: [`is_available`](session_core::Session::is_available) is false and every
//! accessor returns the error, so the handler decides (`?` gives an opaque 500). If the session
//! cannot be written back at the end of the request, the response becomes an opaque 500 by
//! default, or is sent anyway with [`CommitFailurePolicy::LogOnly`]. A commit refused because
//! of a concurrent request of the same session (a value it read changed, or the session was
//! logged out meanwhile) always replaces the handler's response with
//! [`conflict_status`](SessionMiddlewareBuilder::conflict_status) (409 by default): a 2xx
//! response means the request's session writes are stored.
//!
//! ## Logging
//!
//! Each request runs in a `session.request` debug span (with the cache type); loads and commits
//! have their own spans with durations. Session keys appear only redacted.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod cookie;
mod error;
mod extract;
mod middleware;
mod slot;
mod verify;

pub use config::{BuildError, CommitFailurePolicy, CookieSecurePolicy, SessionMiddlewareBuilder};
pub use error::{DEFAULT_CONFLICT_STATUS, SessionHttpError};
pub use extract::{Session, SessionExt};
pub use middleware::{SessionMiddleware, SessionMiddlewareService};
pub use verify::{
    CookieLifetime, CookieVerifier, MAX_COOKIE_PAIR_BYTES, MAX_SESSION_COOKIE_VALUE_BYTES,
    VerifiedCookie,
};

/// The `session-core` items an application names when it uses this crate, re-exported so that
/// depending on `session-actix` (plus one cache crate) is enough: [`SessionOptions`] and
/// [`ConcurrencyMode`] to configure, [`SessionError`] and [`CacheError`] to match on in
/// handlers, [`SharedCache`] for the cache handle (e.g. as `web::Data` for a health check),
/// [`SessionKey`] for [`CookieVerifier`], [`MAX_REMEMBER`] for `Session::remember`. The rest of
/// `session-core` (the store and request lifecycle, the cache trait's plumbing) is for web
/// integrations and cache providers, which depend on it directly.
pub use session_core::{
    CacheError, ConcurrencyMode, MAX_REMEMBER, SessionError, SessionKey, SessionOptions,
    SharedCache,
};

/// The workspace README's Rust snippets, compiled as doc-tests so the README cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
