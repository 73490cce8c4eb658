//! TLS: [`TlsOptions`] (private CA, client certificate, the insecure opt-out), the explicit rustls
//! crypto provider, and the redis-rs client built from a URL plus those options (and the ACL
//! user fix-up every client gets, see `with_user_password`).

use std::path::PathBuf;

use redis::{ConnectionAddr, IntoConnectionInfo};

use crate::error::RedisConfigError;

/// TLS settings for `rediss://` URLs and `ssl=true` configuration strings (feature `tls`).
///
/// By default the server's certificate must chain to one of the public webpki roots and name the
/// host connected to. Not applied to an application-supplied deadpool-redis pool
/// ([`RedisSource::Pool`](crate::RedisSource::Pool)), which carries its own TLS settings. Set
/// them through the builder:
///
/// ```no_run
/// use cache_redis::RedisCache;
///
/// let cache = RedisCache::builder()
///     .url("rediss://redis.internal:6380")
///     .tls_ca_file("/etc/redis/ca.pem") // trust this private CA (instead of the public roots)
///     .tls_client_certificate("/etc/app/client.pem", "/etc/app/client.key") // mutual TLS
///     .build()?;
/// # Ok::<(), cache_redis::RedisConfigError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file of the CA certificate(s) to trust. When set, **only** these are trusted (the
    /// public roots are not): a private CA cannot be mixed up with a public one.
    pub ca_file: Option<PathBuf>,
    /// PEM files of the client certificate (chain) and its private key, presented to servers
    /// that require client authentication (`tls-auth-clients yes`).
    pub client_certificate: Option<ClientCertificate>,
    /// Accepts any server certificate, for any host name: encryption without authentication,
    /// open to man-in-the-middle attacks. For throw-away test setups only. Default: `false`.
    pub danger_accept_invalid_certificates: bool,
}

/// A client certificate for mutual TLS: two PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The certificate, optionally followed by its intermediate CAs.
    pub certificate_file: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

impl TlsOptions {
    /// True if anything differs from the defaults (so TLS must be in use).
    fn is_customized(&self) -> bool {
        *self != Self::default()
    }
}

