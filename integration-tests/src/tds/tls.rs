//! The TDS test server's TLS identity: a private CA and a server certificate for `localhost` /
//! `127.0.0.1`, generated when the server is set up (nothing that expires is kept in the
//! repository), and the rustls server configuration that presents it.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// Setting up the TLS identity failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// Generating a key or certificate failed.
    #[error("generating the test certificates failed")]
    Certificate(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("configuring rustls failed")]
    Rustls(#[from] rustls::Error),
}

/// TLS for a [`TdsServer`](super::server::TdsServer).
#[derive(Clone)]
pub struct TdsTls {
    /// Answer PRELOGIN with "encryption required", so even a client offering login-only
    /// encryption (`Encrypt=false`) encrypts everything (SQL Server's "Force Encryption").
    pub require_encryption: bool,
    ca_pem: String,
    config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for TdsTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TdsTls")
            .field("require_encryption", &self.require_encryption)
            .finish_non_exhaustive()
    }
}

impl TdsTls {
    /// A fresh CA and a server certificate for `localhost` and `127.0.0.1` issued by it;
    /// encryption offered, not required.
    ///
    /// # Errors
    /// Key generation or the rustls configuration failed.
    pub fn generate() -> Result<Self, TlsSetupError> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "TDS test server CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

        let key = KeyPair::generate()?;
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, "TDS test server");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &ca)?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // TLS 1.2 only, as SQL Server inside TDS 7.x: the handshake is framed in TDS packets
        // until it completes, and TLS 1.3's post-handshake messages would arrive unframed.
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS12])?
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone(), ca.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )?;
        Ok(Self {
            require_encryption: false,
            ca_pem: ca.pem(),
            config: Arc::new(config),
        })
    }

    /// The CA certificate (PEM), for a client that verifies the server
    /// (`TrustServerCertificateCA=<file>` in the connection string).
    #[must_use]
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub(crate) fn config(&self) -> Arc<rustls::ServerConfig> {
        Arc::clone(&self.config)
    }
}
