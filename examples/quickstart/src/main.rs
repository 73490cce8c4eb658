use std::sync::Arc;

use actix_web::{App, HttpResponse, HttpServer, cookie::Key, web};
use cache_memory::MemoryCache;
use session_actix::{Session, SessionHttpError, SessionMiddleware};

async fn counter(session: Session) -> Result<HttpResponse, SessionHttpError> {
    // A read-modify-write that merges with concurrent requests of the same session (re-applied
    // to their result) instead of losing them. Commits at once; returns the value stored.
    let n = session.update("counter", |n: Option<u32>| n.unwrap_or(0) + 1).await?;
    Ok(HttpResponse::Ok().body(n.to_string()))
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Share one secret of 64+ bytes between nodes and restarts (e.g. from configuration).
    let key = Key::generate();
    let sessions = SessionMiddleware::builder(Arc::new(MemoryCache::new()), key)
        .cookie_name("app.session")
        .build()?;
    HttpServer::new(move || {
        App::new()
            .wrap(sessions.clone())
            .route("/counter", web::get().to(counter))
    })
    .bind("127.0.0.1:8080")?
    .run()
    .await?;
    Ok(())
}
