//! kolibri's controllers: one module per controller, each an API client on `kube` /
//! `kube-runtime`, handed a client by the binary (inside the server process, an in-process
//! transport into the API server; out of process, any `kube::Client`).
//!
//! - [`namespace`]: empties a deleted namespace of every namespaced kind, reports progress
//!   in upstream's status conditions, then releases it through `finalize`.
//! - [`garbage_collector`]: ownerReferences across all kinds (Background, Foreground and
//!   Orphan propagation, blockOwnerDeletion, dangling references).
//! - [`serviceaccount`]: the `default` ServiceAccount in every namespace.
//! - [`root_ca_publisher`]: the `kube-root-ca.crt` ConfigMap in every namespace.
//! - [`disruption`]: the status of PodDisruptionBudgets (healthy, desired, allowed disruptions).
//! - [`resource_quota`]: `status.hard` and `status.used` of ResourceQuotas.
//! - [`csr_approving`], [`csr_signing`]: automatic approval of node client certificate
//!   requests, and signing of approved client requests with the cluster CA.
//! - [`replicaset`], [`replication_controller`]: pods for ReplicaSets and
//!   ReplicationControllers; [`deployment`]: rollouts over ReplicaSets; [`job`]: pods run to
//!   completion (and deletion after the TTL); [`cronjob`]: Jobs on a schedule;
//!   [`statefulset`]: pods with stable names and claims; [`daemonset`]: a pod per node.
//!
//! Controllers share one informer per kind and view ([`informer`]), are event-driven (no
//! polling) and retry failures with a per-key exponential backoff ([`queue`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};
use tokio::sync::watch;

pub mod cronjob;
pub mod csr_approving;
pub mod csr_signing;
pub mod daemonset;
pub mod deployment;
mod discovery;
pub mod disruption;
pub mod endpoints;
pub mod endpointslice;
mod events;
pub mod garbage_collector;
mod informer;
pub mod job;
pub mod namespace;
pub mod node_lifecycle;
pub mod persistentvolume_binder;
pub mod pod_gc;
mod queue;
pub mod replicaset;
pub mod replication_controller;
pub mod resource_quota;
pub mod root_ca_publisher;
mod service_pods;
pub mod serviceaccount;
pub mod statefulset;
pub mod taint_eviction;
mod workloads;

/// The controllers, by the name `--disable-controllers` takes.
pub const NAMES: [&str; 21] = [
    persistentvolume_binder::NAME,
    statefulset::NAME,
    daemonset::NAME,
    pod_gc::NAME,
    cronjob::NAME,
    job::NAME,
    node_lifecycle::NAME,
    taint_eviction::NAME,
    endpoints::NAME,
    endpointslice::NAME,
    csr_approving::NAME,
    csr_signing::NAME,
    disruption::NAME,
    resource_quota::NAME,
    deployment::NAME,
    garbage_collector::NAME,
    namespace::NAME,
    replicaset::NAME,
    replication_controller::NAME,
    root_ca_publisher::NAME,
    serviceaccount::NAME,
];

/// Upstream kube-controller-manager's names, accepted as well.
const ALIASES: [(&str, &str); 28] = [
    ("persistentvolume-binder-controller", persistentvolume_binder::NAME),
    ("statefulset-controller", statefulset::NAME),
    ("daemonset-controller", daemonset::NAME),
    ("pod-garbage-collector-controller", pod_gc::NAME),
    ("podgc", pod_gc::NAME),
    ("cronjob-controller", cronjob::NAME),
    ("job-controller", job::NAME),
    ("ttl-after-finished-controller", job::NAME),
    ("node-lifecycle-controller", node_lifecycle::NAME),
    ("nodelifecycle", node_lifecycle::NAME),
    ("taint-eviction-controller", taint_eviction::NAME),
    ("endpoint-controller", endpoints::NAME),
    ("endpointslice-controller", endpointslice::NAME),
    ("certificatesigningrequest-approving-controller", csr_approving::NAME),
    ("certificatesigningrequest-signing-controller", csr_signing::NAME),
    ("disruption-controller", disruption::NAME),
    ("resourcequota-controller", resource_quota::NAME),
    ("deployment-controller", deployment::NAME),
    ("replicaset-controller", replicaset::NAME),
    ("replicationcontroller-controller", replication_controller::NAME),
    ("garbage-collector-controller", garbage_collector::NAME),
    ("garbagecollector", garbage_collector::NAME),
    ("namespace-controller", namespace::NAME),
    ("root-ca-certificate-publisher-controller", root_ca_publisher::NAME),
    ("root-ca-cert-publisher", root_ca_publisher::NAME),
    ("serviceaccount-controller", serviceaccount::NAME),
    ("service-account", serviceaccount::NAME),
    ("namespace-lifecycle", namespace::NAME),
];

