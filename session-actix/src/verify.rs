//! [`CookieVerifier`]: from the raw `Cookie` header bytes a client sent to the session key we
//! issued, or nothing. The only code that decides whether a client's cookie is trusted; the
//! middleware, the property tests and the fuzz target all go through it.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::cookie::{Cookie, CookieJar, Key};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use session_core::SessionKey;
use sha2::Sha256;

/// Longest `name=value` pair looked at, as browsers' per-cookie limit. A longer pair is never
/// percent-decoded or verified: it is garbage, and decoding or hashing it is work an attacker
/// chooses.
pub const MAX_COOKIE_PAIR_BYTES: usize = 4096;

/// Longest session cookie value verified: a signed key is 44 characters of base64 HMAC plus the
/// 36-character key (and, for a persistent cookie, at most 45 characters of [`CookieLifetime`]).
/// Anything much longer cannot be ours and is dropped before any HMAC work.
pub const MAX_SESSION_COOKIE_VALUE_BYTES: usize = 256;

/// Verifies session cookies signed with the current key or a previous one (key rotation), and
/// signs new ones with the current key.
///
/// [`verify`](Self::verify) takes the raw values of every `Cookie` header of a request and
/// answers the session key only if everything checks out. Every defect makes the cookie count
/// as absent (the request then gets a fresh session, and the store is never asked about a key
/// we did not issue):
///
/// | input | result |
/// |---|---|
/// | no cookie of our name | `None` |
/// | a `Cookie` header that is not UTF-8 | `None` (the header cannot be split reliably) |
/// | **two or more cookies of our name** (in one header or several) | `None`: which one is current cannot be told, and an attacker who can plant a second cookie (a sibling subdomain, a narrower path) must not choose the session |
/// | a pair over [`MAX_COOKIE_PAIR_BYTES`] or a value over [`MAX_SESSION_COOKIE_VALUE_BYTES`] | `None`, without HMAC work |
/// | a cookie of our name that does not parse (e.g. bad percent-encoding) | `None` |
/// | a bad or truncated signature, or one by an unknown key | `None` |
/// | a valid signature over anything but a well-formed [`SessionKey`] (optionally followed by a well-formed [`CookieLifetime`]) | `None` |
///
/// Cookie pairs are split and percent-decoded exactly as actix-web's `HttpRequest::cookies`
/// does; pairs of other names are ignored (even unparsable ones).
///
/// ```
/// use actix_web::cookie::Key;
/// use session_actix::{CookieVerifier, SessionKey};
///
/// let old = Key::generate();
/// let new = Key::generate();
/// let key = SessionKey::generate();
/// let header = format!("session={}", CookieVerifier::new("session", old.clone()).sign(&key));
///
/// let rotated = CookieVerifier::new("session", new).with_previous_keys([old]);
/// let verified = rotated.verify([header.as_bytes()]).expect("signed by a previous key");
/// assert_eq!(verified.key(), &key);
/// assert!(verified.signed_with_previous_key()); // re-sign it with the new key
/// ```
#[derive(Clone)]
pub struct CookieVerifier {
    name: String,
    current: Key,
    previous: Vec<Key>,
    /// The HMAC of the current key, then of each previous key, keyed once (see [`KeyedMac`]).
    macs: Vec<KeyedMac>,
}

/// Characters of the base64 HMAC-SHA256 digest that starts a signed cookie's value, in the
/// format of actix-web's signed cookies (`cookie`'s `SignedJar`): `base64(HMAC(value)) + value`.
const DIGEST_BASE64_LEN: usize = 44;

/// HMAC-SHA256 keyed with one signing key. Keying HMAC hashes two key-sized pads, as much
/// SHA-256 work as checking a short cookie; `cookie`'s signed jar redoes it on every call, this
/// keeps the keyed state and clones it per check.
#[derive(Clone)]
struct KeyedMac(Hmac<Sha256>);

impl KeyedMac {
    /// `None` never happens (HMAC takes keys of any length); such a key would verify nothing.
    fn new(key: &Key) -> Option<Self> {
        Hmac::new_from_slice(key.signing()).ok().map(Self)
    }

