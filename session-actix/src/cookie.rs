//! The session cookie: reading and verifying the client's, building ours (signed) and the
//! removal cookie. Everything that looks at cookie bytes is here.

use std::fmt;
use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, CookieJar, Key, SameSite, time};
use session_core::SessionKey;

use crate::config::CookieSecurePolicy;

/// Longest cookie value looked at: a signed key is 44 characters of base64 MAC plus the
/// 36-character key. Anything much longer is garbage and is dropped before any HMAC work.
pub(crate) const MAX_COOKIE_VALUE_LEN: usize = 256;

/// The key that signs new cookies and the older keys still accepted.
#[derive(Clone)]
pub(crate) struct SigningKeys {
    pub(crate) current: Key,
    pub(crate) previous: Vec<Key>,
}

impl fmt::Debug for SigningKeys {
    // Key material is never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeys")
            .field("previous", &self.previous.len())
            .finish_non_exhaustive()
    }
}

/// The validated cookie settings of one middleware.
#[derive(Debug, Clone)]
pub(crate) struct CookieSettings {
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) domain: Option<String>,
    pub(crate) http_only: bool,
    pub(crate) same_site: SameSite,
    pub(crate) secure: CookieSecurePolicy,
    pub(crate) max_age: Option<Duration>,
    pub(crate) keys: SigningKeys,
}

impl CookieSettings {
    /// The verified session key the client sent, or `None`. Every defect (unreadable
    /// headers, two cookies of our name, oversize, bad signature, malformed key) makes the
    /// cookie count as absent: the request then gets a new session, never an error, and the
    /// store is not asked about a key we did not issue.
    pub(crate) fn read(&self, req: &HttpRequest) -> Option<SessionKey> {
        let cookie = {
            let cookies = match req.cookies() {
                Ok(cookies) => cookies,
                Err(error) => {
                    tracing::debug!(%error, "unreadable Cookie header; session cookie ignored");
                    return None;
                }
            };
            let mut ours = cookies.iter().filter(|c| c.name() == self.name);
            let first = ours.next()?.clone();
            if ours.next().is_some() {
                tracing::debug!("several session cookies in one request; all ignored");
                return None;
            }
            first
        };
        if cookie.value().len() > MAX_COOKIE_VALUE_LEN {
            tracing::debug!(
                len = cookie.value().len(),
                "oversize session cookie ignored"
            );
            return None;
        }
        let Some(verified) = self.verify(cookie) else {
            tracing::debug!("session cookie with a bad signature ignored");
            return None;
        };
        let key = SessionKey::parse(verified.value());
        if key.is_none() {
            tracing::debug!("signed session cookie holds a malformed key; ignored");
        }
        key
    }

    /// Checks the signature under the current key, then under each previous key.
    fn verify(&self, cookie: Cookie<'static>) -> Option<Cookie<'static>> {
        let jar = CookieJar::new();
        std::iter::once(&self.keys.current)
            .chain(&self.keys.previous)
            .find_map(|key| jar.signed(key).verify(cookie.clone()))
    }

    /// Whether cookies sent in answer to `req` carry `Secure`.
    pub(crate) fn secure_for(&self, req: &HttpRequest) -> bool {
        match self.secure {
            CookieSecurePolicy::Always => true,
            CookieSecurePolicy::None => false,
            CookieSecurePolicy::SameAsRequest => {
                req.connection_info().scheme().eq_ignore_ascii_case("https")
            }
        }
    }

    /// The cookie carrying `key`, signed with the current key.
    pub(crate) fn session_cookie(&self, key: &SessionKey, secure: bool) -> Option<Cookie<'static>> {
        let mut cookie = self.base(key.as_str().to_owned(), secure);
        if let Some(age) = self.max_age {
            cookie.set_max_age(time::Duration::try_from(age).unwrap_or(time::Duration::MAX));
        }
        let mut jar = CookieJar::new();
        jar.signed_mut(&self.keys.current).add(cookie);
        jar.get(&self.name).cloned()
    }

