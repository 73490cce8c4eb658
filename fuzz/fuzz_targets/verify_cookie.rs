//! Session cookie verification must never panic on any `Cookie` header bytes and must never
//! accept what it did not sign; whatever it signs verifies. The input is split at `\n` into
//! several header values (a request may carry several `Cookie` headers).
#![no_main]

use actix_web::cookie::Key;
use libfuzzer_sys::fuzz_target;
use session_actix::{CookieVerifier, SessionKey};

fuzz_target!(|data: &[u8]| {
    let verifier = CookieVerifier::new("session", Key::from(&[7; 64]))
        .with_previous_keys([Key::from(&[8; 64])]);
    // Forging an HMAC-SHA256 is out of a fuzzer's reach: any acceptance is a bug.
    assert!(verifier.verify(data.split(|&b| b == b'\n')).is_none());

    // Round trip, with a session key made of the input's first 16 bytes.
    if let Some(bytes) = data.get(..16).and_then(|b| <[u8; 16]>::try_from(b).ok()) {
        let key = SessionKey::from_bytes(bytes);
        let header = format!("session={}", verifier.sign(&key));
        let verified = verifier.verify([header.as_bytes()]).expect("own cookie verifies");
        assert_eq!(verified.key(), &key);
    }
});
