//! The cases of the HTTP acceptance suite. Each takes the cache under test (a real one, from
//! the provider's factory) and drives the shared example routes through [`SessionMiddleware`].

use std::time::{Duration, Instant};

use actix_web::cookie::Key;
use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use serde_json::json;
use session_actix::{
    CommitFailurePolicy, ConcurrencyMode, CookieSecurePolicy, CookieVerifier, SessionMiddleware,
    SessionMiddlewareBuilder, SessionOptions, SharedCache,
};

mod remember;

pub use remember::{
    cookie_max_age_rolls_with_activity, persistent_cookie_rolls_past_half_its_life,
    remember_survives_renew_and_ends_with_forget_or_logout,
    remembered_session_outlives_the_idle_timeout,
};

use super::client::{Reply, TestJar, client, session_key_of, signed_cookie_value};
use super::wrappers::{
    CallCounts, CountingCache, FailingCache, INJECTED_FAILURE_MARKER, StallingCache,
};

/// The cookie name every case uses (the default).
const COOKIE: &str = SessionMiddlewareBuilder::DEFAULT_COOKIE_NAME;

fn builder(cache: SharedCache, key: &Key) -> SessionMiddlewareBuilder {
    SessionMiddleware::builder(cache, key.clone())
}

fn build(builder: SessionMiddlewareBuilder) -> SessionMiddleware {
    builder
        .build()
        .unwrap_or_else(|e| panic!("middleware settings refused: {e}"))
}

fn options(idle: Duration, io: Duration) -> SessionOptions {
    SessionOptions::builder()
        .idle_timeout(idle)
        .io_timeout(Some(io))
        .build()
        .unwrap_or_else(|e| panic!("session options refused: {e}"))
}

fn middleware(cache: SharedCache) -> SessionMiddleware {
    build(builder(cache, &Key::generate()))
}

#[track_caller]
fn assert_counter(reply: &Reply, expected: i32) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json(), json!({ "counter": expected }));
}

/// The attributes of the `Set-Cookie` for the session cookie (`HttpOnly`, `Path=/`, ...).
#[track_caller]
fn cookie_attributes(reply: &Reply) -> Vec<String> {
    let header = reply
        .set_cookie_header(COOKIE)
        .unwrap_or_else(|| panic!("no Set-Cookie for `{COOKIE}`"));
    header
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_owned())
        .collect()
}

#[track_caller]
fn assert_opaque_500(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    let body = reply.text().to_lowercase();
    for leak in [
        INJECTED_FAILURE_MARKER,
        "cache",
        "session",
        "backend",
        "timed out",
        "timeout",
        "connection",
    ] {
        assert!(!body.contains(leak), "the body leaks {leak:?}: {body:?}");
    }
    assert!(
        reply.set_cookies().is_empty(),
        "no cookie for a failed session"
    );
}

/// Replaces character `index` of `text` with another character of the same alphabet.
fn flip(text: &str, index: usize) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    chars[index] = if chars[index] == '0' { '1' } else { '0' };
    chars.into_iter().collect()
}

/// Counter pattern: one client with a cookie jar counts 1, 2, 3; only the first response
/// sets the cookie.
pub async fn counter_with_cookie_jar(cache: &SharedCache) {
    let mut c = client(middleware(cache.clone())).await;
    let first = c.get("/counter").await;
    assert_counter(&first, 1);
    assert!(
        first.set_cookie_header(COOKIE).is_some(),
        "new session sets the cookie"
    );
    for expected in 2..=3 {
        let reply = c.get("/counter").await;
        assert_counter(&reply, expected);
        assert!(
            reply.set_cookies().is_empty(),
            "known session keeps its cookie"
        );
    }
}

/// A client with a new (empty) jar gets a new session; the first client's session is untouched.
pub async fn new_jar_gets_new_session(cache: &SharedCache) {
    let mut c = client(middleware(cache.clone())).await;
    assert_counter(&c.get("/counter").await, 1);
    assert_counter(&c.get("/counter").await, 2);
    let first = std::mem::take(&mut c.jar);
    assert_counter(&c.get("/counter").await, 1);
    assert_ne!(c.jar.get(COOKIE), first.get(COOKIE));
    c.jar = first;
    assert_counter(&c.get("/counter").await, 3);
}

