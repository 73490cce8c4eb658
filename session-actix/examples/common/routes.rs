//! The routes of every example server and of the HTTP acceptance suite: the sessions guide's
//! usage patterns. One module, so the examples and the tests exercise the same code.
//!
//! | route | what it does | answer |
//! |---|---|---|
//! | `GET /counter` | increments the `i32` `counter` in one update, committed at once (never refused for racing another increment) | `{"counter":N}` |
//! | `POST /incr` | increments the `i32` `rmw` by get-then-set (409 if a concurrent request changed it first) | `{"rmw":N,"sessionId":"..."}` |
//! | `GET /state` | reads `counter`, `rmw` and the marks (`null` when missing) | `{"counter":N,"rmw":N,"marks":[...],"sessionId":"..."}` |
//! | `GET /user[?user=NAME]` | with `user`, sets the string `user`; reads it | `{"user":"NAME"}` or `{"user":null}` |
//! | `POST /login?user=NAME[&remember=DAYS]` | renews the session key, then sets `user`; with `remember`, remembers the session for 1 to 400 days (a persistent cookie, rolled while in use) | `{"user":"NAME"}` (400 for a bad `remember`) |
//! | `POST /forget` | stops remembering the session (a browser-session cookie again) | `{"remembered":false}` |
//! | `POST /logout` | purges the session (entry removed, cookie deleted) | `{"session":"purged"}` |
//! | `POST /clear` | removes every entry (the session lives on) | `{"session":"cleared"}` |
//! | `GET /diag/session` | sets `color`=`blue` if absent, pings the cache (`web::Data<SharedCache>`) | `{"cacheType":"...","keyFingerprint":"...","session":"blue","sessionId":"..."}` (the id inside the payload, which `renew` keeps; the fingerprint of the key, which `renew` changes) |
//! | `POST /mark/{name}` | sets the key `mark:{name}` to `"1"` (one key per name) | `{"marked":"NAME"}` |
//! | `GET /marks` | lists the names marked so far, sorted | `{"marks":["a","b",...]}` |
//! | `GET /health` | never touches the session | `ok` |
//! | `GET /t/counter`, `POST /t/mark/{name}`, `POST /t/login?user=NAME` | as the route without `/t` | its answer plus `"sessionId":"..."` |
//!
//! `/mark` and `/marks` exist for the optimistic-concurrency proof (integration-tests'
//! `two_nodes`): concurrent requests of one session that each write a *different* key must all
//! find their key afterwards.
//!
//! `/incr`, `/state` and the `/t/...` variants exist for the torture test (integration-tests'
//! `torture`), whose checker judges a run from the responses alone: `/counter` is the
//! read-modify-write done right (one atomic update), `/incr` the same done by hand (read, then
//! write), and every answer that changed the session says which session it landed in (the
//! `sessionId`, the id stored inside the payload, which `renew` carries to the new key and a
//! brand-new session draws afresh). The `/t` variants run exactly the handler code of their
//! documented route and only add the id to the answer, so the documented answers stay as they are.

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
        .route("/incr", web::post().to(incr))
        .route("/state", web::get().to(state))
        .route("/user", web::get().to(user))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/forget", web::post().to(forget))
        .route("/clear", web::post().to(clear))
        .route("/diag/session", web::get().to(diag))
        .route("/mark/{name}", web::post().to(mark))
        .route("/marks", web::get().to(marks))
        .route("/health", web::get().to(health))
        .route("/t/counter", web::get().to(traced_counter))
        .route("/t/mark/{name}", web::post().to(traced_mark))
        .route("/t/login", web::post().to(traced_login));
}

/// Adds the session id to a JSON object answer (the `/t` variants).
async fn with_session_id(
    session: &Session,
    mut body: serde_json::Value,
) -> Result<HttpResponse, SessionHttpError> {
    let id = session.id().await?;
    if let Some(object) = body.as_object_mut() {
        object.insert("sessionId".to_owned(), json!(id));
    }
    Ok(HttpResponse::Ok().json(body))
}

/// The guide's counter, as one atomic update: committed at once, re-applied to the newer value
/// if a concurrent request changed it meanwhile, so no increment is lost and no request is
/// refused for racing another on this key. Returns the value stored.
async fn increment_counter(session: &Session) -> Result<i32, SessionHttpError> {
    Ok(session
        .update_i32("counter", |n| n.unwrap_or(0).saturating_add(1))
        .await?)
}

/// `GET /counter`: the guide's counter pattern, as one atomic update.
async fn counter(session: Session) -> Result<HttpResponse, SessionHttpError> {
    let n = increment_counter(&session).await?;
    Ok(HttpResponse::Ok().json(json!({ "counter": n })))
}

/// `GET /t/counter`: `/counter` plus the session id.
async fn traced_counter(session: Session) -> Result<HttpResponse, SessionHttpError> {
    let n = increment_counter(&session).await?;
    with_session_id(&session, json!({ "counter": n })).await
}

/// `POST /incr`: an increment written by hand, read then write (`Get-KrSessionInt32` +
/// `Set-KrSessionInt32`), on its own key `rmw`. The commit at the end of the request applies
/// only if no concurrent request changed `rmw` since this one read it (else 409, nothing
/// written), so two acknowledged answers never carry one value.
async fn incr(session: Session) -> Result<HttpResponse, SessionHttpError> {
    let n = session.get_i32("rmw").await?.unwrap_or(0).saturating_add(1);
    session.set_i32("rmw", n).await?;
    with_session_id(&session, json!({ "rmw": n })).await
}

