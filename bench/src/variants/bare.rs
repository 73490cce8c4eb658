//! The bare frameworks, no session: the limits the session variants are normalised by. Every
//! route answers a constant of the same size as a session variant's answer.

use actix_web::{App, HttpResponse, HttpServer, web};
use axum::Router;
use axum::routing::get;

use crate::cli::ServeArgs;
use crate::error::BenchError;

/// Serves `actix-bare`.
pub fn serve_actix(args: &ServeArgs) -> Result<(), BenchError> {
    let server = HttpServer::new(|| {
        App::new()
            .route(
                "/counter",
                web::get().to(|| async { HttpResponse::Ok().body("1") }),
            )
            .route(
                "/read",
                web::get().to(|| async { HttpResponse::Ok().body("1") }),
            )
            .route(
                "/health",
                web::get().to(|| async { HttpResponse::Ok().body("ok") }),
            )
    })
    .workers(args.threads)
    .disable_signals()
    .bind(&args.addr)?;
    actix_web::rt::System::new().block_on(server.run())?;
    Ok(())
}

/// Serves `axum-bare`.
pub fn serve_axum(args: &ServeArgs) -> Result<(), BenchError> {
    let app = Router::new()
        .route("/counter", get(|| async { "1" }))
        .route("/read", get(|| async { "1" }))
        .route("/health", get(|| async { "ok" }));
    super::tokio_runtime(args.threads)?.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.addr).await?;
        axum::serve(listener, app).await
    })?;
    Ok(())
}
