//! What the workload controllers (ReplicaSets, ReplicationControllers, Deployments, Jobs,
//! CronJobs, StatefulSets, DaemonSets) share:
//! one informer per kind, started only when a controller asked for it, and upstream's
//! helpers for pods (active, ready, available), selectors and controller references.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod, ReplicationController};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;
use kube::core::{Selector, SelectorExt};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::informer::Informer;

/// An informer that is started only if some controller uses it.
pub(crate) struct Shared<K>
where
    K: kube::runtime::reflector::Lookup + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    informer: Arc<Informer<K>>,
    wanted: AtomicBool,
}

impl<K> Shared<K>
where
    K: Resource<DynamicType = ()> + kube::runtime::reflector::Lookup<DynamicType = ()> + Clone,
    K: serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    fn new(name: &str) -> Self {
        Self::pruned(name, None)
    }

    fn pruned(name: &str, prune: Option<fn(&mut K)>) -> Self {
        Self { informer: Informer::pruned(name, (), prune), wanted: AtomicBool::new(false) }
    }

    /// The informer, which will be started.
    pub(crate) fn get(&self) -> &Arc<Informer<K>> {
        self.wanted.store(true, Ordering::Relaxed);
        &self.informer
    }

    fn start(&self, client: &Client, shutdown: &watch::Receiver<bool>) -> Option<JoinHandle<()>> {
        if !self.wanted.load(Ordering::Relaxed) {
            return None;
        }
        let api: Api<K> = Api::all(client.clone());
        self.informer.start(watcher(api, watcher::Config::default()).default_backoff(), shutdown.clone())
    }
}

/// The informers of the workload kinds.
pub(crate) struct Informers {
    pub pods: Shared<Pod>,
    pub replica_sets: Shared<ReplicaSet>,
    pub replication_controllers: Shared<ReplicationController>,
    pub deployments: Shared<Deployment>,
    pub jobs: Shared<Job>,
    pub cron_jobs: Shared<CronJob>,
    pub stateful_sets: Shared<StatefulSet>,
    pub daemon_sets: Shared<DaemonSet>,
    pub controller_revisions: Shared<ControllerRevision>,
    pub claims: Shared<PersistentVolumeClaim>,
    pub nodes: Shared<Node>,
}

impl Informers {
    pub(crate) fn new() -> Self {
        Self {
            pods: Shared::pruned("pods", Some(prune_pod)),
            replica_sets: Shared::new("replicasets"),
            replication_controllers: Shared::new("replicationcontrollers"),
            deployments: Shared::new("deployments"),
            jobs: Shared::new("jobs"),
            cron_jobs: Shared::new("cronjobs"),
            stateful_sets: Shared::new("statefulsets"),
            daemon_sets: Shared::new("daemonsets"),
            controller_revisions: Shared::new("controllerrevisions"),
            claims: Shared::new("persistentvolumeclaims"),
            nodes: Shared::pruned("nodes", Some(prune_node)),
        }
    }

