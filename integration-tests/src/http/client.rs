//! A test client over an in-process actix-web app: requests through
//! `actix_web::test::call_service`, with a manual cookie jar (as `curl -c jar -b jar`).

use std::collections::BTreeMap;

use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, CookieJar, Key};
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use actix_web::test::{self, TestRequest};
use actix_web::{App, Error};
use bytes::Bytes;
use session_actix::{SessionKey, SessionMiddleware};

use super::routes;

/// The cookies a client keeps between requests: name → value.
#[derive(Debug, Clone, Default)]
pub struct TestJar {
    cookies: BTreeMap<String, String>,
}

impl TestJar {
    /// The value of the cookie `name`, if held.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// Puts (or replaces) a cookie, as a client that was handed it.
    pub fn insert(&mut self, name: &str, value: impl Into<String>) {
        self.cookies.insert(name.to_owned(), value.into());
    }

    /// The `Cookie` header to send, if any cookie is held.
    fn header(&self) -> Option<String> {
        (!self.cookies.is_empty()).then(|| {
            self.cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// Applies the `Set-Cookie` headers of a response, as a browser would.
    fn store(&mut self, reply: &Reply) {
        for cookie in reply.set_cookies() {
            let removal = cookie.value().is_empty()
                || cookie
                    .max_age()
                    .is_some_and(|age| age.is_zero() || age.is_negative());
            if removal {
                self.cookies.remove(cookie.name());
            } else {
                self.cookies
                    .insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
    }
}

/// A response, read to the end.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON; fails the test if it is not.
    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} body is not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text (lossy).
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Every `Set-Cookie` of the response, parsed.
    #[must_use]
    pub fn set_cookies(&self) -> Vec<Cookie<'static>> {
        self.headers
            .get_all(header::SET_COOKIE)
            .map(|value| {
                let text = value
                    .to_str()
                    .unwrap_or_else(|e| panic!("Set-Cookie is not text: {e}"));
                Cookie::parse(text.to_owned())
                    .unwrap_or_else(|e| panic!("unparsable Set-Cookie {text:?}: {e}"))
            })
            .collect()
    }

    /// The raw `Set-Cookie` header of the cookie `name`, exactly one expected.
    #[must_use]
    pub fn set_cookie_header(&self, name: &str) -> Option<String> {
        let mut found = self
            .headers
            .get_all(header::SET_COOKIE)
            .filter_map(|v| v.to_str().ok())
            .filter(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_owned);
        let first = found.next();
        assert!(found.next().is_none(), "several Set-Cookie for {name}");
        first
    }

    /// The value of the header `name` as text, if present.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An in-process app serving the shared routes behind `sessions`, plus a cookie jar.
pub struct Client<S> {
    app: S,
    /// The client's cookies; replace it to act as another client.
    pub jar: TestJar,
}

/// Builds the app ([`routes::configure`] wrapped in `sessions`, with the cache as app data for
/// the diagnostic route, as the examples do) and an empty jar.
pub async fn client(
    sessions: SessionMiddleware,
) -> Client<impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = Error>> {
    let cache = actix_web::web::Data::new(sessions.cache().clone());
    let app = test::init_service(
        App::new()
            .app_data(cache)
            .wrap(sessions)
            .configure(routes::configure),
    )
    .await;
    Client {
        app,
        jar: TestJar::default(),
    }
}

impl<S, B> Client<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    /// `GET uri` with the jar's cookies; the jar takes the response's cookies.
    pub async fn get(&mut self, uri: &str) -> Reply {
        self.send(TestRequest::get().uri(uri)).await
    }

    /// `POST uri` with the jar's cookies; the jar takes the response's cookies.
    pub async fn post(&mut self, uri: &str) -> Reply {
        self.send(TestRequest::post().uri(uri)).await
    }

    /// Sends `request` with the jar's cookies; the jar takes the response's cookies.
    pub async fn send(&mut self, mut request: TestRequest) -> Reply {
        if let Some(cookies) = self.jar.header() {
            request = request.insert_header((header::COOKIE, cookies));
        }
        let response = test::call_service(&self.app, request.to_request()).await;
        let status = response.status();
        let headers = response.headers().clone();
        let body = test::read_body(response).await;
        let reply = Reply {
            status,
            headers,
            body,
        };
        self.jar.store(&reply);
        reply
    }
}

/// A cookie value signed with `key` for a fresh, well-formed session key: what a client of a
/// server sharing `key` would hold, without any request to a store.
#[must_use]
pub fn signed_cookie_value(key: &Key, name: &str) -> String {
    let mut jar = CookieJar::new();
    jar.signed_mut(key).add(Cookie::new(
        name.to_owned(),
        SessionKey::generate().as_str().to_owned(),
    ));
    jar.get(name)
        .map(|c| c.value().to_owned())
        .unwrap_or_else(|| panic!("the signed jar lost cookie {name}"))
}

/// The session key inside a signed cookie value. actix-web's signed cookies are the base64
/// HMAC (44 characters) followed by the value, whose first 36 characters are the session key
/// (a persistent cookie's lifetime follows it); the suite uses this to look the entry up in
/// the store directly. Empty if the value is too short to hold one.
#[must_use]
pub fn session_key_of(cookie_value: &str) -> &str {
    cookie_value.get(44..80).unwrap_or_default()
}
