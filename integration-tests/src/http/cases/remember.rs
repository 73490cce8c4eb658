//! Persistent sessions ("remember me") through HTTP: the per-session choice at login
//! (`/login?remember=DAYS`, [`Session::remember`](session_core::Session::remember)), the
//! middleware-wide `cookie_max_age`, and the rolling of persistent cookies while in use.
//!
//! Cookie ages are set by signing cookies with a chosen issue time ([`CookieLifetime`]), never
//! by waiting; the one wait (3 s) is what shows that a remembered session outlives the idle
//! timeout in the store itself.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::cookie::Key;
use actix_web::http::StatusCode;
use serde_json::json;
use session_actix::{CookieLifetime, CookieVerifier, SessionKey, SharedCache, VerifiedCookie};

use super::{COOKIE, assert_counter, build, builder, options};
use crate::http::client::{Reply, client, session_key_of};
use crate::http::wrappers::CountingCache;

const DAY: u64 = 24 * 3600;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The session cookie a reply sets, verified with `key`, and its `Max-Age` in seconds.
#[track_caller]
fn sent_cookie(reply: &Reply, key: &Key) -> (VerifiedCookie, Option<i64>) {
    let cookie = reply
        .set_cookies()
        .into_iter()
        .find(|c| c.name() == COOKIE)
        .unwrap_or_else(|| panic!("no Set-Cookie for `{COOKIE}`"));
    let header = format!("{COOKIE}={}", cookie.value());
    let verified = CookieVerifier::new(COOKIE, key.clone())
        .verify([header.as_bytes()])
        .unwrap_or_else(|| panic!("the cookie sent does not verify: {header}"));
    (verified, cookie.max_age().map(|age| age.whole_seconds()))
}

/// A cookie for `session` signed with `key`, issued `age` seconds ago for `max_age`.
fn aged_cookie(
    key: &Key,
    session: &SessionKey,
    age: u64,
    max_age: u64,
    remembered: bool,
) -> String {
    let lifetime = CookieLifetime::new(unix_now() - age, Duration::from_secs(max_age), remembered);
    CookieVerifier::new(COOKIE, key.clone()).sign_with_lifetime(session, Some(&lifetime))
}

fn session_key(value: &str) -> SessionKey {
    SessionKey::parse(session_key_of(value)).unwrap_or_else(|| panic!("no session key in {value}"))
}

/// `/login?remember=30`: a persistent cookie (Max-Age of 30 days, recorded in the signed value)
/// for the renewed key, and a store entry that outlives the idle timeout (2 s idle, 3 s wait),
/// while a session that was not remembered expires in the same wait.
pub async fn remembered_session_outlives_the_idle_timeout(cache: &SharedCache) {
    let key = Key::generate();
    let sessions = || {
        build(
            builder(cache.clone(), &key)
                .session_options(options(Duration::from_secs(2), Duration::from_secs(10))),
        )
    };
    let (mut remembered, mut forgotten) = (client(sessions()).await, client(sessions()).await);
    let first = remembered.get("/counter").await;
    assert_counter(&first, 1);
    assert_eq!(
        sent_cookie(&first, &key).1,
        None,
        "a browser-session cookie first"
    );
    assert_counter(&forgotten.get("/counter").await, 1);

    let before = unix_now();
    let login = remembered.post("/login?user=alice&remember=30").await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text());
    let (cookie, max_age) = sent_cookie(&login, &key);
    assert_eq!(max_age, Some(i64::try_from(30 * DAY).unwrap_or(i64::MAX)));
    let lifetime = cookie
        .lifetime()
        .unwrap_or_else(|| panic!("no lifetime in the signed value"));
    assert!(lifetime.remembered);
    assert_eq!(lifetime.max_age, Duration::from_secs(30 * DAY));
    assert!((before..=unix_now()).contains(&lifetime.issued_at));
    let fresh = remembered.get("/counter").await;
    assert_counter(&fresh, 2);
    assert!(
        fresh.set_cookies().is_empty(),
        "a fresh cookie is not re-sent"
    );

    actix_web::rt::time::sleep(Duration::from_secs(3)).await;
    assert_counter(&remembered.get("/counter").await, 3);
    assert_eq!(
        remembered.get("/user").await.json(),
        json!({ "user": "alice" })
    );
    assert_counter(&forgotten.get("/counter").await, 1);
}

