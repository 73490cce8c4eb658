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

/// Without a key, one is generated (with a warning): cookies it signs verify on the next
/// request, and another middleware built without a key (another random key) refuses them.
#[actix_web::test]
async fn builder_without_a_key_signs_with_a_random_key() {
    let cache = Arc::new(MemoryCache::new());
    let app = |sessions: SessionMiddleware| {
        init_service(
            App::new()
                .wrap(sessions)
                .route("/counter", web::get().to(counter)),
        )
    };
    let build = || {
        SessionMiddleware::builder(cache.clone(), None)
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let (first, second) = (app(build()).await, app(build()).await);
    let response = call_service(&first, TestRequest::get().uri("/counter").to_request()).await;
    let cookie = response
        .response()
        .cookies()
        .next()
        .unwrap_or_else(|| panic!("no session cookie"))
        .into_owned();
    assert_eq!(read_body(response).await, "1");
    let again = |cookie| {
        TestRequest::get()
            .uri("/counter")
            .cookie(cookie)
            .to_request()
    };
    let response = call_service(&first, again(cookie.clone())).await;
    assert_eq!(
        read_body(response).await,
        "2",
        "the generated key verifies its cookie"
    );
    let response = call_service(&second, again(cookie)).await;
    assert_eq!(
        read_body(response).await,
        "1",
        "another generated key does not"
    );
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
