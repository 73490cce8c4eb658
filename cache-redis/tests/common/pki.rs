//! Test certificates generated at test time (rcgen), so nothing expires in the repository.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use integration_tests::redis_server::TlsServerFiles;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// PEM files in a private directory, removed on drop.
pub struct Pki {
    dir: PathBuf,
}

impl Pki {
    /// A CA, a server certificate for `server_names` and a client certificate, both issued by
    /// it, and a second CA that issued nothing used here.
    pub fn generate(server_names: &[&str]) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sessions-tls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = new_ca("sessions test CA");
        let other_ca = new_ca("some other CA");
        let write = |name: &str, pem: String| std::fs::write(dir.join(name), pem).unwrap();
        write("ca.pem", ca.pem());
        write("other-ca.pem", other_ca.pem());
        for (name, sans, usage) in [
            (
                "server",
                server_names.iter().map(|n| (*n).to_owned()).collect(),
                // clientAuth too: cluster nodes present it on the cluster bus, which always
                // requires client certificates.
                vec![
                    ExtendedKeyUsagePurpose::ServerAuth,
                    ExtendedKeyUsagePurpose::ClientAuth,
                ],
            ),
            (
                "client",
                vec!["client.test".to_owned()],
                vec![ExtendedKeyUsagePurpose::ClientAuth],
            ),
        ] {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(sans).unwrap();
            params.distinguished_name.push(DnType::CommonName, name);
            params.extended_key_usages = usage;
            let cert = params.signed_by(&key, &ca).unwrap();
            write(&format!("{name}.pem"), cert.pem());
            write(&format!("{name}.key"), key.serialize_pem());
        }
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn server_files(&self, require_client_certificates: bool) -> TlsServerFiles {
        TlsServerFiles {
            cert_file: self.path("server.pem"),
            key_file: self.path("server.key"),
            ca_file: self.path("ca.pem"),
            require_client_certificates,
        }
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn new_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}
