//! tower-sessions 0.14 on axum 0.8: `tower-moka` (tower-sessions-moka-store) and `tower-redis`
//! (tower-sessions-redis-store on a fred pool). Signed cookie, `Expiry::OnInactivity(20 min)`
//! and `always_save`, without which a read never slides the expiry.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use tower_sessions::cookie::{Key, time};
use tower_sessions::{Expiry, Session, SessionManagerLayer, SessionStore};
use tower_sessions_moka_store::MokaStore;
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};

use super::{COOKIE_NAME, COUNTER_KEY, IDLE_TIMEOUT, SIGNING_KEY};
use crate::cli::ServeArgs;
use crate::error::BenchError;

/// Connections of the fred pool: the number in tower-sessions-redis-store's own example.
const FRED_POOL_SIZE: usize = 6;
/// Entries the moka store may hold (far above what a run creates).
const MOKA_CAPACITY: u64 = 1_000_000;

/// Serves `tower-moka`.
pub fn serve_moka(args: &ServeArgs) -> Result<(), BenchError> {
    super::tokio_runtime(args.threads)?.block_on(serve(args, MokaStore::new(Some(MOKA_CAPACITY))))
}

/// Serves `tower-redis`.
pub fn serve_redis(args: &ServeArgs, url: String) -> Result<(), BenchError> {
    const NAME: &str = "tower-redis";
    super::tokio_runtime(args.threads)?.block_on(async {
        let config = Config::from_url(&url).map_err(|e| BenchError::setup(NAME, e))?;
        let pool = Pool::new(config, None, None, None, FRED_POOL_SIZE)
            .map_err(|e| BenchError::setup(NAME, e))?;
        // The connection task runs for the life of the process.
        let _connection = pool.init().await.map_err(|e| BenchError::setup(NAME, e))?;
        serve(args, RedisStore::new(pool)).await
    })
}

async fn serve<S: SessionStore + Clone>(args: &ServeArgs, store: S) -> Result<(), BenchError> {
    let variant = args.variant.name();
    let key = Key::try_from(&SIGNING_KEY[..]).map_err(|e| BenchError::setup(variant, e))?;
    let idle = time::Duration::seconds(
        i64::try_from(IDLE_TIMEOUT.as_secs()).map_err(|e| BenchError::setup(variant, e))?,
    );
    let sessions = SessionManagerLayer::new(store)
        .with_name(COOKIE_NAME)
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(idle))
        .with_always_save(true)
        .with_signed(key);
    let app = Router::new()
        .route("/counter", get(counter))
        .route("/read", get(read))
        .route("/health", get(|| async { "ok" }))
        .layer(sessions);
    let listener = tokio::net::TcpListener::bind(&args.addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

fn internal(e: impl std::fmt::Display) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

async fn counter(session: Session) -> Result<String, (StatusCode, String)> {
    let n = session
        .get::<i32>(COUNTER_KEY)
        .await
        .map_err(internal)?
        .unwrap_or(0)
        + 1;
    session.insert(COUNTER_KEY, n).await.map_err(internal)?;
    Ok(n.to_string())
}

async fn read(session: Session) -> Result<String, (StatusCode, String)> {
    let n = session
        .get::<i32>(COUNTER_KEY)
        .await
        .map_err(internal)?
        .unwrap_or(0);
    Ok(n.to_string())
}
