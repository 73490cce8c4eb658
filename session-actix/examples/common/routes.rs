//! The routes of every example server and of the HTTP acceptance suite: the sessions guide's
//! usage patterns. One module, so the examples and the tests exercise the same code.
//!
//! | route | what it does | answer |
//! |---|---|---|
//! | `GET /counter` | increments the `i32` `counter` | `{"counter":N}` |
//! | `GET /user[?user=NAME]` | with `user`, sets the string `user`; reads it | `{"user":"NAME"}` or `{"user":null}` |
//! | `POST /login?user=NAME` | renews the session key, then sets `user` | `{"user":"NAME"}` |
//! | `POST /logout` | purges the session (entry removed, cookie deleted) | `{"session":"purged"}` |
//! | `POST /clear` | removes every entry (the session lives on) | `{"session":"cleared"}` |
//! | `GET /diag/session` | sets `color`=`blue` if absent, pings the cache | `{"session":"blue","cacheType":"...","sessionId":"..."}` |
//! | `POST /mark/{name}` | sets the key `mark:{name}` to `"1"` (one key per name) | `{"marked":"NAME"}` |
//! | `GET /marks` | lists the names marked so far, sorted | `{"marks":["a","b",...]}` |
//! | `GET /health` | never touches the session | `ok` |
//!
//! `/mark` and `/marks` exist for the optimistic-concurrency proof (integration-tests'
//! `two_nodes`): concurrent requests of one session that each write a *different* key must all
//! find their key afterwards.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::json;
use session_actix::{CacheError, Session, SessionHttpError, SharedCache};

/// How long `/diag/session` waits for the cache to answer its ping.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

type Query = web::Query<HashMap<String, String>>;

/// Registers the routes (`App::new().wrap(sessions).configure(routes::configure)`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/counter", web::get().to(counter))
        .route("/user", web::get().to(user))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/clear", web::post().to(clear))
        .route("/diag/session", web::get().to(diag))
        .route("/mark/{name}", web::post().to(mark))
        .route("/marks", web::get().to(marks))
        .route("/health", web::get().to(health));
}

/// `GET /counter`: the guide's counter pattern (`Get-KrSessionInt32` + `Set-KrSessionInt32`).
async fn counter(session: Session) -> Result<HttpResponse, SessionHttpError> {
    let n = session
        .get_i32("counter")
        .await?
        .unwrap_or(0)
        .saturating_add(1);
    session.set_i32("counter", n).await?;
    Ok(HttpResponse::Ok().json(json!({ "counter": n })))
}

/// `GET /user`: the guide's identity pattern: store `?user=` if given, then read it back.
async fn user(session: Session, query: Query) -> Result<HttpResponse, SessionHttpError> {
    if let Some(name) = query.get("user").filter(|n| !n.is_empty()) {
        session.set_string("user", name).await?;
    }
    let current = session.get_string("user").await?;
    Ok(HttpResponse::Ok().json(json!({ "user": current })))
}

/// `POST /login?user=NAME`: privileges change, so the session moves to a new key first
/// (defeats session fixation), keeping its data.
async fn login(session: Session, query: Query) -> Result<HttpResponse, SessionHttpError> {
    let Some(name) = query.get("user").filter(|n| !n.is_empty()) else {
        return Ok(HttpResponse::BadRequest().json(json!({ "error": "missing `user`" })));
    };
    session.renew().await?;
    session.set_string("user", name).await?;
    Ok(HttpResponse::Ok().json(json!({ "user": name })))
}

/// `POST /logout`: deletes the session and its cookie.
async fn logout(session: Session) -> Result<HttpResponse, SessionHttpError> {
    session.purge().await?;
    Ok(HttpResponse::Ok().json(json!({ "session": "purged" })))
}

/// `POST /clear`: the guide's `Clear-KrSession`.
async fn clear(session: Session) -> Result<HttpResponse, SessionHttpError> {
    session.clear().await?;
    Ok(HttpResponse::Ok().json(json!({ "session": "cleared" })))
}

/// `GET /diag/session`: the guide's diagnostic route.
async fn diag(
    session: Session,
    cache: web::Data<SharedCache>,
) -> Result<HttpResponse, SessionHttpError> {
    if session.get("color").await?.is_none() {
        session.set_string("color", "blue").await?;
    }
    let color = session.get_string("color").await?;
    actix_web::rt::time::timeout(PING_TIMEOUT, cache.ping())
        .await
        .unwrap_or(Err(CacheError::Timeout {
            operation: "ping",
            after: PING_TIMEOUT,
        }))?;
    Ok(HttpResponse::Ok().json(json!({
        "session": color,
        "cacheType": cache.cache_type(),
        "sessionId": session.id().await?,
    })))
}

/// The session key prefix of `/mark`.
const MARK_PREFIX: &str = "mark:";

/// `POST /mark/{name}`: writes one key of its own, `mark:{name}` = `"1"`.
async fn mark(session: Session, name: web::Path<String>) -> Result<HttpResponse, SessionHttpError> {
    let name = name.into_inner();
    session
        .set_string(format!("{MARK_PREFIX}{name}"), "1")
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "marked": name })))
}

/// `GET /marks`: the names marked in this session, sorted.
async fn marks(session: Session) -> Result<HttpResponse, SessionHttpError> {
    let mut names: Vec<String> = session
        .keys()
        .await?
        .into_iter()
        .filter_map(|key| key.strip_prefix(MARK_PREFIX).map(str::to_owned))
        .collect();
    names.sort();
    Ok(HttpResponse::Ok().json(json!({ "marks": names })))
}

/// `GET /health`: never touches the session, so it costs no cache call.
async fn health() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}