/// `GET /state`: everything the increments and marks left in the session; changes nothing.
async fn state(session: Session) -> Result<HttpResponse, SessionHttpError> {
    let counter = session.get_i32("counter").await?;
    let rmw = session.get_i32("rmw").await?;
    let marks = mark_names(&session).await?;
    with_session_id(
        &session,
        json!({ "counter": counter, "rmw": rmw, "marks": marks }),
    )
    .await
}

/// `GET /user`: the guide's identity pattern: store `?user=` if given, then read it back.
async fn user(session: Session, query: Query) -> Result<HttpResponse, SessionHttpError> {
    if let Some(name) = query.get("user").filter(|n| !n.is_empty()) {
        session.set_string("user", name).await?;
    }
    let current = session.get_string("user").await?;
    Ok(HttpResponse::Ok().json(json!({ "user": current })))
}

/// The guide's login: privileges change, so the session moves to a new key first (defeats
/// session fixation), keeping its data; with `remember=DAYS`, the session is remembered ("remember
/// me"). `Err` is the answer to a bad query (no `user`, a bad `remember`), checked before the
/// session is touched.
async fn log_in(
    session: &Session,
    query: &Query,
) -> Result<Result<String, HttpResponse>, SessionHttpError> {
    let Some(name) = query.get("user").filter(|n| !n.is_empty()) else {
        return Ok(Err(bad_request("missing `user`")));
    };
    let remember = match query.get("remember").map(|d| d.parse::<u64>()) {
        None => None,
        Some(Ok(days @ 1..=400)) => Some(Duration::from_secs(days * 24 * 3600)),
        Some(_) => {
            return Ok(Err(bad_request(
                "`remember` must be a number of days from 1 to 400",
            )));
        }
    };
    session.renew().await?;
    session.set_string("user", name).await?;
    if let Some(lifetime) = remember {
        session.remember(lifetime).await?;
    }
    Ok(Ok(name.clone()))
}

/// A 400 answer.
fn bad_request(error: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": error }))
}

/// `POST /login?user=NAME[&remember=DAYS]`: renews the session key, then stores the user.
async fn login(session: Session, query: Query) -> Result<HttpResponse, SessionHttpError> {
    Ok(match log_in(&session, &query).await? {
        Ok(name) => HttpResponse::Ok().json(json!({ "user": name })),
        Err(refused) => refused,
    })
}

/// `POST /t/login?user=NAME`: `/login` plus the session id (carried over by the renewal).
async fn traced_login(session: Session, query: Query) -> Result<HttpResponse, SessionHttpError> {
    match log_in(&session, &query).await? {
        Ok(name) => with_session_id(&session, json!({ "user": name })).await,
        Err(refused) => Ok(refused),
    }
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

/// `POST /forget`: the session is no longer remembered.
async fn forget(session: Session) -> Result<HttpResponse, SessionHttpError> {
    session.stop_remembering().await?;
    Ok(HttpResponse::Ok().json(json!({ "remembered": false })))
}

/// `GET /diag/session`: the guide's diagnostic route.
async fn diag(
    session: Session,
    cache: web::Data<SharedCache>,
) -> Result<HttpResponse, SessionHttpError> {
    if session.get_string("color").await?.is_none() {
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
        "keyFingerprint": session.key_fingerprint().await,
    })))
}

/// The session key prefix of `/mark`.
const MARK_PREFIX: &str = "mark:";

/// Writes the key of one mark, `mark:{name}` = `"1"`.
async fn set_mark(session: &Session, name: &str) -> Result<(), SessionHttpError> {
    session
        .set_string(format!("{MARK_PREFIX}{name}"), "1")
        .await?;
    Ok(())
}

/// The names marked in this session, sorted.
async fn mark_names(session: &Session) -> Result<Vec<String>, SessionHttpError> {
    let mut names: Vec<String> = session
        .keys()
        .await?
        .into_iter()
        .filter_map(|key| key.strip_prefix(MARK_PREFIX).map(str::to_owned))
        .collect();
    names.sort();
    Ok(names)
}

/// `POST /mark/{name}`: writes one key of its own, `mark:{name}` = `"1"`.
async fn mark(session: Session, name: web::Path<String>) -> Result<HttpResponse, SessionHttpError> {
    let name = name.into_inner();
    set_mark(&session, &name).await?;
    Ok(HttpResponse::Ok().json(json!({ "marked": name })))
}

/// `POST /t/mark/{name}`: `/mark/{name}` plus the session id.
async fn traced_mark(
    session: Session,
    name: web::Path<String>,
) -> Result<HttpResponse, SessionHttpError> {
    let name = name.into_inner();
    set_mark(&session, &name).await?;
    with_session_id(&session, json!({ "marked": name })).await
}

/// `GET /marks`: the names marked in this session, sorted.
async fn marks(session: Session) -> Result<HttpResponse, SessionHttpError> {
    let names = mark_names(&session).await?;
    Ok(HttpResponse::Ok().json(json!({ "marks": names })))
}

/// `GET /health`: never touches the session, so it costs no cache call.
async fn health() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}