    /// A cookie telling the client to delete its session cookie (same name, path and domain).
    pub(crate) fn removal_cookie(&self, secure: bool) -> Cookie<'static> {
        let mut cookie = self.base(String::new(), secure);
        cookie.make_removal();
        cookie
    }

    fn base(&self, value: String, secure: bool) -> Cookie<'static> {
        let mut cookie = Cookie::new(self.name.clone(), value);
        cookie.set_path(self.path.clone());
        if let Some(domain) = &self.domain {
            cookie.set_domain(domain.clone());
        }
        cookie.set_http_only(self.http_only);
        cookie.set_same_site(self.same_site);
        cookie.set_secure(secure);
        cookie
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{self, HeaderValue};
    use actix_web::test::TestRequest;

    use super::*;

    fn key(byte: u8) -> Key {
        Key::from(&[byte; 64])
    }

    fn settings(current: Key, previous: Vec<Key>) -> CookieSettings {
        CookieSettings {
            name: "session".into(),
            path: "/".into(),
            domain: None,
            http_only: true,
            same_site: SameSite::Lax,
            secure: CookieSecurePolicy::SameAsRequest,
            max_age: None,
            keys: SigningKeys { current, previous },
        }
    }

    /// The `name=value` pair a browser would send back for `cookie`.
    fn pair(cookie: &Cookie<'_>) -> String {
        format!("{}={}", cookie.name(), cookie.value())
    }

    fn read_with_header(s: &CookieSettings, value: &str) -> Option<SessionKey> {
        let req = TestRequest::default()
            .insert_header((header::COOKIE, value))
            .to_http_request();
        s.read(&req)
    }

    #[test]
    fn signed_cookie_round_trips() {
        let s = settings(key(1), vec![]);
        let k = SessionKey::generate();
        let cookie = s.session_cookie(&k, false).unwrap();
        assert_ne!(cookie.value(), k.as_str(), "the value is signed, not bare");
        assert_eq!(read_with_header(&s, &pair(&cookie)), Some(k));
    }

    #[test]
    fn other_cookies_do_not_interfere() {
        let s = settings(key(1), vec![]);
        let k = SessionKey::generate();
        let cookie = s.session_cookie(&k, false).unwrap();
        let header = format!("theme=dark; {}; lang=en", pair(&cookie));
        assert_eq!(read_with_header(&s, &header), Some(k));
    }

    #[test]
    fn bad_signature_is_absent() {
        let s = settings(key(1), vec![]);
        let k = SessionKey::generate();
        let cookie = s.session_cookie(&k, false).unwrap();
        // Flip one character of the MAC.
        let mut value = cookie.value().to_owned();
        let flipped = if value.starts_with('A') { "B" } else { "A" };
        value.replace_range(0..1, flipped);
        assert_eq!(read_with_header(&s, &format!("session={value}")), None);
        // A bare, unsigned key is refused too.
        assert_eq!(
            read_with_header(&s, &format!("session={}", k.as_str())),
            None
        );
        // Signed by a key we do not know.
        let foreign = settings(key(9), vec![]).session_cookie(&k, false).unwrap();
        assert_eq!(read_with_header(&s, &pair(&foreign)), None);
    }

    #[test]
    fn previous_keys_are_accepted_and_new_cookies_use_the_newest() {
        let old = settings(key(1), vec![]);
        let rotated = settings(key(2), vec![key(1)]);
        let k = SessionKey::generate();
        let old_cookie = old.session_cookie(&k, false).unwrap();
        assert_eq!(
            read_with_header(&rotated, &pair(&old_cookie)),
            Some(k.clone())
        );

        let new_cookie = rotated.session_cookie(&k, false).unwrap();
        assert_ne!(new_cookie.value(), old_cookie.value());
        assert_eq!(
            read_with_header(&settings(key(2), vec![]), &pair(&new_cookie)),
            Some(k.clone()),
            "signed with the newest key"
        );
        assert_eq!(
            read_with_header(&old, &pair(&new_cookie)),
            None,
            "not with the old one"
        );
    }

    #[test]
    fn duplicate_cookie_names_are_absent() {
        let s = settings(key(1), vec![]);
        let k = SessionKey::generate();
        let cookie = pair(&s.session_cookie(&k, false).unwrap());
        assert_eq!(read_with_header(&s, &format!("{cookie}; {cookie}")), None);
        // Also when they arrive in two Cookie headers.
        let req = TestRequest::default()
            .append_header((header::COOKIE, cookie.as_str()))
            .append_header((header::COOKIE, cookie.as_str()))
            .to_http_request();
        assert_eq!(s.read(&req), None);
    }

    #[test]
    fn oversize_cookie_is_absent() {
        let s = settings(key(1), vec![]);
        let big = "A".repeat(8 * 1024);
        assert_eq!(read_with_header(&s, &format!("session={big}")), None);
    }

    #[test]
    fn non_utf8_cookie_header_is_absent() {
        let s = settings(key(1), vec![]);
        let value = HeaderValue::from_bytes(b"session=\xff\xfe").unwrap();
        let req = TestRequest::default()
            .insert_header((header::COOKIE, value))
            .to_http_request();
        assert_eq!(s.read(&req), None);
    }

    #[test]
    fn signed_malformed_key_is_absent() {
        let s = settings(key(1), vec![]);
        let mut jar = CookieJar::new();
        jar.signed_mut(&key(1))
            .add(Cookie::new("session", "not-a-session-key"));
        let cookie = jar.get("session").cloned().unwrap();
        assert_eq!(read_with_header(&s, &pair(&cookie)), None);
    }

    #[test]
    fn no_cookie_is_absent() {
        let s = settings(key(1), vec![]);
        assert_eq!(s.read(&TestRequest::default().to_http_request()), None);
    }

    #[test]
    fn secure_policy() {
        let mut s = settings(key(1), vec![]);
        let http = TestRequest::default().to_http_request();
        let https = TestRequest::default()
            .insert_header(("x-forwarded-proto", "https"))
            .to_http_request();
        assert!(!s.secure_for(&http));
        assert!(s.secure_for(&https));
        s.secure = CookieSecurePolicy::Always;
        assert!(s.secure_for(&http));
        s.secure = CookieSecurePolicy::None;
        assert!(!s.secure_for(&https));
    }

    #[test]
    fn attributes_and_removal() {
        let mut s = settings(key(1), vec![]);
        s.domain = Some("example.com".into());
        s.max_age = Some(Duration::from_secs(60));
        let cookie = s
            .session_cookie(&SessionKey::generate(), true)
            .unwrap()
            .to_string();
        for attribute in [
            "HttpOnly",
            "SameSite=Lax",
            "Path=/",
            "Domain=example.com",
            "Secure",
            "Max-Age=60",
        ] {
            assert!(cookie.contains(attribute), "{attribute} in {cookie}");
        }
        let removal = s.removal_cookie(false).to_string();
        assert!(removal.starts_with("session=;"), "{removal}");
        assert!(removal.contains("Max-Age=0"), "{removal}");
        assert!(removal.contains("Path=/"), "{removal}");
        assert!(removal.contains("Domain=example.com"), "{removal}");
        assert!(!removal.contains("Secure"), "{removal}");
    }
}
