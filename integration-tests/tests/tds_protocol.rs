//! The TDS test server against real tiberius / bb8-tiberius clients over 127.0.0.1.

// clippy.toml allows unwrap in `#[test]` functions; the shared helpers below are test code too.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, FixedOffset, TimeZone};
use integration_tests::tds::engine::{
    Column, Outcome, ResultSet, SqlEngine, SqlError, SqlParam, SqlType, SqlValue,
};
use integration_tests::tds::server::{Fault, TdsServer, TdsServerConfig};
use tiberius::{AuthMethod, Client, Config, EncryptionLevel};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

type TdsClient = Client<Compat<TcpStream>>;

/// Generous bound for any single client operation, so a protocol bug fails instead of hanging.
const OP_TIMEOUT: Duration = Duration::from_secs(60);

/// Engine for protocol tests:
/// * `ECHO`: one result set, one column per parameter (named like it), one row of the values;
/// * `MULTI`: two result sets (ints, then a bigint and a string);
/// * `UPDATE...`: 3 rows affected, no result set;
/// * `UPDATE_SELECT`: 1 row affected plus a one-row result set;
/// * `FAIL`: error 2627;
/// * `BAD_ROW`: a row whose value does not match its column type;
/// * `BIG`: one 10 000-byte varbinary value of 0xAB;
/// * anything else: error 208.
///
/// It records the parameters of the last call.
#[derive(Default)]
struct TestEngine {
    last_params: Mutex<Vec<SqlParam>>,
}

fn type_of(value: &SqlValue) -> SqlType {
    match value {
        SqlValue::Int(_) => SqlType::Int,
        SqlValue::BigInt(_) => SqlType::BigInt,
        SqlValue::NVarChar(_) => SqlType::NVarCharMax,
        SqlValue::VarBinary(_) => SqlType::VarBinaryMax,
        SqlValue::DateTimeOffset(_) => SqlType::DateTimeOffset,
    }
}

fn column(name: &str, ty: SqlType) -> Column {
    Column {
        name: name.to_owned(),
        ty,
    }
}

impl SqlEngine for TestEngine {
    fn execute(&self, sql: &str, params: &[SqlParam]) -> Result<Outcome, SqlError> {
        *self.last_params.lock().unwrap() = params.to_vec();
        let outcome = match sql {
            "ECHO" => Outcome {
                result_sets: vec![ResultSet {
                    columns: params
                        .iter()
                        .map(|p| column(&p.name, type_of(&p.value)))
                        .collect(),
                    rows: vec![params.iter().map(|p| p.value.clone()).collect()],
                }],
                rows_affected: None,
            },
            "MULTI" => Outcome {
                result_sets: vec![
                    ResultSet {
                        columns: vec![column("n", SqlType::Int)],
                        rows: vec![vec![SqlValue::Int(Some(1))], vec![SqlValue::Int(Some(2))]],
                    },
                    ResultSet {
                        columns: vec![
                            column("big", SqlType::BigInt),
                            column("s", SqlType::NVarCharMax),
                        ],
                        rows: vec![vec![
                            SqlValue::BigInt(Some(i64::MAX)),
                            SqlValue::NVarChar(Some("second".into())),
                        ]],
                    },
                ],
                rows_affected: None,
            },
            "UPDATE_SELECT" => Outcome {
                result_sets: vec![ResultSet {
                    columns: vec![column("v", SqlType::VarBinaryMax)],
                    rows: vec![vec![SqlValue::VarBinary(Some(Bytes::from_static(b"abc")))]],
                }],
                rows_affected: Some(1),
            },
            s if s.starts_with("UPDATE") => Outcome {
                result_sets: Vec::new(),
                rows_affected: Some(3),
            },
            "FAIL" => {
                return Err(SqlError {
                    number: 2627,
                    class: 14,
                    message: "Violation of PRIMARY KEY constraint 'PK_Cache'.".into(),
                });
            }
            "BIG" => Outcome {
                result_sets: vec![ResultSet {
                    columns: vec![column("big", SqlType::VarBinaryMax)],
                    rows: vec![vec![SqlValue::VarBinary(Some(Bytes::from(vec![
                        0xAB;
                        10_000
                    ])))]],
                }],
                rows_affected: None,
            },
            "BAD_ROW" => Outcome {
                result_sets: vec![ResultSet {
                    columns: vec![column("n", SqlType::Int)],
                    rows: vec![vec![SqlValue::NVarChar(Some("not an int".into()))]],
                }],
                rows_affected: None,
            },
            other => {
                return Err(SqlError {
                    number: 208,
                    class: 16,
                    message: format!("Invalid object name '{other}'."),
                });
            }
        };
        Ok(outcome)
    }
}

