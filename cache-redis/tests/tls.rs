//! TLS against a private `redis-server --tls-port`: the conformance suite over TLS, a server
//! certificate from an untrusted CA refused, mutual TLS with and without a client certificate.
//! Certificates are generated at test time (rcgen), so nothing expires in the repository.
#![cfg(feature = "tls")]
// Test helpers outside #[test] fns: a failed setup must fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::error::Error as _;
use std::path::Path;
use std::sync::Arc;

use cache_redis::{RedisCache, RedisCacheBuilder, RedisCacheError, RedisConfigError};
use common::pki::Pki;
use integration_tests::redis_server::RedisServer;
use session_core::DistributedCache;
use session_core::conformance::Harness;

/// A TLS server with fresh certificates (the test fails without TLS support).
async fn tls_server(require_client_certificates: bool) -> Option<(RedisServer, Pki)> {
    tls_server_for(&["localhost", "127.0.0.1"], require_client_certificates).await
}

/// A TLS server whose certificate names `server_names`.
async fn tls_server_for(
    server_names: &[&str],
    require_client_certificates: bool,
) -> Option<(RedisServer, Pki)> {
    let pki = Pki::generate(server_names);
    let server = RedisServer::start_tls(&pki.server_files(require_client_certificates)).await?;
    Some((server, pki))
}

fn builder(server: &RedisServer, ca: &Path) -> RedisCacheBuilder {
    assert!(server.url().starts_with("rediss://"));
    RedisCache::builder()
        .url(server.url())
        .tls_ca_file(ca)
        .instance_name(common::unique_instance("tls"))
}

/// The whole conformance suite over TLS, the server verified against the private CA.
async fn factory() -> Option<Harness> {
    let (server, pki) = tls_server(false).await?;
    let cache = builder(&server, &pki.path("ca.pem")).build().unwrap();
    Some(Harness::with_guard(Arc::new(cache), (server, pki)))
}

session_core::distributed_cache_conformance!(
    #[cfg_attr(
        redis_server_missing,
        ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
    )]
    factory
);

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn localhost_name_verifies_too() {
    let Some((server, pki)) = tls_server(false).await else {
        return;
    };
    let cache = RedisCache::builder()
        .url(format!("rediss://localhost:{}", server.port()))
        .tls_ca_file(pki.path("ca.pem"))
        .build()
        .unwrap();
    cache.ping().await.unwrap();
}

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn certificate_from_an_untrusted_ca_is_refused() {
    let Some((server, pki)) = tls_server(false).await else {
        return;
    };
    let cache = builder(&server, &pki.path("other-ca.pem")).build().unwrap();
    let error = cache.ping().await.unwrap_err();
    let text = common::chain(&error);
    assert!(
        text.contains("certificate verification failed"),
        "unclear error: {text}"
    );
    assert!(
        matches!(
            common::redis_error(&error),
            Some(RedisCacheError::TlsCertificate(_))
        ),
        "{text}"
    );
    // The driver's detail is kept as the source.
    assert!(error.source().and_then(|s| s.source()).is_some(), "{text}");
}

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn public_roots_do_not_trust_a_private_ca() {
    let Some((server, _pki)) = tls_server(false).await else {
        return;
    };
    // No CA file: verification against the webpki roots, which must refuse the test CA.
    let cache = RedisCache::builder().url(server.url()).build().unwrap();
    let error = cache.ping().await.unwrap_err();
    assert!(
        common::chain(&error).contains("certificate verification failed"),
        "{}",
        common::chain(&error)
    );
}

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn wrong_host_name_is_refused() {
    let Some((server, pki)) = tls_server_for(&["127.0.0.1"], false).await else {
        return;
    };
    // `localhost` reaches the same server, but the certificate names only 127.0.0.1.
    let cache = RedisCache::builder()
        .url(format!("rediss://localhost:{}", server.port()))
        .tls_ca_file(pki.path("ca.pem"))
        .build()
        .unwrap();
    let error = cache.ping().await.unwrap_err();
    assert!(
        common::chain(&error).contains("certificate verification failed"),
        "{}",
        common::chain(&error)
    );
}

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn ssl_host_verifies_another_name_than_the_endpoint() {
    let Some((server, pki)) = tls_server_for(&["redis.test"], false).await else {
        return;
    };
    // `redis.test` does not resolve: the connection goes to the endpoint, the certificate is
    // checked for the sslHost name.
    let cache = RedisCache::builder()
        .configuration(format!(
            "127.0.0.1:{},ssl=true,sslHost=redis.test",
            server.port()
        ))
        .tls_ca_file(pki.path("ca.pem"))
        .build()
        .unwrap();
    cache.ping().await.unwrap();

    let without = RedisCache::builder()
        .configuration(format!("127.0.0.1:{},ssl=true", server.port()))
        .tls_ca_file(pki.path("ca.pem"))
        .build()
        .unwrap();
    let error = without.ping().await.unwrap_err();
    assert!(
        common::chain(&error).contains("certificate verification failed"),
        "{}",
        common::chain(&error)
    );
}

