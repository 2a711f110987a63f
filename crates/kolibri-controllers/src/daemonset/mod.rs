//! DaemonSets (upstream's daemonset-controller, `pkg/controller/daemon`): one pod per node
//! that should run it.
//!
//! - **Placement** ([`placement`]): a node runs the pod when the template's `nodeName`,
//!   `nodeSelector` and required node affinity match it and its NoSchedule/NoExecute taints
//!   are tolerated, with the tolerations every daemon pod gets (not-ready and unreachable
//!   NoExecute without `tolerationSeconds`; disk, memory and PID pressure, unschedulable and,
//!   for host-network pods, network-unavailable NoSchedule). A pod may stay on a node whose
//!   new NoSchedule taint it does not tolerate, not on one with an untolerated NoExecute taint.
//! - **Pods** are created with a required node affinity `metadata.name In [node]` and bound by
//!   the scheduler (upstream since 1.12), labelled with the template's labels,
//!   `controller-revision-hash` and `pod-template-generation` (from the
//!   `deprecated.daemonset.template.generation` annotation, when the DaemonSet has it).
//!   Creations go in slow-start batches of at most 250 per sync, guarded by expectations.
//!   Pods on nodes that no longer qualify (relabelled, tainted), surplus pods on a node (the
//!   oldest stays), succeeded pods and failed pods are deleted — failed ones with a per-node
//!   backoff of 1 s doubling up to 15 minutes and a `FailedDaemonPod` event. Unscheduled pods
//!   pinned to nodes that no longer exist are deleted. Orphans matching the selector are
//!   adopted, owned pods that stopped matching released.
//! - **History** ([`history`]): ControllerRevisions `<daemonset>-<hash>` with revision numbers,
//!   hash collisions (`status.collisionCount`), deduplication and `revisionHistoryLimit`, so
//!   `kubectl rollout history|undo` work.
//! - **Updates** ([`update`]): RollingUpdate with `maxUnavailable` (old pods deleted within
//!   the budget, manage recreates them) and `maxSurge` (the new pod starts next to the old
//!   one, which goes once the new one is available); OnDelete leaves old pods alone.
//! - **Status**: desired/current/updated/misscheduled counts, ready and available (after
//!   `minReadySeconds`, a timer rather than a poll) and unavailable pods, observedGeneration.
//!   Events SuccessfulCreate, FailedCreate, SuccessfulDelete, FailedDelete, FailedDaemonPod,
//!   SucceededDaemonPod and SelectingAll carry upstream's wording.
//!
//! Everything is event-driven (DaemonSets, pods, nodes, ControllerRevisions); failures retry
//! with the queue's per-key backoff.

mod history;
mod placement;
mod update;

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::core::Selector;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::events::{Recorder, NORMAL, WARNING};
use crate::informer::Change;
use crate::queue::{self, Backoff, Next, Queue};
use crate::replicaset::{controller_ref, slow_start_batch, Expectations};
use crate::workloads::{self, controller_of, key_of, split_key, Informers};
use crate::Error;
use placement::Placement;

/// The controller's name for `--disable-controllers`.
pub const NAME: &str = "daemonset";
const COMPONENT: &str = "daemonset-controller";
/// Upstream's `--concurrent-daemonset-syncs` default.
const WORKERS: usize = 2;
/// Upstream's `BurstReplicas`: creations or deletions per sync.
const BURST_REPLICAS: usize = 250;
pub const HASH_LABEL: &str = "controller-revision-hash";
pub const GENERATION_LABEL: &str = "pod-template-generation";
const TEMPLATE_GENERATION: &str = "deprecated.daemonset.template.generation";
/// kube-controller-manager's backoff of failed daemon pods.
const FAILED_BACKOFF: Duration = Duration::from_secs(1);
const FAILED_BACKOFF_MAX: Duration = Duration::from_secs(15 * 60);

struct Controller {
    client: Client,
    daemon_sets: Store<DaemonSet>,
    pods: Store<Pod>,
    nodes: Store<Node>,
    revisions: Store<ControllerRevision>,
    expectations: Expectations,
    /// Per DaemonSet, generation and node: the delay before the next failed pod is deleted
    /// and when it was last raised (client-go's `flowcontrol.Backoff`).
    failed_pods: Mutex<HashMap<String, (Duration, Instant)>>,
    recorder: Recorder,
    queue: Arc<Queue<String>>,
}

