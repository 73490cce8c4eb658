//! The session cookie's attributes, and reading the client's cookie through the
//! [`CookieVerifier`] (which owns every check of cookie bytes and the signing keys).

use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::header::{self, HeaderValue};
use session_core::SessionKey;

use crate::config::CookieSecurePolicy;
use crate::verify::{CookieLifetime, CookieVerifier, VerifiedCookie};

/// The validated cookie settings of one middleware.
#[derive(Debug, Clone)]
pub(crate) struct CookieSettings {
    pub(crate) verifier: CookieVerifier,
    pub(crate) path: String,
    pub(crate) domain: Option<String>,
    pub(crate) http_only: bool,
    pub(crate) same_site: SameSite,
    pub(crate) secure: CookieSecurePolicy,
    pub(crate) max_age: Option<Duration>,
}

impl CookieSettings {
    /// The cookie name.
    pub(crate) fn name(&self) -> &str {
        self.verifier.name()
    }

    /// The verified session cookie the client sent, or `None` (see [`CookieVerifier`]: every
    /// defect makes the cookie count as absent).
    pub(crate) fn read(&self, req: &HttpRequest) -> Option<VerifiedCookie> {
        self.verifier.verify(
            req.headers()
                .get_all(header::COOKIE)
                .map(HeaderValue::as_bytes),
        )
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

    /// The life a cookie issued now gets: the session's remembered lifetime if it has one
    /// (see [`Session::remember`](session_core::Session::remember)), else the configured
    /// `cookie_max_age`, else none (a browser-session cookie).
    pub(crate) fn lifetime_now(&self, remembered: Option<Duration>) -> Option<CookieLifetime> {
        match (remembered, self.max_age) {
            (Some(lifetime), _) => Some(CookieLifetime::starting_now(lifetime, true)),
            (None, Some(age)) => Some(CookieLifetime::starting_now(age, false)),
            (None, None) => None,
        }
    }

    /// Whether a client's verified cookie should be sent again with a fresh life because it is
    /// persistent and past half of it, or its recorded life differs from what it should have
    /// now (the configured `cookie_max_age` changed, or the cookie predates it).
    pub(crate) fn needs_renewal(
        &self,
        sent: Option<&CookieLifetime>,
        due: Option<&CookieLifetime>,
    ) -> bool {
        match (sent, due) {
            (_, None) => sent.is_some(),
            (None, Some(_)) => true,
            (Some(sent), Some(due)) => {
                sent.max_age != due.max_age
                    || sent.remembered != due.remembered
                    || sent.needs_renewal_at(due.issued_at)
            }
        }
    }

    /// The cookie carrying `key` with `lifetime` (`Max-Age`), signed with the current key.
    pub(crate) fn session_cookie(
        &self,
        key: &SessionKey,
        lifetime: Option<&CookieLifetime>,
        secure: bool,
    ) -> Cookie<'static> {
        let mut cookie = self.base(self.verifier.sign_with_lifetime(key, lifetime), secure);
        if let Some(lifetime) = lifetime {
            cookie.set_max_age(
                time::Duration::try_from(lifetime.max_age).unwrap_or(time::Duration::MAX),
            );
        }
        cookie
    }

    /// A cookie telling the client to delete its session cookie (same name, path and domain).
    pub(crate) fn removal_cookie(&self, secure: bool) -> Cookie<'static> {
        let mut cookie = self.base(String::new(), secure);
        cookie.make_removal();
        cookie
    }

    fn base(&self, value: String, secure: bool) -> Cookie<'static> {
        let mut cookie = Cookie::new(self.name().to_owned(), value);
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
    use actix_web::cookie::Key;
    use actix_web::test::TestRequest;

    use super::*;

    fn settings(current: Key, previous: Vec<Key>) -> CookieSettings {
        CookieSettings {
            verifier: CookieVerifier::new("session", current).with_previous_keys(previous),
            path: "/".into(),
            domain: None,
            http_only: true,
            same_site: SameSite::Lax,
            secure: CookieSecurePolicy::SameAsRequest,
            max_age: None,
        }
    }

    fn key(byte: u8) -> Key {
        Key::from(&[byte; 64])
    }

    /// The `name=value` pair a browser would send back for `cookie` (as sent: percent-encoded).
    fn pair(cookie: &Cookie<'_>) -> String {
        cookie.encoded().stripped().to_string()
    }

    #[test]
    fn a_set_cookie_is_read_back_from_the_request() {
        let s = settings(key(2), vec![key(1)]);
        let k = SessionKey::generate();
        let cookie = s.session_cookie(&k, None, false);
        let req = TestRequest::default()
            .insert_header((header::COOKIE, format!("theme=dark; {}", pair(&cookie))))
            .to_http_request();
        let verified = s.read(&req).unwrap();
        assert_eq!(verified.key(), &k);
        assert!(!verified.signed_with_previous_key());
    }

    #[test]
    fn every_cookie_header_is_read() {
        let s = settings(key(1), vec![]);
        let pair = pair(&s.session_cookie(&SessionKey::generate(), None, false));
        let req = TestRequest::default()
            .append_header((header::COOKIE, pair.as_str()))
            .append_header((header::COOKIE, pair.as_str()))
            .to_http_request();
        assert_eq!(s.read(&req), None, "two session cookies in two headers");
        let req = TestRequest::default()
            .insert_header((
                header::COOKIE,
                HeaderValue::from_bytes(b"session=\xff").unwrap(),
            ))
            .to_http_request();
        assert_eq!(s.read(&req), None, "non-UTF-8 header");
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
        let lifetime = s.lifetime_now(None);
        let cookie = s
            .session_cookie(&SessionKey::generate(), lifetime.as_ref(), true)
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