/// Installs rustls' `ring` provider as the process default, unless the application installed a
/// provider already (then that one is used, and this is a no-op).
///
/// redis-rs builds its rustls configuration with `ClientConfig::builder()`, which takes the
/// process-level default provider and panics ("Could not automatically determine the
/// process-level CryptoProvider") when none was installed, so a provider must be installed before
/// the first TLS connection. Called when a TLS cache (or any cache on an application-supplied
/// deadpool-redis pool) is built; an application that makes its own redis-rs TLS connections
/// outside a cache should call it first:
///
/// ```
/// cache_redis::install_crypto_provider();
/// let client = cache_redis::redis::Client::open("rediss://redis.internal:6380")?;
/// # let _ = client;
/// # Ok::<(), cache_redis::redis::RedisError>(())
/// ```
#[cfg(feature = "tls")]
pub fn install_crypto_provider() {
    // An `Err` means a provider is installed already: exactly what is needed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(feature = "tls")]
fn read(what: &'static str, path: &std::path::Path) -> Result<Vec<u8>, RedisConfigError> {
    std::fs::read(path).map_err(|source| RedisConfigError::TlsFile {
        what,
        path: path.to_owned(),
        source,
    })
}

/// A user name without a password (`redis://alice@host`, `user=alice`) authenticates as that
/// user with an empty password (`AUTH alice ""`, which a `nopass` user accepts). redis-rs sends
/// `AUTH` only when there is a password, so without this the connection would silently run as
/// the `default` user, with the wrong permissions.
pub(crate) fn with_user_password(info: redis::ConnectionInfo) -> redis::ConnectionInfo {
    let settings = info.redis_settings();
    if settings.username().is_some() && settings.password().is_none() {
        let settings = settings.clone().set_password("");
        info.set_redis_settings(settings)
    } else {
        info
    }
}

/// The redis-rs client for `url`: plain, or TLS with `tls` applied.
pub(crate) fn client(url: &str, tls: &TlsOptions) -> Result<redis::Client, RedisConfigError> {
    let info = with_user_password(
        url.into_connection_info()
            .map_err(RedisConfigError::InvalidUrl)?,
    );
    if !matches!(info.addr(), ConnectionAddr::TcpTls { .. }) {
        // Refused rather than ignored: whoever set a CA or a client certificate expects TLS, and
        // silently talking plain text instead would be worse than failing.
        if tls.is_customized() {
            return Err(RedisConfigError::TlsOptionsWithoutTls);
        }
        return redis::Client::open(info).map_err(RedisConfigError::InvalidUrl);
    }
    tls_client(info, tls)
}

#[cfg(not(feature = "tls"))]
fn tls_client(_: redis::ConnectionInfo, _: &TlsOptions) -> Result<redis::Client, RedisConfigError> {
    Err(RedisConfigError::TlsNotEnabled)
}

#[cfg(feature = "tls")]
fn tls_client(
    info: redis::ConnectionInfo,
    tls: &TlsOptions,
) -> Result<redis::Client, RedisConfigError> {
    install_crypto_provider();
    let info = match info.addr().clone() {
        ConnectionAddr::TcpTls {
            host,
            port,
            insecure,
            tls_params,
        } => info.set_addr(ConnectionAddr::TcpTls {
            host,
            port,
            insecure: insecure || tls.danger_accept_invalid_certificates,
            tls_params,
        }),
        _ => info,
    };
    match certificates(tls)? {
        None => redis::Client::open(info).map_err(RedisConfigError::InvalidUrl),
        Some(certificates) => redis::Client::build_with_tls(info, certificates)
            .map_err(RedisConfigError::InvalidTlsCertificates),
    }
}

/// The CA and client certificate files, read (`None` when neither is set).
#[cfg(feature = "tls")]
pub(crate) fn certificates(
    tls: &TlsOptions,
) -> Result<Option<redis::TlsCertificates>, RedisConfigError> {
    let root_cert = tls
        .ca_file
        .as_deref()
        .map(|path| read("CA certificate", path))
        .transpose()?;
    let client_tls = tls
        .client_certificate
        .as_ref()
        .map(|c| {
            Ok::<_, RedisConfigError>(redis::ClientTlsConfig {
                client_cert: read("client certificate", &c.certificate_file)?,
                client_key: read("client key", &c.key_file)?,
            })
        })
        .transpose()?;
    Ok(
        (root_cert.is_some() || client_tls.is_some()).then_some(redis::TlsCertificates {
            client_tls,
            root_cert,
        }),
    )
}

/// `error` and the errors wrapped inside it that `source()` does not reach: redis-rs keeps an
/// I/O error as `Arc<dyn Error>` (whose `source()` is the I/O error's), and an `io::Error`'s
/// `source()` skips the error it wraps (rustls' reaches redis-rs inside one).
#[cfg(feature = "tls")]
fn wrapped<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    type Shared = std::sync::Arc<dyn std::error::Error + Send + Sync>;
    std::iter::successors(Some(error), |e| {
        if let Some(shared) = e.downcast_ref::<Shared>() {
            Some(&**shared as &(dyn std::error::Error + 'static))
        } else {
            e.downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref)
                .map(|inner| inner as &(dyn std::error::Error + 'static))
        }
    })
    // Bounded, in case of a cycle no real error has.
    .take(8)
}

/// Which side's certificate a failed TLS handshake refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// Only produced with feature `tls`.
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
pub(crate) enum CertificateFailure {
    /// We refused the server's certificate.
    Server,
    /// The server refused ours (or its absence).
    Client,
}

/// The certificate failure behind `error` (or an error it wraps), if any.
pub(crate) fn certificate_failure(
    error: &(dyn std::error::Error + 'static),
) -> Option<CertificateFailure> {
    #[cfg(feature = "tls")]
    {
        use rustls::AlertDescription as Alert;
        let mut next = Some(error);
        while let Some(e) = next {
            for candidate in wrapped(e) {
                match candidate.downcast_ref::<rustls::Error>() {
                    Some(rustls::Error::InvalidCertificate(_)) => {
                        return Some(CertificateFailure::Server);
                    }
                    Some(rustls::Error::AlertReceived(
                        Alert::CertificateRequired
                        | Alert::BadCertificate
                        | Alert::UnknownCA
                        | Alert::CertificateUnknown
                        | Alert::CertificateExpired
                        | Alert::CertificateRevoked
                        | Alert::UnsupportedCertificate,
                    )) => return Some(CertificateFailure::Client),
                    _ => {}
                }
            }
            next = e.source();
        }
        None
    }
    #[cfg(not(feature = "tls"))]
    {
        let _ = error;
        None
    }
}