/// Errors of the controllers crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown controller {0:?}; known controllers: {known}", known = NAMES.join(", "))]
    UnknownController(String),
    #[error(transparent)]
    Kube(#[from] kube::Error),
    #[error("{0}")]
    Sync(String),
}

/// Makes the client a controller uses, given its name: each controller calls the API as
/// its own identity.
pub type ClientFactory = Arc<dyn Fn(&str) -> Client + Send + Sync>;

/// The set of controllers of one process.
pub struct Controllers {
    clients: ClientFactory,
    disabled: BTreeSet<&'static str>,
    root_ca: Option<String>,
    /// The CA (certificate and key PEM) that signs client certificate requests.
    signing_ca: Option<(String, String)>,
    /// How long a node may stay silent before it is taken as unreachable.
    node_grace: std::time::Duration,
    /// Finished pods kept before the oldest are deleted.
    terminated_pod_threshold: usize,
}

impl Controllers {
    /// All controllers, with clients from `clients`.
    pub fn new(clients: impl Fn(&str) -> Client + Send + Sync + 'static) -> Self {
        Self {
            clients: Arc::new(clients),
            disabled: BTreeSet::new(),
            root_ca: None,
            signing_ca: None,
            node_grace: node_lifecycle::DEFAULT_GRACE,
            terminated_pod_threshold: pod_gc::DEFAULT_THRESHOLD,
        }
    }

    /// `--terminated-pod-gc-threshold`: how many finished pods are kept.
    pub fn terminated_pod_gc_threshold(mut self, threshold: usize) -> Self {
        self.terminated_pod_threshold = threshold;
        self
    }

    /// `--node-monitor-grace-period`: how long a node may stay silent before its
    /// conditions turn Unknown and it is tainted unreachable.
    pub fn node_monitor_grace_period(mut self, grace: std::time::Duration) -> Self {
        self.node_grace = grace;
        self
    }

    /// Switches off the named controllers (upstream's names are accepted too).
    pub fn disable<S: AsRef<str>>(mut self, names: &[S]) -> Result<Self, Error> {
        for name in names {
            let name = name.as_ref().trim();
            if name.is_empty() {
                continue;
            }
            let known = NAMES
                .iter()
                .find(|n| **n == name)
                .copied()
                .or_else(|| ALIASES.iter().find(|(alias, _)| *alias == name).map(|(_, n)| *n))
                .ok_or_else(|| Error::UnknownController(name.to_string()))?;
            self.disabled.insert(known);
        }
        Ok(self)
    }

    /// The cluster CA (PEM) that the root CA publisher puts into every namespace.
    pub fn root_ca(mut self, pem: impl Into<String>) -> Self {
        self.root_ca = Some(pem.into());
        self
    }

    /// The CA that signs approved client certificate requests (certificate and key, PEM).
    pub fn signing_ca(mut self, cert_pem: impl Into<String>, key_pem: impl Into<String>) -> Self {
        self.signing_ca = Some((cert_pem.into(), key_pem.into()));
        self
    }

    fn enabled(&self, name: &str) -> bool {
        !self.disabled.contains(name)
    }

    /// Runs the enabled controllers until `shutdown` turns true (or its sender is dropped),
    /// then waits for them to stop.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let enabled: Vec<&str> = NAMES.iter().copied().filter(|n| self.enabled(n)).collect();
        if enabled.is_empty() {
            tracing::info!("every controller is disabled");
            return;
        }
        tracing::info!(controllers = %enabled.join(","), "starting controllers");
        let mut tasks = Vec::new();

