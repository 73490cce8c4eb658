//! [`SessionMiddleware`]: puts a lazy session on every request and finishes it after the handler.

use std::fmt;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{Error, HttpMessage};
use session_core::{CookieAction, RequestSession, SessionKey, SessionStore, SharedCache};
use tracing::Instrument;

use crate::config::{BuildError, CommitFailurePolicy, SessionMiddlewareBuilder};
use crate::cookie::CookieSettings;
use crate::error::{ErrorChain, error_response};
use crate::slot::SessionSlot;
use crate::verify::CookieLifetime;

/// Server-side sessions for an actix-web `App` or scope: `App::new().wrap(middleware.clone())`.
///
/// Built by [`SessionMiddleware::builder`] from exactly one cache. Per request it:
///
/// 1. puts a lazy session slot in the request. The first time a handler asks for the
///    [`Session`](crate::Session), the cookie is read through a [`CookieVerifier`](crate::CookieVerifier) (a
///    cookie that fails any check counts as absent: no store call, no error); the store is
///    called only when the session is first read or written;
/// 2. after the handler, finishes a session that was asked for: writes changes, removes entries
///    retired by `renew`/`purge`, and sets, removes or leaves the cookie. A cookie signed by a
///    previous key is sent again signed by the current key (when its session is used). A cookie
///    sent comes with `Cache-Control: no-cache, no-store` and `Pragma: no-cache`.
///
/// A request whose handler never asks for the session costs no store call, no cookie
/// verification and no allocation beyond the slot (unless
/// [`refresh_on_every_request`](SessionMiddlewareBuilder::refresh_on_every_request) is on).
///
/// One session per request: if two `SessionMiddleware`s wrap the same route (say one on the
/// `App` and one on a scope), the outermost one serves it and the inner one steps aside, with
/// a warning in the log.
///
/// Cheap to clone (one shared configuration); clone it into `HttpServer::new`'s closure.
#[derive(Clone)]
pub struct SessionMiddleware {
    config: Arc<MiddlewareConfig>,
}

/// Everything one middleware needs, shared by all workers.
#[derive(Debug)]
pub(crate) struct MiddlewareConfig {
    pub(crate) store: SessionStore,
    pub(crate) cookie: CookieSettings,
    pub(crate) refresh_on_every_request: bool,
    pub(crate) commit_failure: CommitFailurePolicy,
    /// The status of a response whose session commit conflicted (see
    /// [`SessionMiddlewareBuilder::conflict_status`]).
    pub(crate) conflict_status: StatusCode,
}

impl fmt::Debug for SessionMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionMiddleware")
            .field("cache", &self.config.store.cache().cache_type())
            .field("cookie_name", &self.config.cookie.name())
            .finish_non_exhaustive()
    }
}

impl SessionMiddleware {
    /// Sessions over `cache` with every default (listed on [`SessionMiddlewareBuilder`]),
    /// cookies signed with `key` (at least 64 bytes; share it between nodes and restarts). The
    /// one-line form of [`builder`](Self::builder)`(Arc::new(cache), key).build()`.
    ///
    /// ```
    /// use actix_web::{App, cookie::Key};
    /// use cache_memory::MemoryCache;
    /// use session_actix::SessionMiddleware;
    ///
    /// # fn main() -> Result<(), session_actix::BuildError> {
    /// let sessions = SessionMiddleware::new(MemoryCache::new(), Key::generate())?;
    /// let _app = App::new().wrap(sessions);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// None with the defaults; the signature matches [`SessionMiddlewareBuilder::build`].
    pub fn new(
        cache: impl session_core::DistributedCache,
        key: actix_web::cookie::Key,
    ) -> Result<Self, BuildError> {
        Self::builder(Arc::new(cache), key).build()
    }

