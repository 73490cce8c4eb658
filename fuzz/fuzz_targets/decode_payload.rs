//! The session payload decoder must never panic, and whatever it accepts must re-encode to the
//! same session in as many bytes (the decoder refuses trailing bytes and duplicate keys, so
//! nothing it accepts is dropped), and our encoding must be canonical: decoding and
//! re-encoding it gives back the very same bytes. (The input itself may list its entries in
//! any order, as .NET writes them in dictionary order; we write them sorted by key.)
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use session_core::codec;

fuzz_target!(|data: &[u8]| {
    let payload = Bytes::copy_from_slice(data);
    if let Ok(decoded) = codec::decode(&payload) {
        let encoded = codec::encode(&decoded.id, &decoded.entries).expect("decoded sessions re-encode");
        assert_eq!(encoded.len(), data.len(), "an accepted payload lost or gained bytes");
        let again = codec::decode(&encoded).expect("re-encoded sessions decode");
        assert_eq!(again, decoded, "re-encoding changed the session");
        let canonical = codec::encode(&again.id, &again.entries).expect("re-encodes");
        assert_eq!(canonical, encoded, "our encoding is not a fixed point");
    }
});