pub(crate) fn start(client: Client, informers: &Informers, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    let (daemon_sets, pods, nodes, revisions) = (
        informers.daemon_sets.get(),
        informers.pods.get(),
        informers.nodes.get(),
        informers.controller_revisions.get(),
    );
    let ctl = Arc::new(Controller {
        recorder: Recorder::new(client.clone(), COMPONENT),
        client,
        daemon_sets: daemon_sets.store(),
        pods: pods.store(),
        nodes: nodes.store(),
        revisions: revisions.store(),
        expectations: Expectations::default(),
        failed_pods: Mutex::default(),
        queue: Queue::new(Backoff::DEFAULT),
    });
    daemon_sets.on_change({
        let ctl = ctl.clone();
        move |change| match change {
            Change::Applied { old, new } => {
                // Recreated under the same name: the old one's expectations do not apply.
                if old.as_ref().is_some_and(|o| o.metadata.uid != new.metadata.uid) {
                    ctl.expectations.forget(&key_of(&new.metadata));
                }
                ctl.queue.add(key_of(&new.metadata));
            }
            Change::Deleted(old) => {
                let key = key_of(&old.metadata);
                ctl.expectations.forget(&key);
                ctl.queue.add(key);
            }
        }
    });
    revisions.on_change({
        let ctl = ctl.clone();
        move |change| ctl.revision_changed(change)
    });
    pods.on_change({
        let ctl = ctl.clone();
        move |change| ctl.pod_changed(change)
    });
    nodes.on_change({
        let ctl = ctl.clone();
        move |change| ctl.node_changed(change)
    });
    let ready = futures::future::join4(daemon_sets.synced(), pods.synced(), nodes.synced(), revisions.synced());
    let ready = async move {
        ready.await;
    };
    let queue = ctl.queue.clone();
    tokio::spawn(queue::serve(NAME, queue, WORKERS, ready, shutdown, move |key: String| {
        let ctl = ctl.clone();
        async move { ctl.sync(&key).await }
    }))
}

// Event handlers (upstream's addPod/updatePod/deletePod, addNode/updateNode, *History).
impl Controller {
    /// The DaemonSet a controller reference names, if it is the one we know.
    fn resolve(&self, namespace: &str, r: &OwnerReference) -> Option<Arc<DaemonSet>> {
        if r.kind != "DaemonSet" {
            return None;
        }
        let ds = self.daemon_sets.get(&ObjectRef::new(&r.name).within(namespace))?;
        (ds.metadata.uid.as_deref() == Some(r.uid.as_str())).then_some(ds)
    }

    /// DaemonSets whose selector matches an orphan: one of them may adopt it.
    fn queue_matching(&self, meta: &ObjectMeta) {
        for ds in self.daemon_sets.state() {
            if ds.metadata.namespace == meta.namespace
                && ds
                    .spec
                    .as_ref()
                    .and_then(|s| workloads::selector(&s.selector))
                    .is_some_and(|s| workloads::matches(&s, meta))
            {
                self.queue.add(key_of(&ds.metadata));
            }
        }
    }

    fn owner_of(&self, meta: &ObjectMeta) -> Option<Arc<DaemonSet>> {
        self.resolve(meta.namespace.as_deref().unwrap_or_default(), controller_of(meta)?)
    }

    fn pod_changed(&self, change: &Change<Pod>) {
        match change {
            Change::Applied { old: None, new } => {
                if new.metadata.deletion_timestamp.is_some() {
                    return self.pod_deleted(new);
                }
                if controller_of(&new.metadata).is_some() {
                    if let Some(ds) = self.owner_of(&new.metadata) {
                        let key = key_of(&ds.metadata);
                        self.expectations.creation_observed(&key);
                        self.queue.add(key);
                    }
                    return;
                }
                self.queue_matching(&new.metadata);
            }
            Change::Applied { old: Some(old), new } => {
                if old.metadata.resource_version == new.metadata.resource_version {
                    return;
                }
                // A graceful deletion: replace the pod now, not when the kubelet is done.
                if new.metadata.deletion_timestamp.is_some() {
                    return self.pod_deleted(new);
                }
                let (old_ref, new_ref) = (controller_of(&old.metadata), controller_of(&new.metadata));
                let ref_changed = old_ref != new_ref;
                if ref_changed {
                    if let Some(ds) = self.owner_of(&old.metadata) {
                        self.queue.add(key_of(&ds.metadata));
                    }
                }
                if new_ref.is_some() {
                    if let Some(ds) = self.owner_of(&new.metadata) {
                        let key = key_of(&ds.metadata);
                        self.queue.add(key.clone());
                        // Available only after minReadySeconds: look again then (+1 s of skew).
                        let min_ready = min_ready_seconds(&ds);
                        if min_ready > 0 && !workloads::is_ready(old) && workloads::is_ready(new) {
                            self.queue.add_after(key, Duration::from_secs(min_ready as u64 + 1));
                        }
                    }
                    return;
                }
                if ref_changed || old.metadata.labels != new.metadata.labels {
                    self.queue_matching(&new.metadata);
                }
            }
            Change::Deleted(pod) => self.pod_deleted(pod),
        }
    }

