//! The compact form of entry keys in the entry map.

/// An entry key as the entry map holds it.
///
/// Session keys (the 36-character GUID text that `SessionKey` generates) are by far the most
/// common keys. Held as text, such a key costs a 48-byte heap block of its own besides moka's
/// `Arc` around the key; held as its 16 bytes, inline in that `Arc`, it costs none. Only the exact canonical form (lowercase hex, hyphens at 8, 13, 18
/// and 23) is compacted, so the mapping is one-to-one and keys stay case-sensitive: `"A…"` and
/// `"a…"` remain different keys. Any other key is kept as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum EntryKey {
    /// A canonical GUID key, as its 16 bytes.
    Guid([u8; 16]),
    /// Any other key.
    Text(Box<str>),
}

impl EntryKey {
    /// The map key for `key`.
    pub(crate) fn new(key: &str) -> Self {
        canonical_guid(key).map_or_else(|| Self::Text(key.into()), Self::Guid)
    }
}

/// The 16 bytes of `text` if it is a GUID in canonical lowercase hyphenated form. Runs on every
/// operation (a read included), so it walks the text once, with no iterator adapters.
fn canonical_guid(text: &str) -> Option<[u8; 16]> {
    let b = text.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    let mut at = 0;
    for byte in &mut out {
        if matches!(at, 8 | 13 | 18 | 23) {
            if b[at] != b'-' {
                return None;
            }
            at += 1;
        }
        *byte = (lower_hex(b[at])? << 4) | lower_hex(b[at + 1])?;
        at += 2;
    }
    Some(out)
}

fn lower_hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_guids_are_compacted() {
        let key = EntryKey::new("00112233-4455-6677-8899-aabbccddeeff");
        assert_eq!(
            key,
            EntryKey::Guid([
                0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
                0xee, 0xff
            ])
        );
    }

    #[test]
    fn other_keys_stay_text_and_case_sensitive() {
        for text in [
            "00112233-4455-6677-8899-AABBCCDDEEFF",
            "00112233445566778899aabbccddeeff0000",
            "00112233-4455-6677-8899-aabbccddeef",
            "00112233-4455-6677-8899-aabbccddeeffa",
            "0011223g-4455-6677-8899-aabbccddeeff",
            "",
            "color",
            "é0112233-4455-6677-8899-aabbccddeef",
        ] {
            assert_eq!(EntryKey::new(text), EntryKey::Text(text.into()), "{text}");
        }
        assert_ne!(
            EntryKey::new("00112233-4455-6677-8899-AABBCCDDEEFF"),
            EntryKey::new("00112233-4455-6677-8899-aabbccddeeff")
        );
    }

    #[test]
    fn generated_session_keys_are_compacted() {
        let key = session_core::SessionKey::generate();
        assert!(matches!(EntryKey::new(key.as_str()), EntryKey::Guid(_)));
    }
}