/// A cookie that fails any check (tampered MAC or key, foreign key, bare key, 8 KiB garbage)
/// counts as absent: a fresh session, no 5xx, and no store lookup for it.
pub async fn tampered_cookie_starts_fresh_session_without_lookup(cache: &SharedCache) {
    let counting = CountingCache::new(cache.clone());
    let mut c = client(middleware(counting.clone())).await;
    assert_counter(&c.get("/counter").await, 1);
    let valid = c.jar.get(COOKIE).map(str::to_owned).unwrap_or_default();
    let bad_cookies = [
        ("tampered MAC", flip(&valid, 0)),
        ("tampered key", flip(&valid, valid.len() - 1)),
        (
            "foreign signing key",
            signed_cookie_value(&Key::generate(), COOKIE),
        ),
        ("bare key", session_key_of(&valid).to_owned()),
        ("8 KiB", "A".repeat(8 * 1024)),
    ];
    for (what, value) in bad_cookies {
        c.jar = TestJar::default();
        c.jar.insert(COOKIE, value);
        counting.reset();
        let reply = c.get("/counter").await;
        assert_counter(&reply, 1);
        assert!(
            reply.set_cookie_header(COOKIE).is_some(),
            "{what}: new cookie"
        );
        let counts = counting.counts();
        assert_eq!(counts.get, 0, "{what}: no lookup for a bad cookie");
        // A new session's fresh 128-bit key is known to nobody: a plain write, no condition.
        assert_eq!(counts.set, 1, "{what}: the new session is written");
    }
}

/// A route that never touches the session makes zero cache calls, even with a valid cookie.
pub async fn untouched_route_makes_no_cache_call(cache: &SharedCache) {
    let counting = CountingCache::new(cache.clone());
    let mut c = client(middleware(counting.clone())).await;
    assert_counter(&c.get("/counter").await, 1);
    counting.reset();
    for _ in 0..3 {
        let reply = c.get("/health").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.text(), "ok");
        assert!(reply.set_cookies().is_empty());
    }
    assert_eq!(counting.counts(), CallCounts::default());
}

/// A request that only reads its session costs exactly one cache call: the `get` (which also
/// slides the expiry).
pub async fn read_only_request_makes_one_get(cache: &SharedCache) {
    let counting = CountingCache::new(cache.clone());
    let mut c = client(middleware(counting.clone())).await;
    assert_counter(&c.get("/counter").await, 1);
    counting.reset();
    let reply = c.get("/user").await;
    assert_eq!(reply.json(), json!({ "user": null }));
    assert!(reply.set_cookies().is_empty());
    assert_eq!(
        counting.counts(),
        CallCounts {
            get: 1,
            ..CallCounts::default()
        }
    );
}

/// A new session's cookie: `HttpOnly`, `SameSite=Lax`, `Path=/`, no `Max-Age`/`Expires`,
/// `Secure` only over HTTPS by default and always with [`CookieSecurePolicy::Always`]; the
/// response is marked uncacheable.
pub async fn new_session_cookie_attributes(cache: &SharedCache) {
    let mut c = client(middleware(cache.clone())).await;
    let reply = c.get("/counter").await;
    let attributes = cookie_attributes(&reply);
    for expected in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(
            attributes.iter().any(|a| a == expected),
            "{expected} in {attributes:?}"
        );
    }
    for absent in ["Secure", "Max-Age", "Expires", "Domain"] {
        assert!(
            !attributes.iter().any(|a| a.starts_with(absent)),
            "no {absent} over http: {attributes:?}"
        );
    }
    assert_eq!(reply.header("cache-control"), Some("no-cache, no-store"));
    assert_eq!(reply.header("pragma"), Some("no-cache"));

    // Same policy, request forwarded over HTTPS by a proxy.
    c.jar = TestJar::default();
    let https = c
        .send(
            TestRequest::get()
                .uri("/counter")
                .insert_header(("x-forwarded-proto", "https")),
        )
        .await;
    assert!(cookie_attributes(&https).iter().any(|a| a == "Secure"));

    let always =
        build(builder(cache.clone(), &Key::generate()).cookie_secure(CookieSecurePolicy::Always));
    let mut c = client(always).await;
    let reply = c.get("/counter").await;
    assert!(cookie_attributes(&reply).iter().any(|a| a == "Secure"));
}