async fn start() -> (TdsServer, Arc<TestEngine>) {
    let engine = Arc::new(TestEngine::default());
    let server = TdsServer::start(engine.clone(), TdsServerConfig::default())
        .await
        .unwrap();
    (server, engine)
}

/// A `Config` built through the API with `EncryptionLevel::NotSupported`.
fn api_config(server: &TdsServer, password: &str) -> Config {
    let defaults = TdsServerConfig::default();
    let mut config = Config::new();
    config.host("127.0.0.1");
    config.port(server.addr().port());
    config.authentication(AuthMethod::sql_server(defaults.user, password));
    config.database(defaults.database);
    config.encryption(EncryptionLevel::NotSupported);
    config
}

async fn connect_with(config: Config) -> tiberius::Result<TdsClient> {
    let tcp = TcpStream::connect(config.get_addr()).await?;
    tcp.set_nodelay(true)?;
    tokio::time::timeout(OP_TIMEOUT, Client::connect(config, tcp.compat_write()))
        .await
        .unwrap()
}

async fn connect(server: &TdsServer) -> TdsClient {
    connect_with(Config::from_ado_string(&server.connection_string()).unwrap())
        .await
        .unwrap()
}

async fn select_one(client: &mut TdsClient) -> tiberius::Result<i32> {
    let row = client.simple_query("SELECT 1").await?.into_row().await?;
    Ok(row.and_then(|r| r.get::<i32, _>(0)).unwrap_or_default())
}

fn server_error_code(err: &tiberius::error::Error) -> Option<u32> {
    match err {
        tiberius::error::Error::Server(token) => Some(token.code()),
        _ => None,
    }
}

fn dto(secs: i64, nanos: u32, offset_hours: i32) -> DateTime<FixedOffset> {
    FixedOffset::east_opt(offset_hours * 3600)
        .unwrap()
        .timestamp_opt(secs, nanos)
        .unwrap()
}

#[tokio::test]
async fn login_through_config_api_with_encryption_not_supported() {
    let (server, _) = start().await;
    let password = TdsServerConfig::default().password;
    let mut client = connect_with(api_config(&server, &password)).await.unwrap();
    assert_eq!(select_one(&mut client).await.unwrap(), 1);
    assert_eq!(server.connections_accepted(), 1);
}

#[tokio::test]
async fn login_through_ado_connection_string() {
    let (server, _) = start().await;
    let conn_str = server.connection_string();
    assert!(conn_str.starts_with(&format!("Server=tcp:127.0.0.1,{};", server.addr().port())));
    let mut client = connect(&server).await;
    assert_eq!(select_one(&mut client).await.unwrap(), 1);

    // `Encrypt=false` also works in this build (no TLS feature: tiberius sends NOT_SUP).
    let plain = conn_str.replace("Encrypt=DANGER_PLAINTEXT", "Encrypt=false");
    let mut client = connect_with(Config::from_ado_string(&plain).unwrap())
        .await
        .unwrap();
    assert_eq!(select_one(&mut client).await.unwrap(), 1);
}

#[tokio::test]
async fn connection_string_quotes_special_characters() {
    let engine = Arc::new(TestEngine::default());
    let config = TdsServerConfig {
        password: "p;w=d x".into(),
        ..TdsServerConfig::default()
    };
    let server = TdsServer::start(engine, config).await.unwrap();
    let mut client = connect(&server).await;
    assert_eq!(select_one(&mut client).await.unwrap(), 1);
}

#[tokio::test]
async fn wrong_password_fails_with_18456() {
    let (server, _) = start().await;
    let err = connect_with(api_config(&server, "wrong"))
        .await
        .unwrap_err();
    assert_eq!(server_error_code(&err), Some(18456), "{err:?}");
}

#[tokio::test]
async fn unknown_database_fails_with_4060() {
    let (server, _) = start().await;
    let mut config = api_config(&server, &TdsServerConfig::default().password);
    config.database("nope");
    let err = connect_with(config).await.unwrap_err();
    assert_eq!(server_error_code(&err), Some(4060), "{err:?}");
}