    fn pod_deleted(&self, pod: &Pod) {
        if let Some(ds) = self.owner_of(&pod.metadata) {
            let key = key_of(&ds.metadata);
            self.expectations.deletion_observed(&key, pod.metadata.uid.as_deref().unwrap_or_default());
            self.queue.add(key);
        }
    }

    fn revision_changed(&self, change: &Change<ControllerRevision>) {
        match change {
            Change::Applied { old: None, new } => {
                // Our own creations need no sync; orphans may be adopted.
                if controller_of(&new.metadata).is_none() && new.metadata.deletion_timestamp.is_none() {
                    self.queue_matching(&new.metadata);
                }
            }
            Change::Applied { old: Some(old), new } => {
                if old.metadata.resource_version == new.metadata.resource_version {
                    return;
                }
                let ref_changed = controller_of(&old.metadata) != controller_of(&new.metadata);
                if ref_changed {
                    if let Some(ds) = self.owner_of(&old.metadata) {
                        self.queue.add(key_of(&ds.metadata));
                    }
                }
                match self.owner_of(&new.metadata) {
                    Some(ds) => self.queue.add(key_of(&ds.metadata)),
                    None if controller_of(&new.metadata).is_none()
                        && (ref_changed || old.metadata.labels != new.metadata.labels) =>
                    {
                        self.queue_matching(&new.metadata)
                    }
                    None => {}
                }
            }
            Change::Deleted(old) => {
                if let Some(ds) = self.owner_of(&old.metadata) {
                    self.queue.add(key_of(&ds.metadata));
                }
            }
        }
    }

    fn node_changed(&self, change: &Change<Node>) {
        let (old, new) = match change {
            Change::Applied { old, new } => (old.as_deref(), Some(&**new)),
            Change::Deleted(old) => (Some(&**old), None),
        };
        if let (Some(old), Some(new)) = (old, new) {
            if ignorable_node_update(old, new) {
                return;
            }
        }
        let none = (false, false);
        for ds in self.daemon_sets.state() {
            let placement = Placement::of(&ds);
            let before = old.map_or(none, |n| placement.check(n));
            let after = new.map_or(none, |n| placement.check(n));
            // Upstream ignores node deletions; the desired count changes, so sync too.
            if before != after {
                self.queue.add(key_of(&ds.metadata));
            }
        }
    }
}

/// Upstream's `shouldIgnoreNodeUpdate`: only heartbeats (conditions whose True set is
/// unchanged) and the resourceVersion differ.
fn ignorable_node_update(old: &Node, new: &Node) -> bool {
    let true_types = |n: &Node| -> HashSet<String> {
        n.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .filter(|c| c.status == "True")
            .map(|c| c.type_.clone())
            .collect()
    };
    if true_types(old) != true_types(new) {
        return false;
    }
    let strip = |n: &Node| {
        let mut n = n.clone();
        n.metadata.resource_version = None;
        n.metadata.managed_fields = None;
        if let Some(s) = n.status.as_mut() {
            s.conditions = None;
        }
        n
    };
    strip(old) == strip(new)
}

pub(crate) fn min_ready_seconds(ds: &DaemonSet) -> i32 {
    ds.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
}

/// Upstream's `GetTemplateGeneration`: the deprecated annotation, when present and valid.
fn template_generation(ds: &DaemonSet) -> Option<i64> {
    ds.annotations().get(TEMPLATE_GENERATION)?.parse().ok()
}

/// Upstream's `IsPodUpdated`: the pod carries the current hash (or template generation).
fn is_updated(pod: &Pod, hash: &str, generation: Option<i64>) -> bool {
    let labels = workloads::labels(&pod.metadata);
    let by_generation = generation.is_some_and(|g| labels.get(GENERATION_LABEL) == Some(&g.to_string()));
    let by_hash = !hash.is_empty() && labels.get(HASH_LABEL).map(String::as_str) == Some(hash);
    by_hash || by_generation
}

