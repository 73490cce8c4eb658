//! [`SessionMiddlewareBuilder`]: every setting of the middleware and its default, in one place.

use std::sync::Arc;
use std::time::Duration;

use actix_web::cookie::{Key, SameSite};
use actix_web::http::StatusCode;
use session_core::{ConfigError, SessionOptions, SessionStore, SharedCache};

use crate::cookie::CookieSettings;
use crate::middleware::{MiddlewareConfig, SessionMiddleware};
use crate::verify::CookieVerifier;

/// When the session cookie carries the `Secure` attribute (the guide's `-SecurePolicy`,
/// ASP.NET Core's `CookieSecurePolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CookieSecurePolicy {
    /// Always `Secure`: browsers send the cookie over HTTPS only. Use it in production.
    Always,
    /// `Secure` if, and only if, the request came over HTTPS, as reported by
    /// [`ConnectionInfo::scheme`](actix_web::dev::ConnectionInfo::scheme) (which honours the
    /// `Forwarded` / `X-Forwarded-Proto` headers of a reverse proxy).
    SameAsRequest,
    /// Never `Secure` (local HTTP testing only).
    None,
}

/// What happens to the response when the session cannot be written back at the end of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommitFailurePolicy {
    /// The response is replaced by an opaque `500 Internal Server Error`, so that the client
    /// never believes a write succeeded when it was lost. The cause is logged.
    Fail,
    /// The handler's response is sent as is and the failure is only logged (ASP.NET Core's behaviour).
    LogOnly,
}

