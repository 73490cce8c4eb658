//! The request's session slot: the session is opened (cookie verified, handle created) on
//! first use, not when the request arrives.

use std::cell::OnceCell;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::HttpRequest;
use session_core::RequestSession;

use crate::extract::Session;
use crate::middleware::MiddlewareConfig;
use crate::verify::VerifiedCookie;

/// What the middleware puts in a request's extensions instead of a ready session.
///
/// Verifying the cookie costs an HMAC and a cookie-header parse, and a session handle an
/// allocation; a request whose handler never asks for its session (a health check, a static
/// asset) should pay for neither, just as it makes no store call. So the slot opens the session
/// the first time someone asks for it ([`Session`] extractor, [`SessionExt`](crate::SessionExt)),
/// and the middleware finishes only a session that was opened. Clones share one slot (`Rc`:
/// a request, and so its extensions, stays on one worker thread).
#[derive(Clone)]
pub(crate) struct SessionSlot(Rc<SlotInner>);

struct SlotInner {
    config: Arc<MiddlewareConfig>,
    opened: OnceCell<Opened>,
}

/// An opened session and what the middleware needs to finish it.
pub(crate) struct Opened {
    /// The request's session as the middleware holds it (handlers never see this: they cannot
    /// finish the session or reach the cache).
    pub(crate) request: RequestSession,
    /// The handle handed to handlers.
    pub(crate) session: Session,
    /// The request's verified cookie, if any: re-sent signed with the current key if it verified
    /// with a *previous* one (key rotation), or re-sent with a fresh life if it is persistent
    /// and past half of it.
    pub(crate) cookie: Option<VerifiedCookie>,
}

impl SessionSlot {
    pub(crate) fn new(config: Arc<MiddlewareConfig>) -> Self {
        Self(Rc::new(SlotInner {
            config,
            opened: OnceCell::new(),
        }))
    }

    /// The session of `req`, opening it on the first call: verifies the cookie (a cookie that
    /// fails any check counts as absent) and creates the lazy session handle. No store call.
    pub(crate) fn open(&self, req: &HttpRequest) -> &Opened {
        self.0.opened.get_or_init(|| {
            let config = &self.0.config;
            let verified = config.cookie.read(req);
            // A remembered session keeps its lifetime: the signed cookie says which it is.
            let remembered = verified
                .as_ref()
                .and_then(VerifiedCookie::lifetime)
                .filter(|l| l.remembered)
                .map(|l| l.max_age);
            // The cookie is kept for the end of the request (key rotation, persistent cookies
            // past half their life, a session remembered or forgotten in this request).
            let key = verified.as_ref().map(|v| v.key().clone());
            let request = config.store.open_key(key, remembered);
            Opened {
                session: Session::new(request.session().clone()),
                request,
                cookie: verified,
            }
        })
    }

    /// The session if it was opened.
    pub(crate) fn opened(&self) -> Option<&Opened> {
        self.0.opened.get()
    }
}
