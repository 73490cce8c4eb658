//! This workspace's sessions: session-actix over cache-memory (`ours-memory`) or cache-redis
//! (`ours-redis`), with default settings apart from the shared policy of the parent module.

use std::sync::Arc;

use actix_web::cookie::Key;
use actix_web::{App, HttpResponse, HttpServer, web};
use cache_memory::MemoryCache;
use cache_redis::RedisCache;
use session_actix::{
    CookieSecurePolicy, Session, SessionHttpError, SessionMiddleware, SessionOptions, SharedCache,
};

use super::{COOKIE_NAME, COUNTER_KEY, IDLE_TIMEOUT, SIGNING_KEY};
use crate::cli::ServeArgs;
use crate::error::BenchError;
use crate::memory_scale::{MEMORY_CACHE_BYTES, prefill};

/// Serves `ours-memory`, after inserting `args.prefill` idle sessions.
pub fn serve_memory(args: &ServeArgs) -> Result<(), BenchError> {
    // Room for the 1 M prefilled sessions of the scale run, so that none is evicted.
    let cache = MemoryCache::builder()
        .max_bytes(MEMORY_CACHE_BYTES)
        .build()
        .map_err(|e| BenchError::setup("ours-memory", e))?;
    if args.prefill > 0 {
        tokio::runtime::Builder::new_current_thread()
            .build()?
            .block_on(prefill(&cache, args.prefill))
            .map_err(|e| BenchError::setup("ours-memory", e))?;
    }
    serve(args, Arc::new(cache))
}

/// Serves `ours-redis`.
pub fn serve_redis(args: &ServeArgs, url: String) -> Result<(), BenchError> {
    let cache = RedisCache::builder()
        .url(url)
        .build()
        .map_err(|e| BenchError::setup("ours-redis", e))?;
    serve(args, Arc::new(cache))
}

fn serve(args: &ServeArgs, cache: SharedCache) -> Result<(), BenchError> {
    let variant = args.variant.name();
    let options = SessionOptions::builder()
        .idle_timeout(IDLE_TIMEOUT)
        .build()
        .map_err(|e| BenchError::setup(variant, e))?;
    let key = Key::try_from(&SIGNING_KEY[..]).map_err(|e| BenchError::setup(variant, e))?;
    let sessions = SessionMiddleware::builder(cache, key)
        .cookie_name(COOKIE_NAME)
        .cookie_secure(CookieSecurePolicy::SameAsRequest)
        .session_options(options)
        .build()
        .map_err(|e| BenchError::setup(variant, e))?;
    let server = HttpServer::new(move || {
        App::new()
            .wrap(sessions.clone())
            .route("/counter", web::get().to(counter))
            .route("/read", web::get().to(read))
            .route("/health", web::get().to(health))
    })
    .workers(args.threads)
    .disable_signals()
    .bind(&args.addr)?;
    actix_web::rt::System::new().block_on(server.run())?;
    Ok(())
}

async fn counter(session: Session) -> Result<HttpResponse, SessionHttpError> {
    let n = session.get_i32(COUNTER_KEY).await?.unwrap_or(0) + 1;
    session.set_i32(COUNTER_KEY, n).await?;
    Ok(HttpResponse::Ok().body(n.to_string()))
}

async fn read(session: Session) -> Result<HttpResponse, SessionHttpError> {
    let n = session.get_i32(COUNTER_KEY).await?.unwrap_or(0);
    Ok(HttpResponse::Ok().body(n.to_string()))
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}
