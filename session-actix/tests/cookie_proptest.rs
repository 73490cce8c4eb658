//! Property tests of [`CookieVerifier`]: random and mutated `Cookie` headers never panic and
//! never verify; whatever is signed verifies (with the current key, or a previous one after a
//! rotation). The fuzz target `verify_cookie` (fuzz/) checks the same on coverage-guided input.

use actix_web::cookie::Key;
use proptest::collection::vec;
use proptest::prelude::*;
use session_actix::{CookieVerifier, SessionKey};

const NAME: &str = "session";

fn key(byte: u8) -> Key {
    Key::from(&[byte; 64])
}

/// The verifier under test: current key 1, previous keys 2 and 3.
fn verifier() -> CookieVerifier {
    CookieVerifier::new(NAME, key(1)).with_previous_keys([key(2), key(3)])
}

/// A well-formed session key made of proptest's bytes (so that failures shrink and replay).
fn session_key() -> impl Strategy<Value = SessionKey> {
    any::<[u8; 16]>().prop_map(SessionKey::from_bytes)
}

/// Damage done to a valid signed value.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the byte at this index (modulo the length) by another printable character.
    Replace(usize, char),
    /// Keep only this many characters (modulo the length).
    Truncate(usize),
    /// Insert a printable character at this index.
    Insert(usize, char),
    /// Append this many `A`s.
    Extend(usize),
    /// Remove the character at this index.
    Delete(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let printable = proptest::char::range('!', '~').prop_filter("not a separator", |c| *c != ';');
    prop_oneof![
        (any::<usize>(), printable.clone()).prop_map(|(i, c)| Mutation::Replace(i, c)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), printable).prop_map(|(i, c)| Mutation::Insert(i, c)),
        (1usize..8192).prop_map(Mutation::Extend),
        any::<usize>().prop_map(Mutation::Delete),
    ]
}

/// Applies `m` to `value` (ASCII); `None` when the result is the same string.
fn mutate(value: &str, m: &Mutation) -> Option<String> {
    let mut chars: Vec<char> = value.chars().collect();
    let len = chars.len();
    match *m {
        Mutation::Replace(i, c) => {
            let i = i % len;
            if chars[i] == c {
                return None;
            }
            chars[i] = c;
        }
        Mutation::Truncate(n) => chars.truncate(n % len),
        Mutation::Insert(i, c) => chars.insert(i % (len + 1), c),
        Mutation::Extend(n) => chars.extend(std::iter::repeat_n('A', n)),
        Mutation::Delete(i) => {
            chars.remove(i % len);
        }
    }
    let mutated: String = chars.into_iter().collect();
    (mutated != value).then_some(mutated)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Arbitrary bytes as one or several Cookie headers: no panic, and nothing verifies (a
    /// random 256-bit HMAC cannot be guessed).
    #[test]
    fn random_headers_never_verify(headers in vec(vec(any::<u8>(), 0..600), 0..4)) {
        let v = verifier();
        prop_assert_eq!(v.verify(headers.iter().map(Vec::as_slice)), None);
    }

    /// Random text shaped like cookies, our name included.
    #[test]
    fn random_cookie_text_never_verifies(
        pairs in vec(("(session|theme|sess)", "[ -~]{0,120}"), 0..6),
    ) {
        let header = pairs
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        prop_assert_eq!(verifier().verify([header.as_bytes()]), None);
    }

    /// Sign then verify gives the key back, whatever other cookies surround it.
    #[test]
    fn sign_then_verify_round_trips(
        k in session_key(),
        before in "[a-z]{1,8}=[a-zA-Z0-9]{0,20}",
        after in "[a-z]{1,8}=[a-zA-Z0-9]{0,20}",
    ) {
        prop_assume!(!before.starts_with("session=") && !after.starts_with("session="));
        let v = verifier();
        let header = format!("{before}; {NAME}={}; {after}", v.sign(&k));
        let verified = v.verify([header.as_bytes()]);
        prop_assert!(verified.is_some());
        let verified = verified.unwrap();
        prop_assert_eq!(verified.key(), &k);
        prop_assert!(!verified.signed_with_previous_key());
    }

    /// A cookie signed by any previous key verifies and is flagged for re-signing; one signed by
    /// an unknown key does not verify.
    #[test]
    fn previous_key_cookies_verify(k in session_key(), which in 2u8..=3, unknown in 4u8..=255) {
        let old = CookieVerifier::new(NAME, key(which)).sign(&k);
        let verified = verifier().verify([format!("{NAME}={old}").as_bytes()]);
        prop_assert!(verified.as_ref().is_some_and(|v| v.key() == &k && v.signed_with_previous_key()));
        let foreign = CookieVerifier::new(NAME, key(unknown)).sign(&k);
        prop_assert_eq!(verifier().verify([format!("{NAME}={foreign}").as_bytes()]), None);
    }

    /// Any change to a valid signed value (one character replaced, inserted or deleted,
    /// truncation, growth up to 8 KiB) makes it fail, without panicking.
    #[test]
    fn mutated_cookies_never_verify(k in session_key(), m in mutation()) {
        let v = verifier();
        let value = v.sign(&k);
        if let Some(mutated) = mutate(&value, &m) {
            prop_assert_eq!(v.verify([format!("{NAME}={mutated}").as_bytes()]), None);
        }
    }

    /// A valid cookie next to a second cookie of the same name (valid or not) is refused.
    #[test]
    fn duplicates_never_verify(k in session_key(), other in "[ -:<-~]{0,100}", second_valid: bool) {
        let v = verifier();
        let first = format!("{NAME}={}", v.sign(&k));
        let second = if second_valid {
            format!("{NAME}={}", v.sign(&SessionKey::generate()))
        } else {
            format!("{NAME}={other}")
        };
        prop_assert_eq!(v.verify([format!("{first}; {second}").as_bytes()]), None);
        prop_assert_eq!(v.verify([first.as_bytes(), second.as_bytes()]), None);
    }
}