    /// A builder over `cache`, signing cookies with `key`.
    ///
    /// `key` is an [`actix_web::cookie::Key`] of at least 64 bytes (e.g.
    /// `Key::try_from(bytes)` from a secret shared by every node), or `None` to generate one
    /// at start-up (sessions then do not survive a restart; a warning is logged).
    pub fn builder(
        cache: SharedCache,
        key: impl Into<Option<actix_web::cookie::Key>>,
    ) -> SessionMiddlewareBuilder {
        SessionMiddlewareBuilder::new(cache, key.into())
    }

    /// The cache behind this middleware, for the application's own setup (say a diagnostic
    /// route that pings the store, given it as `web::Data`). Handlers do not reach it through
    /// their [`Session`](crate::Session).
    #[must_use]
    pub fn cache(&self) -> &SharedCache {
        self.config.store.cache()
    }

    pub(crate) fn from_config(config: Arc<MiddlewareConfig>) -> Self {
        Self { config }
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = SessionMiddlewareService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionMiddlewareService {
            service: Rc::new(service),
            config: Arc::clone(&self.config),
        }))
    }
}

/// The per-worker service created by [`SessionMiddleware`]; not used directly.
pub struct SessionMiddlewareService<S> {
    service: Rc<S>,
    config: Arc<MiddlewareConfig>,
}

impl<S> fmt::Debug for SessionMiddlewareService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionMiddlewareService")
            .finish_non_exhaustive()
    }
}

type Response<B> = ServiceResponse<EitherBody<B>>;

impl<S, B> Service<ServiceRequest> for SessionMiddlewareService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = Response<B>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        if req.extensions().contains::<SessionSlot>() {
            // One session per request: an outer SessionMiddleware already serves this one.
            // Running a second would read and write a second session under another
            // configuration and race on the cookie; the inner one steps aside instead.
            tracing::warn!(
                "SessionMiddleware wraps a route that another SessionMiddleware already \
                 wraps; the inner one is ignored"
            );
            return Box::pin(async move {
                service
                    .call(req)
                    .await
                    .map(ServiceResponse::map_into_left_body)
            });
        }
        let config = Arc::clone(&self.config);
        let span =
            tracing::debug_span!("session.request", cache = config.store.cache().cache_type());
        Box::pin(
            async move {
                // Nothing is verified or allocated until someone asks for the session (see
                // `SessionSlot`).
                let slot = SessionSlot::new(Arc::clone(&config));
                req.extensions_mut().insert(slot.clone());
                match service.call(req).await {
                    Ok(response) => Ok(finish(&config, &slot, response.map_into_left_body()).await),
                    Err(error) => {
                        // An inner middleware failed without a response (handler errors are
                        // responses already), so there is no response to carry a cookie. The
                        // session is still finished, as ASP.NET Core does, so its changes are
                        // written and an exclusive-mode lock is freed at once.
                        if let Some(opened) = slot.opened() {
                            finish_without_response(&config, &opened.request).await;
                        }
                        Err(error)
                    }
                }
            }
            .instrument(span),
        )
    }
}

