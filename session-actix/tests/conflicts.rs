#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A response never claims a session write that was not stored: a commit that conflicts with a
//! concurrent request of the same session replaces the handler's response, even when the handler
//! ignored the error. The interleavings are forced with notifications, not timing.

use std::sync::Arc;

use actix_web::cookie::{Cookie, Key};
use actix_web::http::StatusCode;
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use actix_web::{App, HttpResponse, web};
use cache_memory::MemoryCache;
use session_actix::{Session, SessionHttpError, SessionMiddleware, SessionMiddlewareBuilder};
use tokio::sync::Notify;

/// Lets the test hold a handler between its read and its write.
#[derive(Default)]
struct Gate {
    read: Notify,
    go: Notify,
}

fn builder() -> SessionMiddlewareBuilder {
    SessionMiddleware::builder(Arc::new(MemoryCache::new()), Key::generate())
}

async fn increment(session: Session) -> Result<HttpResponse, SessionHttpError> {
    let n = session.update_i32("n", |n| n.unwrap_or(0) + 1).await?;
    Ok(HttpResponse::Ok().body(n.to_string()))
}

/// Reads `n`, waits for the test, writes `n + 100` and answers 200 whatever the write said.
async fn stale_increment(session: Session, gate: web::Data<Gate>) -> HttpResponse {
    let n = session.get_i32("n").await.ok().flatten().unwrap_or(0);
    gate.read.notify_one();
    gate.go.notified().await;
    let _ignored = session.set_i32("n", n + 100).await;
    HttpResponse::Ok().body("handler says ok")
}

async fn logout(session: Session) -> Result<HttpResponse, SessionHttpError> {
    session.purge().await?;
    Ok(HttpResponse::Ok().body("bye"))
}

async fn read(session: Session) -> Result<HttpResponse, SessionHttpError> {
    let n = session.get_i32("n").await?;
    Ok(HttpResponse::Ok().body(format!("{n:?}")))
}

macro_rules! app {
    ($builder:expr, $gate:expr) => {
        init_service(
            App::new()
                .app_data($gate.clone())
                .wrap($builder.build().unwrap())
                .route("/increment", web::get().to(increment))
                .route("/stale", web::get().to(stale_increment))
                .route("/logout", web::post().to(logout))
                .route("/read", web::get().to(read)),
        )
        .await
    };
}

fn session_cookie<B>(response: &actix_web::dev::ServiceResponse<B>) -> Cookie<'static> {
    response
        .response()
        .cookies()
        .find(|c| c.name() == SessionMiddlewareBuilder::DEFAULT_COOKIE_NAME)
        .expect("session cookie")
        .into_owned()
}

/// Runs `/stale` and, while it waits between its read and its write, `$other` on the same
/// session; answers (stale response, other response).
macro_rules! race {
    ($app:expr, $gate:expr, $cookie:expr, $other:expr) => {{
        let stale = call_service(
            &$app,
            TestRequest::get()
                .uri("/stale")
                .cookie($cookie.clone())
                .to_request(),
        );
        let meanwhile = async {
            $gate.read.notified().await;
            let other = call_service(&$app, $other.cookie($cookie.clone()).to_request()).await;
            $gate.go.notify_one();
            other
        };
        tokio::join!(stale, meanwhile)
    }};
}

#[actix_web::test]
async fn stale_write_answers_409_even_when_the_handler_ignores_the_error() {
    let gate = web::Data::new(Gate::default());
    let app = app!(builder(), gate);
    let first = call_service(&app, TestRequest::get().uri("/increment").to_request()).await;
    let cookie = session_cookie(&first);
    let (stale, other) = race!(app, gate, cookie, TestRequest::get().uri("/increment"));
    assert_eq!(other.status(), StatusCode::OK);
    assert_eq!(read_body(other).await, "2");
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    assert_ne!(read_body(stale).await, "handler says ok");
    let check = call_service(
        &app,
        TestRequest::get().uri("/read").cookie(cookie).to_request(),
    )
    .await;
    assert_eq!(
        read_body(check).await,
        "Some(2)",
        "the stale write was not stored"
    );
}

#[actix_web::test]
async fn conflict_status_is_configurable() {
    let gate = web::Data::new(Gate::default());
    let app = app!(
        builder().conflict_status(StatusCode::SERVICE_UNAVAILABLE),
        gate
    );
    let first = call_service(&app, TestRequest::get().uri("/increment").to_request()).await;
    let cookie = session_cookie(&first);
    let (stale, other) = race!(app, gate, cookie, TestRequest::get().uri("/increment"));
    assert_eq!(other.status(), StatusCode::OK);
    assert_eq!(stale.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(stale.headers().get("retry-after").unwrap(), "1");
    assert!(builder().conflict_status(StatusCode::OK).build().is_err());
}

#[actix_web::test]
async fn a_request_racing_a_logout_cannot_bring_the_session_back() {
    let gate = web::Data::new(Gate::default());
    let app = app!(builder(), gate);
    let first = call_service(&app, TestRequest::get().uri("/increment").to_request()).await;
    let cookie = session_cookie(&first);
    let (stale, logout) = race!(app, gate, cookie, TestRequest::post().uri("/logout"));
    assert_eq!(logout.status(), StatusCode::OK);
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    // The old cookie reaches a brand-new, empty session, never the logged-out one.
    let after = call_service(
        &app,
        TestRequest::get().uri("/read").cookie(cookie).to_request(),
    )
    .await;
    assert_eq!(read_body(after).await, "None");
}
