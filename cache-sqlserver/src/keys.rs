//! The key policy: which cache keys this provider stores.
//!
//! The `Id` column is `nvarchar(449) COLLATE SQL_Latin1_General_CP1_CS_AS`, as .NET's table has
//! it, and SQL Server compares Ids by that collation, not byte by byte: trailing spaces are
//! ignored (`'k '` = `'k'`), control characters have no weight (`'a' + NCHAR(1) + 'b'` = `'ab'`)
//! and the comparison is width-insensitive (`N'ＡBC'` = `N'ABC'`), besides other Unicode
//! foldings. Two different keys could then name one row. Rather than normalise keys (which would
//! make two different keys share an entry silently), this provider **refuses** every key that
//! the collation could fold: a key must be printable ASCII (U+0020 to U+007E), must not end with
//! a space, and must not be empty. Within printable ASCII the case- and accent-sensitive
//! collation tells every character apart, so distinct accepted keys are distinct rows.
//!
//! Session keys (GUID text) always pass. A .NET application sharing the table may write other
//! keys; this provider cannot read those, and does not need to.

use session_core::CacheError;

/// The length of the `Id` column, `nvarchar(449)` (in UTF-16 code units), as .NET's table has it.
pub const MAX_ID_UTF16: usize = 449;

/// The longest key accepted: the whole column (locks live in their own table, under the key
/// itself). Accepted keys are ASCII, so this is also their length in bytes.
pub const MAX_KEY_LEN: usize = MAX_ID_UTF16;

/// Checks `key` against the key policy (see the module docs): not empty, at most
/// [`MAX_KEY_LEN`] characters, printable ASCII only, no trailing space.
///
/// # Errors
/// [`CacheError::InvalidKey`] with the rule that was broken.
pub fn validate_key(key: &str) -> Result<(), CacheError> {
    let reason = if key.is_empty() {
        "the key is empty"
    } else if !key.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        "the key has a character outside printable ASCII (U+0020..U+007E), which the \
         SQL_Latin1_General_CP1_CS_AS collation may ignore or fold"
    } else if key.ends_with(' ') {
        "the key ends with a space, which SQL Server ignores when comparing Ids"
    } else if key.len() > MAX_KEY_LEN {
        "the key is longer than 449 characters"
    } else {
        return Ok(());
    };
    Err(CacheError::InvalidKey { reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(key: &str) -> bool {
        matches!(validate_key(key), Err(CacheError::InvalidKey { .. }))
    }

    #[test]
    fn session_keys_and_printable_ascii_pass() {
        assert!(validate_key("00112233-4455-6677-8899-aabbccddeeff").is_ok());
        assert!(validate_key("conformance:label: a~!").is_ok());
        assert!(validate_key(" leading space is compared").is_ok());
        assert!(validate_key(&"k".repeat(MAX_KEY_LEN)).is_ok());
    }

    #[test]
    fn keys_the_collation_could_fold_are_refused() {
        assert_eq!(MAX_KEY_LEN, 449, "the InvalidKey message names 449");
        for key in [
            "",
            "k ",
            "k\u{1}lock",
            "tab\there",
            "\u{7f}",
            "\u{FF21}BC",
            "caf\u{e9}",
            "zero\u{200b}width",
        ] {
            assert!(refused(key), "{key:?}");
        }
        assert!(refused(&"k".repeat(MAX_KEY_LEN + 1)));
    }
}
