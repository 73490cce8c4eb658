//! [`SessionHttpError`]: session errors as opaque HTTP 500 responses, with the cause logged.

use std::error::Error as StdError;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, ResponseError};
use session_core::{CacheError, SessionError};

/// The body of every response this crate turns an error into. Deliberately says nothing of
/// the cause: store addresses, driver messages or key fragments must not reach a client.
pub(crate) const OPAQUE_BODY: &str = "Internal Server Error";

/// A session error in a handler, answered as an opaque `500 Internal Server Error` whose cause
/// is logged (at `error` level, with its whole source chain) but never sent to the client.
///
/// Handlers return it to use `?` on session calls:
///
/// ```
/// use actix_web::HttpResponse;
/// use session_actix::{Session, SessionHttpError};
///
/// async fn visits(session: Session) -> Result<HttpResponse, SessionHttpError> {
///     let n = session.get_i32("visits").await?.unwrap_or(0) + 1;
///     session.set_i32("visits", n).await?;
///     Ok(HttpResponse::Ok().body(n.to_string()))
/// }
/// ```
///
/// A handler returning `actix_web::Error` (or `Result<_, actix_web::Error>`) converts with
/// `.map_err(SessionHttpError::from)?`. A handler that prefers to degrade (e.g. serve a page
/// without the session when the store is down) checks
/// [`Session::is_available`](session_core::Session::is_available) or matches the
/// [`SessionError`] itself instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionHttpError {
    /// A session operation failed (store unavailable, timeout, commit failure, ...).
    #[error(transparent)]
    Session(#[from] SessionError),
    /// A direct cache call (e.g. a diagnostic ping) failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The request has no session: [`SessionMiddleware`](crate::SessionMiddleware) is not
    /// wrapped around this route.
    #[error("no session on this request: SessionMiddleware is not wrapped around this route")]
    MiddlewareMissing,
}

impl ResponseError for SessionHttpError {
    fn status_code(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    fn error_response(&self) -> HttpResponse {
        // actix calls this once when it turns the error into the response: the one place
        // where the cause is logged.
        tracing::error!(error = %ErrorChain(self), "session error; answering 500");
        HttpResponse::build(self.status_code())
            .insert_header(ContentType::plaintext())
            .body(OPAQUE_BODY)
    }
}

/// Displays an error followed by each of its sources: `outer: middle: root`.
pub(crate) struct ErrorChain<'a>(pub(crate) &'a (dyn StdError + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use actix_web::body::MessageBody;

    use super::*;

    fn unavailable() -> SessionHttpError {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "secret-host:6379");
        SessionError::Unavailable(Arc::new(CacheError::backend("get", io))).into()
    }

    #[test]
    fn chain_lists_every_source() {
        let error = unavailable();
        let text = ErrorChain(&error).to_string();
        assert_eq!(
            text,
            "session store unavailable: cache backend failure during `get`: secret-host:6379"
        );
    }

    #[test]
    fn response_is_opaque_500() {
        let response = unavailable().error_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = response.into_body().try_into_bytes().unwrap();
        assert_eq!(&body[..], OPAQUE_BODY.as_bytes());
    }
}
