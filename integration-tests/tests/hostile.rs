//! Hostile input through the whole HTTP path (middleware, routes, a real cache), swept wider
//! than the per-provider acceptance case `tampered_cookie_starts_fresh_session_without_lookup`:
//!
//! * cookies: every truncation and every one-character change of a valid cookie, oversize,
//!   non-UTF-8, duplicated names, valid signatures over malformed keys, random bytes → 200, a
//!   fresh session, and **zero** cache calls before the new session's write;
//! * stored payloads (planted straight into the cache under a validly signed key): every
//!   truncation, unknown revisions, absurd counts and lengths, random bytes → 200 and a fresh
//!   (empty) session, whose write then replaces the garbage;
//! * an oversized session → a 500 at commit, and the previous entry intact and usable.
//!
//! The stores' own handling of the same (typed errors, nothing written) is in the conformance
//! suite (`corrupt_payload_starts_empty`, `oversized_session_writes_nothing`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::cookie::Key;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::test::TestRequest;
use bytes::Bytes;
use cache_memory::MemoryCache;
use integration_tests::http::{CountingCache, Reply, client};
use rand::rngs::StdRng;
use rand::{Rng as _, RngCore as _, SeedableRng as _};
use serde_json::json;
use session_actix::{
    CookieVerifier, SessionKey, SessionMiddleware, SessionMiddlewareBuilder, SessionOptions,
    SharedCache,
};
use session_core::codec::{self, HEADER_LEN, REVISION};
use session_core::{DistributedCache, EntryOptions};

const COOKIE: &str = SessionMiddlewareBuilder::DEFAULT_COOKIE_NAME;

/// `len` random bytes from a seeded generator (so that a failing input can be replayed).
fn random_bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    rng.fill_bytes(&mut bytes);
    bytes
}