    /// Whether `digest` is this key's HMAC of `signed`, compared in constant time.
    fn verifies(&self, digest: &[u8], signed: &str) -> bool {
        let mut mac = self.0.clone();
        mac.update(signed.as_bytes());
        mac.verify_slice(digest).is_ok()
    }
}

impl fmt::Debug for CookieVerifier {
    // Key material is never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieVerifier")
            .field("name", &self.name)
            .field("previous_keys", &self.previous.len())
            .finish_non_exhaustive()
    }
}

/// A session cookie that passed [`CookieVerifier::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCookie {
    key: SessionKey,
    previous_key: bool,
    lifetime: Option<CookieLifetime>,
}

/// The life of a persistent session cookie, recorded in the cookie's signed value (so a client
/// cannot extend it): when it was issued and for how long. A browser-session cookie (no
/// `Max-Age`) records none.
///
/// Knowing its cookie's age without a store call is what lets the middleware re-send a
/// persistent cookie before it expires while its session is still in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CookieLifetime {
    /// When the cookie was issued, in whole seconds since the Unix epoch.
    pub issued_at: u64,
    /// The cookie's `Max-Age`.
    pub max_age: Duration,
    /// Whether the session itself is remembered for `max_age`
    /// ([`Session::remember`](session_core::Session::remember)), rather than the cookie being
    /// persistent by the middleware's [`cookie_max_age`](crate::SessionMiddlewareBuilder::cookie_max_age).
    pub remembered: bool,
}

impl CookieLifetime {
    /// A cookie issued at `issued_at` (seconds since the Unix epoch) for `max_age`.
    #[must_use]
    pub fn new(issued_at: u64, max_age: Duration, remembered: bool) -> Self {
        Self {
            issued_at,
            max_age,
            remembered,
        }
    }

    /// A cookie issued now for `max_age`.
    #[must_use]
    pub fn starting_now(max_age: Duration, remembered: bool) -> Self {
        Self::new(unix_now(), max_age, remembered)
    }

    /// Whether less than half of the cookie's life remains at `now` (seconds since the Unix
    /// epoch): it should be sent again, so that it does not expire while its session is used.
    #[must_use]
    pub fn needs_renewal_at(&self, now: u64) -> bool {
        let half = self.max_age.as_secs() / 2;
        now.saturating_sub(self.issued_at) >= half
    }

    /// The signed value's suffix: `.r.<issued>.<max-age>` (remembered) or `.p.<...>`.
    fn encode(&self, out: &mut String) {
        use std::fmt::Write as _;
        let kind = if self.remembered { 'r' } else { 'p' };
        // Writing to a `String` cannot fail.
        let _ = write!(out, ".{kind}.{}.{}", self.issued_at, self.max_age.as_secs());
    }

    /// Parses what [`encode`](Self::encode) wrote (without the leading dot).
    fn decode(text: &str) -> Option<Self> {
        let mut parts = text.split('.');
        let remembered = match parts.next()? {
            "r" => true,
            "p" => false,
            _ => return None,
        };
        let issued_at = parts.next()?.parse().ok()?;
        let max_age = Duration::from_secs(parts.next()?.parse().ok()?);
        if parts.next().is_some() || max_age.is_zero() {
            return None;
        }
        Some(Self::new(issued_at, max_age, remembered))
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl VerifiedCookie {
    /// The session key the cookie carries.
    #[must_use]
    pub fn key(&self) -> &SessionKey {
        &self.key
    }

    /// The session key, by value.
    #[must_use]
    pub fn into_key(self) -> SessionKey {
        self.key
    }

    /// The persistent cookie's recorded life; `None` for a browser-session cookie.
    #[must_use]
    pub fn lifetime(&self) -> Option<CookieLifetime> {
        self.lifetime
    }

    /// True when the signature is by a previous key, not the current one: the cookie should be
    /// sent again, signed with the current key, so that the old key can be retired.
    #[must_use]
    pub fn signed_with_previous_key(&self) -> bool {
        self.previous_key
    }
}

/// Why a request's session cookie was not accepted (for the debug log only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rejection {
    Absent,
    NotUtf8,
    Duplicate,
    Oversize,
    Unparsable,
    BadSignature,
    MalformedKey,
}

impl CookieVerifier {
    /// Verifies cookies named `name` signed with `current`.
    #[must_use]
    pub fn new(name: impl Into<String>, current: Key) -> Self {
        Self {
            name: name.into(),
            macs: KeyedMac::new(&current).into_iter().collect(),
            current,
            previous: Vec::new(),
        }
    }