/// Upstream's `podByCreationTimestampAndPhase`: scheduled first, then oldest, then by name.
fn by_creation(a: &Arc<Pod>, b: &Arc<Pod>) -> Ordering {
    let scheduled = |p: &Pod| p.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty());
    let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    scheduled(b)
        .cmp(&scheduled(a))
        .then_with(|| created(a).cmp(&created(b)))
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// Upstream's `getNodesToDaemonPods`: the claimed pods by the node they are on or pinned to;
/// terminal pods being deleted only when `with_deleted_terminal`.
fn pods_by_node(pods: &[Arc<Pod>], with_deleted_terminal: bool) -> BTreeMap<String, Vec<Arc<Pod>>> {
    let mut by_node: BTreeMap<String, Vec<Arc<Pod>>> = BTreeMap::new();
    for pod in pods {
        let terminal = matches!(workloads::phase(pod), "Succeeded" | "Failed");
        if !with_deleted_terminal && terminal && pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if let Some(node) = placement::target_node(pod) {
            by_node.entry(node.to_string()).or_default().push(pod.clone());
        }
    }
    by_node
}

/// Upstream's `CreatePodTemplate`: the template with the daemon tolerations, the hash and
/// the template generation labels.
fn pod_template(ds: &DaemonSet, hash: &str) -> PodTemplateSpec {
    let mut template = ds.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    placement::add_daemon_tolerations(template.spec.get_or_insert_with(Default::default));
    let labels = template.metadata.get_or_insert_with(Default::default).labels.get_or_insert_with(BTreeMap::new);
    if let Some(generation) = template_generation(ds) {
        labels.insert(GENERATION_LABEL.into(), generation.to_string());
    }
    if !hash.is_empty() {
        labels.insert(HASH_LABEL.into(), hash.into());
    }
    template
}

