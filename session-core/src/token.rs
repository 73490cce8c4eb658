//! Random identifiers: [`SessionKey`] (what the cookie carries) and [`LockToken`] (who holds a lock).
//!
//! Both come from the operating system's CSPRNG. A session key is, as in ASP.NET Core, the
//! 36-character GUID text of 16 random bytes: all 128 bits random (not a version-4 UUID, which
//! would fix 6 of them).

use std::fmt;

use uuid::Uuid;

/// Fills 16 bytes from the OS CSPRNG.
///
/// The OS generator failing is not a condition a server can recover from or work around
/// safely (falling back to a weak generator would make session keys guessable), so it aborts
/// the request's task with a clear message rather than returning an error every caller would
/// have to handle identically.
pub(crate) fn random_16() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    bytes
}

/// The key of a session in the store: 36 lowercase characters, `8-4-4-4-12` hex digits.
///
/// Its `Debug` and `Display` forms are redacted (only the first 4 characters), so a key never
/// reaches a log in clear; [`SessionKey::as_str`] gives the full text where it is really needed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionKey(String);

impl SessionKey {
    /// A fresh key of 128 random bits.
    #[must_use]
    pub fn generate() -> Self {
        Self::from_bytes(random_16())
    }

    /// The key whose GUID text form encodes `bytes`. Keys of real sessions come from
    /// [`generate`](Self::generate); this is for fixtures, tests and fuzzing, where the bytes
    /// must be chosen (or replayed).
    ///
    /// ```
    /// use session_core::SessionKey;
    /// let key = SessionKey::from_bytes([0xab; 16]);
    /// assert_eq!(key.as_str(), "abababab-abab-abab-abab-abababababab");
    /// assert_eq!(SessionKey::parse(key.as_str()), Some(key));
    /// ```
    #[must_use]
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(Uuid::from_bytes(bytes).hyphenated().to_string())
    }

    /// Parses a key received from a client. Only the exact form this crate generates is accepted
    /// (36 characters, lowercase hex, hyphens at 8, 13, 18 and 23), so garbage never reaches a store.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() != 36 {
            return None;
        }
        let ok = b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        });
        ok.then(|| Self(text.to_owned()))
    }

    /// The full key text (for the cookie and the store; never log it).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A short, non-reversible prefix for logs.
    #[must_use]
    pub fn redacted(&self) -> &str {
        &self.0[..4]
    }

    /// A non-reversible fingerprint: the first 8 bytes of the SHA-256 of the key text, in
    /// lowercase hex. Unlike [`redacted`](Self::redacted) it reveals nothing of the key's
    /// characters, and it tells two keys apart with near certainty (64 bits), so diagnostics
    /// can show that a key changed.
    ///
    /// ```
    /// use session_core::SessionKey;
    /// let key = SessionKey::from_bytes([0xab; 16]);
    /// assert_eq!(key.fingerprint().len(), 16);
    /// assert_ne!(key.fingerprint(), SessionKey::from_bytes([0xac; 16]).fingerprint());
    /// ```
    #[must_use]
    pub fn fingerprint(&self) -> String {
        use sha2::Digest as _;
        use std::fmt::Write as _;
        let digest = sha2::Sha256::digest(self.0.as_bytes());
        digest
            .iter()
            .take(8)
            .fold(String::with_capacity(16), |mut out, b| {
                // Writing to a `String` cannot fail.
                let _ = write!(out, "{b:02x}");
                out
            })
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey({}…)", self.redacted())
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…", self.redacted())
    }
}

/// Identifies the holder of a lock taken with [`DistributedCache::try_lock`](crate::DistributedCache::try_lock):
/// 32 lowercase hex characters from 128 random bits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LockToken(String);

impl LockToken {
    /// A fresh random token.
    #[must_use]
    pub fn generate() -> Self {
        Self(Uuid::from_bytes(random_16()).simple().to_string())
    }

    /// The token text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_differ() {
        let a = SessionKey::generate();
        let b = SessionKey::generate();
        assert_ne!(a, b);
        assert_eq!(SessionKey::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.as_str().len(), 36);
    }

    #[test]
    fn malformed_keys_are_refused() {
        for bad in [
            "",
            "not-a-key",
            "00112233-4455-6677-8899-AABBCCDDEEFF",
            "00112233445566778899aabbccddeeff",
            "{00112233-4455-6677-8899-aabbccddeeff}",
            "00112233-4455-6677-8899-aabbccddeefg",
            "00112233-4455-6677-8899_aabbccddeeff",
            "00112233-4455-6677-8899-aabbccddeeff0",
        ] {
            assert_eq!(SessionKey::parse(bad), None, "{bad}");
        }
        assert!(SessionKey::parse("00112233-4455-6677-8899-aabbccddeeff").is_some());
    }

    #[test]
    fn debug_and_display_are_redacted() {
        let k = SessionKey::parse("00112233-4455-6677-8899-aabbccddeeff").unwrap();
        assert_eq!(format!("{k:?}"), "SessionKey(0011…)");
        assert_eq!(k.to_string(), "0011…");
    }

    #[test]
    fn all_128_bits_vary() {
        // Version-4 UUIDs fix the nibble at index 14 to '4'; ours must not.
        let varied = (0..64).any(|_| SessionKey::generate().as_str().as_bytes()[14] != b'4');
        assert!(varied);
    }
}