    /// Also accepts cookies signed with these keys (newest first); new cookies are still
    /// signed with the current key only.
    #[must_use]
    pub fn with_previous_keys(mut self, keys: impl IntoIterator<Item = Key>) -> Self {
        self.previous = keys.into_iter().collect();
        self.macs = std::iter::once(&self.current)
            .chain(&self.previous)
            .filter_map(KeyedMac::new)
            .collect();
        self
    }

    /// The cookie name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The session key in the request's session cookie, if it is one we issued; see the type
    /// docs for every case answered `None`. `header_values` are the raw values of each `Cookie`
    /// header (e.g. `req.headers().get_all(COOKIE).map(HeaderValue::as_bytes)`).
    pub fn verify<'a>(
        &self,
        header_values: impl IntoIterator<Item = &'a [u8]>,
    ) -> Option<VerifiedCookie> {
        match self.check(header_values) {
            Ok(verified) => Some(verified),
            Err(Rejection::Absent) => None,
            Err(reason) => {
                tracing::debug!(?reason, "session cookie ignored");
                None
            }
        }
    }

    /// The value of a session cookie carrying `key`, signed with the current key (the HMAC in
    /// base64, then the key).
    #[must_use]
    pub fn sign(&self, key: &SessionKey) -> String {
        self.sign_with_lifetime(key, None)
    }

    /// The value of a session cookie carrying `key` and, for a persistent cookie, its
    /// `lifetime` (signed with the key, so that a client cannot change it).
    #[must_use]
    pub fn sign_with_lifetime(
        &self,
        key: &SessionKey,
        lifetime: Option<&CookieLifetime>,
    ) -> String {
        let mut plain = key.as_str().to_owned();
        if let Some(lifetime) = lifetime {
            lifetime.encode(&mut plain);
        }
        let mut jar = CookieJar::new();
        jar.signed_mut(&self.current)
            .add(Cookie::new(self.name.clone(), plain));
        // `add` always stores the cookie it is given, under its name.
        jar.get(&self.name)
            .map(|cookie| cookie.value().to_owned())
            .unwrap_or_default()
    }

    fn check<'a>(
        &self,
        header_values: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<VerifiedCookie, Rejection> {
        let value = self.find_ours(header_values)?;
        if value.len() > MAX_SESSION_COOKIE_VALUE_BYTES {
            return Err(Rejection::Oversize);
        }
        let (signed, previous_key) = self.authenticate(&value).ok_or(Rejection::BadSignature)?;
        let (key, lifetime) = match signed.split_once('.') {
            None => (signed, None),
            Some((key, rest)) => (
                key,
                Some(CookieLifetime::decode(rest).ok_or(Rejection::MalformedKey)?),
            ),
        };
        let key = SessionKey::parse(key).ok_or(Rejection::MalformedKey)?;
        Ok(VerifiedCookie {
            key,
            previous_key,
            lifetime,
        })
    }