fn earliest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Rewrites the owner references of a pod or revision, guarded by the cached
/// resourceVersion; `None` when it is gone.
async fn set_owners<K>(
    api: &Api<K>,
    meta: &ObjectMeta,
    edit: impl FnOnce(&mut Vec<OwnerReference>),
) -> Result<Option<K>, Error>
where
    K: Clone + serde::de::DeserializeOwned + Debug,
{
    let mut refs = meta.owner_references.clone().unwrap_or_default();
    edit(&mut refs);
    let patch = json!({"metadata": {
        "ownerReferences": if refs.is_empty() { Value::Null } else { json!(refs) },
        "resourceVersion": meta.resource_version,
        "uid": meta.uid,
    }});
    match api.patch(meta.name.as_deref().unwrap_or_default(), &PatchParams::default(), &Patch::Merge(&patch)).await {
        Ok(obj) => Ok(Some(obj)),
        Err(e) if crate::api_reason(&e, 404) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// What a sync works on.
struct Snapshot<'a> {
    key: &'a str,
    ds: &'a DaemonSet,
    placement: Placement,
    nodes: Vec<Arc<Node>>,
    /// The claimed pods, including finished ones.
    pods: Vec<Arc<Pod>>,
    hash: String,
}

impl Controller {
    async fn sync(&self, key: &str) -> Result<Next, Error> {
        let (ns, name) = split_key(key);
        let Some(ds) = self.daemon_sets.get(&ObjectRef::new(name).within(ns)) else {
            self.expectations.forget(key);
            return Ok(Next::Done);
        };
        let Some(spec) = ds.spec.as_ref() else { return Ok(Next::Done) };
        let everything = spec.selector.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
            && spec.selector.match_expressions.as_ref().is_none_or(Vec::is_empty);
        if everything {
            let message = "This daemon set is selecting all pods. A non-empty selector is required.";
            self.recorder.record(&*ds, WARNING, "SelectingAll", message.into());
            return Ok(Next::Done);
        }
        let Some(selector) = workloads::selector(&spec.selector) else {
            // Admission refuses these; one that got in anyway is left alone, not retried.
            tracing::warn!(controller = NAME, key, "invalid selector; ignoring");
            return Ok(Next::Done);
        };
        // Whether the history still exists is unknown while it is deleted: no status either.
        if ds.metadata.deletion_timestamp.is_some() {
            return Ok(Next::Done);
        }
        let mut nodes = self.nodes.state();
        nodes.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        let pods = self.claim(&ds, &selector).await?;
        let (cur, old) = self.construct_history(&ds, &selector, &pods).await?;
        let hash = cur.labels().get(HASH_LABEL).cloned().unwrap_or_default();
        let snap = Snapshot { key, ds: &ds, placement: Placement::of(&ds), nodes, pods, hash };

        if !self.expectations.satisfied(key) {
            // Only the status: observedGeneration is not raised for an unprocessed generation.
            let requeue = self.update_status(&snap, false).await?;
            return Ok(requeue.map_or(Next::Done, Next::After));
        }
        let mut requeue = None;
        let result = self.update_daemon_set(&snap, old, &mut requeue).await;
        let status = self.update_status(&snap, true).await;
        match (result, status) {
            (Err(e), Err(status_err)) => {
                tracing::warn!(controller = NAME, key, error = %status_err, "could not update the status");
                Err(e)
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
            (Ok(()), Ok(later)) => Ok(earliest(requeue, later).map_or(Next::Done, Next::After)),
        }
    }

    async fn update_daemon_set(
        &self,
        snap: &Snapshot<'_>,
        old: Vec<ControllerRevision>,
        requeue: &mut Option<Duration>,
    ) -> Result<(), Error> {
        self.manage(snap, requeue).await?;
        if self.expectations.satisfied(snap.key) && update::is_rolling_update(snap.ds) {
            self.rolling_update(snap).await?;
        }
        self.cleanup_history(snap.ds, old, &snap.pods).await
    }

    /// Upstream's `ClaimPods` over every pod of the namespace.
    async fn claim(&self, ds: &DaemonSet, selector: &Selector) -> Result<Vec<Arc<Pod>>, Error> {
        let uid = ds.metadata.uid.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ds.metadata.namespace.as_deref().unwrap_or_default());
        let mut adoptable = None;
        let mut claimed = Vec::new();
        for pod in self.pods.state() {
            if pod.metadata.namespace != ds.metadata.namespace {
                continue;
            }
            let matching = workloads::matches(selector, &pod.metadata);
            match controller_of(&pod.metadata) {
                Some(r) if r.uid == uid => {
                    if matching {
                        claimed.push(pod);
                    } else {
                        set_owners(&api, &pod.metadata, |refs| refs.retain(|r| r.uid != uid)).await?;
                    }
                }
                None if matching && pod.metadata.deletion_timestamp.is_none() => {
                    // Upstream's `RecheckDeletionTimestamp`: one uncached read before adopting.
                    let can = match adoptable {
                        Some(can) => can,
                        None => *adoptable.insert(self.can_adopt(ds).await?),
                    };
                    if !can {
                        continue;
                    }
                    let r = controller_ref(ds);
                    if let Some(adopted) = set_owners(&api, &pod.metadata, |refs| refs.push(r)).await? {
                        claimed.push(Arc::new(adopted));
                    }
                }
                _ => {}
            }
        }
        Ok(claimed)
    }

    /// Whether the DaemonSet, read from the server, is still the same and not being deleted.
    async fn can_adopt(&self, ds: &DaemonSet) -> Result<bool, Error> {
        let api: Api<DaemonSet> =
            Api::namespaced(self.client.clone(), ds.metadata.namespace.as_deref().unwrap_or_default());
        match api.get_opt(&ds.name_any()).await? {
            Some(fresh) => Ok(fresh.metadata.uid == ds.metadata.uid && fresh.metadata.deletion_timestamp.is_none()),
            None => Ok(false),
        }
    }

    /// Upstream's `manage`: pods for the nodes that lack one, deletions of the pods that
    /// should not be where they are.
    async fn manage(&self, snap: &Snapshot<'_>, requeue: &mut Option<Duration>) -> Result<(), Error> {
        let by_node = pods_by_node(&snap.pods, false);
        let mut create = Vec::new();
        let mut delete = Vec::new();
        for node in &snap.nodes {
            self.pods_on_node(snap, node, &by_node, &mut create, &mut delete, requeue);
        }
        // Pending pods pinned to a node that is gone are never scheduled nor collected.
        let existing: HashSet<&str> = snap.nodes.iter().filter_map(|n| n.metadata.name.as_deref()).collect();
        for (node, pods) in &by_node {
            if existing.contains(node.as_str()) {
                continue;
            }
            delete.extend(
                pods.iter()
                    .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_none_or(str::is_empty))
                    .filter(|p| p.metadata.deletion_timestamp.is_none())
                    .cloned(),
            );
        }
        self.sync_nodes(snap, delete, create).await
    }

    /// Upstream's `podsShouldBeOnNode`.
    fn pods_on_node(
        &self,
        snap: &Snapshot<'_>,
        node: &Node,
        by_node: &BTreeMap<String, Vec<Arc<Pod>>>,
        create: &mut Vec<String>,
        delete: &mut Vec<Arc<Pod>>,
        requeue: &mut Option<Duration>,
    ) {
        let name = node.metadata.name.clone().unwrap_or_default();
        let (should_run, should_continue) = snap.placement.check(node);
        let pods = by_node.get(&name);
        if should_run && pods.is_none() {
            create.push(name);
            return;
        }
        let Some(pods) = pods else { return };
        if !should_continue {
            delete.extend(pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()).cloned());
            return;
        }
        let mut running = Vec::new();
        for pod in pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
            let pod_name = format!("{}/{}", pod.namespace().unwrap_or_default(), pod.name_any());
            match workloads::phase(pod) {
                "Failed" => {
                    // Often a kubelet rejecting the pod: back off instead of hot-looping.
                    let observed = snap.ds.status.as_ref().and_then(|s| s.observed_generation).unwrap_or(0);
                    let backoff_key =
                        format!("{}/{observed}/{name}", snap.ds.metadata.uid.as_deref().unwrap_or_default());
                    if let Err(delay) = self.failed_pod_backoff(&backoff_key) {
                        *requeue = earliest(*requeue, Some(delay));
                        continue;
                    }
                    let message = format!("Found failed daemon pod {pod_name} on node {name}, will try to kill it");
                    self.recorder.record(snap.ds, WARNING, "FailedDaemonPod", message);
                    delete.push(pod.clone());
                }
                "Succeeded" => {
                    let message =
                        format!("Found succeeded daemon pod {pod_name} on node {name}, will try to delete it");
                    self.recorder.record(snap.ds, NORMAL, "SucceededDaemonPod", message);
                    delete.push(pod.clone());
                }
                _ => running.push(pod.clone()),
            }
        }
        running.sort_by(by_creation);
        if !update::allows_surge(snap.ds) {
            // One pod per node: the oldest stays.
            delete.extend(running.into_iter().skip(1));
            return;
        }
        if running.len() <= 1 {
            if running.is_empty() && should_run {
                create.push(name);
            }
            return;
        }
        // Surging: two pods only while the oldest updated one is not ready (or available)
        // and the oldest old one is ready; everything else goes.
        let generation = template_generation(snap.ds);
        let (mut newest, mut oldest) = (None, None);
        for pod in running {
            let slot = if is_updated(&pod, &snap.hash, generation) { &mut newest } else { &mut oldest };
            if slot.is_none() {
                *slot = Some(pod);
            } else {
                delete.push(pod);
            }
        }
        if let (Some(new), Some(old)) = (newest, oldest) {
            if !workloads::is_ready(&old) || workloads::is_available(&new, min_ready_seconds(snap.ds), workloads::now())
            {
                delete.push(old);
            }
        }
    }

    /// `Err(delay)` while the failed pods of this node are in backoff; otherwise raises the
    /// backoff for the next one (1 s, doubling up to 15 minutes; reset after 30 quiet minutes).
    fn failed_pod_backoff(&self, key: &str) -> Result<(), Duration> {
        let mut map = self.failed_pods.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        map.retain(|_, (_, at)| now.duration_since(*at) <= 2 * FAILED_BACKOFF_MAX);
        match map.get_mut(key) {
            Some((delay, at)) if now.duration_since(*at) < *delay => Err(*delay - now.duration_since(*at)),
            Some((delay, at)) => {
                *delay = (*delay * 2).min(FAILED_BACKOFF_MAX);
                *at = now;
                Ok(())
            }
            None => {
                map.insert(key.to_string(), (FAILED_BACKOFF, now));
                Ok(())
            }
        }
    }

    /// Upstream's `syncNodes`: deletions and creations (slow start), with expectations set
    /// first so a sync on a lagging cache never acts twice.
    async fn sync_nodes(&self, snap: &Snapshot<'_>, delete: Vec<Arc<Pod>>, create: Vec<String>) -> Result<(), Error> {
        let creates = create.len().min(BURST_REPLICAS);
        let deletes = delete.len().min(BURST_REPLICAS);
        if creates == 0 && deletes == 0 {
            return Ok(());
        }
        let key = snap.key;
        let victims = &delete[..deletes];
        let uids = victims.iter().filter_map(|p| p.metadata.uid.clone()).collect();
        self.expectations.expect(key, creates, uids);

        let template = pod_template(snap.ds, &snap.hash);
        let (created, mut first) = slow_start_batch(creates, |i| self.create_pod(snap.ds, &template, &create[i])).await;
        // Creations that failed or were skipped will not be observed.
        for _ in created..creates {
            self.expectations.creation_observed(key);
        }
        let results = join_all(victims.iter().map(|pod| self.delete_pod(snap.ds, pod))).await;
        for (pod, result) in victims.iter().zip(results) {
            match result {
                Ok(true) => {}
                Ok(false) => self.expectations.deletion_observed(key, pod.metadata.uid.as_deref().unwrap_or_default()),
                Err(e) => {
                    self.expectations.deletion_observed(key, pod.metadata.uid.as_deref().unwrap_or_default());
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    async fn create_pod(&self, ds: &DaemonSet, template: &PodTemplateSpec, node: &str) -> Result<(), Error> {
        let meta = template.metadata.clone().unwrap_or_default();
        let ns = ds.metadata.namespace.clone().unwrap_or_default();
        let mut spec = template.spec.clone().unwrap_or_default();
        // Safe to replace: the node was chosen by this same affinity.
        spec.affinity = Some(placement::pin_to_node(spec.affinity.take(), node));
        let pod = Pod {
            metadata: ObjectMeta {
                generate_name: Some(format!("{}-", ds.name_any())),
                namespace: Some(ns.clone()),
                labels: meta.labels,
                annotations: meta.annotations,
                finalizers: meta.finalizers,
                owner_references: Some(vec![controller_ref(ds)]),
                ..Default::default()
            },
            spec: Some(spec),
            status: None,
        };
        workloads::create_pod(&self.client, &self.recorder, ds, &pod).await
    }

    /// Deletes a pod; `Ok(false)` when it was gone already.
    async fn delete_pod(&self, ds: &DaemonSet, pod: &Pod) -> Result<bool, Error> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), pod.metadata.namespace.as_deref().unwrap_or_default());
        let params = DeleteParams {
            preconditions: Some(Preconditions { uid: pod.metadata.uid.clone(), resource_version: None }),
            ..Default::default()
        };
        match api.delete(&pod.name_any(), &params).await {
            Ok(_) => {
                self.recorder.record(ds, NORMAL, "SuccessfulDelete", format!("Deleted pod: {}", pod.name_any()));
                Ok(true)
            }
            Err(e) if crate::api_reason(&e, 404) => Ok(false),
            Err(e) => {
                let message = workloads::error_message(&e);
                self.recorder.record(ds, WARNING, "FailedDelete", format!("Error deleting: {message}"));
                Err(Error::Sync(message))
            }
        }
    }

    async fn rolling_update(&self, snap: &Snapshot<'_>) -> Result<(), Error> {
        let mut by_node = pods_by_node(&snap.pods, false);
        let nodes: HashMap<&str, &Node> =
            snap.nodes.iter().filter_map(|n| Some((n.metadata.name.as_deref()?, &**n))).collect();
        let mut desired = 0;
        for (name, node) in &nodes {
            if snap.placement.check(node).0 {
                desired += 1;
                by_node.entry(name.to_string()).or_default();
            }
        }
        let should_run = |name: &str| nodes.get(name).is_some_and(|n| snap.placement.check(n).0);
        let generation = template_generation(snap.ds);
        let step = update::step(snap.ds, &by_node, desired, should_run, &snap.hash, generation, workloads::now());
        self.sync_nodes(snap, step.delete, step.create).await
    }

    /// Upstream's `updateDaemonSetStatus`; returns when to look again for pods that become
    /// available after `minReadySeconds`.
    async fn update_status(&self, snap: &Snapshot<'_>, observed: bool) -> Result<Option<Duration>, Error> {
        let by_node = pods_by_node(&snap.pods, false);
        let now = workloads::now();
        let min_ready = min_ready_seconds(snap.ds);
        let generation = template_generation(snap.ds);
        let (mut desired, mut current, mut misscheduled, mut ready, mut updated, mut available) = (0, 0, 0, 0, 0, 0);
        let mut later: Option<i64> = None;
        for node in &snap.nodes {
            let (should_run, _) = snap.placement.check(node);
            let pods = node.metadata.name.as_ref().and_then(|n| by_node.get(n)).filter(|p| !p.is_empty());
            match (should_run, pods) {
                (false, Some(_)) => misscheduled += 1,
                (false, None) => {}
                (true, None) => desired += 1,
                (true, Some(pods)) => {
                    desired += 1;
                    current += 1;
                    let mut pods = pods.clone();
                    pods.sort_by(by_creation);
                    let pod = &pods[0];
                    if workloads::is_ready(pod) {
                        ready += 1;
                        if workloads::is_available(pod, min_ready, now) {
                            available += 1;
                        } else if let Some(s) = workloads::until_available(pod, min_ready, now) {
                            later = Some(later.map_or(s, |l| l.min(s)));
                        }
                    }
                    if is_updated(pod, &snap.hash, generation) {
                        updated += 1;
                    }
                }
            }
        }
        let unavailable = desired - available;
        let later = later.map(|s| Duration::from_secs(s.max(1) as u64));

        let ds = snap.ds;
        let status = ds.status.clone().unwrap_or_default();
        let generation = ds.metadata.generation.unwrap_or(0);
        let unchanged = status.desired_number_scheduled == desired
            && status.current_number_scheduled == current
            && status.number_misscheduled == misscheduled
            && status.number_ready == ready
            && status.updated_number_scheduled.unwrap_or(0) == updated
            && status.number_available.unwrap_or(0) == available
            && status.number_unavailable.unwrap_or(0) == unavailable
            && status.observed_generation.unwrap_or(0) >= generation;
        if unchanged {
            return Ok(later);
        }
        // Zero counts of the optional fields are left out, as Go's `omitempty` does.
        let optional = |n: i32| if n == 0 { Value::Null } else { json!(n) };
        let mut patch = json!({
            "desiredNumberScheduled": desired,
            "currentNumberScheduled": current,
            "numberMisscheduled": misscheduled,
            "numberReady": ready,
            "updatedNumberScheduled": optional(updated),
            "numberAvailable": optional(available),
            "numberUnavailable": optional(unavailable),
        });
        if observed && generation != 0 {
            patch["observedGeneration"] = json!(generation);
        }
        let api: Api<DaemonSet> =
            Api::namespaced(self.client.clone(), ds.metadata.namespace.as_deref().unwrap_or_default());
        match api.patch_status(&ds.name_any(), &PatchParams::default(), &Patch::Merge(json!({ "status": patch }))).await
        {
            Ok(_) => Ok(later),
            Err(e) if crate::api_reason(&e, 404) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;
    use serde_json::json;

    fn pod(name: &str, node: Option<&str>, created: i64) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "creationTimestamp": Timestamp::from_second(created).unwrap().to_string()},
                "spec": {"nodeName": node, "containers": []},
            }))
            .unwrap(),
        )
    }

    #[test]
    fn pods_sort_scheduled_then_oldest_then_by_name() {
        let mut pods = [pod("c", None, 1), pod("b", Some("n"), 5), pod("a", Some("n"), 5), pod("d", Some("n"), 2)];
        pods.sort_by(by_creation);
        let names: Vec<&str> = pods.iter().map(|p| p.metadata.name.as_deref().unwrap()).collect();
        assert_eq!(names, ["d", "a", "b", "c"]);
    }

    #[test]
    fn heartbeats_are_ignored_but_taints_and_ready_are_not() {
        let node = |ready: &str, hb: &str, taints: Value| -> Node {
            serde_json::from_value(json!({
                "metadata": {"name": "n", "resourceVersion": hb},
                "spec": {"taints": taints},
                "status": {"conditions": [{"type": "Ready", "status": ready, "lastHeartbeatTime": hb}]},
            }))
            .unwrap()
        };
        let a = node("True", "2024-01-01T00:00:00Z", json!([]));
        assert!(ignorable_node_update(&a, &node("True", "2024-01-01T00:00:10Z", json!([]))));
        assert!(!ignorable_node_update(&a, &node("False", "2024-01-01T00:00:10Z", json!([]))));
        assert!(!ignorable_node_update(
            &a,
            &node("True", "2024-01-01T00:00:00Z", json!([{"key": "k", "effect": "NoSchedule"}]))
        ));
    }

    #[test]
    fn pod_templates_get_tolerations_and_labels() {
        let ds: DaemonSet = serde_json::from_value(json!({
            "metadata": {"name": "d", "annotations": {TEMPLATE_GENERATION: "4"}},
            "spec": {"selector": {"matchLabels": {"a": "b"}},
                "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": []}}},
        }))
        .unwrap();
        let t = pod_template(&ds, "h");
        let labels = t.metadata.unwrap().labels.unwrap();
        assert_eq!(labels[HASH_LABEL], "h");
        assert_eq!(labels[GENERATION_LABEL], "4");
        assert_eq!(t.spec.unwrap().tolerations.unwrap().len(), 6);
    }
}