        // One namespace informer for the three controllers that follow namespaces.
        let wants_namespaces = [namespace::NAME, serviceaccount::NAME, root_ca_publisher::NAME]
            .iter()
            .any(|n| self.enabled(n) && (*n != root_ca_publisher::NAME || self.root_ca.is_some()));
        let namespaces = informer::Informer::<Namespace>::new("namespaces", ());
        if self.enabled(namespace::NAME) {
            tasks.push(namespace::start((self.clients)("namespace-controller"), &namespaces, shutdown.clone()));
        }
        if self.enabled(serviceaccount::NAME) {
            tasks.extend(serviceaccount::start(
                (self.clients)("serviceaccount-controller"),
                &namespaces,
                shutdown.clone(),
            ));
        }
        if self.enabled(root_ca_publisher::NAME) {
            match &self.root_ca {
                Some(pem) => tasks.extend(root_ca_publisher::start(
                    (self.clients)("root-ca-cert-publisher"),
                    pem.clone(),
                    &namespaces,
                    shutdown.clone(),
                )),
                None => tracing::warn!("no cluster CA given; the root CA publisher does not run"),
            }
        }
        if wants_namespaces {
            let api: Api<Namespace> = Api::all((self.clients)("shared-informers"));
            tasks
                .extend(namespaces.start(watcher(api, watcher::Config::default()).default_backoff(), shutdown.clone()));
        }
        // Pods, ReplicaSets, ReplicationControllers, Deployments: one informer each, shared.
        let workloads = workloads::Informers::new();
        if self.enabled(replicaset::NAME) {
            let (pods, owners) = (workloads.pods.get(), workloads.replica_sets.get());
            tasks.push(replicaset::start((self.clients)("replicaset-controller"), pods, owners, shutdown.clone()));
        }
        if self.enabled(replication_controller::NAME) {
            let (pods, owners) = (workloads.pods.get(), workloads.replication_controllers.get());
            tasks.push(replicaset::start((self.clients)("replication-controller"), pods, owners, shutdown.clone()));
        }
        if self.enabled(deployment::NAME) {
            tasks.push(deployment::start((self.clients)("deployment-controller"), &workloads, shutdown.clone()));
        }
        if self.enabled(job::NAME) {
            tasks.push(job::start((self.clients)("job-controller"), &workloads, shutdown.clone()));
        }
        if self.enabled(cronjob::NAME) {
            tasks.push(cronjob::start((self.clients)("cronjob-controller"), &workloads, shutdown.clone()));
        }
        if self.enabled(statefulset::NAME) {
            tasks.push(statefulset::start((self.clients)("statefulset-controller"), &workloads, shutdown.clone()));
        }
        if self.enabled(daemonset::NAME) {
            tasks.push(daemonset::start((self.clients)("daemon-set-controller"), &workloads, shutdown.clone()));
        }
        if self.enabled(persistentvolume_binder::NAME) {
            let (c, informers) = ((self.clients)("persistent-volume-binder"), (self.clients)("shared-informers"));
            tasks.extend(persistentvolume_binder::start(c, informers, &workloads, shutdown.clone()));
        }
        if self.enabled(disruption::NAME) {
            let client = (self.clients)("disruption-controller");
            tasks.extend(disruption::start(client, workloads.pods.get(), shutdown.clone()));
        }
        if self.enabled(resource_quota::NAME) {
            let client = (self.clients)("resourcequota-controller");
            tasks.extend(resource_quota::start(client, workloads.pods.get(), shutdown.clone()));
        }
        tasks.extend(self.start_endpoints(workloads.pods.get(), &shutdown));
        tasks.extend(self.start_nodes(&workloads, &shutdown));
        tasks.extend(self.start_certificates(&shutdown));
        tasks.extend(workloads.start((self.clients)("shared-informers"), &shutdown));
        if self.enabled(garbage_collector::NAME) {
            tasks.push(tokio::spawn(garbage_collector::run((self.clients)("garbage-collector"), shutdown.clone())));
        }

        for task in tasks {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "a controller task failed");
            }
        }
        tracing::info!("controllers stopped");
    }
}

impl Controllers {
    /// The CSR approving and signing controllers, on one informer of the requests.
    fn start_certificates(&self, shutdown: &watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
        use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
        let csrs = informer::Informer::<CertificateSigningRequest>::new("certificatesigningrequests", ());
        let mut tasks = Vec::new();
        if self.enabled(csr_approving::NAME) {
            let client = (self.clients)("certificatesigningrequest-approving-controller");
            tasks.push(csr_approving::start(client, &csrs, shutdown.clone()));
        }
        if self.enabled(csr_signing::NAME) {
            match self.signing_ca.as_ref().map(|(cert, key)| kolibri_pki::CsrSigner::new(cert, key)) {
                Some(Ok(signer)) => tasks.push(csr_signing::start(
                    (self.clients)("certificatesigningrequest-signing-controller"),
                    Arc::new(signer),
                    &csrs,
                    shutdown.clone(),
                )),
                Some(Err(e)) => tracing::warn!(error = %e, "the signing CA is unusable; the CSR signer does not run"),
                None => tracing::warn!("no signing CA given; the CSR signer does not run"),
            }
        }
        if !tasks.is_empty() {
            let api: Api<CertificateSigningRequest> = Api::all((self.clients)("shared-informers"));
            tasks.extend(csrs.start(watcher(api, watcher::Config::default()).default_backoff(), shutdown.clone()));
        }
        tasks
    }
}

