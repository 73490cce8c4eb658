#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Typed values through `session-actix` alone (its default `serde` feature): any serde type is
//! stored as JSON with `insert`, read with `get::<T>` and changed with `update`.

use std::sync::Arc;

use actix_web::cookie::Key;
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use actix_web::{App, HttpResponse, web};
use cache_memory::MemoryCache;
use serde::{Deserialize, Serialize};
use session_actix::{Session, SessionHttpError, SessionMiddleware, SessionMiddlewareBuilder};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Cart {
    items: Vec<String>,
}

async fn add(session: Session, item: web::Path<String>) -> Result<HttpResponse, SessionHttpError> {
    let item = item.into_inner();
    let cart = session
        .update("cart", move |cart: Option<Cart>| {
            let mut cart = cart.unwrap_or(Cart { items: Vec::new() });
            cart.items.push(item.clone());
            cart
        })
        .await?;
    Ok(HttpResponse::Ok().json(cart))
}

async fn show(session: Session) -> Result<HttpResponse, SessionHttpError> {
    let cart: Option<Cart> = session.get("cart").await?;
    Ok(HttpResponse::Ok().json(cart))
}

async fn name(session: Session) -> Result<HttpResponse, SessionHttpError> {
    session.insert("name", "ada").await?;
    let name: Option<String> = session.get("name").await?;
    Ok(HttpResponse::Ok().json(name))
}

#[actix_web::test]
async fn serde_values_round_trip_across_requests() {
    let sessions = SessionMiddleware::builder(Arc::new(MemoryCache::new()), Key::generate())
        .build()
        .unwrap();
    let app = init_service(
        App::new()
            .wrap(sessions)
            .route("/add/{item}", web::post().to(add))
            .route("/cart", web::get().to(show))
            .route("/name", web::get().to(name)),
    )
    .await;
    let first = call_service(&app, TestRequest::post().uri("/add/apple").to_request()).await;
    let cookie = first
        .response()
        .cookies()
        .find(|c| c.name() == SessionMiddlewareBuilder::DEFAULT_COOKIE_NAME)
        .unwrap()
        .into_owned();
    assert_eq!(read_body(first).await, r#"{"items":["apple"]}"#);
    let second = call_service(
        &app,
        TestRequest::post()
            .uri("/add/pear")
            .cookie(cookie.clone())
            .to_request(),
    )
    .await;
    assert_eq!(read_body(second).await, r#"{"items":["apple","pear"]}"#);
    let shown = call_service(
        &app,
        TestRequest::get()
            .uri("/cart")
            .cookie(cookie.clone())
            .to_request(),
    )
    .await;
    assert_eq!(read_body(shown).await, r#"{"items":["apple","pear"]}"#);
    let named = call_service(
        &app,
        TestRequest::get().uri("/name").cookie(cookie).to_request(),
    )
    .await;
    assert_eq!(read_body(named).await, r#""ada""#);
}