    /// The signed part of a cookie value, and whether a previous key signed it, if its digest
    /// is the HMAC of one of our keys. The same check as `cookie`'s `SignedJar::verify`, on
    /// borrowed text and a stack buffer.
    fn authenticate<'v>(&self, value: &'v str) -> Option<(&'v str, bool)> {
        // False when the value is shorter than a digest, as well as inside a character.
        if !value.is_char_boundary(DIGEST_BASE64_LEN) {
            return None;
        }
        let (digest_base64, signed) = value.split_at(DIGEST_BASE64_LEN);
        // 33 bytes: `decode_slice` wants room for its estimate (44 / 4 × 3); a real digest is
        // 32, and any other length fails `verifies`.
        let mut digest = [0u8; 33];
        let len = STANDARD.decode_slice(digest_base64, &mut digest).ok()?;
        let digest = digest.get(..len)?;
        self.macs
            .iter()
            .position(|mac| mac.verifies(digest, signed))
            .map(|i| (signed, i > 0))
    }

    /// The (percent-decoded) value of the one cookie of our name.
    fn find_ours<'a>(
        &self,
        header_values: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<String, Rejection> {
        let mut found: Option<Result<String, Rejection>> = None;
        for raw in header_values {
            let text = std::str::from_utf8(raw).map_err(|_| Rejection::NotUtf8)?;
            for pair in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                let raw_name_is_ours = || {
                    pair.split_once('=')
                        .is_some_and(|(name, _)| name.trim() == self.name)
                };
                let value = if pair.len() > MAX_COOKIE_PAIR_BYTES {
                    // Judged by its raw name only: not worth decoding.
                    if !raw_name_is_ours() {
                        continue;
                    }
                    Err(Rejection::Oversize)
                } else {
                    match Cookie::parse_encoded(pair) {
                        Ok(cookie) if cookie.name() == self.name => Ok(cookie.value().to_owned()),
                        // An unparsable cookie of our name (say, bad percent-encoding) still
                        // counts, so that it cannot slip a duplicate past the check above.
                        Err(_) if raw_name_is_ours() => Err(Rejection::Unparsable),
                        _ => continue,
                    }
                };
                if found.is_some() {
                    return Err(Rejection::Duplicate);
                }
                found = Some(value);
            }
        }
        found.unwrap_or(Err(Rejection::Absent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Key {
        Key::from(&[byte; 64])
    }

    fn verify(v: &CookieVerifier, header: &str) -> Option<SessionKey> {
        v.verify([header.as_bytes()]).map(VerifiedCookie::into_key)
    }

    #[test]
    fn signed_cookie_round_trips_among_other_cookies() {
        let v = CookieVerifier::new("session", key(1));
        let k = SessionKey::generate();
        let value = v.sign(&k);
        assert_ne!(value, k.as_str(), "the value is signed, not bare");
        let header = format!("theme=dark; session={value}; lang=en");
        let verified = v.verify([header.as_bytes()]).unwrap();
        assert_eq!(verified.key(), &k);
        assert!(!verified.signed_with_previous_key());
    }

    #[test]
    fn bad_signatures_are_refused() {
        let v = CookieVerifier::new("session", key(1));
        let k = SessionKey::generate();
        let value = v.sign(&k);
        let flipped = format!(
            "{}{}",
            if value.starts_with('A') { "B" } else { "A" },
            &value[1..]
        );
        assert_eq!(verify(&v, &format!("session={flipped}")), None);
        assert_eq!(verify(&v, &format!("session={}", &value[..60])), None);
        assert_eq!(verify(&v, &format!("session={}", k.as_str())), None);
        let foreign = CookieVerifier::new("session", key(9)).sign(&k);
        assert_eq!(verify(&v, &format!("session={foreign}")), None);
    }

    #[test]
    fn previous_keys_verify_and_are_flagged() {
        let k = SessionKey::generate();
        let old = CookieVerifier::new("session", key(1)).sign(&k);
        let rotated = CookieVerifier::new("session", key(2)).with_previous_keys([key(3), key(1)]);
        let verified = rotated
            .verify([format!("session={old}").as_bytes()])
            .unwrap();
        assert_eq!(verified.key(), &k);
        assert!(verified.signed_with_previous_key());
        assert_ne!(rotated.sign(&k), old, "new cookies use the newest key");
    }

    #[test]
    fn duplicates_are_refused_in_one_header_or_several() {
        let v = CookieVerifier::new("session", key(1));
        let pair = format!("session={}", v.sign(&SessionKey::generate()));
        assert_eq!(verify(&v, &format!("{pair}; {pair}")), None);
        assert_eq!(v.verify([pair.as_bytes(), pair.as_bytes()]), None);
        // Even when the second one is garbage (it could be the one the browser meant).
        assert_eq!(verify(&v, &format!("{pair}; session=x")), None);
        assert_eq!(verify(&v, &format!("{pair}; session=%ff")), None);
        let huge = format!("session={}", "A".repeat(MAX_COOKIE_PAIR_BYTES));
        assert_eq!(verify(&v, &format!("{pair}; {huge}")), None);
    }

    #[test]
    fn oversize_non_utf8_and_malformed_keys_are_refused() {
        let v = CookieVerifier::new("session", key(1));
        assert_eq!(
            verify(&v, &format!("session={}", "A".repeat(8 * 1024))),
            None
        );
        assert_eq!(v.verify([b"session=\xff\xfe".as_slice()]), None);
        let mut jar = CookieJar::new();
        jar.signed_mut(&key(1))
            .add(Cookie::new("session", "not-a-session-key"));
        let value = jar.get("session").unwrap().value().to_owned();
        assert_eq!(verify(&v, &format!("session={value}")), None);
        assert_eq!(v.verify(std::iter::empty()), None);
    }

    #[test]
    fn a_persistent_cookie_carries_its_signed_lifetime() {
        let v = CookieVerifier::new("session", key(1));
        let k = SessionKey::generate();
        for remembered in [true, false] {
            let lifetime =
                CookieLifetime::new(1_700_000_000, Duration::from_secs(86_400), remembered);
            let value = v.sign_with_lifetime(&k, Some(&lifetime));
            assert!(value.len() <= MAX_SESSION_COOKIE_VALUE_BYTES);
            let verified = v.verify([format!("session={value}").as_bytes()]).unwrap();
            assert_eq!(verified.key(), &k);
            assert_eq!(verified.lifetime(), Some(lifetime));
        }
        let plain = v.verify([format!("session={}", v.sign(&k)).as_bytes()]);
        assert_eq!(plain.unwrap().lifetime(), None);
        // The longest lifetime fits under the value limit.
        let longest = CookieLifetime::new(u64::MAX, Duration::from_secs(u64::MAX), true);
        assert!(v.sign_with_lifetime(&k, Some(&longest)).len() <= MAX_SESSION_COOKIE_VALUE_BYTES);
    }

    #[test]
    fn a_malformed_lifetime_is_refused_even_when_signed() {
        let v = CookieVerifier::new("session", key(1));
        let k = SessionKey::generate();
        for suffix in [
            ".x.1.2", ".r.1", ".r.1.0", ".r.a.2", ".r.1.2.3", ".", ".r..2", ".p.-1.2",
        ] {
            let mut jar = CookieJar::new();
            jar.signed_mut(&key(1))
                .add(Cookie::new("session", format!("{}{suffix}", k.as_str())));
            let value = jar.get("session").unwrap().value().to_owned();
            assert_eq!(verify(&v, &format!("session={value}")), None, "{suffix}");
        }
    }

    #[test]
    fn renewal_is_due_at_half_the_life() {
        let lifetime = CookieLifetime::new(1_000, Duration::from_secs(100), true);
        assert!(!lifetime.needs_renewal_at(1_049));
        assert!(lifetime.needs_renewal_at(1_050));
        assert!(
            !lifetime.needs_renewal_at(0),
            "a clock behind the issue time"
        );
    }

    #[test]
    fn cookies_signed_by_actix_web_verify_and_tampered_ones_do_not() {
        let k = SessionKey::generate();
        let mut jar = CookieJar::new();
        jar.signed_mut(&key(1))
            .add(Cookie::new("session", k.as_str().to_owned()));
        let value = jar.get("session").unwrap().value().to_owned();
        let v = CookieVerifier::new("session", key(1));
        assert_eq!(verify(&v, &format!("session={value}")), Some(k.clone()));
        // The signature covers the key: the same digest over another key fails.
        let other = SessionKey::generate();
        let forged = format!("session={}{}", &value[..DIGEST_BASE64_LEN], other.as_str());
        assert_eq!(verify(&v, &forged), None);
        // A digest cut short, or one character longer, is refused without a panic.
        assert_eq!(verify(&v, &format!("session={}", &value[..43])), None);
        assert_eq!(verify(&v, &format!("session=A{value}")), None);
        assert_eq!(verify(&v, "session=é"), None);
    }

    #[test]
    fn oversize_cookies_of_other_names_are_ignored() {
        let v = CookieVerifier::new("session", key(1));
        let k = SessionKey::generate();
        let header = format!("big={}; session={}", "A".repeat(8 * 1024), v.sign(&k));
        assert_eq!(verify(&v, &header), Some(k));
    }
}
