//! The example routes behind a [`SessionMiddleware`] on a real `HttpServer` in this process, on a
//! free loopback port: for tests that need real concurrent connections but their own session
//! settings (IO timeout, pool sizes) and direct access to the store.

use std::net::SocketAddr;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};
use session_actix::SessionMiddleware;

use crate::http::routes;

/// A running in-process server; stopped on drop.
#[derive(Debug)]
pub struct LiveServer {
    addr: SocketAddr,
    handle: ServerHandle,
}

impl LiveServer {
    /// Serves the example routes behind `sessions` with two workers. Call it on an actix system
    /// (`#[actix_web::test]`).
    ///
    /// # Errors
    /// The loopback port cannot be bound.
    pub fn start(sessions: SessionMiddleware) -> std::io::Result<Self> {
        // The cache as app data too, for the diagnostic route, as the examples register it.
        let cache = web::Data::new(sessions.cache().clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(cache.clone())
                .wrap(sessions.clone())
                .configure(routes::configure)
        })
        .workers(2)
        .disable_signals()
        .bind(("127.0.0.1", 0))?;
        let addr = server
            .addrs()
            .first()
            .copied()
            .ok_or_else(|| std::io::Error::other("HttpServer bound no address"))?;
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Ok(Self { addr, handle })
    }

    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        // Without waiting: the system running it ends with the test anyway.
        drop(self.handle.stop(false));
    }
}