/// `POST /login` renews the key: the data moves to a new key (new cookie), and the old
/// cookie no longer finds anything.
pub async fn renew_keeps_data_and_changes_key(cache: &SharedCache) {
    let mut c = client(middleware(cache.clone())).await;
    assert_counter(&c.get("/counter").await, 1);
    let old = c.jar.clone();
    let old_value = old.get(COOKIE).map(str::to_owned).unwrap_or_default();

    let reply = c.post("/login?user=alice").await;
    assert_eq!(reply.json(), json!({ "user": "alice" }));
    assert!(
        reply.set_cookie_header(COOKIE).is_some(),
        "renewed key is sent"
    );
    assert_eq!(reply.header("cache-control"), Some("no-cache, no-store"));
    let new_value = c.jar.get(COOKIE).map(str::to_owned).unwrap_or_default();
    assert_ne!(session_key_of(&new_value), session_key_of(&old_value));

    assert_counter(&c.get("/counter").await, 2);
    assert_eq!(c.get("/user").await.json(), json!({ "user": "alice" }));

    let stale = cache.get(session_key_of(&old_value)).await;
    assert!(matches!(stale, Ok(None)), "old entry removed: {stale:?}");
    c.jar = old;
    assert_eq!(c.get("/user").await.json(), json!({ "user": null }));
}

/// `POST /logout` purges: the entry is removed and the client is sent an expired cookie.
pub async fn purge_removes_entry_and_expires_cookie(cache: &SharedCache) {
    let mut c = client(middleware(cache.clone())).await;
    assert_counter(&c.get("/counter").await, 1);
    let old = c.jar.clone();
    let key = session_key_of(old.get(COOKIE).unwrap_or_default()).to_owned();
    let stored = cache.get(&key).await;
    assert!(matches!(stored, Ok(Some(_))), "entry stored: {stored:?}");

    let reply = c.post("/logout").await;
    assert_eq!(reply.status, StatusCode::OK);
    let removal = reply
        .set_cookies()
        .into_iter()
        .find(|cookie| cookie.name() == COOKIE)
        .unwrap_or_else(|| panic!("no removal cookie"));
    assert_eq!(removal.value(), "");
    assert_eq!(removal.max_age().map(|age| age.whole_seconds()), Some(0));
    assert_eq!(removal.path(), Some("/"));
    assert!(c.jar.get(COOKIE).is_none(), "the client dropped the cookie");
    let gone = cache.get(&key).await;
    assert!(matches!(gone, Ok(None)), "entry removed: {gone:?}");

    // Replaying the old cookie finds nothing; logging out without a session sends nothing.
    c.jar = old;
    assert_counter(&c.get("/counter").await, 1);
    c.jar = TestJar::default();
    assert!(c.post("/logout").await.set_cookies().is_empty());
}

/// `POST /clear` empties the session but keeps it (and its cookie).
pub async fn clear_empties_session_keeps_cookie(cache: &SharedCache) {
    let mut c = client(middleware(cache.clone())).await;
    assert_counter(&c.get("/counter").await, 1);
    c.get("/user?user=alice").await;
    let reply = c.post("/clear").await;
    assert_eq!(reply.json(), json!({ "session": "cleared" }));
    assert!(reply.set_cookies().is_empty());
    assert_eq!(c.get("/user").await.json(), json!({ "user": null }));
    assert_counter(&c.get("/counter").await, 1);
}