#[tokio::test]
async fn rpc_parameters_round_trip_with_nulls() {
    let (server, engine) = start().await;
    let mut client = connect(&server).await;
    let text = "héllo wörld ✓ 日本語 🦀";
    let blob = vec![0u8, 1, 2, 254, 255];
    let when = dto(1_700_000_000, 123_456_700, 2);
    let row = client
        .query(
            "ECHO",
            &[
                &42i32,
                &-7_000_000_000i64,
                &text,
                &blob,
                &when,
                &Option::<i32>::None,
                &Option::<i64>::None,
                &Option::<String>::None,
                &Option::<Vec<u8>>::None,
                &Option::<DateTime<FixedOffset>>::None,
                &"",
                &Vec::<u8>::new(),
            ],
        )
        .await
        .unwrap()
        .into_row()
        .await
        .unwrap()
        .unwrap();

    let names: Vec<&str> = row.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names[0], "@P1");
    assert_eq!(names[11], "@P12");
    assert_eq!(row.get::<i32, _>(0), Some(42));
    assert_eq!(row.get::<i64, _>(1), Some(-7_000_000_000));
    assert_eq!(row.get::<&str, _>(2), Some(text));
    assert_eq!(row.get::<&[u8], _>(3), Some(&blob[..]));
    let got: DateTime<FixedOffset> = row.get(4).unwrap();
    assert_eq!(got, when);
    assert_eq!(got.offset(), when.offset());
    assert_eq!(row.get::<i32, _>(5), None);
    assert_eq!(row.get::<i64, _>(6), None);
    assert_eq!(row.get::<&str, _>(7), None);
    assert_eq!(row.get::<&[u8], _>(8), None);
    assert_eq!(row.get::<DateTime<FixedOffset>, _>(9), None);
    assert_eq!(row.get::<&str, _>(10), Some(""));
    assert_eq!(row.get::<&[u8], _>(11), Some(&[][..]));

    // The engine saw typed NULLs (types taken from the @params declaration).
    let params = engine.last_params.lock().unwrap().clone();
    let values: Vec<SqlValue> = params.into_iter().map(|p| p.value).collect();
    assert_eq!(
        values,
        vec![
            SqlValue::Int(Some(42)),
            SqlValue::BigInt(Some(-7_000_000_000)),
            SqlValue::NVarChar(Some(text.into())),
            SqlValue::VarBinary(Some(Bytes::from(blob.clone()))),
            SqlValue::DateTimeOffset(Some(when)),
            SqlValue::Int(None),
            SqlValue::BigInt(None),
            SqlValue::NVarChar(None),
            SqlValue::VarBinary(None),
            SqlValue::DateTimeOffset(None),
            SqlValue::NVarChar(Some(String::new())),
            SqlValue::VarBinary(Some(Bytes::new())),
        ]
    );
}

#[tokio::test]
async fn large_values_span_many_packets_both_ways() {
    let (server, engine) = start().await;
    let mut client = connect(&server).await;
    // 1 MiB varbinary(max) and a > 4000 character nvarchar(max), both PLP on the wire and far
    // larger than the 4096-byte packets in both directions.
    let blob: Vec<u8> = (0..1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
    let text: String = "ü✓日".repeat(3000);
    let row = tokio::time::timeout(OP_TIMEOUT, async {
        client
            .query("ECHO", &[&blob, &text.as_str()])
            .await?
            .into_row()
            .await
    })
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    assert_eq!(row.get::<&[u8], _>(0).map(<[u8]>::len), Some(blob.len()));
    assert!(row.get::<&[u8], _>(0) == Some(&blob[..]));
    assert_eq!(row.get::<&str, _>(1), Some(text.as_str()));
    let params = engine.last_params.lock().unwrap().clone();
    assert_eq!(
        params[0].value,
        SqlValue::VarBinary(Some(Bytes::from(blob)))
    );
}

#[tokio::test]
async fn multiple_result_sets_via_rpc_and_batch() {
    let (server, _) = start().await;
    let mut client = connect(&server).await;
    for batch in [false, true] {
        let stream = if batch {
            client.simple_query("MULTI").await.unwrap()
        } else {
            client.query("MULTI", &[]).await.unwrap()
        };
        let results = stream.into_results().await.unwrap();
        assert_eq!(results.len(), 2, "batch={batch}");
        let ints: Vec<i32> = results[0]
            .iter()
            .map(|r| r.get::<i32, _>("n").unwrap())
            .collect();
        assert_eq!(ints, [1, 2]);
        assert_eq!(results[1][0].get::<i64, _>("big"), Some(i64::MAX));
        assert_eq!(results[1][0].get::<&str, _>("s"), Some("second"));
    }
}

#[tokio::test]
async fn rows_affected_are_reported() {
    let (server, _) = start().await;
    let mut client = connect(&server).await;
    let result = client
        .execute("UPDATE t SET x = @P1", &[&1i32])
        .await
        .unwrap();
    assert_eq!(result.rows_affected(), &[3]);

    // A result set (1 row) followed by the DML count.
    let result = client.execute("UPDATE_SELECT", &[]).await.unwrap();
    assert_eq!(result.rows_affected(), &[1, 1]);
    let rows = client
        .query("UPDATE_SELECT", &[])
        .await
        .unwrap()
        .into_first_result()
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<&[u8], _>(0), Some(&b"abc"[..]));
}

