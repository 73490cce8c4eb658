//! How SQL Server compares the values the cache provider's correctness depends on, where it does
//! not compare bytes exactly, so that the test server fails the same tests a real server would.
//!
//! * `Id` (`nvarchar`, `SQL_Latin1_General_CP1_CS_AS`): trailing spaces are ignored, control
//!   and zero-width format characters have no weight, and the comparison is width-insensitive
//!   (fullwidth `Ａ` equals `A`). Case and accents are told apart. [`id_key`] folds an Id to a
//!   form in which equal Ids are equal strings. These are the foldings the provider's key policy
//!   is about; the collation has more (e.g. kana type), which no accepted key can reach.
//! * `varbinary`: values are compared as if padded with zero bytes to the same length, so
//!   `0x6162 = 0x616200` ([`varbinary_eq`]).

/// The form of `id` under which two Ids are equal exactly when the collation says they are
/// (for the foldings listed in the module docs).
#[must_use]
pub fn id_key(id: &str) -> String {
    let folded: String = id
        .chars()
        .filter(|c| !is_ignorable(*c))
        .map(fold_width)
        .collect();
    folded.trim_end_matches(' ').to_owned()
}

/// `a = b` for `varbinary` values, as SQL Server evaluates it: trailing zero bytes ignored.
#[must_use]
pub fn varbinary_eq(a: &[u8], b: &[u8]) -> bool {
    fn trimmed(v: &[u8]) -> &[u8] {
        let end = v.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
        &v[..end]
    }
    trimmed(a) == trimmed(b)
}

/// Characters with no sort weight: controls, and the zero-width format characters.
fn is_ignorable(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}'
        )
}

/// Fullwidth ASCII variants (U+FF01..U+FF5E) and the ideographic space fold to ASCII.
fn fold_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_fold_as_the_collation_does() {
        assert_eq!(id_key("k  "), "k");
        assert_eq!(id_key("K\u{1}lock"), "Klock");
        assert_eq!(id_key("\u{FF21}BC"), "ABC");
        assert_eq!(id_key("a\u{200B}b"), "ab");
        assert_ne!(id_key("abc"), id_key("ABC"), "case-sensitive");
        assert_ne!(id_key(" k"), id_key("k"), "leading spaces count");
        assert_ne!(id_key("caf\u{e9}"), id_key("cafe"), "accent-sensitive");
    }

    #[test]
    fn varbinary_ignores_trailing_zeros() {
        assert!(varbinary_eq(b"ab", b"ab\0"));
        assert!(varbinary_eq(b"", b"\0\0"));
        assert!(!varbinary_eq(b"ab", b"a\0b"));
        assert!(!varbinary_eq(b"ab", b"abc"));
    }
}