/// Why [`SessionMiddlewareBuilder::build`] refused its settings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The [`SessionOptions`] did not validate.
    #[error("invalid session options")]
    Options(#[source] ConfigError),
    /// A cookie setting is not acceptable.
    #[error("invalid cookie setting `{setting}`: {reason}")]
    Cookie {
        /// The setting (`name`, `path`, `domain`, `max_age`, `same_site`).
        setting: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The conflict status is not a 4xx or 5xx status (a conflict must never look like success).
    #[error("`conflict_status` must be a 4xx or 5xx status, not {0}")]
    ConflictStatus(StatusCode),
    /// No signing key was given and the operating system's random generator could not make one.
    #[error("no signing key was given and none could be generated")]
    KeyGeneration,
}

/// Builds a [`SessionMiddleware`]; start with [`SessionMiddleware::builder`].
///
/// One builder takes exactly one cache and one [`SessionOptions`], so an application cannot
/// end up with two competing session configurations on one scope.
///
/// # Defaults
///
/// | setting | default | constant |
/// |---|---|---|
/// | [`cookie_name`](Self::cookie_name) | `session` | [`DEFAULT_COOKIE_NAME`](Self::DEFAULT_COOKIE_NAME) |
/// | [`cookie_path`](Self::cookie_path) | `/` | [`DEFAULT_COOKIE_PATH`](Self::DEFAULT_COOKIE_PATH) |
/// | [`cookie_domain`](Self::cookie_domain) | none (host-only cookie) | — |
/// | [`cookie_http_only`](Self::cookie_http_only) | on | [`DEFAULT_HTTP_ONLY`](Self::DEFAULT_HTTP_ONLY) |
/// | [`cookie_same_site`](Self::cookie_same_site) | `Lax` | [`DEFAULT_SAME_SITE`](Self::DEFAULT_SAME_SITE) |
/// | [`cookie_secure`](Self::cookie_secure) | [`CookieSecurePolicy::SameAsRequest`] | [`DEFAULT_SECURE_POLICY`](Self::DEFAULT_SECURE_POLICY) |
/// | [`cookie_max_age`](Self::cookie_max_age) | none: a browser-session cookie, as ASP.NET Core | — |
/// | signing key (second argument of [`SessionMiddleware::builder`]) | generated at start-up, with a warning | — |
/// | [`previous_keys`](Self::previous_keys) | none | — |
/// | [`session_options`](Self::session_options) | [`SessionOptions::default`] (idle 20 min, IO timeout 10 s, ...) | see [`SessionOptions`] |
/// | [`refresh_on_every_request`](Self::refresh_on_every_request) | off | [`DEFAULT_REFRESH_ON_EVERY_REQUEST`](Self::DEFAULT_REFRESH_ON_EVERY_REQUEST) |
/// | [`commit_failure`](Self::commit_failure) | [`CommitFailurePolicy::Fail`] | [`DEFAULT_COMMIT_FAILURE`](Self::DEFAULT_COMMIT_FAILURE) |
/// | [`conflict_status`](Self::conflict_status) | `409 Conflict` | [`DEFAULT_CONFLICT_STATUS`](crate::DEFAULT_CONFLICT_STATUS) |
///
/// The cookie carries only the session key, signed with HMAC-SHA256 under the signing key.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use actix_web::App;
/// use actix_web::cookie::{Key, SameSite};
/// use cache_memory::MemoryCache;
/// use session_actix::{ConcurrencyMode, CookieSecurePolicy, SessionMiddleware, SessionOptions};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let options = SessionOptions::builder()
///     .idle_timeout(Duration::from_secs(30 * 60))
///     .concurrency(ConcurrencyMode::Exclusive)
///     .build()?;
/// let sessions = SessionMiddleware::builder(Arc::new(MemoryCache::new()), Key::generate())
///     .cookie_name("shop.session")
///     .cookie_secure(CookieSecurePolicy::Always)
///     .cookie_same_site(SameSite::Strict)
///     .session_options(options)
///     .build()?;
/// let _app = App::new().wrap(sessions);
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct SessionMiddlewareBuilder {
    cache: SharedCache,
    key: Option<Key>,
    previous_keys: Vec<Key>,
    cookie_name: String,
    cookie_path: String,
    cookie_domain: Option<String>,
    http_only: bool,
    same_site: SameSite,
    secure: CookieSecurePolicy,
    max_age: Option<Duration>,
    options: SessionOptions,
    refresh_on_every_request: bool,
    commit_failure: CommitFailurePolicy,
    conflict_status: StatusCode,
}

impl std::fmt::Debug for SessionMiddlewareBuilder {
    // Written out because signing keys have no `Debug` (and must never be printed).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionMiddlewareBuilder")
            .field("cache", &self.cache.cache_type())
            .field("key_given", &self.key.is_some())
            .field("previous_keys", &self.previous_keys.len())
            .field("cookie_name", &self.cookie_name)
            .field("cookie_path", &self.cookie_path)
            .field("cookie_domain", &self.cookie_domain)
            .field("http_only", &self.http_only)
            .field("same_site", &self.same_site)
            .field("secure", &self.secure)
            .field("max_age", &self.max_age)
            .field("options", &self.options)
            .field("refresh_on_every_request", &self.refresh_on_every_request)
            .field("commit_failure", &self.commit_failure)
            .field("conflict_status", &self.conflict_status)
            .finish()
    }
}

impl SessionMiddlewareBuilder {
    /// Default cookie name.
    pub const DEFAULT_COOKIE_NAME: &'static str = "session";
    /// Default cookie path.
    pub const DEFAULT_COOKIE_PATH: &'static str = "/";
    /// Default `HttpOnly` attribute.
    pub const DEFAULT_HTTP_ONLY: bool = true;
    /// Default `SameSite` attribute.
    pub const DEFAULT_SAME_SITE: SameSite = SameSite::Lax;
    /// Default `Secure` policy.
    pub const DEFAULT_SECURE_POLICY: CookieSecurePolicy = CookieSecurePolicy::SameAsRequest;
    /// Default for [`refresh_on_every_request`](Self::refresh_on_every_request).
    pub const DEFAULT_REFRESH_ON_EVERY_REQUEST: bool = false;
    /// Default [`CommitFailurePolicy`].
    pub const DEFAULT_COMMIT_FAILURE: CommitFailurePolicy = CommitFailurePolicy::Fail;