/// Ends the session after the handler and applies the outcome to the response. A session nobody
/// opened is left alone, unless `refresh_on_every_request` asks to refresh it.
async fn finish<B>(
    config: &MiddlewareConfig,
    slot: &SessionSlot,
    mut response: Response<B>,
) -> Response<B> {
    let opened = if config.refresh_on_every_request {
        slot.open(response.request())
    } else {
        match slot.opened() {
            Some(opened) => opened,
            None => return response,
        }
    };
    let (session, sent) = (&opened.request, opened.cookie.as_ref());
    let started = Instant::now();
    let outcome = session.finish(config.refresh_on_every_request).await;
    let action = match &outcome {
        Ok(CookieAction::Set(_)) => "set",
        Ok(CookieAction::Remove) => "remove",
        Ok(_) => "keep",
        Err(_) => "failed",
    };
    tracing::debug!(
        action,
        elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "session finished"
    );
    // The life a cookie sent now gets (persistent if the session is remembered or
    // `cookie_max_age` is set).
    let (remembered, lifetime_changed) = session.lifetime().await;
    let due = config.cookie.lifetime_now(remembered);
    match outcome {
        Ok(CookieAction::Set(key)) => {
            set_session_cookie(config, &mut response, &key, due.as_ref());
            response
        }
        Ok(CookieAction::Keep) => {
            if let Some(sent) = sent {
                // Key rotation: the same key, signed with the current key. (If the key turned
                // out to be unknown to the store, re-signing it changes nothing: its next
                // request starts over the same way.) A persistent cookie past half of its life,
                // or whose session was (un)remembered, is sent again with a fresh life, but only
                // for a session this request found stored (the load slid the entry's expiry
                // too, so cookie and entry keep agreeing; no extra store call).
                let resend = sent.signed_with_previous_key()
                    || ((lifetime_changed
                        || config
                            .cookie
                            .needs_renewal(sent.lifetime().as_ref(), due.as_ref()))
                        && session.is_stored().await);
                if resend {
                    set_session_cookie(config, &mut response, sent.key(), due.as_ref());
                }
            }
            response
        }
        Ok(CookieAction::Remove) => {
            let secure = config.cookie.secure_for(response.request());
            add_cookie(&mut response, &config.cookie.removal_cookie(secure));
            response
        }
        Ok(_) => response,
        // A conflict is not an outage: this request's writes were refused because of a
        // concurrent request of the same session, so its response must not claim success,
        // whatever the commit-failure policy.
        Err(error) if error.is_conflict() => {
            tracing::info!(error = %ErrorChain(&error), "session commit conflict; answering {}", config.conflict_status);
            let answer = error_response(&error, config.conflict_status);
            let (request, _) = response.into_parts();
            ServiceResponse::new(request, answer).map_into_right_body()
        }
        Err(error) => match config.commit_failure {
            CommitFailurePolicy::LogOnly => {
                tracing::error!(
                    error = %ErrorChain(&error),
                    "session commit failed; response sent anyway (CommitFailurePolicy::LogOnly)"
                );
                if let Some(key) = session.key_after_failure().await {
                    set_session_cookie(config, &mut response, &key, due.as_ref());
                }
                response
            }
            // Never let a lost write look like a success.
            CommitFailurePolicy::Fail => {
                if matches!(error, session_core::SessionError::LockTimeout(_)) {
                    tracing::info!(error = %ErrorChain(&error), "session busy; answering 503");
                } else {
                    tracing::error!(error = %ErrorChain(&error), "session commit failed");
                }
                let opaque = error_response(&error, config.conflict_status);
                let (request, _) = response.into_parts();
                let mut failed = ServiceResponse::new(request, opaque).map_into_right_body();
                // A renewal that may have removed the old entry: the client needs the new key.
                if let Some(key) = session.key_after_failure().await {
                    set_session_cookie(config, &mut failed, &key, due.as_ref());
                }
                failed
            }
        },
    }
}

/// Adds the signed cookie for `key` with `lifetime`, and marks the response uncacheable: a shared
/// cache must not hand one client's session cookie to another.
fn set_session_cookie<B>(
    config: &MiddlewareConfig,
    response: &mut Response<B>,
    key: &SessionKey,
    lifetime: Option<&CookieLifetime>,
) {
    let secure = config.cookie.secure_for(response.request());
    add_cookie(
        response,
        &config.cookie.session_cookie(key, lifetime, secure),
    );
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Finishes the session of a request that ended in an error instead of a response.
async fn finish_without_response(config: &MiddlewareConfig, session: &RequestSession) {
    if let Err(error) = session.finish(config.refresh_on_every_request).await {
        tracing::error!(error = %ErrorChain(&error), "session commit failed after a service error");
    }
}

fn add_cookie<B>(response: &mut Response<B>, cookie: &actix_web::cookie::Cookie<'_>) {
    if let Err(error) = response.response_mut().add_cookie(cookie) {
        // Unreachable with validated settings (see `config::validate_cookie`); logged, not
        // panicked, because it concerns one response only.
        tracing::error!(%error, "could not add the session cookie to the response");
    }
}