#[test]
fn ssl_host_needs_ssl() {
    let error = RedisCache::builder()
        .configuration("127.0.0.1:6380,sslHost=redis.test")
        .build()
        .unwrap_err();
    assert!(
        matches!(error, RedisConfigError::TlsOptionsWithoutTls),
        "{error}"
    );
}

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn danger_accept_invalid_certificates_skips_verification() {
    let Some((server, _pki)) = tls_server(false).await else {
        return;
    };
    let cache = RedisCache::builder()
        .url(server.url())
        .danger_accept_invalid_certificates(true)
        .build()
        .unwrap();
    cache.ping().await.unwrap();
}

#[tokio::test]
#[cfg_attr(
    redis_server_missing,
    ignore = "needs a private redis-server: apt-get install redis-server (REQUIRE_REDIS=1 makes this a failure)"
)]
async fn mutual_tls_needs_the_client_certificate() {
    let Some((server, pki)) = tls_server(true).await else {
        return;
    };
    let with = builder(&server, &pki.path("ca.pem"))
        .tls_client_certificate(pki.path("client.pem"), pki.path("client.key"))
        .build()
        .unwrap();
    with.ping().await.unwrap();
    with.set(
        "k",
        "v".into(),
        &session_core::EntryOptions::sliding(std::time::Duration::from_secs(60)),
    )
    .await
    .unwrap();
    assert_eq!(with.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));

    let without = builder(&server, &pki.path("ca.pem"))
        .connect_timeout(std::time::Duration::from_secs(2))
        .build()
        .unwrap();
    let error = without.ping().await.unwrap_err();
    let text = common::chain(&error);
    assert!(
        text.contains("TLS client certificate refused"),
        "unclear error without a client certificate: {text}"
    );
    assert!(
        matches!(
            common::redis_error(&error),
            Some(RedisCacheError::TlsClientCertificate(_))
        ),
        "{text}"
    );
}

#[test]
fn tls_options_without_tls_are_refused() {
    let error = RedisCache::builder()
        .url("redis://127.0.0.1:1")
        .tls_ca_file("/nonexistent/ca.pem")
        .build()
        .unwrap_err();
    assert!(
        matches!(error, RedisConfigError::TlsOptionsWithoutTls),
        "{error}"
    );
}

#[test]
fn unreadable_ca_file_is_a_typed_error() {
    let error = RedisCache::builder()
        .url("rediss://127.0.0.1:1")
        .tls_ca_file("/nonexistent/ca.pem")
        .build()
        .unwrap_err();
    assert!(
        matches!(
            &error,
            RedisConfigError::TlsFile {
                what: "CA certificate",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.source().is_some());
    assert!(error.to_string().contains("/nonexistent/ca.pem"));
}