    /// Starts the informers some controller asked for (call after the controllers started).
    pub(crate) fn start(&self, client: Client, shutdown: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        [
            self.pods.start(&client, shutdown),
            self.replica_sets.start(&client, shutdown),
            self.replication_controllers.start(&client, shutdown),
            self.deployments.start(&client, shutdown),
            self.jobs.start(&client, shutdown),
            self.cron_jobs.start(&client, shutdown),
            self.stateful_sets.start(&client, shutdown),
            self.daemon_sets.start(&client, shutdown),
            self.controller_revisions.start(&client, shutdown),
            self.claims.start(&client, shutdown),
            self.nodes.start(&client, shutdown),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// Drops from a cached pod what no controller reads, which is most of a pod's weight in
/// memory (k8s-openapi keeps every volume source and container field inline): volumes
/// other than claims (the StatefulSet and volume binder controllers read those), and the
/// containers' environment, mounts, probes, commands and security settings, and ephemeral
/// containers. Names,
/// images, ports and resources stay (endpoints and quota read them). Pods are only ever
/// patched by the controllers, never replaced from the cache.
fn prune_pod(pod: &mut Pod) {
    let Some(spec) = pod.spec.as_mut() else { return };
    if let Some(mut volumes) = spec.volumes.take() {
        volumes.retain(|v| v.persistent_volume_claim.is_some() || v.ephemeral.is_some());
        volumes.shrink_to_fit();
        spec.volumes = (!volumes.is_empty()).then_some(volumes);
    }
    spec.ephemeral_containers = None;
    for c in spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten()) {
        c.env = None;
        c.env_from = None;
        c.volume_mounts = None;
        c.volume_devices = None;
        c.liveness_probe = None;
        c.readiness_probe = None;
        c.startup_probe = None;
        c.lifecycle = None;
        c.command = None;
        c.args = None;
        c.security_context = None;
        c.working_dir = None;
        c.termination_message_path = None;
        c.termination_message_policy = None;
    }
}

/// What no controller reads of a node: the images it holds (the scheduler keeps its own
/// cache) and its volumes in use.
fn prune_node(node: &mut Node) {
    if let Some(status) = node.status.as_mut() {
        status.images = None;
        status.volumes_in_use = None;
        status.volumes_attached = None;
    }
}

/// `namespace/name` of an object: the key of the work queues.
pub(crate) fn key_of(meta: &ObjectMeta) -> String {
    format!("{}/{}", meta.namespace.as_deref().unwrap_or_default(), meta.name.as_deref().unwrap_or_default())
}

/// Splits a `namespace/name` key.
pub(crate) fn split_key(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or(("", key))
}

/// The owner reference with `controller: true`, if any.
pub(crate) fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references.as_ref()?.iter().find(|r| r.controller == Some(true))
}

/// A label selector as a matcher; `None` for an invalid one, and for an empty one (which
/// would select everything: upstream's controllers refuse it).
pub(crate) fn selector(sel: &LabelSelector) -> Option<Selector> {
    let selector = Selector::try_from(sel.clone()).ok()?;
    (!selector.selects_all()).then_some(selector)
}

pub(crate) fn map_selector(map: &BTreeMap<String, String>) -> Option<Selector> {
    let selector = Selector::from_iter(map.clone());
    (!selector.selects_all()).then_some(selector)
}

pub(crate) fn labels(meta: &ObjectMeta) -> &BTreeMap<String, String> {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    meta.labels.as_ref().unwrap_or(&EMPTY)
}

pub(crate) fn matches(selector: &Selector, meta: &ObjectMeta) -> bool {
    selector.matches(labels(meta))
}

pub(crate) fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default()
}

/// Upstream's `IsPodActive`: not terminal and not being deleted.
pub(crate) fn is_active(pod: &Pod) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && pod.metadata.deletion_timestamp.is_none()
}

/// The time the pod's `Ready` condition turned true, if it is true.
pub(crate) fn ready_since(pod: &Pod) -> Option<Option<Timestamp>> {
    let cond = pod.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready")?;
    (cond.status == "True").then(|| cond.last_transition_time.as_ref().map(|t| t.0))
}

pub(crate) fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// Upstream's `IsPodAvailable`: ready for at least `min_ready_seconds`.
pub(crate) fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    match ready_since(pod) {
        None => false,
        Some(_) if min_ready_seconds <= 0 => true,
        Some(None) => false,
        Some(Some(since)) => since.as_second() + i64::from(min_ready_seconds) < now.as_second(),
    }
}

/// Seconds until a ready pod becomes available, if it is ready but not available yet.
pub(crate) fn until_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> Option<i64> {
    let since = ready_since(pod)??;
    let left = since.as_second() + i64::from(min_ready_seconds) - now.as_second();
    (left >= 0).then_some(left + 1)
}

/// The message of an API error as upstream prints the Go error; other errors as they are.
pub(crate) fn error_message(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}

/// Whole seconds: the API keeps times at second precision, so conditions compare equal
/// after a round trip.
pub(crate) fn now() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).unwrap_or_else(|_| Timestamp::now())
}

/// Creates a pod for `owner` and records upstream's `SuccessfulCreate` ("Created pod: …")
/// or `FailedCreate` ("Error creating: …") Event; none while the namespace is terminating,
/// as upstream's pod control.
pub(crate) async fn create_pod<K>(
    client: &Client,
    recorder: &crate::events::Recorder,
    owner: &K,
    pod: &Pod,
) -> Result<(), crate::Error>
where
    K: Resource<DynamicType = ()>,
{
    use crate::events::{NORMAL, WARNING};
    use kube::ResourceExt;
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    match Api::<Pod>::namespaced(client.clone(), ns).create(&kube::api::PostParams::default(), pod).await {
        Ok(created) => {
            recorder.record(owner, NORMAL, "SuccessfulCreate", format!("Created pod: {}", created.name_any()));
            Ok(())
        }
        Err(e) => {
            let message = error_message(&e);
            if !crate::namespace_terminating(&e) {
                recorder.record(owner, WARNING, "FailedCreate", format!("Error creating: {message}"));
            }
            Err(crate::Error::Sync(message))
        }
    }
}
