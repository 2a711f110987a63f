//! ReplicaSets (upstream's replicaset-controller); ReplicationControllers run the same code
//! ([`crate::replication_controller`]).
//!
//! Each sync counts the owner's active pods from the shared pod cache, adopts matching
//! orphans and releases owned pods that no longer match, then creates or deletes pods:
//! - creations in slow-start batches (1, 2, 4, …), at most 500 per sync, so a template that
//!   cannot be created fails once, not a thousand times;
//! - deletions of the pods upstream would choose first (unscheduled, pending, not ready,
//!   lower deletion cost, doubled up on a node, recently ready, restarted, newest);
//! - expectations: after creating or deleting, the owner is not acted on again until the
//!   cache has seen those pods come or go (or five minutes passed), so a sync on a lagging
//!   cache never creates twice.
//!
//! Status (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas after
//! minReadySeconds, observedGeneration, the ReplicaFailure condition) and events
//! (SuccessfulCreate, FailedCreate, SuccessfulDelete, FailedDelete) follow upstream.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::core::Selector;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::events::{Recorder, NORMAL, WARNING};
use crate::informer::{Change, Informer};
use crate::queue::{self, Backoff, Next, Queue};
use crate::workloads::{self, controller_of, key_of, split_key};
use crate::Error;

pub const NAME: &str = "replicaset";
/// Upstream's `BurstReplicas`: creations or deletions per sync.
const BURST_REPLICAS: usize = 500;
/// Expectations not met within this time are given up (a watch event was lost).
const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(300);
const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";
/// Upstream's `ConcurrentRSSyncs`.
const WORKERS: usize = 5;

/// What the controller needs of a ReplicaSet or a ReplicationController.
pub(crate) trait Replicated:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + kube::runtime::reflector::Lookup<DynamicType = ()>
    + Clone
    + serde::de::DeserializeOwned
    + serde::Serialize
    + Debug
    + Send
    + Sync
    + 'static
{
    /// The name in logs and the `--disable-controllers` list.
    const NAME: &'static str;
    /// The event source (upstream's controller name).
    const COMPONENT: &'static str;
    fn desired(&self) -> i32;
    fn min_ready_seconds(&self) -> i32;
    /// The pod selector; `None` when empty or invalid.
    fn pod_selector(&self) -> Option<Selector>;
    fn pod_template(&self) -> Option<&PodTemplateSpec>;
    fn status_value(&self) -> Value;
}

impl Replicated for ReplicaSet {
    const NAME: &'static str = NAME;
    const COMPONENT: &'static str = "replicaset-controller";

    fn desired(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
    }
    fn pod_selector(&self) -> Option<Selector> {
        workloads::selector(&self.spec.as_ref()?.selector)
    }
    fn pod_template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref()?.template.as_ref()
    }
    fn status_value(&self) -> Value {
        serde_json::to_value(&self.status).unwrap_or(Value::Null)
    }
}

/// Pending creations and deletions per owner (upstream's UID-tracking expectations).
#[derive(Default)]
pub(crate) struct Expectations {
    map: Mutex<HashMap<String, Expected>>,
}

struct Expected {
    adds: i64,
    deletes: HashSet<String>,
    at: Instant,
}

impl Expectations {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Expected>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the owner may be acted on: nothing pending, or pending for too long.
    pub(crate) fn satisfied(&self, key: &str) -> bool {
        match self.lock().get(key) {
            None => true,
            Some(e) => (e.adds <= 0 && e.deletes.is_empty()) || e.at.elapsed() > EXPECTATIONS_TIMEOUT,
        }
    }

    pub(crate) fn expect(&self, key: &str, adds: usize, deletes: HashSet<String>) {
        self.lock().insert(key.to_string(), Expected { adds: adds as i64, deletes, at: Instant::now() });
    }

    pub(crate) fn creation_observed(&self, key: &str) {
        if let Some(e) = self.lock().get_mut(key) {
            e.adds -= 1;
        }
    }

    pub(crate) fn deletion_observed(&self, key: &str, uid: &str) {
        if let Some(e) = self.lock().get_mut(key) {
            e.deletes.remove(uid);
        }
    }

    pub(crate) fn forget(&self, key: &str) {
        self.lock().remove(key);
    }
}

