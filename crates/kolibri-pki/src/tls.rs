//! rustls configuration for the API server.

use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use crate::{Pki, PkiError};

impl Pki {
    /// A TLS server configuration presenting the serving certificate.
    ///
    /// Client certificates are requested but not required: a client that presents one must
    /// present one signed by the cluster CA (it then authenticates as its CN and groups);
    /// a client without one goes on to token authentication. Uses the ring provider
    /// explicitly, so no process-wide default provider has to be installed.
    pub fn server_config(&self, alpn: Vec<Vec<u8>>) -> Result<Arc<ServerConfig>, PkiError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_cert_der().clone()).map_err(|e| PkiError::Tls(format!("CA certificate: {e}")))?;
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .allow_unauthenticated()
            .build()
            .map_err(|e| PkiError::Tls(format!("client verifier: {e}")))?;
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| PkiError::Tls(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.serving_cert_chain(), self.serving_key())
            .map_err(|e| PkiError::Tls(format!("serving certificate: {e}")))?;
        config.alpn_protocols = alpn;
        Ok(Arc::new(config))
    }
}