/// A remembered cookie past half of its life is sent again (same session key, full life
/// from now) by a request that uses the session, at no extra store call; a younger one is
/// not; a request that never touches the session sends nothing and calls nothing; an old
/// cookie for a session that is gone is not renewed.
pub async fn persistent_cookie_rolls_past_half_its_life(cache: &SharedCache) {
    let key = Key::generate();
    let counting = CountingCache::new(cache.clone());
    let mut c = client(build(builder(counting.clone(), &key))).await;
    let login = c.post("/login?user=alice&remember=30").await;
    let session = sent_cookie(&login, &key).0.into_key();

    let mut calls = Vec::new();
    for (age, resent) in [(14 * DAY, false), (16 * DAY, true)] {
        c.jar
            .insert(COOKIE, aged_cookie(&key, &session, age, 30 * DAY, true));
        counting.reset();
        let before = unix_now();
        let reply = c.get("/counter").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        calls.push(counting.counts());
        if resent {
            let (cookie, max_age) = sent_cookie(&reply, &key);
            assert_eq!(cookie.key(), &session, "the same session key");
            assert_eq!(max_age, Some(i64::try_from(30 * DAY).unwrap_or(i64::MAX)));
            let lifetime = cookie
                .lifetime()
                .unwrap_or_else(|| panic!("no longer persistent"));
            assert!(lifetime.remembered && lifetime.issued_at >= before);
        } else {
            assert!(reply.set_cookies().is_empty(), "{age} s old: not re-sent");
        }
    }
    assert_eq!(calls[0], calls[1], "rolling the cookie costs no store call");

    c.jar.insert(
        COOKIE,
        aged_cookie(&key, &session, 20 * DAY, 30 * DAY, true),
    );
    counting.reset();
    let untouched = c.get("/health").await;
    assert!(untouched.set_cookies().is_empty());
    assert_eq!(counting.counts().total(), 0);

    let gone = SessionKey::generate();
    c.jar
        .insert(COOKIE, aged_cookie(&key, &gone, 20 * DAY, 30 * DAY, true));
    let unknown = c.get("/user").await;
    assert_eq!(unknown.json(), json!({ "user": null }));
    assert!(
        unknown.set_cookies().is_empty(),
        "no cookie renewed for a session that is not stored"
    );
}

/// `cookie_max_age` (every session persistent): the cookie rolls with activity too, and a
/// cookie issued before the setting (no lifetime recorded) is sent again with it.
pub async fn cookie_max_age_rolls_with_activity(cache: &SharedCache) {
    let key = Key::generate();
    let hour = 3600;
    let mut c = client(build(
        builder(cache.clone(), &key).cookie_max_age(Some(Duration::from_secs(hour))),
    ))
    .await;
    let first = c.get("/counter").await;
    let (cookie, max_age) = sent_cookie(&first, &key);
    assert_eq!(max_age, Some(3600));
    assert_eq!(cookie.lifetime().map(|l| l.remembered), Some(false));
    let session = cookie.into_key();

    for (value, resent) in [
        (aged_cookie(&key, &session, 29 * 60, hour, false), false),
        (aged_cookie(&key, &session, 31 * 60, hour, false), true),
        (
            CookieVerifier::new(COOKIE, key.clone()).sign(&session),
            true,
        ),
    ] {
        c.jar.insert(COOKIE, value);
        let reply = c.get("/user").await;
        assert_eq!(reply.status, StatusCode::OK);
        if resent {
            let (cookie, max_age) = sent_cookie(&reply, &key);
            assert_eq!(cookie.key(), &session);
            assert_eq!(max_age, Some(3600));
        } else {
            assert!(reply.set_cookies().is_empty());
        }
    }
}

/// A remembered session stays remembered across a renewal (the new key's cookie is
/// persistent), `/forget` turns it back into a browser-session cookie for the same key,
/// `/logout` ends it, and a bad `remember` is refused before anything changes.
pub async fn remember_survives_renew_and_ends_with_forget_or_logout(cache: &SharedCache) {
    let key = Key::generate();
    let mut c = client(build(builder(cache.clone(), &key))).await;
    for bad in ["0", "401", "x", ""] {
        let reply = c.post(&format!("/login?user=a&remember={bad}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "remember={bad}");
        assert!(reply.set_cookies().is_empty());
    }
    let week = i64::try_from(7 * DAY).unwrap_or(i64::MAX);
    let login = c.post("/login?user=alice&remember=7").await;
    let (first, max_age) = sent_cookie(&login, &key);
    assert_eq!(max_age, Some(week));

    let renewed = c.post("/login?user=bob").await;
    let (second, max_age) = sent_cookie(&renewed, &key);
    assert_ne!(second.key(), first.key(), "a new key");
    assert_eq!(max_age, Some(week), "still remembered after the renewal");
    assert_eq!(second.lifetime().map(|l| l.remembered), Some(true));

    let forget = c.post("/forget").await;
    assert_eq!(forget.json(), json!({ "remembered": false }));
    let (third, max_age) = sent_cookie(&forget, &key);
    assert_eq!(third.key(), second.key(), "same session");
    assert_eq!(max_age, None, "a browser-session cookie again");
    assert_eq!(third.lifetime(), None);
    assert_eq!(c.get("/user").await.json(), json!({ "user": "bob" }));

    c.post("/login?user=carol&remember=2").await;
    let logout = c.post("/logout").await;
    assert_eq!(logout.status, StatusCode::OK);
    let next = c.get("/counter").await;
    assert_counter(&next, 1);
    let (fresh, max_age) = sent_cookie(&next, &key);
    assert_eq!(max_age, None, "a new session is not remembered");
    assert_ne!(fresh.key(), third.key());
    assert_eq!(
        &session_key(c.jar.get(COOKIE).unwrap_or_default()),
        fresh.key()
    );
}
