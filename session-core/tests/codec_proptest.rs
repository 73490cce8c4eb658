//! Property tests of the session payload codec: decoding arbitrary or damaged bytes never
//! panics, and encoding then decoding gives back the session.

// The helpers below run only inside the property tests, where a panic is the failure report.
#![allow(clippy::expect_used)]

use std::collections::BTreeMap;

use bytes::Bytes;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use session_core::codec::{self, HEADER_LEN, ID_LEN, REVISION, SessionPayload};

/// Random sessions: a random id and 0..20 entries with UTF-8 keys of up to 64 characters and
/// values of up to 512 bytes.
fn session() -> impl Strategy<Value = ([u8; ID_LEN], BTreeMap<String, Bytes>)> {
    (
        any::<[u8; ID_LEN]>(),
        btree_map(
            "\\PC{0,64}",
            vec(any::<u8>(), 0..512).prop_map(Bytes::from),
            0..20,
        ),
    )
}

/// Encodes a generated session; generated sessions always fit the format.
fn encoded(id: &[u8; ID_LEN], entries: &BTreeMap<String, Bytes>) -> Bytes {
    codec::encode(id, entries).expect("generated sessions fit the format")
}

/// Whatever `decode` accepted re-encodes to a payload that decodes to the same session.
fn assert_stable(decoded: &SessionPayload) {
    let again = codec::decode(&encoded(&decoded.id, &decoded.entries)).expect("re-decode");
    assert_eq!(&again, decoded);
}

/// Damage done to a valid payload.
#[derive(Debug, Clone)]
enum Damage {
    /// Replace the byte at this (wrapped) index.
    Set(usize, u8),
    /// XOR the byte at this (wrapped) index with a non-zero mask.
    Flip(usize, u8),
    /// Keep only this many (wrapped) leading bytes.
    Truncate(usize),
    /// Append these bytes.
    Extend(Vec<u8>),
    /// Remove the byte at this (wrapped) index.
    Delete(usize),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Damage::Set(i, b)),
        (any::<usize>(), 1..=255u8).prop_map(|(i, b)| Damage::Flip(i, b)),
        any::<usize>().prop_map(Damage::Truncate),
        vec(any::<u8>(), 1..16).prop_map(Damage::Extend),
        any::<usize>().prop_map(Damage::Delete),
    ]
}

/// Applies `damage` to a non-empty `payload`.
fn apply(payload: &mut Vec<u8>, damage: &Damage) {
    let len = payload.len();
    match damage {
        Damage::Set(i, b) => payload[i % len] = *b,
        Damage::Flip(i, b) => payload[i % len] ^= *b,
        Damage::Truncate(n) => payload.truncate(n % len),
        Damage::Extend(bytes) => payload.extend_from_slice(bytes),
        Damage::Delete(i) => {
            payload.remove(i % len);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..2048)) {
        if let Ok(decoded) = codec::decode(&Bytes::from(bytes)) {
            assert_stable(&decoded);
        }
    }

    /// Random bytes behind a valid revision and header, so decoding gets to the entries.
    #[test]
    fn random_entries_after_a_valid_header_never_panic(
        count in prop_oneof![0u32..8, any::<u32>()],
        id in any::<[u8; ID_LEN]>(),
        body in vec(any::<u8>(), 0..1024),
    ) {
        let mut payload = Vec::with_capacity(HEADER_LEN + body.len());
        payload.push(REVISION);
        payload.extend_from_slice(&count.to_be_bytes()[1..]);
        payload.extend_from_slice(&id);
        payload.extend_from_slice(&body);
        if let Ok(decoded) = codec::decode(&Bytes::from(payload)) {
            assert_stable(&decoded);
        }
    }

    #[test]
    fn damaged_payloads_never_panic(
        (id, entries) in session(),
        damages in vec(damage(), 1..4),
    ) {
        let mut payload = encoded(&id, &entries).to_vec();
        for damage in &damages {
            if payload.is_empty() {
                break;
            }
            apply(&mut payload, damage);
        }
        if let Ok(decoded) = codec::decode(&Bytes::from(payload)) {
            assert_stable(&decoded);
        }
    }

    #[test]
    fn encode_then_decode_round_trips((id, entries) in session()) {
        let payload = encoded(&id, &entries);
        prop_assert_eq!(payload.len(), codec::encoded_len(&entries));
        let decoded = codec::decode(&payload).expect("decode of an encoded session");
        prop_assert_eq!(decoded.id, id);
        prop_assert_eq!(decoded.entries, entries);
    }
}

proptest! {
    // Each case decodes every prefix of a payload (thousands of decodes), so fewer cases.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_truncation_is_an_error((id, entries) in session()) {
        let payload = encoded(&id, &entries);
        for len in 0..payload.len() {
            prop_assert!(
                codec::decode(&payload.slice(..len)).is_err(),
                "accepted {} of {} bytes",
                len,
                payload.len()
            );
        }
    }
}
