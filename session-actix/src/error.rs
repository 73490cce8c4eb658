//! [`SessionHttpError`]: session errors as opaque HTTP responses (500, or 409 / 503 for the
//! errors a client may retry), with the cause logged.

use std::error::Error as StdError;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, ResponseError};
use session_core::{CacheError, SessionError};

/// The body of every 500 this crate turns an error into. Deliberately says nothing of the
/// cause: store addresses, driver messages or key fragments must not reach a client.
pub(crate) const OPAQUE_BODY: &str = "Internal Server Error";

/// The default status of a session commit that conflicted with a concurrent request of the same
/// session ([`SessionError::is_conflict`]): `409 Conflict`. Not `503`: the request was refused
/// because of the client's own concurrent request, not because the service is down, and the
/// handler may have had effects outside the session, so intermediaries should not replay it
/// automatically (some retry a 503). The client may resubmit. Configurable with
/// [`conflict_status`](crate::SessionMiddlewareBuilder::conflict_status).
pub const DEFAULT_CONFLICT_STATUS: StatusCode = StatusCode::CONFLICT;

/// What a client is told to wait before retrying a `503` (or `429`) session answer, in seconds.
const RETRY_AFTER_SECS: &str = "1";

/// A session error in a handler, answered as an opaque response whose cause is logged (with its
/// whole source chain) but never sent to the client:
///
/// | error | status |
/// |---|---|
/// | a conflict with a concurrent request ([`SessionError::is_conflict`]) | `409 Conflict` (the middleware's [`conflict_status`](crate::SessionMiddlewareBuilder::conflict_status)) |
/// | [`SessionError::LockTimeout`] (the session is busy) | `503 Service Unavailable` with `Retry-After: 1` |
/// | anything else (store down, timeout, invalid value, ...) | `500 Internal Server Error` |
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

impl SessionHttpError {
    fn session_error(&self) -> Option<&SessionError> {
        match self {
            Self::Session(e) => Some(e),
            _ => None,
        }
    }
}

impl ResponseError for SessionHttpError {
    fn status_code(&self) -> StatusCode {
        self.session_error()
            .map_or(StatusCode::INTERNAL_SERVER_ERROR, |e| {
                status_for(e, DEFAULT_CONFLICT_STATUS)
            })
    }

    fn error_response(&self) -> HttpResponse {
        // actix calls this once when it turns the error into the response: the one place
        // where the cause is logged.
        let status = self.status_code();
        // A busy session (503) or a conflict (409) is the client's own concurrency, not a fault
        // of the service: logged below `error`, so that alerting on errors stays meaningful.
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %ErrorChain(self), "session error; answering {status}");
        } else {
            tracing::info!(error = %ErrorChain(self), "session error; answering {status}");
        }
        opaque(status)
    }
}

/// The status of a session error, with `conflict` for conflicts.
fn status_for(error: &SessionError, conflict: StatusCode) -> StatusCode {
    match error {
        e if e.is_conflict() => conflict,
        SessionError::LockTimeout(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The opaque response for a session error that ended a request (the middleware's view: the
/// conflict status is its configured one). The caller logs the cause.
pub(crate) fn error_response(error: &SessionError, conflict: StatusCode) -> HttpResponse {
    opaque(status_for(error, conflict))
}

/// A plain-text response with the status's own reason as its body, and `Retry-After` where the
/// status invites a retry.
fn opaque(status: StatusCode) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header(ContentType::plaintext());
    if matches!(
        status,
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
    ) {
        response.insert_header((actix_web::http::header::RETRY_AFTER, RETRY_AFTER_SECS));
    }
    let body = if status == StatusCode::INTERNAL_SERVER_ERROR {
        OPAQUE_BODY
    } else {
        status.canonical_reason().unwrap_or(OPAQUE_BODY)
    };
    response.body(body)
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
    fn conflicts_are_409_and_busy_sessions_503_with_retry_after() {
        let conflict = SessionHttpError::from(SessionError::StaleRead { key: None });
        assert_eq!(conflict.error_response().status(), StatusCode::CONFLICT);
        let ended = SessionHttpError::from(SessionError::SessionEnded);
        assert_eq!(ended.status_code(), StatusCode::CONFLICT);
        let busy = SessionHttpError::from(SessionError::LockTimeout(std::time::Duration::ZERO));
        let response = busy.error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response
                .headers()
                .get(actix_web::http::header::RETRY_AFTER)
                .unwrap(),
            "1"
        );
        let configured =
            error_response(&SessionError::Conflict(3), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(configured.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            configured
                .headers()
                .contains_key(actix_web::http::header::RETRY_AFTER)
        );
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
