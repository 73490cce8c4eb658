//! # session-core
//!
//! The store-independent heart of server-side HTTP sessions: the per-request [`Session`], the
//! [`DistributedCache`] trait every store implements, [`EntryOptions`], [`SessionOptions`], the
//! ASP.NET Core session [`codec`] and the errors. It performs no I/O of its own and knows
//! nothing of any web framework or store driver.
//!
//! ```
//! use std::sync::Arc;
//! use session_core::{DistributedCache, SessionOptions};
//!
//! fn takes_any_cache(cache: Arc<dyn DistributedCache>, options: SessionOptions) {
//!     let _ = (cache.cache_type(), options.idle_timeout);
//! }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod cache;
pub mod codec;
mod entry_options;
mod error;
mod options;
mod session;
mod token;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use cache::{DistributedCache, SharedCache, WriteCondition};
pub use entry_options::{EntryOptions, ResolvedExpiration};
pub use error::{BoxError, CacheError, CodecError, ConfigError, EntryOptionsError, SessionError};
pub use options::{ConcurrencyMode, SessionOptions, SessionOptionsBuilder};
pub use session::{CookieAction, REFRESH_SKIP_WINDOW, RequestSession, Session, SessionStore};
pub use token::{LockToken, SessionKey};

/// The longest lifetime [`Session::remember`] accepts: 400 days, the cap browsers put on a
/// cookie's lifetime (RFC 6265bis), so the store entry never outlives every cookie naming it.
pub const MAX_REMEMBER: std::time::Duration = std::time::Duration::from_secs(400 * 24 * 3600);