#[tokio::test]
async fn engine_errors_surface_with_their_number() {
    let (server, _) = start().await;
    let mut client = connect(&server).await;

    let err = client.query("FAIL", &[&1i32]).await.unwrap_err();
    assert_eq!(server_error_code(&err), Some(2627), "{err:?}");
    let err = client.execute("FAIL", &[]).await.unwrap_err();
    assert_eq!(server_error_code(&err), Some(2627), "{err:?}");
    let err = client.simple_query("nothing here").await.unwrap_err();
    assert_eq!(server_error_code(&err), Some(208), "{err:?}");
    match &err {
        tiberius::error::Error::Server(token) => {
            assert_eq!(token.class(), 16);
            assert_eq!(token.message(), "Invalid object name 'nothing here'.");
            assert_eq!(token.server(), "tds-test-server");
        }
        other => panic!("unexpected error {other:?}"),
    }
    // A row the engine got wrong is reported as an error, not a broken stream.
    let err = client.query("BAD_ROW", &[]).await.unwrap_err();
    assert_eq!(server_error_code(&err), Some(50000), "{err:?}");

    // The connection is still usable after errors.
    assert_eq!(select_one(&mut client).await.unwrap(), 1);
}

#[tokio::test]
async fn counters_track_round_trips() {
    let (server, _) = start().await;
    let mut client = connect(&server).await;
    assert_eq!(server.requests_served(), 0);
    select_one(&mut client).await.unwrap();
    client.execute("UPDATE t", &[]).await.unwrap();
    let _ = client.execute("FAIL", &[]).await;
    assert_eq!(server.requests_served(), 3);
    assert_eq!(server.statements_executed(), 2);
    assert_eq!(server.connections_accepted(), 1);
}

fn pool_builder() -> bb8::Builder<bb8_tiberius::ConnectionManager> {
    bb8::Pool::builder()
        .max_size(2)
        .connection_timeout(Duration::from_secs(10))
}

#[tokio::test]
async fn bb8_pool_connects_and_validates() {
    let (server, _) = start().await;
    let manager =
        bb8_tiberius::ConnectionManager::build(server.connection_string().as_str()).unwrap();
    let pool = pool_builder().build(manager).await.unwrap();
    {
        let mut conn = pool.get().await.unwrap();
        let rows = conn
            .query("MULTI", &[])
            .await
            .unwrap()
            .into_first_result()
            .await
            .unwrap();
        assert_eq!(rows.len(), 2);
    }
    let before = server.requests_served();
    {
        // Checkout validates the pooled connection with `SELECT 1`.
        let mut conn = pool.get().await.unwrap();
        assert_eq!(server.requests_served(), before + 1);
        assert_eq!(select_one(&mut conn).await.unwrap(), 1);
    }
    assert!(server.connections_accepted() <= 2);
}

#[tokio::test]
async fn stall_fault_never_answers() {
    let (server, _) = start().await;
    let mut client = connect(&server).await;
    server.set_fault(Fault::Stall);
    let stalled = tokio::time::timeout(Duration::from_millis(300), select_one(&mut client)).await;
    assert!(stalled.is_err(), "a stalled server must not answer");
    // A new connection also stalls (during PRELOGIN).
    let config = Config::from_ado_string(&server.connection_string()).unwrap();
    let tcp = TcpStream::connect(config.get_addr()).await.unwrap();
    let connecting = tokio::time::timeout(
        Duration::from_millis(300),
        Client::connect(config, tcp.compat_write()),
    )
    .await;
    assert!(connecting.is_err(), "login must stall too");

    server.set_fault(Fault::None);
    let mut fresh = connect(&server).await;
    assert_eq!(select_one(&mut fresh).await.unwrap(), 1);
}

