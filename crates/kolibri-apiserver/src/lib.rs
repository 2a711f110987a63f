//! kolibri's Kubernetes API server.
//!
//! A request flows: [`server`] (TLS, HTTP/1.1 and HTTP/2) → [`ApiServer::handle`] →
//! authentication and authorization ([`identity`]) → path parsing ([`request_info`]) →
//! discovery, OpenAPI, or a verb handler in [`handlers`] → the kind's strategy from
//! `kolibri-resources` → the [`kolibri_store::Store`]. The server is generic over JSON:
//! built-in kinds and, later, custom resources take the same paths.

use std::sync::{Arc, RwLock};

use kolibri_resources::Registry;
use kolibri_store::Store;

mod admission;
mod allocator;
mod bootstrap;
mod crd;
mod discovery;
mod encoding;
mod follow;
mod handlers;
mod identity;
mod in_process;
mod keys;
mod negotiate;
pub mod openapi;
pub mod patch;
pub mod protobuf;
mod request_info;
mod response;
mod selectors;
mod server;
pub mod serviceaccount;
mod status;
mod table;

pub use identity::UserInfo;
pub use in_process::InProcess;
pub use server::{serve, ServeError};

/// Settings of the API server.
#[derive(Clone, Debug)]
pub struct Config {
    /// The address clients reach the server at (for `/api` and the `kubernetes` Endpoints).
    pub advertise_address: std::net::IpAddr,
    pub advertise_port: u16,
    /// Services' virtual IPs come from here (`10.43.0.0/16`).
    pub service_cidr: (std::net::Ipv4Addr, u8),
    /// NodePorts come from here (`30000-32767`).
    pub node_port_range: (u16, u16),
    /// The `gitVersion` reported by `/version`.
    pub git_version: String,
    /// PEM of the ECDSA P-256 key that signs service-account tokens; a new key per start
    /// when `None`.
    pub service_account_key_pem: Option<String>,
    /// `iss` of service-account tokens, and the audience the API accepts.
    pub service_account_issuer: String,
    /// PEM of the cluster CA, put into service-account token Secrets as `ca.crt`.
    pub cluster_ca_pem: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            advertise_address: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            advertise_port: 6443,
            service_cidr: (std::net::Ipv4Addr::new(10, 43, 0, 0), 16),
            node_port_range: (30000, 32767),
            git_version: format!("v1.33.0+kolibri.{}", env!("CARGO_PKG_VERSION")),
            service_account_key_pem: None,
            service_account_issuer: serviceaccount::DEFAULT_ISSUER.to_string(),
            cluster_ca_pem: None,
        }
    }
}

/// The API server: shared by every connection.
pub struct ApiServer {
    store: Arc<dyn Store>,
    registry: RwLock<Arc<Registry>>,
    discovery: RwLock<Arc<discovery::Discovery>>,
    openapi: RwLock<Arc<openapi::OpenApiDocs>>,
    /// Definitions whose objects are being deleted.
    crd_cleanups: std::sync::Mutex<std::collections::HashSet<String>>,
    allocator: allocator::Allocator,
    tokens: serviceaccount::Tokens,
    config: Config,
    shutdown: tokio::sync::watch::Receiver<bool>,
    ready: std::sync::atomic::AtomicBool,
}

impl ApiServer {
    /// Builds the server over `store`. `shutdown` turns true when the process stops, which
    /// ends open watches.
    pub fn new(store: Arc<dyn Store>, config: Config, shutdown: tokio::sync::watch::Receiver<bool>) -> Arc<Self> {
        let registry = Arc::new(Registry::builtin());
        let discovery = Arc::new(discovery::Discovery::build(&registry, &config));
        let openapi = Arc::new(openapi::OpenApiDocs::build(registry.all()));
        let tokens = serviceaccount::Tokens::new(
            config.service_account_key_pem.as_deref(),
            &config.service_account_issuer,
        )
        .or_else(|e| {
            tracing::error!(error = %e, "service-account key unusable; tokens are signed with a key of this run only");
            serviceaccount::Tokens::new(None, &config.service_account_issuer)
        })
        .expect("a new ECDSA key can always be generated");
        Arc::new(Self {
            tokens,
            allocator: allocator::Allocator::new(config.service_cidr, config.node_port_range),
            store,
            registry: RwLock::new(registry),
            discovery: RwLock::new(discovery),
            openapi: RwLock::new(openapi),
            crd_cleanups: Default::default(),
            config,
            shutdown,
            ready: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Creates the objects every cluster has (namespaces, the `kubernetes` Service) and
    /// marks the server ready.
    pub async fn bootstrap(self: &Arc<Self>) -> anyhow::Result<()> {
        bootstrap::run(self).await?;
        self.start_custom_resources().await?;
        self.start_legacy_tokens().await?;
        self.ready.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    fn registry(&self) -> Arc<Registry> {
        match self.registry.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn openapi(&self) -> Arc<openapi::OpenApiDocs> {
        match self.openapi.read() {
            Ok(o) => o.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn discovery(&self) -> Arc<discovery::Discovery> {
        match self.discovery.read() {
            Ok(d) => d.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}
