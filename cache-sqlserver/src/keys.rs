//! Cache keys as table Ids, and the Ids of lock rows.
//!
//! A lock on key `k` is a row of the same table (so it is shared by every node and survives any
//! pooled connection) whose Id is `k` followed by [`LOCK_SUFFIX`]. The suffix starts with U+0001,
//! a control character that session keys (36-character GUID text) never contain, and keys
//! containing U+0001 are refused, so no entry can ever be read or overwritten through a lock's Id
//! and the other way round.

use session_core::CacheError;

/// Appended to a key to form the Id of its lock row.
pub const LOCK_SUFFIX: &str = "\u{1}lock";

/// The length of the `Id` column, `nvarchar(449)` (in UTF-16 code units), as .NET's table has it.
pub const MAX_ID_UTF16: usize = 449;

/// The longest key accepted, so that its lock Id still fits the column.
pub const MAX_KEY_UTF16: usize = MAX_ID_UTF16 - LOCK_SUFFIX.len();

/// Checks that `key` can be stored: not empty, at most [`MAX_KEY_UTF16`] UTF-16 code units, and
/// free of U+0001.
///
/// # Errors
/// [`CacheError::InvalidKey`].
pub fn validate_key(key: &str) -> Result<(), CacheError> {
    if key.is_empty() {
        return Err(CacheError::InvalidKey {
            reason: "the key is empty",
        });
    }
    if key.contains('\u{1}') {
        return Err(CacheError::InvalidKey {
            reason: "the key contains U+0001, reserved for lock rows",
        });
    }
    if key.encode_utf16().count() > MAX_KEY_UTF16 {
        return Err(CacheError::InvalidKey {
            reason: "the key is longer than 444 UTF-16 code units",
        });
    }
    Ok(())
}

/// The Id of the lock row of `key` (which must be valid).
#[must_use]
pub fn lock_id(key: &str) -> String {
    let mut id = String::with_capacity(key.len() + LOCK_SUFFIX.len());
    id.push_str(key);
    id.push_str(LOCK_SUFFIX);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(MAX_KEY_UTF16, 444, "the InvalidKey message names 444");
        assert!(validate_key("00112233-4455-6677-8899-aabbccddeeff").is_ok());
        assert!(validate_key("").is_err());
        assert!(validate_key("a\u{1}lock").is_err());
        assert!(validate_key(&"k".repeat(MAX_KEY_UTF16)).is_ok());
        assert!(validate_key(&"k".repeat(MAX_KEY_UTF16 + 1)).is_err());
        assert_eq!(
            lock_id(&"k".repeat(MAX_KEY_UTF16)).encode_utf16().count(),
            MAX_ID_UTF16
        );
    }
}
