//! The session payload decoder must never panic, and whatever it accepts must re-encode to the
//! same bytes (the format has exactly one encoding per session, given sorted keys).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use session_core::codec;

fuzz_target!(|data: &[u8]| {
    let payload = Bytes::copy_from_slice(data);
    if let Ok(decoded) = codec::decode(&payload) {
        let encoded = codec::encode(&decoded.id, &decoded.entries).expect("decoded sessions re-encode");
        let again = codec::decode(&encoded).expect("re-encoded sessions decode");
        assert_eq!(again, decoded);
    }
});