impl Controllers {
    /// Node lifecycle, taint-based eviction and pod garbage collection, on the shared Node
    /// informer.
    fn start_nodes(
        &self,
        workloads: &workloads::Informers,
        shutdown: &watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        use k8s_openapi::api::coordination::v1::Lease;
        let mut tasks = Vec::new();
        if ![node_lifecycle::NAME, taint_eviction::NAME, pod_gc::NAME].iter().any(|n| self.enabled(n)) {
            return tasks;
        }
        let (nodes, pods) = (workloads.nodes.get(), workloads.pods.get());
        if self.enabled(node_lifecycle::NAME) {
            let leases = informer::Informer::<Lease>::new("leases/kube-node-lease", ());
            let c = (self.clients)("node-lifecycle-controller");
            tasks.push(node_lifecycle::start(c, nodes, &leases, self.node_grace, shutdown.clone()));
            let api: Api<Lease> = Api::namespaced((self.clients)("shared-informers"), node_lifecycle::LEASE_NAMESPACE);
            tasks.extend(leases.start(watcher(api, watcher::Config::default()).default_backoff(), shutdown.clone()));
        }
        if self.enabled(taint_eviction::NAME) {
            let c = (self.clients)("taint-eviction-controller");
            tasks.push(taint_eviction::start(c, nodes, pods, shutdown.clone()));
        }
        if self.enabled(pod_gc::NAME) {
            let c = (self.clients)("pod-garbage-collector");
            tasks.push(pod_gc::start(c, pods, nodes, self.terminated_pod_threshold, shutdown.clone()));
        }
        tasks
    }

    /// The Endpoints and EndpointSlice controllers, on one Service informer.
    fn start_endpoints(
        &self,
        pods: &Arc<informer::Informer<k8s_openapi::api::core::v1::Pod>>,
        shutdown: &watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        use k8s_openapi::api::core::v1::{Endpoints, Service};
        use k8s_openapi::api::discovery::v1::EndpointSlice;
        let mut tasks = Vec::new();
        if !self.enabled(endpoints::NAME) && !self.enabled(endpointslice::NAME) {
            return tasks;
        }
        let client = (self.clients)("shared-informers");
        let services = informer::Informer::<Service>::new("services", ());
        if self.enabled(endpoints::NAME) {
            let eps = informer::Informer::<Endpoints>::new("endpoints", ());
            let c = (self.clients)("endpoint-controller");
            tasks.push(endpoints::start(c, &services, pods, &eps, shutdown.clone()));
            let api: Api<Endpoints> = Api::all(client.clone());
            tasks.extend(eps.start(watcher(api, watcher::Config::default()).default_backoff(), shutdown.clone()));
        }
        if self.enabled(endpointslice::NAME) {
            let slices = informer::Informer::<EndpointSlice>::new("endpointslices", ());
            let c = (self.clients)("endpointslice-controller");
            tasks.push(endpointslice::start(c, &services, pods, &slices, shutdown.clone()));
            let api: Api<EndpointSlice> = Api::all(client.clone());
            let config = watcher::Config::default().labels(&format!(
                "{}={}",
                endpointslice::MANAGED_BY,
                endpointslice::CONTROLLER
            ));
            tasks.extend(slices.start(watcher(api, config).default_backoff(), shutdown.clone()));
        }
        let api: Api<Service> = Api::all(client);
        tasks.extend(services.start(watcher(api, watcher::Config::default()).default_backoff(), shutdown.clone()));
        tasks
    }
}

/// Resolves when `shutdown` is true or its sender is gone.
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Whether `err` is an API error with this HTTP code.
pub(crate) fn api_reason(err: &kube::Error, code: u16) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == code)
}

/// Whether `err` refuses a create because the namespace is terminating.
pub(crate) fn namespace_terminating(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(status) => {
            status.code == 403
                && status.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating"))
        }
        _ => false,
    }
}