struct Controller<K: Replicated> {
    client: Client,
    owners: Store<K>,
    pods: Store<Pod>,
    expectations: Expectations,
    recorder: Recorder,
    queue: Arc<Queue<String>>,
}

/// Starts the controller of `K` on the shared informers.
pub(crate) fn start<K: Replicated>(
    client: Client,
    pods: &Arc<Informer<Pod>>,
    owners: &Arc<Informer<K>>,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let ctl = Arc::new(Controller::<K> {
        recorder: Recorder::new(client.clone(), K::COMPONENT),
        client,
        owners: owners.store(),
        pods: pods.store(),
        expectations: Expectations::default(),
        queue: Queue::new(Backoff::DEFAULT),
    });
    owners.on_change({
        let ctl = ctl.clone();
        move |change| match change {
            Change::Applied { new, .. } => ctl.queue.add(key_of(new.meta())),
            Change::Deleted(old) => {
                let key = key_of(old.meta());
                ctl.expectations.forget(&key);
                ctl.queue.add(key);
            }
        }
    });
    pods.on_change({
        let ctl = ctl.clone();
        move |change| ctl.pod_changed(change)
    });
    let ready = futures::future::join(pods.synced(), owners.synced());
    let ready = async move {
        ready.await;
    };
    let queue = ctl.queue.clone();
    tokio::spawn(queue::serve(K::NAME, queue, WORKERS, ready, shutdown, move |key: String| {
        let ctl = ctl.clone();
        async move { ctl.sync(&key).await }
    }))
}

impl<K: Replicated> Controller<K> {
    /// The key of the owner `r` names, if it is of our kind and is the object we know.
    fn resolve(&self, namespace: &str, r: &OwnerReference) -> Option<String> {
        if r.kind != <K as Resource>::kind(&()) {
            return None;
        }
        let owner = self.owners.get(&ObjectRef::new(&r.name).within(namespace))?;
        (owner.meta().uid.as_deref() == Some(r.uid.as_str())).then(|| key_of(owner.meta()))
    }

    /// Owners whose selector matches an orphan pod: one of them may adopt it.
    fn queue_matching_owners(&self, pod: &Pod) {
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        for owner in self.owners.state() {
            if owner.meta().namespace.as_deref() == Some(ns)
                && owner.pod_selector().is_some_and(|s| workloads::matches(&s, &pod.metadata))
            {
                self.queue.add(key_of(owner.meta()));
            }
        }
    }

    fn pod_changed(&self, change: &Change<Pod>) {
        match change {
            Change::Applied { old: None, new } => {
                if new.metadata.deletion_timestamp.is_some() {
                    return self.pod_gone(new);
                }
                let ns = new.metadata.namespace.as_deref().unwrap_or_default();
                match controller_of(&new.metadata) {
                    Some(r) => {
                        if let Some(key) = self.resolve(ns, r) {
                            self.expectations.creation_observed(&key);
                            self.queue.add(key);
                        }
                    }
                    None => self.queue_matching_owners(new),
                }
            }
            Change::Applied { old: Some(old), new } => {
                if old.metadata.resource_version == new.metadata.resource_version {
                    return;
                }
                let labels_changed = old.metadata.labels != new.metadata.labels;
                if new.metadata.deletion_timestamp.is_some() {
                    self.pod_gone(new);
                    if labels_changed {
                        self.pod_gone(old);
                    }
                    return;
                }
                let ns = new.metadata.namespace.as_deref().unwrap_or_default();
                let (old_ref, new_ref) = (controller_of(&old.metadata), controller_of(&new.metadata));
                let ref_changed = old_ref.map(|r| &r.uid) != new_ref.map(|r| &r.uid);
                if ref_changed {
                    if let Some(key) = old_ref.and_then(|r| self.resolve(ns, r)) {
                        self.queue.add(key);
                    }
                }
                match new_ref {
                    Some(r) => {
                        if let Some(key) = self.resolve(ns, r) {
                            self.queue.add(key);
                        }
                    }
                    None if labels_changed || ref_changed => self.queue_matching_owners(new),
                    None => {}
                }
            }
            Change::Deleted(pod) => self.pod_gone(pod),
        }
    }

