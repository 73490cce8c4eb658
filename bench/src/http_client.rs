//! A minimal HTTP/1.1 keep-alive client with a cookie jar: one connection, one request in
//! flight, `Content-Length` framing (what every variant answers). Hand-written so that the load
//! generator spends as little CPU per request as possible.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::BenchError;

/// Largest response head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// How long one request may take before the client gives up (a hung server fails the run).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Status code.
    pub status: u16,
    /// Bytes up to and including the blank line.
    pub len: usize,
    /// `Content-Length`.
    pub content_length: usize,
    /// `Set-Cookie` values, in order.
    pub set_cookies: Vec<String>,
}

/// Parses a response head from the start of `buf`; `Ok(None)` while it is incomplete.
///
/// # Errors
/// A malformed head, or a body framing other than `Content-Length`.
pub fn parse_head(buf: &[u8]) -> Result<Option<Head>, BenchError> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD {
            Err(BenchError::Http("response head too large".into()))
        } else {
            Ok(None)
        };
    };
    let text = std::str::from_utf8(&buf[..end])
        .map_err(|_| BenchError::Http("response head is not UTF-8".into()))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| BenchError::Http(format!("bad status line {status_line:?}")))?;
    let mut content_length = None;
    let mut set_cookies = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(BenchError::Http(format!("bad header line {line:?}")));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = Some(
                value
                    .parse()
                    .map_err(|_| BenchError::Http(format!("bad content-length {value:?}")))?,
            );
        } else if name.eq_ignore_ascii_case("set-cookie") {
            set_cookies.push(value.to_owned());
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(BenchError::Http(format!(
                "unsupported transfer-encoding {value}"
            )));
        }
    }
    Ok(Some(Head {
        status,
        len: end + 4,
        content_length: content_length
            .ok_or_else(|| BenchError::Http("response without content-length".into()))?,
        set_cookies,
    }))
}

/// The cookies a client holds, in the order first set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CookieJar {
    cookies: Vec<(String, String)>,
}

impl CookieJar {
    /// Applies one `Set-Cookie` value: stores, replaces, or (empty value / `Max-Age=0`) removes.
    pub fn apply(&mut self, set_cookie: &str) {
        let mut parts = set_cookie.split(';');
        let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
            return;
        };
        let (name, value) = (name.trim(), value.trim());
        let removal =
            value.is_empty() || parts.any(|attr| attr.trim().eq_ignore_ascii_case("max-age=0"));
        self.cookies.retain(|(n, _)| n != name);
        if !removal {
            self.cookies.push((name.to_owned(), value.to_owned()));
        }
    }

    /// The `Cookie` request header line (with CRLF), or nothing for an empty jar.
    #[must_use]
    pub fn header_line(&self) -> String {
        if self.cookies.is_empty() {
            return String::new();
        }
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        format!("Cookie: {}\r\n", pairs.join("; "))
    }
}

/// A response: status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// One keep-alive connection with its own cookie jar (one virtual client).
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    jar: CookieJar,
}

impl Client {
    /// Connects to `addr`.
    ///
    /// # Errors
    /// The connection is refused.
    pub async fn connect(addr: &str) -> Result<Self, BenchError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(4096),
            jar: CookieJar::default(),
        })
    }

    /// `GET path`, sending and then updating the cookie jar.
    ///
    /// # Errors
    /// I/O errors, a timeout, the server closing the connection, or a malformed response.
    pub async fn get(&mut self, path: &str) -> Result<Response, BenchError> {
        tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(path))
            .await
            .map_err(|_| {
                BenchError::Http(format!("GET {path}: no answer in {REQUEST_TIMEOUT:?}"))
            })?
    }

    async fn exchange(&mut self, path: &str) -> Result<Response, BenchError> {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: bench\r\n{}\r\n",
            self.jar.header_line()
        );
        self.stream.write_all(request.as_bytes()).await?;
        let head = loop {
            if let Some(head) = parse_head(&self.buf)? {
                break head;
            }
            self.fill().await?;
        };
        while self.buf.len() < head.len + head.content_length {
            self.fill().await?;
        }
        let body = self.buf[head.len..head.len + head.content_length].to_vec();
        self.buf.drain(..head.len + head.content_length);
        for cookie in &head.set_cookies {
            self.jar.apply(cookie);
        }
        Ok(Response {
            status: head.status,
            body,
        })
    }

    async fn fill(&mut self) -> Result<(), BenchError> {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(BenchError::Http("server closed the connection".into()));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_heads_incrementally() {
        let full = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nSet-Cookie: session=abc; Path=/; HttpOnly\r\nset-cookie: other=1\r\n\r\n42";
        assert_eq!(parse_head(&full[..20]).unwrap(), None);
        let head = parse_head(full).unwrap().unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.content_length, 2);
        assert_eq!(&full[head.len..], b"42");
        assert_eq!(
            head.set_cookies,
            ["session=abc; Path=/; HttpOnly", "other=1"]
        );
    }

    #[test]
    fn rejects_what_it_cannot_frame() {
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").is_err());
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
        assert!(parse_head(&[b'a'; MAX_HEAD + 1]).is_err());
    }

    #[test]
    fn jar_sets_replaces_and_removes() {
        let mut jar = CookieJar::default();
        assert_eq!(jar.header_line(), "");
        jar.apply("session=a; Path=/");
        jar.apply("theme=dark");
        jar.apply("session=b; HttpOnly");
        assert_eq!(jar.header_line(), "Cookie: theme=dark; session=b\r\n");
        jar.apply("theme=; Max-Age=0");
        jar.apply("session=gone; Path=/; Max-Age=0");
        assert_eq!(jar, CookieJar::default());
    }
}