/// A session idle longer than the idle timeout is abandoned (idle 2 s, wait 3 s).
pub async fn idle_timeout_expires_session(cache: &SharedCache) {
    let sessions = build(
        builder(cache.clone(), &Key::generate())
            .session_options(options(Duration::from_secs(2), Duration::from_secs(10))),
    );
    let mut c = client(sessions).await;
    assert_counter(&c.get("/counter").await, 1);
    assert_counter(&c.get("/counter").await, 2);
    actix_web::rt::time::sleep(Duration::from_secs(3)).await;
    let reply = c.get("/counter").await;
    assert_counter(&reply, 1);
    assert!(
        reply.set_cookie_header(COOKIE).is_some(),
        "a new session, a new cookie"
    );
}

/// A store that fails every call: opaque 500s (nothing of the cause in the body), no panic,
/// and routes that do not use the session still work.
pub async fn failing_cache_answers_opaque_500(cache: &SharedCache) {
    let key = Key::generate();
    let mut c = client(build(builder(FailingCache::new(cache.clone()), &key))).await;
    // Load failure: the handler's `?` turns it into the 500.
    c.jar.insert(COOKIE, signed_cookie_value(&key, COOKIE));
    assert_opaque_500(&c.get("/counter").await);
    assert_opaque_500(&c.get("/diag/session").await);
    // `/counter` commits in the handler (`update_i32`): its failure is the handler's 500.
    c.jar = TestJar::default();
    assert_opaque_500(&c.get("/counter").await);
    // Commit failure at the end of the request of a new session (no load needed): the
    // default policy replaces the handler's 200 with a 500.
    c.jar = TestJar::default();
    assert_opaque_500(&c.post("/mark/a").await);
    let health = c.get("/health").await;
    assert_eq!(
        (health.status, health.text().as_str()),
        (StatusCode::OK, "ok")
    );
}

/// A store that never answers: the request ends with a 500 soon after the IO timeout
/// (300 ms; well within 1.5 s), for a load as for a commit.
pub async fn stalled_cache_ends_within_io_timeout(cache: &SharedCache) {
    let key = Key::generate();
    let sessions = build(
        builder(StallingCache::new(cache.clone()), &key)
            .session_options(options(Duration::from_secs(60), Duration::from_millis(300))),
    );
    let mut c = client(sessions).await;
    for with_cookie in [true, false] {
        c.jar = TestJar::default();
        if with_cookie {
            c.jar.insert(COOKIE, signed_cookie_value(&key, COOKIE));
        }
        let started = Instant::now();
        let reply = c.get("/counter").await;
        let elapsed = started.elapsed();
        assert_opaque_500(&reply);
        assert!(
            elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(1500),
            "with_cookie={with_cookie}: answered after {elapsed:?}"
        );
    }
}

/// With [`CommitFailurePolicy::LogOnly`] a failed commit keeps the handler's response (and
/// sends no cookie for data that was not written).
pub async fn commit_failure_log_only_keeps_response(cache: &SharedCache) {
    let sessions = build(
        builder(FailingCache::new(cache.clone()), &Key::generate())
            .commit_failure(CommitFailurePolicy::LogOnly),
    );
    let mut c = client(sessions).await;
    // `/user` writes at the end of the request (`/counter` commits in the handler, where a
    // failure is the handler's own error).
    let reply = c.get("/user?user=alice").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json(), json!({ "user": "alice" }));
    assert!(reply.set_cookies().is_empty());
}

/// With `refresh_on_every_request`, a request with a cookie that never touches the session
/// costs one `refresh` (ASP.NET Core's behaviour); without a cookie, still nothing.
pub async fn refresh_on_every_request_refreshes_untouched(cache: &SharedCache) {
    let counting = CountingCache::new(cache.clone());
    let sessions =
        build(builder(counting.clone(), &Key::generate()).refresh_on_every_request(true));
    let mut c = client(sessions).await;
    assert_counter(&c.get("/counter").await, 1);
    counting.reset();
    assert_eq!(c.get("/health").await.status, StatusCode::OK);
    assert_eq!(
        counting.counts(),
        CallCounts {
            refresh: 1,
            ..CallCounts::default()
        }
    );
    c.jar = TestJar::default();
    counting.reset();
    c.get("/health").await;
    assert_eq!(counting.counts(), CallCounts::default());
}