#[tokio::test]
async fn drop_connections_fault_then_pool_recovers() {
    let (server, _) = start().await;
    let manager =
        bb8_tiberius::ConnectionManager::build(server.connection_string().as_str()).unwrap();
    let pool = pool_builder().max_size(1).build(manager).await.unwrap();
    {
        let mut conn = pool.get().await.unwrap();
        assert_eq!(select_one(&mut conn).await.unwrap(), 1);
    }
    let accepted = server.connections_accepted();
    {
        let mut conn = pool.get().await.unwrap();
        server.set_fault(Fault::DropConnections);
        let result = tokio::time::timeout(OP_TIMEOUT, conn.query("MULTI", &[]))
            .await
            .unwrap();
        assert!(result.is_err(), "a dropped connection must fail the query");
    }
    server.set_fault(Fault::None);
    // The broken connection fails validation; the pool replaces it with a new one.
    let mut conn = pool.get().await.unwrap();
    let rows = conn
        .query("MULTI", &[])
        .await
        .unwrap()
        .into_first_result()
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(server.connections_accepted() > accepted);
}

#[tokio::test]
async fn error_fault_answers_statements_with_the_error() {
    let (server, _) = start().await;
    let mut client = connect(&server).await;
    server.set_fault(Fault::Error(SqlError {
        number: 1205,
        class: 13,
        message: "Transaction was deadlocked".into(),
    }));
    let err = client.query("MULTI", &[]).await.unwrap_err();
    assert_eq!(server_error_code(&err), Some(1205), "{err:?}");
    // Logins and pool validation still work.
    let mut other = connect(&server).await;
    assert_eq!(select_one(&mut other).await.unwrap(), 1);
    assert_eq!(server.statements_executed(), 0);

    server.set_fault(Fault::None);
    let rows = client
        .query("MULTI", &[])
        .await
        .unwrap()
        .into_first_result()
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
}

#[tokio::test]
async fn malformed_input_closes_only_that_connection() {
    let (server, _) = start().await;
    let mut healthy = connect(&server).await;

    // A header announcing a length shorter than itself.
    let mut raw = TcpStream::connect(server.addr()).await.unwrap();
    raw.write_all(&[0x12, 0x01, 0x00, 0x02, 0, 0, 0, 0])
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(OP_TIMEOUT, raw.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "the server must close the connection");

    // An unknown packet type.
    let mut raw = TcpStream::connect(server.addr()).await.unwrap();
    raw.write_all(&[0x7E, 0x01, 0x00, 0x0A, 0, 0, 0, 0, 1, 2])
        .await
        .unwrap();
    let n = tokio::time::timeout(OP_TIMEOUT, raw.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "the server must close the connection");

    // A LOGIN7 whose field offsets point past the end of the message.
    let mut raw = TcpStream::connect(server.addr()).await.unwrap();
    let mut login = vec![0x10, 0x01, 0x00, 0x00, 0, 0, 1, 0];
    login.extend_from_slice(&[0xFF; 94]);
    let len = u16::try_from(login.len()).unwrap().to_be_bytes();
    login[2..4].copy_from_slice(&len);
    raw.write_all(&login).await.unwrap();
    let n = tokio::time::timeout(OP_TIMEOUT, raw.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "the server must close the connection");

    assert_eq!(select_one(&mut healthy).await.unwrap(), 1);
}

#[tokio::test]
async fn drop_stops_the_server() {
    let (server, _) = start().await;
    let addr = server.addr();
    let config = Config::from_ado_string(&server.connection_string()).unwrap();
    let mut client = connect(&server).await;
    assert_eq!(select_one(&mut client).await.unwrap(), 1);

    drop(server);

    // The open connection is closed by the shutdown.
    let result = tokio::time::timeout(OP_TIMEOUT, select_one(&mut client))
        .await
        .unwrap();
    assert!(result.is_err(), "a query after drop must fail");

    // New connections fail: at first possibly after the TCP handshake (the accept loop
    // shuts down asynchronously), then with "connection refused" once the listener is gone.
    let login = tokio::time::timeout(OP_TIMEOUT, async {
        let tcp = TcpStream::connect(addr).await?;
        Client::connect(config, tcp.compat_write()).await
    })
    .await
    .unwrap();
    assert!(login.is_err(), "login after drop must fail");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "listener still open 10s after drop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// One client packet holding a whole message.
fn packet(ty: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len() + 8).unwrap();
    let mut out = vec![ty, 0x01];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&[0, 0, 1, 0]);
    out.extend_from_slice(payload);
    out
}