    pub(crate) fn new(cache: SharedCache, key: Option<Key>) -> Self {
        Self {
            cache,
            key,
            previous_keys: Vec::new(),
            cookie_name: Self::DEFAULT_COOKIE_NAME.to_owned(),
            cookie_path: Self::DEFAULT_COOKIE_PATH.to_owned(),
            cookie_domain: None,
            http_only: Self::DEFAULT_HTTP_ONLY,
            same_site: Self::DEFAULT_SAME_SITE,
            secure: Self::DEFAULT_SECURE_POLICY,
            max_age: None,
            options: SessionOptions::default(),
            refresh_on_every_request: Self::DEFAULT_REFRESH_ON_EVERY_REQUEST,
            commit_failure: Self::DEFAULT_COMMIT_FAILURE,
            conflict_status: crate::DEFAULT_CONFLICT_STATUS,
        }
    }

    /// The cookie name. Pick one unique per application sharing a domain.
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }

    /// The cookie `Path`.
    pub fn cookie_path(mut self, path: impl Into<String>) -> Self {
        self.cookie_path = path.into();
        self
    }

    /// The cookie `Domain`; `None` for a host-only cookie.
    pub fn cookie_domain(mut self, domain: Option<String>) -> Self {
        self.cookie_domain = domain;
        self
    }

    /// Whether the cookie is `HttpOnly` (hidden from scripts).
    pub fn cookie_http_only(mut self, http_only: bool) -> Self {
        self.http_only = http_only;
        self
    }

    /// The cookie `SameSite` attribute. `SameSite::None` requires a `Secure` cookie, so it is
    /// refused together with [`CookieSecurePolicy::None`].
    pub fn cookie_same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// When the cookie is `Secure`.
    pub fn cookie_secure(mut self, policy: CookieSecurePolicy) -> Self {
        self.secure = policy;
        self
    }

    /// The cookie `Max-Age` of every session; `None` (the default) for a cookie that lives until
    /// the browser closes. A persistent cookie rolls with activity: it records its issue time
    /// (signed), and a request that uses its session re-sends it with a full `Max-Age` once
    /// less than half of it remains (no extra store call). The store entry still expires after
    /// the idle timeout; for sessions that should outlive it ("remember me"), call
    /// [`Session::remember`](session_core::Session::remember) at login instead, which gives
    /// that one session a persistent cookie and a store lifetime as long.
    pub fn cookie_max_age(mut self, max_age: Option<Duration>) -> Self {
        self.max_age = max_age;
        self
    }

    /// Signing keys that are no longer used to sign but still accepted, newest first: rotate
    /// the key by moving the old one here. A request whose cookie verifies only with a previous
    /// key gets the same session key back in a cookie signed with the current key (when the
    /// session lives on), so active clients migrate on their next request; keep an old key
    /// while idle clients may still hold cookies it signed (at most the idle timeout, unless a
    /// cookie max-age is longer).
    pub fn previous_keys(mut self, keys: impl IntoIterator<Item = Key>) -> Self {
        self.previous_keys = keys.into_iter().collect();
        self
    }

    /// The session settings: idle timeout, IO timeout, concurrency mode, ... (see [`SessionOptions`]).
    pub fn session_options(mut self, options: SessionOptions) -> Self {
        self.options = options;
        self
    }

    /// Slide the session's expiry on every request that carries a session cookie, even one whose
    /// handler never touches the session (ASP.NET Core's behaviour, at the price of one store
    /// round trip per such request). Off by default: untouched requests make no store call.
    pub fn refresh_on_every_request(mut self, refresh: bool) -> Self {
        self.refresh_on_every_request = refresh;
        self
    }

    /// What happens to the response when the session cannot be written back.
    pub fn commit_failure(mut self, policy: CommitFailurePolicy) -> Self {
        self.commit_failure = policy;
        self
    }

    /// The status answered when a request's session commit conflicts with a concurrent request
    /// of the same session ([`SessionError::is_conflict`](session_core::SessionError::is_conflict):
    /// a value it read was changed, or the session was logged out or renewed meanwhile). The
    /// handler's response is replaced, whatever [`commit_failure`](Self::commit_failure) says:
    /// nothing of the request was stored. Default `409 Conflict` (see
    /// [`DEFAULT_CONFLICT_STATUS`](crate::DEFAULT_CONFLICT_STATUS) for why); `503 Service
    /// Unavailable` (sent with `Retry-After: 1`) suits clients that retry on 503 only.
    /// Must be a 4xx or 5xx status.
    pub fn conflict_status(mut self, status: StatusCode) -> Self {
        self.conflict_status = status;
        self
    }

    /// Validates the settings and builds the middleware. Without a signing key, one is
    /// generated now and a warning logged: sessions then neither survive a restart nor work
    /// across several nodes.
    ///
    /// # Errors
    /// [`BuildError`] naming the first invalid setting.
    pub fn build(self) -> Result<SessionMiddleware, BuildError> {
        self.options.validate().map_err(BuildError::Options)?;
        if !(self.conflict_status.is_client_error() || self.conflict_status.is_server_error()) {
            return Err(BuildError::ConflictStatus(self.conflict_status));
        }
        validate_cookie(
            &self.cookie_name,
            &self.cookie_path,
            self.cookie_domain.as_deref(),
        )?;
        if self.max_age.is_some_and(|age| age.is_zero()) {
            return Err(BuildError::Cookie {
                setting: "max_age",
                reason: "must be greater than zero",
            });
        }
        if self.same_site == SameSite::None && self.secure == CookieSecurePolicy::None {
            return Err(BuildError::Cookie {
                setting: "same_site",
                reason: "browsers refuse `SameSite=None` on a cookie that is not `Secure`",
            });
        }
        let current = match self.key {
            Some(key) => key,
            None => {
                tracing::warn!(
                    "no session cookie signing key configured; generated a random one: sessions \
                     will not survive a restart nor be shared between nodes"
                );
                Key::try_generate().ok_or(BuildError::KeyGeneration)?
            }
        };
        let cookie = CookieSettings {
            verifier: CookieVerifier::new(self.cookie_name, current)
                .with_previous_keys(self.previous_keys),
            path: self.cookie_path,
            domain: self.cookie_domain,
            http_only: self.http_only,
            same_site: self.same_site,
            secure: self.secure,
            max_age: self.max_age,
        };
        Ok(SessionMiddleware::from_config(Arc::new(MiddlewareConfig {
            store: SessionStore::new(self.cache, self.options),
            cookie,
            refresh_on_every_request: self.refresh_on_every_request,
            commit_failure: self.commit_failure,
            conflict_status: self.conflict_status,
        })))
    }
}

/// RFC 6265 rules, checked once here so that building a `Set-Cookie` header can never fail later.
fn validate_cookie(name: &str, path: &str, domain: Option<&str>) -> Result<(), BuildError> {
    const SEPARATORS: &[u8] = b"()<>@,;:\\\"/[]?={} \t";
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && !SEPARATORS.contains(&b))
    };
    let attribute = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| (b.is_ascii_graphic() || b == b' ') && b != b';')
    };
    if !token(name) {
        return Err(BuildError::Cookie {
            setting: "name",
            reason: "must be a non-empty token (visible ASCII, no separators)",
        });
    }
    if !path.starts_with('/') || !attribute(path) {
        return Err(BuildError::Cookie {
            setting: "path",
            reason: "must start with `/` and contain no `;` or control characters",
        });
    }
    if domain.is_some_and(|d| !attribute(d) || d.contains(' ')) {
        return Err(BuildError::Cookie {
            setting: "domain",
            reason: "must be non-empty, without spaces, `;` or control characters",
        });
    }
    Ok(())
}