fn sessions(cache: SharedCache, key: &Key, options: SessionOptions) -> SessionMiddleware {
    SessionMiddleware::builder(cache, key.clone())
        .session_options(options)
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn is_fresh_counter(reply: &Reply) -> bool {
    reply.status == StatusCode::OK
        && reply.json() == json!({ "counter": 1 })
        && reply.set_cookie_header(COOKIE).is_some()
}

/// One hostile `Cookie` input: the raw value of each `Cookie` header.
type Input = (String, Vec<Vec<u8>>);

fn one(label: impl Into<String>, header: impl Into<Vec<u8>>) -> Input {
    (label.into(), vec![header.into()])
}

fn hostile_cookies(valid: &str, key: &Key) -> Vec<Input> {
    let pair = format!("{COOKIE}={valid}");
    let mut inputs = Vec::new();
    // Every truncation (0 to len-1 characters kept).
    for n in 0..valid.len() {
        inputs.push(one(
            format!("truncated to {n}"),
            format!("{COOKIE}={}", &valid[..n]),
        ));
    }
    // Every position changed to another character of the same alphabet.
    for i in 0..valid.len() {
        let mut bytes = valid.as_bytes().to_vec();
        bytes[i] = match bytes[i] {
            b'A' => b'B',
            b'0' => b'1',
            b'-' => b'0',
            _ => b'A',
        };
        inputs.push(one(
            format!("changed at {i}"),
            [COOKIE.as_bytes(), b"=", &bytes].concat(),
        ));
    }
    // Oversize, around and far beyond the limits.
    for len in [257, 4 * 1024, 4 * 1024 + 1, 8 * 1024, 16 * 1024] {
        inputs.push(one(
            format!("{len} bytes"),
            format!("{COOKIE}={}", "A".repeat(len)),
        ));
    }
    inputs.push(one(
        "valid + 8 KiB suffix",
        format!("{pair}{}", "A".repeat(8 * 1024)),
    ));
    // Not UTF-8 (obs-text bytes), alone and around a valid cookie.
    inputs.push(one(
        "non-UTF-8 value",
        [COOKIE.as_bytes(), b"=\xff\xfe\x80"].concat(),
    ));
    inputs.push(one(
        "non-UTF-8 before",
        [b"x=\xc3\x28; ", pair.as_bytes()].concat(),
    ));
    inputs.push(one(
        "non-UTF-8 after",
        [pair.as_bytes(), b"; y=\xf0\x28\x8c\x28"].concat(),
    ));
    inputs.push((
        "non-UTF-8 second header".into(),
        vec![pair.clone().into_bytes(), b"z=\xff".to_vec()],
    ));
    // Duplicated names: both valid, valid + garbage, in one header or two.
    inputs.push(one("duplicate valid", format!("{pair}; {pair}")));
    inputs.push(one("duplicate garbage", format!("{pair}; {COOKIE}=x")));
    inputs.push(one(
        "duplicate bad encoding",
        format!("{pair}; {COOKIE}=%ff"),
    ));
    inputs.push(one("duplicate empty", format!("{COOKIE}=; {pair}")));
    inputs.push((
        "duplicate in two headers".into(),
        vec![pair.clone().into_bytes(), pair.clone().into_bytes()],
    ));
    // Valid signatures over values that are not session keys.
    let verifier = CookieVerifier::new(COOKIE, key.clone());
    let real = SessionKey::generate();
    let mut malformed = vec![
        String::new(),
        "not-a-session-key".to_owned(),
        real.as_str().to_uppercase(),
        format!("{{{}}}", real.as_str()),
        format!("{} ", real.as_str()),
        real.as_str().replace('-', ""),
        format!("{}0", real.as_str()),
        real.as_str()[1..].to_owned(),
        "../../etc/passwd".to_owned(),
        "App_*".to_owned(),
    ];
    malformed.push("g".repeat(36));
    for text in malformed {
        let mut jar = actix_web::cookie::CookieJar::new();
        jar.signed_mut(key)
            .add(actix_web::cookie::Cookie::new(COOKIE, text.clone()));
        let value = jar
            .get(COOKIE)
            .map(|c| c.value().to_owned())
            .unwrap_or_default();
        inputs.push(one(
            format!("signed malformed key {text:?}"),
            format!("{COOKIE}={value}"),
        ));
    }
    // Signed by a key we do not have; the bare key; half-quoted; under another name.
    let foreign = CookieVerifier::new(COOKIE, Key::generate()).sign(&real);
    inputs.push(one("foreign signing key", format!("{COOKIE}={foreign}")));
    inputs.push(one("bare key", format!("{COOKIE}={}", real.as_str())));
    // (A value in double quotes is the same value, RFC 6265; one quote is not.)
    inputs.push(one("half-quoted", format!("{COOKIE}=\"{valid}")));
    inputs.push(one("other name", format!("{COOKIE}x={valid}")));
    inputs.push(one(
        "signature only",
        format!("{COOKIE}={}", &verifier.sign(&real)[..44]),
    ));
    // Random bytes (header-safe: no control characters), with and without our name.
    let mut rng = StdRng::seed_from_u64(0x05ee_dc00_c1e5);
    for i in 0..300 {
        let len = rng.random_range(0..600);
        let noise: Vec<u8> = random_bytes(&mut rng, len)
            .into_iter()
            .map(|b| if b < 0x20 || b == 0x7f { b'a' } else { b })
            .collect();
        let header = if i % 2 == 0 {
            [COOKIE.as_bytes(), b"=", &noise].concat()
        } else {
            noise
        };
        inputs.push(one(format!("random #{i}"), header));
    }
    inputs
}

#[actix_web::test]
async fn hostile_cookies_get_a_fresh_session_without_cache_lookup() {
    let key = Key::generate();
    let counting = CountingCache::new(Arc::new(MemoryCache::new()));
    let mut c = client(sessions(counting.clone(), &key, SessionOptions::default())).await;
    let first = c.get("/counter").await;
    assert!(is_fresh_counter(&first));
    let valid = c.jar.get(COOKIE).map(str::to_owned).unwrap_or_default();
    c.jar = Default::default();

    let inputs = hostile_cookies(&valid, &key);
    let mut failures = Vec::new();
    for (label, headers) in &inputs {
        let mut request = TestRequest::get().uri("/counter");
        for raw in headers {
            let value = HeaderValue::from_bytes(raw)
                .unwrap_or_else(|e| panic!("{label}: not a header value: {e}"));
            request = request.append_header((header::COOKIE, value));
        }
        counting.reset();
        let reply = c.send(request).await;
        c.jar = Default::default();
        let counts = counting.counts();
        // A fresh session makes exactly one call: its own first write.
        if !is_fresh_counter(&reply) || counts.get != 0 || counts.total() != 1 {
            failures.push(format!(
                "{label}: {} {} {counts:?}",
                reply.status,
                reply.text()
            ));
        }
    }
    eprintln!(
        "hostile cookies: {} inputs tried, {} not answered 200 + fresh session + zero lookups",
        inputs.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    // The valid cookie still works (nothing above disturbed its session).
    c.jar.insert(COOKIE, valid);
    assert_eq!(c.get("/counter").await.json(), json!({ "counter": 2 }));
}

/// A valid payload holding `counter` = 41 (so a wrongly accepted one would answer 42).
fn valid_payload() -> Bytes {
    let mut entries = BTreeMap::new();
    entries.insert(
        "counter".to_owned(),
        Bytes::copy_from_slice(&41i32.to_be_bytes()),
    );
    entries.insert("user".to_owned(), Bytes::from_static(b"mallory"));
    codec::encode(&[7; 16], &entries).unwrap_or_else(|e| panic!("{e}"))
}

fn hostile_payloads() -> Vec<(String, Vec<u8>)> {
    let valid = valid_payload().to_vec();
    let mut payloads = Vec::new();
    for n in 0..valid.len() {
        payloads.push((format!("truncated to {n}"), valid[..n].to_vec()));
    }
    for revision in [0u8, 1, 3, 0x7f, 0xff] {
        let mut p = valid.clone();
        p[0] = revision;
        payloads.push((format!("revision {revision}"), p));
    }
    let with = |offset: usize, bytes: &[u8]| {
        let mut p = valid.clone();
        p[offset..offset + bytes.len()].copy_from_slice(bytes);
        p
    };
    payloads.push(("count 0xFFFFFF".into(), with(1, &[0xff, 0xff, 0xff])));
    payloads.push(("count 3 (2 present)".into(), with(1, &[0, 0, 3])));
    payloads.push(("count 0 with entries".into(), with(1, &[0, 0, 0])));
    payloads.push(("key length 0xFFFF".into(), with(HEADER_LEN, &[0xff, 0xff])));
    // First entry: key "counter" (2 + 7 bytes), then its value length.
    payloads.push((
        "value length 0xFFFFFFFF".into(),
        with(HEADER_LEN + 9, &[0xff; 4]),
    ));
    payloads.push(("value length 5".into(), with(HEADER_LEN + 9, &[0, 0, 0, 5])));
    payloads.push((
        "header only, count 0xFFFFFF".into(),
        [&[REVISION, 0xff, 0xff, 0xff][..], &[0; 16]].concat(),
    ));
    payloads.push(("trailing garbage".into(), [&valid[..], b"junk"].concat()));
    let mut bad_key = valid.clone();
    bad_key[HEADER_LEN + 2] = 0xff; // the key "counter" no longer UTF-8
    payloads.push(("non-UTF-8 key".into(), bad_key));
    let mut rng = StdRng::seed_from_u64(0x0bad_5eed);
    for i in 0..100 {
        let len = rng.random_range(0..200);
        let mut p = random_bytes(&mut rng, len);
        if i % 2 == 0 && !p.is_empty() {
            p[0] = REVISION;
        }
        payloads.push((format!("random #{i}"), p));
    }
    payloads
}

#[actix_web::test]
async fn corrupt_stored_payloads_give_a_fresh_session() {
    let key = Key::generate();
    let verifier = CookieVerifier::new(COOKIE, key.clone());
    let cache: SharedCache = Arc::new(MemoryCache::new());
    let mut c = client(sessions(cache.clone(), &key, SessionOptions::default())).await;

    // The valid payload itself is read (the check below is not vacuous).
    let control = SessionKey::generate();
    let options = EntryOptions::sliding(Duration::from_secs(60));
    cache
        .set(control.as_str(), valid_payload(), &options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    c.jar.insert(COOKIE, verifier.sign(&control));
    assert_eq!(c.get("/counter").await.json(), json!({ "counter": 42 }));

    let payloads = hostile_payloads();
    let mut failures = Vec::new();
    for (label, payload) in &payloads {
        let planted = SessionKey::generate();
        cache
            .set(planted.as_str(), Bytes::copy_from_slice(payload), &options)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        c.jar = Default::default();
        c.jar.insert(COOKIE, verifier.sign(&planted));
        let reply = c.get("/counter").await;
        let user = c.get("/user").await;
        let stored = cache.get(planted.as_str()).await.ok().flatten();
        let replaced = stored.is_some_and(|bytes| codec::decode(&bytes).is_ok());
        // The empty session under the same key: counter 1, no user, no new cookie, and the
        // garbage replaced by a valid payload.
        if reply.status != StatusCode::OK
            || reply.json() != json!({ "counter": 1 })
            || user.json() != json!({ "user": null })
            || !reply.set_cookies().is_empty()
            || !replaced
        {
            failures.push(format!("{label}: {} {}", reply.status, reply.text()));
        }
    }
    eprintln!(
        "hostile stored payloads: {} payloads tried, {} not answered with a fresh session",
        payloads.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

#[actix_web::test]
async fn oversized_session_is_refused_at_commit_and_the_stored_entry_is_intact() {
    let key = Key::generate();
    let counting = CountingCache::new(Arc::new(MemoryCache::new()));
    let options = SessionOptions::builder()
        .max_payload_bytes(1024)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut c = client(sessions(counting.clone(), &key, options)).await;
    assert_eq!(c.get("/counter").await.json(), json!({ "counter": 1 }));
    assert_eq!(
        c.get("/user?user=ada").await.json(),
        json!({ "user": "ada" })
    );
    let cookie = c.jar.get(COOKIE).map(str::to_owned).unwrap_or_default();
    let stored_key = integration_tests::http::session_key_of(&cookie).to_owned();
    let before = counting.get(&stored_key).await.ok().flatten();
    assert!(before.is_some());

    counting.reset();
    let big = "x".repeat(2048);
    let reply = c.get(&format!("/user?user={big}")).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        !reply.text().contains("payload"),
        "opaque: {}",
        reply.text()
    );
    let counts = counting.counts();
    assert_eq!(counts.set_if + counts.set, 0, "nothing written: {counts:?}");
    assert_eq!(
        counting.get(&stored_key).await.ok().flatten(),
        before,
        "entry intact"
    );
    // And the session goes on from its last good state.
    assert_eq!(c.get("/user").await.json(), json!({ "user": "ada" }));
    assert_eq!(c.get("/counter").await.json(), json!({ "counter": 2 }));
    eprintln!("oversized session: 500 at commit, 0 writes, previous entry intact");
}
