//! `actix-session-redis`: actix-session 0.11 with `RedisSessionStore::new(url)` (its own
//! `ConnectionManager` on redis 0.32), configured as close to ours as it allows: signed (not
//! encrypted) browser-session cookie, state TTL 20 minutes extended on every request (its only
//! policy that slides the expiry on a read).

use actix_session::config::{BrowserSession, CookieContentSecurity, TtlExtensionPolicy};
use actix_session::storage::RedisSessionStore;
use actix_session::{Session, SessionMiddleware};
use actix_web::cookie::{Key, time};
use actix_web::{App, HttpResponse, HttpServer, web};

use super::{COOKIE_NAME, COUNTER_KEY, IDLE_TIMEOUT, SIGNING_KEY};
use crate::cli::ServeArgs;
use crate::error::BenchError;

const NAME: &str = "actix-session-redis";

/// Serves `actix-session-redis`.
pub fn serve(args: &ServeArgs, url: String) -> Result<(), BenchError> {
    let key = Key::try_from(&SIGNING_KEY[..]).map_err(|e| BenchError::setup(NAME, e))?;
    let ttl = time::Duration::seconds(
        i64::try_from(IDLE_TIMEOUT.as_secs()).map_err(|e| BenchError::setup(NAME, e))?,
    );
    let threads = args.threads;
    let addr = args.addr.clone();
    actix_web::rt::System::new().block_on(async move {
        let store = RedisSessionStore::new(url)
            .await
            .map_err(|e| BenchError::setup(NAME, e.to_string()))?;
        let server = HttpServer::new(move || {
            let sessions = SessionMiddleware::builder(store.clone(), key.clone())
                .cookie_name(COOKIE_NAME.to_owned())
                .cookie_secure(false)
                .cookie_content_security(CookieContentSecurity::Signed)
                .session_lifecycle(
                    BrowserSession::default()
                        .state_ttl(ttl)
                        .state_ttl_extension_policy(TtlExtensionPolicy::OnEveryRequest),
                )
                .build();
            App::new()
                .wrap(sessions)
                .route("/counter", web::get().to(counter))
                .route("/read", web::get().to(read))
                .route("/health", web::get().to(health))
        })
        .workers(threads)
        .disable_signals()
        .bind(&addr)?;
        server.run().await?;
        Ok(())
    })
}

async fn counter(session: Session) -> actix_web::Result<HttpResponse> {
    let n = session.get::<i32>(COUNTER_KEY)?.unwrap_or(0) + 1;
    session.insert(COUNTER_KEY, n)?;
    Ok(HttpResponse::Ok().body(n.to_string()))
}

async fn read(session: Session) -> actix_web::Result<HttpResponse> {
    let n = session.get::<i32>(COUNTER_KEY)?.unwrap_or(0);
    Ok(HttpResponse::Ok().body(n.to_string()))
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}
