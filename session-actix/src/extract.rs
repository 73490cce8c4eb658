//! How handlers reach the request's session: the [`Session`] extractor and [`SessionExt`].

use std::future::{Ready, ready};
use std::ops::Deref;

use actix_web::dev::{Payload, ServiceRequest};
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use crate::error::SessionHttpError;
use crate::slot::SessionSlot;

/// The request's session, as a handler argument.
///
/// A thin handle over [`session_core::Session`] (it dereferences to it, so every accessor —
/// `get_i32`, `set_string`, `update_i32`, `commit`, `renew`, `purge`, ... — is available
/// directly). Clones share the same session. Extracting it makes no store call: the session
/// loads on first access. Ending the session (the final commit, the cookie) is the
/// middleware's: a handler cannot finish it or reach the cache through it.
///
/// ```compile_fail
/// async fn handler(session: session_actix::Session) {
///     // Does not compile: only the middleware ends a request's session.
///     let _ = session.finish(false).await;
/// }
/// ```
///
/// ```compile_fail
/// async fn handler(session: session_actix::Session) {
///     // Does not compile: handlers reach the store only through their session.
///     let _ = session.cache();
/// }
/// ```
///
/// ```
/// use actix_web::{HttpResponse, web};
/// use serde::{Deserialize, Serialize};
/// use session_actix::{Session, SessionHttpError};
///
/// #[derive(Serialize, Deserialize, Default)]
/// struct Cart {
///     items: Vec<String>,
/// }
///
/// async fn add_to_cart(
///     session: Session,
///     item: web::Path<String>,
/// ) -> Result<HttpResponse, SessionHttpError> {
///     let item = item.into_inner();
///     // Merged with concurrent requests of the same session (re-applied to their result).
///     let cart = session
///         .update("cart", move |cart: Option<Cart>| {
///             let mut cart = cart.unwrap_or_default();
///             cart.items.push(item.clone());
///             cart
///         })
///         .await?;
///     Ok(HttpResponse::Ok().body(format!("{} items", cart.items.len())))
/// }
///
/// async fn cart(session: Session) -> Result<HttpResponse, SessionHttpError> {
///     let cart: Option<Cart> = session.get("cart").await?;
///     Ok(HttpResponse::Ok().body(format!("{} items", cart.map_or(0, |c| c.items.len()))))
/// }
/// ```
///
/// Extraction fails with [`SessionHttpError::MiddlewareMissing`] (a 500) when
/// [`SessionMiddleware`](crate::SessionMiddleware) is not wrapped around the route.
#[derive(Debug, Clone)]
pub struct Session(session_core::Session);

impl Session {
    pub(crate) fn new(inner: session_core::Session) -> Self {
        Self(inner)
    }

    /// The underlying [`session_core::Session`] (e.g. to move into a spawned task).
    #[must_use]
    pub fn into_inner(self) -> session_core::Session {
        self.0
    }
}

impl Deref for Session {
    type Target = session_core::Session;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl FromRequest for Session {
    type Error = SessionHttpError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(req.get_session())
    }
}

/// Access to the session from a request, for code that is not a handler argument list
/// (guards, other middleware, `HttpRequest`-taking helpers).
pub trait SessionExt {
    /// The request's session.
    ///
    /// # Errors
    /// [`SessionHttpError::MiddlewareMissing`] when [`SessionMiddleware`](crate::SessionMiddleware)
    /// does not wrap this request.
    fn get_session(&self) -> Result<Session, SessionHttpError>;
}

impl SessionExt for HttpRequest {
    fn get_session(&self) -> Result<Session, SessionHttpError> {
        // Clone the slot out first: the extensions stay borrowed only for the lookup.
        let slot = self
            .extensions()
            .get::<SessionSlot>()
            .cloned()
            .ok_or(SessionHttpError::MiddlewareMissing)?;
        Ok(slot.open(self).session.clone())
    }
}

impl SessionExt for ServiceRequest {
    fn get_session(&self) -> Result<Session, SessionHttpError> {
        self.request().get_session()
    }
}
