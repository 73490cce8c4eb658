//! TLS through the `rustls` feature against the TDS test server, which encrypts as SQL Server
//! does inside TDS 7.x (handshake in PRELOGIN packets) with a certificate generated at test time:
//! `Encrypt=true` encrypts everything, `Encrypt=false` the login only, a server requiring
//! encryption upgrades `Encrypt=false`; `TrustServerCertificate=true` accepts the self-issued
//! certificate, `false` refuses it unless its CA is given (`TrustServerCertificateCA`).
#![cfg(feature = "rustls")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] functions

use std::error::Error as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use cache_sqlserver::{SqlServerCache, SqlServerError};
use integration_tests::tds::server::{Logins, TdsServer, TdsServerConfig};
use integration_tests::tds::sqlcache_engine::SqlCacheEngine;
use integration_tests::tds::tls::TdsTls;
use session_core::{CacheError, DistributedCache, EntryOptions, WriteCondition};

/// Every test here talks to a local server: a hang is a failure, not a wait.
async fn within<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), test)
        .await
        .expect("the test finished within 30 s")
}

async fn tls_server(require_encryption: bool) -> (TdsServer, TdsTls) {
    let mut tls = TdsTls::generate().unwrap();
    tls.require_encryption = require_encryption;
    let engine = Arc::new(SqlCacheEngine::with_table("dbo", "Sessions").unwrap());
    let config = TdsServerConfig {
        tls: Some(tls.clone()),
        ..TdsServerConfig::default()
    };
    (TdsServer::start(engine, config).await.unwrap(), tls)
}

fn cache(connection_string: String) -> SqlServerCache {
    SqlServerCache::builder()
        .connection_string(connection_string)
        .table_name("Sessions")
        .pool_size(1)
        .connection_timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A few operations, conditional ones included, over one connection.
async fn exercise(cache: &SqlServerCache) -> Result<(), CacheError> {
    let options = EntryOptions::sliding(Duration::from_secs(60));
    let v = Bytes::from_static(b"over TLS");
    cache.set("k", v.clone(), &options).await?;
    assert_eq!(cache.get("k").await?, Some(v.clone()));
    let equals = WriteCondition::ValueEquals(v.clone());
    assert!(
        cache
            .set_if("k", Bytes::from_static(b"2"), &options, &equals)
            .await?
    );
    cache.check_server().await
}

/// The CA in a `.pem` file, removed on drop.
struct CaFile(PathBuf);

impl CaFile {
    fn write(tls: &TdsTls) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "tds-test-ca-{}-{}.pem",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, tls.ca_pem()).unwrap();
        Self(path)
    }
}

impl Drop for CaFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypt_true_encrypts_everything() {
    within(async {
        let (server, _tls) = tls_server(false).await;
        let cs = format!(
            "{};Encrypt=true;TrustServerCertificate=true",
            server.base_connection_string()
        );
        exercise(&cache(cs)).await.unwrap();
        assert_eq!(
            server.logins(),
            Logins {
                encrypted: 1,
                ..Logins::default()
            }
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypt_false_encrypts_the_login_only() {
    within(async {
        let (server, _tls) = tls_server(false).await;
        let cs = format!(
            "{};Encrypt=false;TrustServerCertificate=true",
            server.base_connection_string()
        );
        exercise(&cache(cs)).await.unwrap();
        assert_eq!(
            server.logins(),
            Logins {
                login_only: 1,
                ..Logins::default()
            }
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_requiring_encryption_encrypts_everything_for_encrypt_false() {
    within(async {
        let (server, _tls) = tls_server(true).await;
        let cs = format!(
            "{};Encrypt=false;TrustServerCertificate=true",
            server.base_connection_string()
        );
        exercise(&cache(cs)).await.unwrap();
        assert_eq!(
            server.logins(),
            Logins {
                encrypted: 1,
                ..Logins::default()
            }
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_refused_without_trust_server_certificate() {
    within(async {
        let (server, _tls) = tls_server(false).await;
        let cs = format!(
            "{};Encrypt=true;TrustServerCertificate=false",
            server.base_connection_string()
        );
        let error = cache(cs).get("k").await.unwrap_err();
        let mut chain = String::new();
        let mut source = error.source();
        let mut connect = false;
        while let Some(cause) = source {
            connect |= matches!(
                cause.downcast_ref::<SqlServerError>(),
                Some(SqlServerError::Connect(_))
            );
            chain.push_str(&format!("{cause} / "));
            source = cause.source();
        }
        assert!(connect, "{error:?}");
        assert!(chain.to_lowercase().contains("certificate"), "{chain}");
        assert_eq!(server.logins(), Logins::default(), "no login got through");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_certificate_verifies_against_its_ca() {
    within(async {
        let (server, tls) = tls_server(false).await;
        let ca = CaFile::write(&tls);
        let cs = format!(
            "{};Encrypt=true;TrustServerCertificateCA={}",
            server.base_connection_string(),
            ca.0.display()
        );
        exercise(&cache(cs)).await.unwrap();
        assert_eq!(server.logins().encrypted, 1);
    })
    .await;
}

/// The plain-text connection string of a TLS server still works (`DANGER_PLAINTEXT` offers no
/// encryption, and encryption is not required).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_text_clients_still_connect_unless_encryption_is_required() {
    within(async {
        let (server, _tls) = tls_server(false).await;
        let cs = format!(
            "{};Encrypt=DANGER_PLAINTEXT",
            server.base_connection_string()
        );
        exercise(&cache(cs.clone())).await.unwrap();
        assert_eq!(server.logins().plain, 1);

        let (server, _tls) = tls_server(true).await;
        let cs = format!(
            "{};Encrypt=DANGER_PLAINTEXT",
            server.base_connection_string()
        );
        assert!(cache(cs).get("k").await.is_err());
        assert_eq!(server.logins(), Logins::default());
    })
    .await;
}
