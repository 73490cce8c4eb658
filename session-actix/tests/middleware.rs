//! Middleware behaviour that does not depend on the cache provider: builder validation,
//! a route without the middleware, two middlewares on one route. (The provider-independent
//! HTTP behaviour is the acceptance suite in `integration-tests`.)

use std::sync::Arc;
use std::time::Duration;

use actix_web::cookie::{Key, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use actix_web::{App, HttpResponse, web};
use cache_memory::MemoryCache;
use session_actix::{
    BuildError, CookieSecurePolicy, Session, SessionHttpError, SessionMiddleware,
    SessionMiddlewareBuilder,
};

fn builder() -> SessionMiddlewareBuilder {
    SessionMiddleware::builder(Arc::new(MemoryCache::new()), Key::generate())
}

async fn counter(session: Session) -> Result<HttpResponse, SessionHttpError> {
    let n = session.get_i32("n").await?.unwrap_or(0) + 1;
    session.set_i32("n", n).await?;
    Ok(HttpResponse::Ok().body(n.to_string()))
}

#[test]
fn builder_refuses_invalid_cookie_settings() {
    let cookie_error = |b: SessionMiddlewareBuilder| match b.build() {
        Err(BuildError::Cookie { setting, .. }) => setting,
        other => panic!("expected a cookie error, got {other:?}"),
    };
    assert_eq!(cookie_error(builder().cookie_name("")), "name");
    assert_eq!(cookie_error(builder().cookie_name("a b")), "name");
    assert_eq!(cookie_error(builder().cookie_name("a;b")), "name");
    assert_eq!(cookie_error(builder().cookie_path("app")), "path");
    assert_eq!(cookie_error(builder().cookie_path("/a;b")), "path");
    assert_eq!(
        cookie_error(builder().cookie_domain(Some("a;b".into()))),
        "domain"
    );
    assert_eq!(
        cookie_error(builder().cookie_max_age(Some(Duration::ZERO))),
        "max_age"
    );
    assert_eq!(
        cookie_error(
            builder()
                .cookie_same_site(SameSite::None)
                .cookie_secure(CookieSecurePolicy::None)
        ),
        "same_site"
    );
    assert!(
        builder()
            .cookie_name("Kr.Session")
            .cookie_path("/app")
            .cookie_domain(Some("example.com".into()))
            .cookie_same_site(SameSite::None)
            .cookie_secure(CookieSecurePolicy::Always)
            .cookie_max_age(Some(Duration::from_secs(3600)))
            .build()
            .is_ok()
    );
}

#[test]
fn builder_works_without_a_key() {
    // A key is generated (with a warning) when none is given.
    let middleware = SessionMiddleware::builder(Arc::new(MemoryCache::new()), None).build();
    assert!(middleware.is_ok());
}

#[actix_web::test]
async fn route_without_middleware_answers_opaque_500() {
    let app = init_service(App::new().route("/counter", web::get().to(counter))).await;
    let response = call_service(&app, TestRequest::get().uri("/counter").to_request()).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = read_body(response).await;
    assert!(!String::from_utf8_lossy(&body).contains("SessionMiddleware"));
}

#[actix_web::test]
async fn nested_middlewares_serve_one_session() {
    let outer = builder().cookie_name("outer").build().unwrap();
    let inner = builder().cookie_name("inner").build().unwrap();
    let app = init_service(
        App::new()
            .wrap(inner)
            .wrap(outer)
            .route("/counter", web::get().to(counter)),
    )
    .await;
    let response = call_service(&app, TestRequest::get().uri("/counter").to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookies: Vec<_> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().split('=').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        cookies,
        ["outer"],
        "only the outermost middleware serves the session"
    );
}