/// `GET /diag/session`: the guide's diagnostic route reports the value, the cache type and a
/// stable session id.
pub async fn diag_session_reports_cache(cache: &SharedCache) {
    let mut c = client(middleware(cache.clone())).await;
    let first = c.get("/diag/session").await.json();
    assert_eq!(first["session"], "blue");
    assert_eq!(first["cacheType"], cache.cache_type());
    let id = first["sessionId"].as_str().unwrap_or_default().to_owned();
    assert_eq!(id.len(), 36, "a GUID: {first}");
    let second = c.get("/diag/session").await.json();
    assert_eq!(second["sessionId"], id.as_str());
}

/// Exclusive mode through the middleware: the lock is released at the end of each request,
/// so the next request of the session does not wait for the lease.
pub async fn exclusive_mode_releases_lock_each_request(cache: &SharedCache) {
    let counting = CountingCache::new(cache.clone());
    let options = SessionOptions::builder()
        .concurrency(ConcurrencyMode::Exclusive)
        .lock_lease(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let sessions = build(builder(counting.clone(), &Key::generate()).session_options(options));
    let mut c = client(sessions).await;
    assert_counter(&c.get("/counter").await, 1);
    let started = Instant::now();
    for expected in 2..=4 {
        assert_counter(&c.get("/counter").await, expected);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "waited for a lease"
    );
    let counts = counting.counts();
    assert_eq!(counts.try_lock, 3, "{counts:?}");
    assert_eq!(counts.unlock, 3, "{counts:?}");
}

/// Key rotation: a cookie signed by a previous key still finds its session, and the response
/// sends the same session key back signed by the current key (read-only requests too); the
/// re-signed cookie is then kept as is.
pub async fn previous_key_cookie_is_resigned_with_current_key(cache: &SharedCache) {
    let (old, new) = (Key::generate(), Key::generate());
    let mut c = client(middleware_with_key(cache, &old)).await;
    assert_counter(&c.get("/counter").await, 1);
    let old_value = c.jar.get(COOKIE).map(str::to_owned).unwrap_or_default();

    let rotated = build(builder(cache.clone(), &new).previous_keys([old.clone()]));
    let mut c = client(rotated).await;
    for (route, expected) in [("/user", None), ("/counter", Some(2))] {
        c.jar = TestJar::default();
        c.jar.insert(COOKIE, old_value.clone());
        let reply = c.get(route).await;
        assert_eq!(reply.status, StatusCode::OK, "{route}: {}", reply.text());
        if let Some(n) = expected {
            assert_counter(&reply, n);
        }
        assert!(
            reply.set_cookie_header(COOKIE).is_some(),
            "{route}: old-key cookie re-sent"
        );
        assert_eq!(reply.header("cache-control"), Some("no-cache, no-store"));
        let resigned = c.jar.get(COOKIE).map(str::to_owned).unwrap_or_default();
        assert_ne!(resigned, old_value, "{route}: signed anew");
        assert_eq!(
            session_key_of(&resigned),
            session_key_of(&old_value),
            "{route}: same session key"
        );
        let header = format!("{COOKIE}={resigned}");
        assert!(
            CookieVerifier::new(COOKIE, new.clone())
                .verify([header.as_bytes()])
                .is_some(),
            "{route}: signed by the current key"
        );
        assert!(
            CookieVerifier::new(COOKIE, old.clone())
                .verify([header.as_bytes()])
                .is_none(),
            "{route}: not by the old one"
        );
    }
    // The current-key cookie is not sent again.
    let reply = c.get("/counter").await;
    assert_counter(&reply, 3);
    assert!(reply.set_cookies().is_empty());
}

fn middleware_with_key(cache: &SharedCache, key: &Key) -> SessionMiddleware {
    build(builder(cache.clone(), key))
}
