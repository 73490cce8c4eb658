//! `handwritten-redis`: the limit for a Redis-backed session. An actix-web handler verifies
//! the signed cookie and issues the fewest commands a sliding session needs, on one shared
//! multiplexed connection: `GETEX key EX ttl` to read and slide (1 round trip), plus
//! `SET key value EX ttl` to write (1 more). `/health` sends nothing.

use actix_web::cookie::{Cookie, CookieJar, Key};
use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;

use super::{COOKIE_NAME, IDLE_TIMEOUT, SIGNING_KEY};
use crate::cli::ServeArgs;
use crate::error::BenchError;

const NAME: &str = "handwritten-redis";
/// Key prefix, as a real store would use.
const PREFIX: &str = "hand:";

struct State {
    conn: MultiplexedConnection,
    key: Key,
}

/// Serves `handwritten-redis`.
pub fn serve(args: &ServeArgs, url: String) -> Result<(), BenchError> {
    let key = Key::try_from(&SIGNING_KEY[..]).map_err(|e| BenchError::setup(NAME, e))?;
    let threads = args.threads;
    let addr = args.addr.clone();
    actix_web::rt::System::new().block_on(async move {
        let conn = redis::Client::open(url)?
            .get_multiplexed_async_connection()
            .await?;
        let state = web::Data::new(State { conn, key });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .route("/counter", web::get().to(counter))
                .route("/read", web::get().to(read))
                .route(
                    "/health",
                    web::get().to(|| async { HttpResponse::Ok().body("ok") }),
                )
        })
        .workers(threads)
        .disable_signals()
        .bind(&addr)?;
        server.run().await?;
        Ok(())
    })
}

/// The session id of a validly signed cookie.
fn session_id(req: &HttpRequest, key: &Key) -> Option<String> {
    let mut jar = CookieJar::new();
    jar.add_original(req.cookie(COOKIE_NAME)?);
    Some(jar.signed(key).get(COOKIE_NAME)?.value().to_owned())
}

/// Reads the counter and slides the expiry in one command.
async fn load(conn: &mut MultiplexedConnection, id: &str) -> redis::RedisResult<Option<i32>> {
    redis::cmd("GETEX")
        .arg(format!("{PREFIX}{id}"))
        .arg("EX")
        .arg(IDLE_TIMEOUT.as_secs())
        .query_async(conn)
        .await
}

fn internal(e: impl std::fmt::Display) -> actix_web::Error {
    actix_web::error::ErrorInternalServerError(e.to_string())
}

async fn counter(req: HttpRequest, state: web::Data<State>) -> actix_web::Result<HttpResponse> {
    let mut conn = state.conn.clone();
    let existing = session_id(&req, &state.key);
    let is_new = existing.is_none();
    let n = match &existing {
        Some(id) => load(&mut conn, id).await.map_err(internal)?.unwrap_or(0),
        None => 0,
    } + 1;
    let id = match existing {
        Some(id) => id,
        None => new_id().map_err(internal)?,
    };
    let () = conn
        .set_ex(format!("{PREFIX}{id}"), n, IDLE_TIMEOUT.as_secs())
        .await
        .map_err(internal)?;
    let mut response = HttpResponse::Ok();
    if is_new {
        let mut jar = CookieJar::new();
        jar.signed_mut(&state.key).add(
            Cookie::build(COOKIE_NAME, id)
                .path("/")
                .http_only(true)
                .finish(),
        );
        for cookie in jar.delta() {
            response.append_header((header::SET_COOKIE, cookie.encoded().to_string()));
        }
    }
    Ok(response.body(n.to_string()))
}

async fn read(req: HttpRequest, state: web::Data<State>) -> actix_web::Result<HttpResponse> {
    let n = match session_id(&req, &state.key) {
        Some(id) => load(&mut state.conn.clone(), &id)
            .await
            .map_err(internal)?
            .unwrap_or(0),
        None => 0,
    };
    Ok(HttpResponse::Ok().body(n.to_string()))
}

/// 128 random bits, hex.
fn new_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
