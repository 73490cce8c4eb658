//! The Redis cache of the `redis` example (and of integration-tests' `session-node`) from the
//! environment, checked at start: a wrong `REDIS_URL`, password, database or certificate stops
//! the process with one line naming the variable, instead of serving 500s.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `REDIS_URL` | `redis://127.0.0.1:6379` | a `redis://` / `rediss://` / `redis+sentinel://` URL, or a StackExchange-style configuration string (`host:port,password=...,defaultDatabase=N`, `serviceName=` for Sentinel) |
//! | `REDIS_INSTANCE_NAME` | `App_` | key prefix, as the guide's `-InstanceName 'App_'` |
//! | `REDIS_TLS_CA_FILE` | none (public roots) | PEM CA to trust for `rediss://` / `ssl=true` (needs `--features cache-redis/tls`) |
//! | `REDIS_TLS_CLIENT_CERT`, `REDIS_TLS_CLIENT_KEY` | none | PEM client certificate and key, for servers with `tls-auth-clients yes` |

use cache_redis::{RedisCache, RedisCacheError, RedisConfigError, RedisStartupError};

use super::report::SettingError;
use super::{BoxError, env_or, var};

/// Builds the cache from the variables above and checks that the store is usable.
///
/// # Errors
/// A [`SettingError`] naming the variable at fault.
#[allow(dead_code)] // not every binary including `common` uses Redis
pub async fn cache_from_env() -> Result<RedisCache, BoxError> {
    let target = env_or("REDIS_URL", "redis://127.0.0.1:6379");
    let builder = if target.contains("://") {
        RedisCache::builder().url(target)
    } else {
        RedisCache::builder().configuration(target)
    };
    let mut builder = builder.instance_name(env_or("REDIS_INSTANCE_NAME", "App_"));
    if let Some(ca) = var("REDIS_TLS_CA_FILE") {
        builder = builder.tls_ca_file(ca);
    }
    match (var("REDIS_TLS_CLIENT_CERT"), var("REDIS_TLS_CLIENT_KEY")) {
        (Some(cert), Some(key)) => builder = builder.tls_client_certificate(cert, key),
        (None, None) => {}
        _ => {
            return Err(
                "set both REDIS_TLS_CLIENT_CERT and REDIS_TLS_CLIENT_KEY, or neither".into(),
            );
        }
    }
    builder
        .connect()
        .await
        .map_err(|e| SettingError::new(culprit(&e), e).into())
}

/// The variable(s) whose value caused `error`.
fn culprit(error: &RedisStartupError) -> &'static str {
    match error {
        RedisStartupError::Config(config) => match config {
            RedisConfigError::TlsFile { what, .. } => match *what {
                "CA certificate" => "REDIS_TLS_CA_FILE",
                "client certificate" => "REDIS_TLS_CLIENT_CERT",
                _ => "REDIS_TLS_CLIENT_KEY",
            },
            RedisConfigError::InvalidTlsCertificates(_) => {
                "REDIS_TLS_CA_FILE / REDIS_TLS_CLIENT_CERT / REDIS_TLS_CLIENT_KEY"
            }
            RedisConfigError::TlsOptionsWithoutTls => "REDIS_TLS_* (REDIS_URL does not use TLS)",
            RedisConfigError::TlsNotEnabled => "REDIS_URL (TLS needs `--features cache-redis/tls`)",
            RedisConfigError::SentinelNotEnabled => {
                "REDIS_URL (Sentinel needs `--features cache-redis/sentinel`)"
            }
            _ => "REDIS_URL",
        },
        RedisStartupError::Unusable(unusable) => match redis_error(&unusable.source) {
            Some(RedisCacheError::TlsCertificate(_)) => "REDIS_URL / REDIS_TLS_CA_FILE",
            Some(RedisCacheError::TlsClientCertificate(_)) => {
                "REDIS_TLS_CLIENT_CERT / REDIS_TLS_CLIENT_KEY"
            }
            _ => "REDIS_URL",
        },
        _ => "REDIS_URL",
    }
}

/// The Redis error inside a backend failure.
fn redis_error(error: &session_actix::CacheError) -> Option<&RedisCacheError> {
    match error {
        session_actix::CacheError::Backend { source, .. } => source.downcast_ref(),
        _ => None,
    }
}