    fn pod_gone(&self, pod: &Pod) {
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        if let Some(key) = controller_of(&pod.metadata).and_then(|r| self.resolve(ns, r)) {
            self.expectations.deletion_observed(&key, pod.metadata.uid.as_deref().unwrap_or_default());
            self.queue.add(key);
        }
    }

    async fn sync(&self, key: &str) -> Result<Next, Error> {
        let (ns, name) = split_key(key);
        let Some(owner) = self.owners.get(&ObjectRef::new(name).within(ns)) else {
            self.expectations.forget(key);
            return Ok(Next::Done);
        };
        let Some(selector) = owner.pod_selector() else {
            // Admission refuses these; one that got in anyway is left alone, not retried.
            tracing::warn!(controller = K::NAME, key, "empty or invalid selector; ignoring");
            return Ok(Next::Done);
        };
        let needs_sync = self.expectations.satisfied(key);
        let active: Vec<Arc<Pod>> = self
            .pods
            .state()
            .into_iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(ns) && workloads::is_active(p))
            .collect();
        let pods = self.claim(&owner, &selector, active).await?;

        let mut failure = None;
        if needs_sync && owner.meta().deletion_timestamp.is_none() {
            if let Err(e) = self.manage(key, &owner, &pods).await {
                failure = Some(e);
            }
        }
        let now = workloads::now();
        self.update_status(&owner, &pods, failure.as_ref(), now).await?;
        if let Some(e) = failure {
            return Err(e);
        }
        // Pods that are ready but not yet available become available without an event.
        let min_ready = owner.min_ready_seconds();
        let next = pods.iter().filter_map(|p| workloads::until_available(p, min_ready, now)).min();
        Ok(next.map_or(Next::Done, |s| Next::After(Duration::from_secs(s.max(1) as u64))))
    }

    /// Upstream's `ClaimPods`: keeps owned pods that match, adopts matching orphans (unless
    /// the owner is being deleted), releases owned pods that stopped matching.
    async fn claim(&self, owner: &K, selector: &Selector, pods: Vec<Arc<Pod>>) -> Result<Vec<Arc<Pod>>, Error> {
        let uid = owner.meta().uid.clone().unwrap_or_default();
        let mut claimed = Vec::new();
        for pod in pods {
            let matches = workloads::matches(selector, &pod.metadata);
            match controller_of(&pod.metadata) {
                Some(r) if r.uid == uid => {
                    if matches {
                        claimed.push(pod);
                    } else {
                        self.set_owners(&pod, |refs| refs.retain(|r| r.uid != uid)).await?;
                    }
                }
                Some(_) => {}
                None if matches && owner.meta().deletion_timestamp.is_none() => {
                    let r = controller_ref(owner);
                    if let Some(adopted) = self.set_owners(&pod, |refs| refs.push(r)).await? {
                        claimed.push(Arc::new(adopted));
                    }
                }
                None => {}
            }
        }
        Ok(claimed)
    }

    /// Rewrites a pod's owner references, guarded by the cached resourceVersion; `None`
    /// when the pod is gone.
    async fn set_owners(&self, pod: &Pod, edit: impl FnOnce(&mut Vec<OwnerReference>)) -> Result<Option<Pod>, Error> {
        let mut refs = pod.metadata.owner_references.clone().unwrap_or_default();
        edit(&mut refs);
        let patch = json!({"metadata": {
            "ownerReferences": if refs.is_empty() { Value::Null } else { json!(refs) },
            "resourceVersion": pod.metadata.resource_version,
            "uid": pod.metadata.uid,
        }});
        let api: Api<Pod> = Api::namespaced(self.client.clone(), pod.metadata.namespace.as_deref().unwrap_or_default());
        match api.patch(&pod.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(p) => Ok(Some(p)),
            Err(e) if crate::api_reason(&e, 404) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn manage(&self, key: &str, owner: &K, pods: &[Arc<Pod>]) -> Result<(), Error> {
        let desired = owner.desired().max(0) as usize;
        if pods.len() < desired {
            let n = (desired - pods.len()).min(BURST_REPLICAS);
            self.expectations.expect(key, n, HashSet::new());
            let template = owner.pod_template().cloned().unwrap_or_default();
            let (created, err) = slow_start_batch(n, |_| self.create_pod(owner, &template)).await;
            // Creations not done will not be observed.
            for _ in created..n {
                self.expectations.creation_observed(key);
            }
            return err.map_or(Ok(()), Err);
        }
        if pods.len() > desired {
            let n = (pods.len() - desired).min(BURST_REPLICAS);
            let victims = pods_to_delete(pods, n, Timestamp::now());
            let uids = victims.iter().filter_map(|p| p.metadata.uid.clone()).collect();
            self.expectations.expect(key, 0, uids);
            let results = join_all(victims.iter().map(|pod| self.delete_pod(owner, pod))).await;
            let mut first = None;
            for (pod, result) in victims.iter().zip(results) {
                if let Err(e) = result {
                    self.expectations.deletion_observed(key, pod.metadata.uid.as_deref().unwrap_or_default());
                    first.get_or_insert(e);
                }
            }
            return first.map_or(Ok(()), Err);
        }
        Ok(())
    }

    async fn create_pod(&self, owner: &K, template: &PodTemplateSpec) -> Result<(), Error> {
        let meta = template.metadata.clone().unwrap_or_default();
        let ns = owner.meta().namespace.clone().unwrap_or_default();
        if meta.labels.as_ref().is_none_or(BTreeMap::is_empty) {
            let e = Error::Sync("unable to create pods, no labels".into());
            self.recorder.record(owner, WARNING, "FailedCreate", format!("Error creating: {e}"));
            return Err(e);
        }
        let pod = Pod {
            metadata: ObjectMeta {
                generate_name: Some(format!("{}-", owner.name_any())),
                namespace: Some(ns.clone()),
                labels: meta.labels,
                annotations: meta.annotations,
                finalizers: meta.finalizers,
                owner_references: Some(vec![controller_ref(owner)]),
                ..Default::default()
            },
            spec: template.spec.clone(),
            status: None,
        };
        workloads::create_pod(&self.client, &self.recorder, owner, &pod).await
    }

    async fn delete_pod(&self, owner: &K, pod: &Pod) -> Result<(), Error> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), pod.metadata.namespace.as_deref().unwrap_or_default());
        let params = DeleteParams {
            preconditions: Some(Preconditions { uid: pod.metadata.uid.clone(), resource_version: None }),
            ..Default::default()
        };
        match api.delete(&pod.name_any(), &params).await {
            Ok(_) => {
                self.recorder.record(owner, NORMAL, "SuccessfulDelete", format!("Deleted pod: {}", pod.name_any()));
                Ok(())
            }
            // Already gone: its deletion event comes (or came) through the informer.
            Err(e) if crate::api_reason(&e, 404) => Ok(()),
            Err(e) => {
                let message = workloads::error_message(&e);
                self.recorder.record(owner, WARNING, "FailedDelete", format!("Error deleting: {message}"));
                Err(Error::Sync(message))
            }
        }
    }

    async fn update_status(
        &self,
        owner: &K,
        pods: &[Arc<Pod>],
        failure: Option<&Error>,
        now: Timestamp,
    ) -> Result<(), Error> {
        let template_labels =
            owner.pod_template().and_then(|t| t.metadata.as_ref()).and_then(|m| m.labels.clone()).unwrap_or_default();
        let min_ready = owner.min_ready_seconds();
        let fully_labeled = pods
            .iter()
            .filter(|p| template_labels.iter().all(|(k, v)| workloads::labels(&p.metadata).get(k) == Some(v)))
            .count();
        let ready = pods.iter().filter(|p| workloads::is_ready(p)).count();
        let available = pods.iter().filter(|p| workloads::is_available(p, min_ready, now)).count();

        let current = owner.status_value();
        let mut conditions: Vec<Value> = current["conditions"].as_array().cloned().unwrap_or_default();
        let has_failure = conditions.iter().any(|c| c["type"] == "ReplicaFailure");
        match failure {
            Some(e) if !has_failure => {
                let reason = if pods.len() < owner.desired().max(0) as usize { "FailedCreate" } else { "FailedDelete" };
                conditions.push(json!({
                    "type": "ReplicaFailure", "status": "True", "reason": reason, "message": e.to_string(),
                    "lastTransitionTime": k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now),
                }));
            }
            None if has_failure => conditions.retain(|c| c["type"] != "ReplicaFailure"),
            _ => {}
        }
        // Zero counts are left out, as upstream's `omitempty` does (except `replicas`).
        let count = |n: usize| if n == 0 { Value::Null } else { json!(n) };
        let generation = owner.meta().generation.unwrap_or(0);
        let status = json!({
            "replicas": pods.len(),
            "fullyLabeledReplicas": count(fully_labeled),
            "readyReplicas": count(ready),
            "availableReplicas": count(available),
            "observedGeneration": if generation == 0 { Value::Null } else { json!(generation) },
            "conditions": if conditions.is_empty() { Value::Null } else { json!(conditions) },
        });
        let unchanged = status.as_object().is_some_and(|m| {
            m.iter().all(|(k, v)| match (v, current.get(k)) {
                (Value::Null, None | Some(Value::Null)) => true,
                (v, Some(c)) => v == c,
                _ => false,
            })
        });
        if unchanged {
            return Ok(());
        }
        let (ns, name) = (owner.meta().namespace.clone().unwrap_or_default(), owner.name_any());
        let api: Api<K> = Api::namespaced(self.client.clone(), &ns);
        match api.patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({ "status": status }))).await {
            Ok(_) => Ok(()),
            Err(e) if crate::api_reason(&e, 404) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// The reference a controller puts on what it owns.
pub(crate) fn controller_ref<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.meta().name.clone().unwrap_or_default(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Upstream's `slowStartBatch`: runs `count` calls in batches of 1, 2, 4, … (each batch at
/// once), stopping after the first batch with a failure. Returns the successes and the
/// first error.
pub(crate) async fn slow_start_batch<F, Fut>(count: usize, call: F) -> (usize, Option<Error>)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let mut remaining = count;
    let mut successes = 0;
    let mut batch = remaining.min(1);
    let mut started = 0;
    while batch > 0 {
        let results = join_all((started..started + batch).map(&call)).await;
        started += batch;
        let mut first = None;
        for r in results {
            match r {
                Ok(()) => successes += 1,
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        if first.is_some() {
            return (successes, first);
        }
        remaining -= batch;
        batch = (2 * batch).min(remaining);
    }
    (successes, None)
}

/// The `n` pods to delete first, in upstream's order (`ActivePodsWithRanks`, with the rank
/// of a pod being the number of the owner's pods on its node).
pub(crate) fn pods_to_delete(pods: &[Arc<Pod>], n: usize, now: Timestamp) -> Vec<Arc<Pod>> {
    if n >= pods.len() {
        return pods.to_vec();
    }
    let mut on_node: HashMap<&str, usize> = HashMap::new();
    for p in pods {
        if let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
            *on_node.entry(node).or_default() += 1;
        }
    }
    let rank = |p: &Pod| {
        p.spec.as_ref().and_then(|s| s.node_name.as_deref()).and_then(|n| on_node.get(n)).copied().unwrap_or(0)
    };
    let mut ranked: Vec<(usize, &Arc<Pod>)> = pods.iter().map(|p| (rank(p), p)).collect();
    ranked.sort_by(|(ra, a), (rb, b)| delete_order(a, *ra, b, *rb, now));
    ranked.into_iter().take(n).map(|(_, p)| p.clone()).collect()
}

fn delete_order(a: &Pod, rank_a: usize, b: &Pod, rank_b: usize, now: Timestamp) -> Ordering {
    let assigned = |p: &Pod| p.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty());
    let phase = |p: &Pod| match workloads::phase(p) {
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    };
    let cost = |p: &Pod| -> i32 { p.annotations().get(DELETION_COST).and_then(|v| v.parse().ok()).unwrap_or(0) };
    let restarts = |p: &Pod| -> i32 {
        p.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|cs| cs.iter().map(|c| c.restart_count).max())
            .unwrap_or(0)
    };
    assigned(a)
        .cmp(&assigned(b))
        .then(phase(a).cmp(&phase(b)))
        .then(workloads::is_ready(a).cmp(&workloads::is_ready(b)))
        .then(cost(a).cmp(&cost(b)))
        .then(rank_b.cmp(&rank_a))
        .then_with(|| match (workloads::ready_since(a), workloads::ready_since(b)) {
            (Some(ta), Some(tb)) if ta != tb => newer_first(ta, tb, a, b, now),
            _ => Ordering::Equal,
        })
        .then(restarts(b).cmp(&restarts(a)))
        .then_with(|| {
            let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
            let (ta, tb) = (created(a), created(b));
            if ta == tb {
                Ordering::Equal
            } else {
                newer_first(ta, tb, a, b, now)
            }
        })
}