/// Reads one server message; returns its payload and the length of every packet.
async fn read_response(raw: &mut TcpStream) -> (Vec<u8>, Vec<usize>) {
    let mut payload = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let mut header = [0u8; 8];
        raw.read_exact(&mut header).await.unwrap();
        assert_eq!(header[0], 0x04, "tabular result");
        let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
        sizes.push(len);
        let start = payload.len();
        payload.resize(start + len - 8, 0);
        raw.read_exact(&mut payload[start..]).await.unwrap();
        if header[1] & 0x01 != 0 {
            return (payload, sizes);
        }
    }
}

/// A LOGIN7 asking for `packet_size`, with only user, password and database set.
fn login7(packet_size: u32, user: &str, password: &str, database: &str) -> Vec<u8> {
    const DATA_START: usize = 94;
    let password: Vec<u8> = utf16(password)
        .into_iter()
        .map(|b| b.rotate_left(4) ^ 0xA5)
        .collect();
    let mut msg = vec![0u8; DATA_START];
    msg[4..8].copy_from_slice(&0x7400_0004u32.to_le_bytes());
    msg[8..12].copy_from_slice(&packet_size.to_le_bytes());
    // Every (offset, length) pair points at the data area; empty unless set below.
    for field in (36..72).step_by(4).chain((78..90).step_by(4)) {
        msg[field..field + 2].copy_from_slice(&94u16.to_le_bytes());
    }
    for (field, bytes) in [(40, utf16(user)), (44, password), (68, utf16(database))] {
        let offset = u16::try_from(msg.len()).unwrap();
        let chars = u16::try_from(bytes.len() / 2).unwrap();
        msg[field..field + 2].copy_from_slice(&offset.to_le_bytes());
        msg[field + 2..field + 4].copy_from_slice(&chars.to_le_bytes());
        msg.extend_from_slice(&bytes);
    }
    let len = u32::try_from(msg.len()).unwrap();
    msg[0..4].copy_from_slice(&len.to_le_bytes());
    msg
}

#[tokio::test]
async fn negotiated_packet_size_is_used_for_responses() {
    let (server, _) = start().await;
    let config = TdsServerConfig::default();
    let mut raw = TcpStream::connect(server.addr()).await.unwrap();
    // PRELOGIN with just the version option.
    let prelogin = [0x00, 0x00, 0x06, 0x00, 0x06, 0xFF, 0, 0, 0, 0, 0, 0];
    raw.write_all(&packet(0x12, &prelogin[..])).await.unwrap();
    let (answer, _) = read_response(&mut raw).await;
    assert!(!answer.is_empty());

    let login = login7(512, &config.user, &config.password, &config.database);
    raw.write_all(&packet(0x10, &login)).await.unwrap();
    let (answer, _) = read_response(&mut raw).await;
    assert!(answer.contains(&0xAD), "LOGINACK expected");
    let size_change = [&[0xE3, 0x0F, 0x00, 0x04, 0x03][..], &utf16("512")].concat();
    assert!(
        answer.windows(size_change.len()).any(|w| w == size_change),
        "ENVCHANGE packet size 512 expected"
    );

    // SQLBatch: ALL_HEADERS (transaction descriptor) then the text.
    let mut batch = 22u32.to_le_bytes().to_vec();
    batch.extend_from_slice(&18u32.to_le_bytes());
    batch.extend_from_slice(&2u16.to_le_bytes());
    batch.extend_from_slice(&[0; 8]);
    batch.extend_from_slice(&1u32.to_le_bytes());
    batch.extend_from_slice(&utf16("BIG"));
    raw.write_all(&packet(0x01, &batch)).await.unwrap();
    let (answer, sizes) = read_response(&mut raw).await;
    assert!(
        sizes.len() > 10,
        "a 10 kB answer needs many 512-byte packets"
    );
    assert!(sizes.iter().all(|s| *s <= 512), "{sizes:?}");
    assert_eq!(answer.iter().filter(|b| **b == 0xAB).count(), 10_000);
}