/// Newer first, times in logarithmic buckets of their age (upstream's
/// LogarithmicScaleDown); a missing time comes first.
fn newer_first(ta: Option<Timestamp>, tb: Option<Timestamp>, a: &Pod, b: &Pod, now: Timestamp) -> Ordering {
    let (Some(ta), Some(tb)) = (ta, tb) else {
        return tb.is_none().cmp(&ta.is_none());
    };
    let bucket = |t: Timestamp| {
        let age = now.as_nanosecond() - t.as_nanosecond();
        if age > 0 {
            (age as f64).log2() as i64
        } else {
            -1
        }
    };
    match bucket(ta).cmp(&bucket(tb)) {
        Ordering::Equal => a.metadata.uid.cmp(&b.metadata.uid),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

    fn pod(name: &str, node: Option<&str>, phase: &str, ready: bool, created_secs_ago: i64) -> Arc<Pod> {
        let now = Timestamp::now().as_second();
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                uid: Some(name.into()),
                creation_timestamp: Some(Time(Timestamp::from_second(now - created_secs_ago).unwrap())),
                ..Default::default()
            },
            spec: Some(PodSpec { node_name: node.map(Into::into), ..Default::default() }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    last_transition_time: Some(Time(Timestamp::from_second(now - 100).unwrap())),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        })
    }

    #[test]
    fn deletion_prefers_unscheduled_pending_unready_then_newest() {
        let pods = vec![
            pod("running-ready-old", Some("n1"), "Running", true, 10_000),
            pod("running-ready-new", Some("n2"), "Running", true, 10),
            pod("running-unready", Some("n1"), "Running", false, 100),
            pod("pending", Some("n1"), "Pending", false, 100),
            pod("unscheduled", None, "Pending", false, 100),
        ];
        let names =
            |n| -> Vec<String> { pods_to_delete(&pods, n, Timestamp::now()).iter().map(|p| p.name_any()).collect() };
        // n1 has three pods: among the ready ones the doubled-up node goes first, before age.
        assert_eq!(names(4), ["unscheduled", "pending", "running-unready", "running-ready-old"]);
        // A lower deletion cost comes before the rank.
        let mut with_cost = pods.clone();
        let mut p = (*with_cost[1]).clone();
        p.metadata.annotations = Some([(DELETION_COST.to_string(), "-5".to_string())].into());
        with_cost[1] = Arc::new(p);
        let order: Vec<String> = pods_to_delete(&with_cost, 4, Timestamp::now()).iter().map(|p| p.name_any()).collect();
        assert_eq!(order[3], "running-ready-new");
    }

    #[tokio::test]
    async fn slow_start_doubles_and_stops_at_the_first_failing_batch() {
        let calls = AtomicUsize::new(0);
        let (ok, err) = slow_start_batch(10, |_| {
            calls.fetch_add(1, AtomicOrdering::SeqCst);
            async { Ok(()) }
        })
        .await;
        assert_eq!((ok, err.is_none(), calls.load(AtomicOrdering::SeqCst)), (10, true, 10));
        // Batches 1, 2, 4: the call with index 5 fails, so 7 calls, 6 successes, no 4th batch.
        let calls = AtomicUsize::new(0);
        let (ok, err) = slow_start_batch(100, |i| {
            calls.fetch_add(1, AtomicOrdering::SeqCst);
            async move {
                if i == 5 {
                    Err(Error::Sync("quota".into()))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert_eq!((ok, err.is_some(), calls.load(AtomicOrdering::SeqCst)), (6, true, 7));
    }

    #[test]
    fn expectations_block_until_observed() {
        let e = Expectations::default();
        assert!(e.satisfied("a"));
        e.expect("a", 2, HashSet::from(["u1".to_string()]));
        assert!(!e.satisfied("a"));
        e.creation_observed("a");
        e.creation_observed("a");
        assert!(!e.satisfied("a"));
        e.deletion_observed("a", "u2");
        assert!(!e.satisfied("a"));
        e.deletion_observed("a", "u1");
        assert!(e.satisfied("a"));
        // Observations without expectations change nothing.
        e.creation_observed("b");
        assert!(e.satisfied("b"));
    }
}
