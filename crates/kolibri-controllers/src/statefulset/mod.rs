//! StatefulSets (upstream's statefulset-controller: `stateful_set.go`,
//! `stateful_set_control.go`, `stateful_pod_control.go`, `stateful_set_utils.go`).
//!
//! What is covered, as upstream does it:
//! - **Identity**: pods `<set>-<ordinal>` for ordinals `[ordinals.start, start + replicas)`,
//!   labelled like the template plus `statefulset.kubernetes.io/pod-name`,
//!   `apps.kubernetes.io/pod-index` and `controller-revision-hash`, with `hostname` = the
//!   pod's name and `subdomain` = `serviceName`, controlled by the set. Missing identity
//!   labels of a pod are put back.
//! - **Storage**: for each volumeClaimTemplate a claim `<template>-<set>-<ordinal>`, created
//!   before its pod (and again for a pending pod whose claim went away), mounted by the pod;
//!   `persistentVolumeClaimRetentionPolicy` through owner references, for the garbage
//!   collector: whenDeleted=Delete makes the set own the claims of the pods in range,
//!   whenScaled=Delete makes a condemned pod own its claims before it is deleted; a claim
//!   still owned by an earlier pod of the same name holds the new pod back.
//! - **podManagementPolicy**: OrderedReady creates one pod at a time in ordinal order, each
//!   once its predecessors are Running, Ready and available (minReadySeconds), and removes
//!   pods from the highest ordinal, one at a time, only while all others are healthy;
//!   Parallel creates and deletes in slow-start batches without waiting.
//! - **Failed or succeeded pods** are deleted and then recreated; terminating pods are waited
//!   for (OrderedReady).
//! - **History**: one ControllerRevision per template ([`history`]), reused when the template
//!   comes back (its revision number raised, so `kubectl rollout undo` works), hash collisions
//!   counted in `status.collisionCount`, orphaned revisions adopted, unused ones beyond
//!   `revisionHistoryLimit` deleted (oldest first).
//! - **Updates**: RollingUpdate deletes the highest-ordinal pod not at the update revision
//!   (down to `partition`), one at a time, waiting for each replacement to be available;
//!   with `maxUnavailable` set, up to that many at once (upstream's behaviour with the
//!   MaxUnavailableStatefulSet gate, which 1.33 leaves off; here the field is always honoured). OnDelete only uses the update revision for pods the user deleted. Pods below
//!   the partition are recreated at the current revision.
//! - **Status**: replicas, readyReplicas, availableReplicas, currentReplicas,
//!   updatedReplicas, current/updateRevision (the update becomes current once all replicas are
//!   updated and ready, with OnDelete too, as upstream does since kubernetes#73492 was fixed),
//!   collisionCount, observedGeneration; written only when it changed.
//! - **Ownership**: orphans that match the selector and whose name says they belong to the
//!   set are adopted (after re-reading the set), owned pods that stopped matching released.
//! - **Events**: `SuccessfulCreate` "create Pod web-0 in StatefulSet web successful",
//!   `SuccessfulDelete`, `FailedCreate`/`FailedDelete`/`FailedUpdate` "… failed error: …",
//!   and for claims "create Claim www-web-0 Pod web-0 in StatefulSet web success".
//!
//! Event-driven: set, pod and (deleted) claim events queue the set; minReadySeconds is a
//! delayed requeue; failures back off per set. Differences: a pod or claim that already
//! exists but is not in the cache yet is waited for (its event queues the set) rather than
//! retried as an error, deletions carry a UID precondition, and pod volumes, which the API
//! keeps immutable, are not rewritten when they do not match the claims.

mod history;
mod identity;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::core::Selector;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use self::identity::{ordinal_of, revision_of};
use crate::events::{Recorder, NORMAL, WARNING};
use crate::informer::Change;
use crate::queue::{self, Backoff, Next, Queue};
use crate::replicaset::controller_ref;
use crate::workloads::{self, controller_of, key_of, split_key, Informers};
use crate::Error;

/// The controller's name for `--disable-controllers`.
pub const NAME: &str = "statefulset";
const COMPONENT: &str = "statefulset-controller";
/// Upstream's `ConcurrentStatefulSetSyncs`.
const WORKERS: usize = 5;
/// Upstream's `MaxBatchSize` for Parallel pod management.
const MAX_BATCH: usize = 500;
/// Name collisions tried before a sync gives up (upstream tries forever).
const MAX_COLLISIONS: i32 = 100;

struct Controller {
    client: Client,
    sets: Store<StatefulSet>,
    pods: Store<Pod>,
    revisions: Store<ControllerRevision>,
    claims: Store<PersistentVolumeClaim>,
    recorder: Recorder,
    queue: Arc<Queue<String>>,
}

pub(crate) fn start(client: Client, informers: &Informers, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    let (sets, pods, revisions, claims) = (
        informers.stateful_sets.get(),
        informers.pods.get(),
        informers.controller_revisions.get(),
        informers.claims.get(),
    );
    let ctl = Arc::new(Controller {
        recorder: Recorder::new(client.clone(), COMPONENT),
        client,
        sets: sets.store(),
        pods: pods.store(),
        revisions: revisions.store(),
        claims: claims.store(),
        queue: Queue::new(Backoff::DEFAULT),
    });
    sets.on_change({
        let queue = ctl.queue.clone();
        move |change| match change {
            Change::Applied { new, .. } => queue.add(key_of(&new.metadata)),
            Change::Deleted(old) => queue.add(key_of(&old.metadata)),
        }
    });
    pods.on_change({
        let ctl = ctl.clone();
        move |change| ctl.pod_changed(change)
    });
    // A pod held back by a stale claim waits for the collector to delete that claim.
    claims.on_change({
        let ctl = ctl.clone();
        move |change| {
            if let Change::Deleted(claim) = change {
                ctl.claim_deleted(claim);
            }
        }
    });
    let ready = futures::future::join4(sets.synced(), pods.synced(), revisions.synced(), claims.synced());
    let ready = async move {
        ready.await;
    };
    let queue = ctl.queue.clone();
    tokio::spawn(queue::serve(NAME, queue, WORKERS, ready, shutdown, move |key: String| {
        let ctl = ctl.clone();
        async move { ctl.sync(&key).await }
    }))
}

/// A slot of the set's replicas: a pod that exists, or the one to create.
enum Replica {
    Pod(Arc<Pod>),
    New(Box<Pod>),
}

impl Replica {
    fn pod(&self) -> &Pod {
        match self {
            Replica::Pod(p) => p,
            Replica::New(p) => p,
        }
    }
}

/// What one sync works from (upstream's set, currentSet and updateSet).
struct Plan {
    set: StatefulSet,
    /// The set with the update revision's template.
    update_set: StatefulSet,
    current: ControllerRevision,
    update: ControllerRevision,
    monotonic: bool,
    min_ready: i32,
    now: Timestamp,
}

impl Plan {
    fn name(&self) -> &str {
        self.set.metadata.name.as_deref().unwrap_or_default()
    }
    fn ns(&self) -> &str {
        self.set.metadata.namespace.as_deref().unwrap_or_default()
    }
    fn current_name(&self) -> &str {
        self.current.metadata.name.as_deref().unwrap_or_default()
    }
    fn update_name(&self) -> &str {
        self.update.metadata.name.as_deref().unwrap_or_default()
    }
    fn strategy(&self) -> &str {
        self.set
            .spec
            .as_ref()
            .and_then(|s| s.update_strategy.as_ref())
            .and_then(|s| s.type_.as_deref())
            .unwrap_or("RollingUpdate")
    }
    fn available(&self, pod: &Pod) -> bool {
        workloads::is_available(pod, self.min_ready, self.now)
    }
    /// Upstream's `isUnavailable`: not available, or terminating; a pod still to be created is.
    fn unavailable(&self, r: &Replica) -> bool {
        match r {
            Replica::New(_) => true,
            Replica::Pod(p) => !self.available(p) || terminating(p),
        }
    }
}

fn phase(pod: &Pod) -> &str {
    workloads::phase(pod)
}
fn terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}
/// Upstream's `isRunningAndReady`.
fn running_and_ready(pod: &Pod) -> bool {
    phase(pod) == "Running" && workloads::is_ready(pod)
}
/// Upstream's `isCreated`: the API server gave it a phase.
fn created(r: &Replica) -> bool {
    matches!(r, Replica::Pod(p) if !phase(p).is_empty())
}

impl Controller {
    fn api<K>(&self, ns: &str) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), ns)
    }

    // ---- Event handlers (upstream's addPod/updatePod/deletePod) ----

    /// The set a controller reference names, if it is the one we know.
    fn resolve(&self, ns: &str, r: &OwnerReference) -> Option<Arc<StatefulSet>> {
        if r.kind != "StatefulSet" {
            return None;
        }
        let set = self.sets.get(&ObjectRef::new(&r.name).within(ns))?;
        (set.metadata.uid.as_deref() == Some(r.uid.as_str())).then_some(set)
    }

    fn queue_owner(&self, pod: &Pod) {
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        if let Some(set) = controller_of(&pod.metadata).and_then(|r| self.resolve(ns, r)) {
            self.queue.add(key_of(&set.metadata));
        }
    }

    /// Sets that might adopt an orphan.
    fn queue_matching(&self, pod: &Pod) {
        for set in self.sets.state() {
            if set.metadata.namespace == pod.metadata.namespace
                && set_selector(&set).is_some_and(|s| workloads::matches(&s, &pod.metadata))
            {
                self.queue.add(key_of(&set.metadata));
            }
        }
    }

    fn pod_changed(&self, change: &Change<Pod>) {
        match change {
            Change::Applied { old: None, new } => match controller_of(&new.metadata) {
                Some(_) => self.queue_owner(new),
                None if new.metadata.deletion_timestamp.is_none() => self.queue_matching(new),
                None => {}
            },
            Change::Applied { old: Some(old), new } => {
                if old.metadata.resource_version == new.metadata.resource_version {
                    return;
                }
                let (old_ref, new_ref) = (controller_of(&old.metadata), controller_of(&new.metadata));
                if old_ref != new_ref && old_ref.is_some() {
                    self.queue_owner(old);
                }
                if new_ref.is_some() {
                    self.queue_owner(new);
                } else if old.metadata.labels != new.metadata.labels || old_ref != new_ref {
                    self.queue_matching(new);
                }
            }
            Change::Deleted(pod) => self.queue_owner(pod),
        }
    }

    fn claim_deleted(&self, claim: &PersistentVolumeClaim) {
        let name = claim.metadata.name.as_deref().unwrap_or_default();
        for set in self.sets.state() {
            if set.metadata.namespace != claim.metadata.namespace {
                continue;
            }
            let set_name = set.metadata.name.as_deref().unwrap_or_default();
            let templates = set.spec.as_ref().and_then(|s| s.volume_claim_templates.as_deref()).unwrap_or_default();
            let ours = templates.iter().any(|t| {
                let prefix = format!("{}-{set_name}-", t.metadata.name.as_deref().unwrap_or_default());
                name.strip_prefix(&prefix).is_some_and(|o| !o.is_empty() && o.bytes().all(|b| b.is_ascii_digit()))
            });
            if ours {
                self.queue.add(key_of(&set.metadata));
            }
        }
    }

    // ---- The sync ----

    async fn sync(&self, key: &str) -> Result<Next, Error> {
        let (ns, name) = split_key(key);
        let Some(cached) = self.sets.get(&ObjectRef::new(name).within(ns)) else { return Ok(Next::Done) };
        let set = (*cached).clone();
        let Some(selector) = set_selector(&set) else {
            // Validation refuses these; one that got in anyway is not retried.
            tracing::warn!(controller = NAME, key, "empty or invalid selector; ignoring");
            return Ok(Next::Done);
        };
        let mut revisions = self.adopt_revisions(&set, &selector).await?;
        let pods = self.claim_pods(&set, &selector).await?;
        history::sort(&mut revisions);

        let (current, update, collision_count) = self.revisions_of(&set, &revisions).await?;
        let now = workloads::now();
        let min_ready = set.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0);
        let mut update_set = set.clone();
        if let (Some(spec), Some(t)) = (update_set.spec.as_mut(), history::template_of(&update)) {
            spec.template = t;
        }
        let plan = Plan {
            monotonic: set.spec.as_ref().and_then(|s| s.pod_management_policy.as_deref()) != Some("Parallel"),
            set,
            update_set,
            current,
            update,
            min_ready,
            now,
        };
        let (status, failure) = self.update_set(&plan, collision_count, &pods).await;
        let written = self.write_status(&plan.set, status).await;
        let truncated = self.truncate_history(&plan, &pods, &revisions).await;
        failure.map_or(Ok(()), Err)?;
        written?;
        truncated?;
        // Ready pods become available without an event.
        let next = pods.iter().filter_map(|p| workloads::until_available(p, min_ready, workloads::now())).min();
        Ok(next.map_or(Next::Done, |s| Next::After(Duration::from_secs(s.max(1) as u64))))
    }

    /// Re-reads the set before adopting anything (upstream's `RecheckDeletionTimestamp`):
    /// a cached set may have been deleted or replaced meanwhile.
    async fn can_adopt(&self, set: &StatefulSet) -> Result<bool, Error> {
        let api: Api<StatefulSet> = self.api(set.metadata.namespace.as_deref().unwrap_or_default());
        match api.get_opt(&set.name_any()).await? {
            Some(fresh) => Ok(fresh.metadata.uid == set.metadata.uid && fresh.metadata.deletion_timestamp.is_none()),
            None => Ok(false),
        }
    }

    /// Upstream's `ListRevisions` + `adoptOrphanRevisions`: the set's revisions and the
    /// matching orphans, which it adopts.
    async fn adopt_revisions(&self, set: &StatefulSet, selector: &Selector) -> Result<Vec<ControllerRevision>, Error> {
        let uid = set.metadata.uid.clone().unwrap_or_default();
        let mut owned = Vec::new();
        let mut orphans = Vec::new();
        for rev in self.revisions.state() {
            if rev.metadata.namespace != set.metadata.namespace || !workloads::matches(selector, &rev.metadata) {
                continue;
            }
            match controller_of(&rev.metadata) {
                Some(r) if r.uid == uid => owned.push((*rev).clone()),
                Some(_) => {}
                None => orphans.push((*rev).clone()),
            }
        }
        if !orphans.is_empty() && set.metadata.deletion_timestamp.is_none() && self.can_adopt(set).await? {
            for rev in orphans {
                let r = controller_ref(set);
                if let Some(adopted) = self.set_owners(&rev, |refs| refs.push(r)).await? {
                    owned.push(adopted);
                }
            }
        } else {
            // Upstream lists orphans with the owned revisions even when it cannot adopt them.
            owned.extend(orphans);
        }
        Ok(owned)
    }

    /// Upstream's `getPodsForStatefulSet` (`ClaimPods` with the `isMemberOf` filter): keeps
    /// owned pods that still match, adopts matching orphans, releases the rest.
    async fn claim_pods(&self, set: &StatefulSet, selector: &Selector) -> Result<Vec<Arc<Pod>>, Error> {
        let uid = set.metadata.uid.clone().unwrap_or_default();
        let mut claimed = Vec::new();
        let mut adoptable = None;
        for pod in self.pods.state() {
            if pod.metadata.namespace != set.metadata.namespace {
                continue;
            }
            let matches = workloads::matches(selector, &pod.metadata) && identity::is_member(set, &pod);
            match controller_of(&pod.metadata) {
                Some(r) if r.uid == uid => {
                    if matches {
                        claimed.push(pod);
                    } else if set.metadata.deletion_timestamp.is_none() {
                        let release = json!([{"$patch": "delete", "uid": uid}]);
                        self.patch_pod_owners(&pod, release).await?;
                    }
                }
                Some(_) => {}
                None if matches && set.metadata.deletion_timestamp.is_none() && !terminating(&pod) => {
                    if adoptable.is_none() {
                        adoptable = Some(self.can_adopt(set).await?);
                    }
                    if adoptable == Some(true) {
                        if let Some(adopted) = self.patch_pod_owners(&pod, json!([controller_ref(set)])).await? {
                            claimed.push(Arc::new(adopted));
                        }
                    }
                }
                None => {}
            }
        }
        Ok(claimed)
    }

    /// Adopts or releases a pod as upstream's `ClaimPods` does: a strategic merge patch of
    /// the one reference (owner references merge by UID), guarded by the pod's UID only, so a
    /// repeat from a lagging cache is harmless. `None` when the pod is gone or replaced.
    async fn patch_pod_owners(&self, pod: &Pod, refs: Value) -> Result<Option<Pod>, Error> {
        let patch = json!({"metadata": {"ownerReferences": refs, "uid": pod.metadata.uid}});
        let api: Api<Pod> = self.api(pod.metadata.namespace.as_deref().unwrap_or_default());
        match api.patch(&pod.name_any(), &PatchParams::default(), &Patch::Strategic(&patch)).await {
            Ok(p) => Ok(Some(p)),
            Err(e) if crate::api_reason(&e, 404) || crate::api_reason(&e, 409) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Rewrites an object's owner references, guarded by its resourceVersion; `None` when
    /// it is gone.
    async fn set_owners<K>(&self, obj: &K, edit: impl FnOnce(&mut Vec<OwnerReference>)) -> Result<Option<K>, Error>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
        K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let meta = obj.meta();
        let mut refs = meta.owner_references.clone().unwrap_or_default();
        edit(&mut refs);
        let patch = json!({"metadata": {
            "ownerReferences": if refs.is_empty() { Value::Null } else { json!(refs) },
            "resourceVersion": meta.resource_version,
            "uid": meta.uid,
        }});
        let api: Api<K> = self.api(meta.namespace.as_deref().unwrap_or_default());
        match api.patch(meta.name.as_deref().unwrap_or_default(), &PatchParams::default(), &Patch::Merge(&patch)).await
        {
            Ok(o) => Ok(Some(o)),
            Err(e) if crate::api_reason(&e, 404) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Upstream's `getStatefulSetRevisions`: the current and update revisions (creating the
    /// update revision, or raising an equal older one to the top), and the collision count.
    async fn revisions_of(
        &self,
        set: &StatefulSet,
        revisions: &[ControllerRevision],
    ) -> Result<(ControllerRevision, ControllerRevision, i32), Error> {
        let mut collision_count = set.status.as_ref().and_then(|s| s.collision_count).unwrap_or(0);
        let candidate = history::new_revision(set, history::next_number(revisions), collision_count);
        let last_equal = revisions.iter().rposition(|r| history::equal(r, &candidate));
        let update = match last_equal {
            Some(i) if i + 1 == revisions.len() => revisions[i].clone(),
            Some(i) => self.renumber(&revisions[i], candidate.revision).await?,
            None => self.create_revision(set, candidate, &mut collision_count).await?,
        };
        let wanted = set.status.as_ref().and_then(|s| s.current_revision.as_deref()).unwrap_or_default();
        let current = revisions
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(wanted))
            .cloned()
            .unwrap_or_else(|| update.clone());
        Ok((current, update, collision_count))
    }

    /// Upstream's `UpdateControllerRevision`: a rollback raises the revision number.
    async fn renumber(&self, rev: &ControllerRevision, number: i64) -> Result<ControllerRevision, Error> {
        let api: Api<ControllerRevision> = self.api(rev.metadata.namespace.as_deref().unwrap_or_default());
        let patch = json!({"revision": number});
        Ok(api.patch(&rev.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?)
    }

    /// Upstream's `CreateControllerRevision`: on a name taken by other data, counts a
    /// collision and tries the next name.
    async fn create_revision(
        &self,
        set: &StatefulSet,
        mut rev: ControllerRevision,
        collision_count: &mut i32,
    ) -> Result<ControllerRevision, Error> {
        let api: Api<ControllerRevision> = self.api(set.metadata.namespace.as_deref().unwrap_or_default());
        for _ in 0..MAX_COLLISIONS {
            let fresh = history::new_revision(set, rev.revision, *collision_count);
            rev.metadata.name = fresh.metadata.name;
            rev.metadata.labels = fresh.metadata.labels;
            match api.create(&PostParams::default(), &rev).await {
                Ok(created) => return Ok(created),
                Err(e) if crate::api_reason(&e, 409) => {
                    let existing = api.get(&rev.name_any()).await?;
                    if history::equal(&existing, &rev) {
                        return Ok(existing);
                    }
                    *collision_count += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Sync(format!("no free ControllerRevision name after {MAX_COLLISIONS} collisions")))
    }

    /// Upstream's `updateStatefulSet`: creates, repairs, deletes and updates pods; returns the
    /// status to record and the first failure.
    async fn update_set(&self, plan: &Plan, collision_count: i32, pods: &[Arc<Pod>]) -> (Status, Option<Error>) {
        let set = &plan.set;
        let (start, count) = (identity::start_ordinal(set), identity::replicas(set));
        let mut slots: Vec<Option<Arc<Pod>>> = vec![None; count as usize];
        let mut condemned: Vec<Arc<Pod>> = Vec::new();
        for pod in pods {
            let ordinal = ordinal_of(pod);
            if identity::in_range(set, pod) {
                slots[(ordinal - start) as usize] = Some(pod.clone());
            } else if ordinal >= 0 {
                condemned.push(pod.clone());
            }
        }
        let replicas: Vec<Replica> = slots
            .into_iter()
            .enumerate()
            .map(|(i, slot)| match slot {
                Some(p) => Replica::Pod(p),
                None => Replica::New(Box::new(self.versioned_pod(plan, start + i as i64))),
            })
            .collect();
        condemned.sort_by_key(|p| std::cmp::Reverse(ordinal_of(p)));
        let condemned: Vec<Replica> = condemned.into_iter().map(Replica::Pod).collect();

        let mut status = Status::new(plan, collision_count);
        let first_unhealthy = replicas
            .iter()
            .chain(condemned.iter().rev())
            .find(|r| plan.unavailable(r))
            .and_then(|r| r.pod().metadata.name.clone());
        let done = |status: &mut Status, e: Option<Error>| {
            status.count(plan, replicas.iter().chain(condemned.iter()));
            e
        };
        if set.metadata.deletion_timestamp.is_some() {
            return (status.counted(plan, replicas.iter().chain(condemned.iter())), None);
        }

        // Every replica first; in OrderedReady, stop at the first that is not healthy.
        if let Err(e) = self.run_for_all(plan, &replicas, |r| self.process_replica(plan, r)).await {
            let e = done(&mut status, e);
            return (status, e);
        }
        // Condemned pods hand their claims over as the retention policy says, then go, highest
        // ordinal first.
        if let Err(e) = self.run_for_all(plan, &condemned, |r| self.fix_condemned_claims(plan, r)).await {
            let e = done(&mut status, e);
            return (status, e);
        }
        let first = first_unhealthy.as_deref();
        if let Err(e) = self.run_for_all(plan, &condemned, |r| self.process_condemned(plan, first, r)).await {
            let e = done(&mut status, e);
            return (status, e);
        }
        status.count(plan, replicas.iter().chain(condemned.iter()));
        if plan.strategy() == "OnDelete" {
            return (status, None);
        }
        let failure = self.roll(plan, &replicas, &mut status).await.err();
        (status, failure)
    }

    /// Upstream's `newVersionedStatefulSetPod`: below the partition (or, without one, below the
    /// current replicas) a pod is made at the current revision, else at the update revision.
    fn versioned_pod(&self, plan: &Plan, ordinal: i64) -> Pod {
        let set = &plan.set;
        let start = identity::start_ordinal(set);
        let rolling =
            set.spec.as_ref().and_then(|s| s.update_strategy.as_ref()).and_then(|s| s.rolling_update.as_ref());
        let current_replicas = i64::from(set.status.as_ref().and_then(|s| s.current_replicas).unwrap_or(0));
        let at_current = match rolling {
            None => plan.strategy() == "RollingUpdate" && ordinal < start + current_replicas,
            Some(ru) => ordinal < start + i64::from(ru.partition.unwrap_or(0)),
        };
        if at_current {
            let template =
                history::template_of(&plan.current).unwrap_or_else(|| set.spec.clone().unwrap_or_default().template);
            identity::new_pod(set, &template, ordinal, plan.current_name())
        } else {
            let template = plan.update_set.spec.clone().unwrap_or_default().template;
            identity::new_pod(set, &template, ordinal, plan.update_name())
        }
    }

    /// Upstream's `runForAll`: in order until one asks to stop (OrderedReady), or all in
    /// slow-start batches (Parallel). `Err(None)`: OrderedReady stops at an item that is not
    /// done; `Err(Some(_))`: an item failed.
    async fn run_for_all<'a, F, Fut>(&self, plan: &Plan, items: &'a [Replica], f: F) -> Result<(), Option<Error>>
    where
        F: Fn(&'a Replica) -> Fut,
        Fut: std::future::Future<Output = Result<bool, Error>>,
    {
        if plan.monotonic {
            for item in items {
                match f(item).await {
                    Ok(false) => {}
                    Ok(true) => return Err(None),
                    Err(e) => return Err(Some(e)),
                }
            }
            return Ok(());
        }
        let mut started = 0;
        let mut batch = items.len().min(1);
        while batch > 0 {
            let results = join_all(items[started..started + batch].iter().map(&f)).await;
            started += batch;
            if let Some(e) = results.into_iter().find_map(Result::err) {
                return Err(Some(e));
            }
            batch = (2 * batch).min(items.len() - started).min(MAX_BATCH);
        }
        Ok(())
    }

    /// Upstream's `processReplica`: `Ok(true)` means "stop here" in OrderedReady.
    async fn process_replica(&self, plan: &Plan, replica: &Replica) -> Result<bool, Error> {
        let pod = match replica {
            Replica::New(pod) => {
                if self.claim_is_stale(plan, pod) {
                    return Ok(true);
                }
                let waiting = !self.create_pod(plan, pod).await?;
                return Ok(plan.monotonic || waiting);
            }
            Replica::Pod(pod) => pod,
        };
        // Failed and succeeded pods are replaced: deleted now, recreated once gone.
        if matches!(phase(pod), "Failed" | "Succeeded") {
            if !terminating(pod) {
                self.delete_pod(plan, pod).await?;
            }
            return Ok(true);
        }
        if phase(pod) == "Pending" {
            let claims = self.ensure_claims(plan, pod).await?;
            self.claims_for_policy(plan, &plan.update_set, pod, claims).await?;
        }
        if plan.monotonic && (terminating(pod) || !running_and_ready(pod) || !plan.available(pod)) {
            return Ok(true);
        }
        let retention_ok = self.claims_match_policy(&plan.update_set, pod);
        if identity::identity_matches(&plan.set, pod) && identity::storage_matches(&plan.set, pod) && retention_ok {
            return Ok(false);
        }
        self.update_pod(plan, pod).await?;
        Ok(false)
    }

    /// Upstream's `fixPodClaim` for a condemned pod.
    async fn fix_condemned_claims(&self, plan: &Plan, replica: &Replica) -> Result<bool, Error> {
        let pod = replica.pod();
        if !self.claims_match_policy(&plan.update_set, pod) {
            let claims = self.cached_claims(&plan.update_set, pod);
            self.claims_for_policy(plan, &plan.update_set, pod, claims).await?;
        }
        Ok(false)
    }

    /// Upstream's `processCondemned`.
    async fn process_condemned(
        &self,
        plan: &Plan,
        first_unhealthy: Option<&str>,
        replica: &Replica,
    ) -> Result<bool, Error> {
        let pod = replica.pod();
        if terminating(pod) {
            return Ok(plan.monotonic);
        }
        let is_first = pod.metadata.name.as_deref() == first_unhealthy;
        if plan.monotonic && !is_first && (!running_and_ready(pod) || !plan.available(pod)) {
            return Ok(true);
        }
        self.delete_pod(plan, pod).await?;
        Ok(true)
    }

    /// The rolling update (upstream's tail of `updateStatefulSet`, and
    /// `updateStatefulSetAfterInvariantEstablished` when maxUnavailable is set).
    async fn roll(&self, plan: &Plan, replicas: &[Replica], status: &mut Status) -> Result<(), Error> {
        let rolling =
            plan.set.spec.as_ref().and_then(|s| s.update_strategy.as_ref()).and_then(|s| s.rolling_update.as_ref());
        let partition = rolling.and_then(|r| r.partition).unwrap_or(0).max(0) as usize;
        let outdated = |r: &Replica| revision_of(r.pod()) != plan.update_name() && !terminating(r.pod());
        if let Some(max) = rolling.and_then(|r| r.max_unavailable.as_ref()) {
            let max = max_unavailable(max, replicas.len());
            let unavailable = replicas.iter().filter(|r| plan.unavailable(r)).count();
            if unavailable > max {
                return Ok(());
            }
            let mut budget = max - unavailable;
            for r in replicas.iter().skip(partition).rev() {
                if budget == 0 {
                    break;
                }
                if outdated(r) {
                    if let Replica::Pod(pod) = r {
                        self.delete_pod(plan, pod).await?;
                    }
                    budget -= 1;
                    status.current_replicas -= 1;
                }
            }
            return Ok(());
        }
        for r in replicas.iter().skip(partition).rev() {
            if outdated(r) {
                if let Replica::Pod(pod) = r {
                    self.delete_pod(plan, pod).await?;
                }
                status.current_replicas -= 1;
                return Ok(());
            }
            // Wait for the replacement to be available before the next one.
            if plan.unavailable(r) {
                return Ok(());
            }
        }
        Ok(())
    }

    // ---- Pods ----

    /// Creates the pod's claims, then the pod, then sets the claims' owners (upstream's
    /// `CreateStatefulPod`). `Ok(false)` when the pod exists already but the cache has not
    /// seen it yet: its event will queue the set.
    async fn create_pod(&self, plan: &Plan, pod: &Pod) -> Result<bool, Error> {
        let name = pod.name_any();
        let claims = match self.ensure_claims(plan, pod).await {
            Ok(claims) => claims,
            Err(e) => {
                self.pod_event(plan, "create", &name, Some(&e.to_string()));
                return Err(e);
            }
        };
        let api: Api<Pod> = self.api(plan.ns());
        let created = match api.create(&PostParams::default(), pod).await {
            Ok(created) => created,
            Err(e) if crate::api_reason(&e, 409) => {
                // Ours, created by an earlier sync that ran ahead of the cache: its event
                // queues the set. Someone else's pod by that name is an error (retried).
                let cached = self.pods.get(&ObjectRef::new(&name).within(plan.ns()));
                let ours = |p: &Pod| controller_of(&p.metadata).map(|r| &r.uid) == plan.set.metadata.uid.as_ref();
                if cached.is_some_and(|p| !ours(&p)) {
                    return Err(e.into());
                }
                return Ok(false);
            }
            Err(e) if crate::namespace_terminating(&e) => return Err(Error::Sync(workloads::error_message(&e))),
            Err(e) => {
                let message = workloads::error_message(&e);
                self.pod_event(plan, "create", &name, Some(&message));
                return Err(Error::Sync(message));
            }
        };
        if let Err(e) = self.claims_for_policy(plan, &plan.update_set, &created, claims).await {
            self.pod_event(plan, "update", &name, Some(&e.to_string()));
            return Err(e);
        }
        self.pod_event(plan, "create", &name, None);
        Ok(true)
    }

    async fn delete_pod(&self, plan: &Plan, pod: &Pod) -> Result<(), Error> {
        let api: Api<Pod> = self.api(plan.ns());
        let params = DeleteParams {
            preconditions: Some(Preconditions { uid: pod.metadata.uid.clone(), resource_version: None }),
            ..Default::default()
        };
        let name = pod.name_any();
        match api.delete(&name, &params).await {
            Ok(_) => {
                self.pod_event(plan, "delete", &name, None);
                Ok(())
            }
            // Gone already, or replaced by a pod of the same name: its events queue the set.
            Err(e) if crate::api_reason(&e, 404) || crate::api_reason(&e, 409) => Ok(()),
            Err(e) => {
                let message = workloads::error_message(&e);
                self.pod_event(plan, "delete", &name, Some(&message));
                Err(Error::Sync(message))
            }
        }
    }

    /// Upstream's `UpdateStatefulPod`: puts back the identity labels, creates missing claims
    /// and sets the claims' owners as the retention policy says.
    async fn update_pod(&self, plan: &Plan, pod: &Pod) -> Result<(), Error> {
        let name = pod.name_any();
        let result = async {
            if !identity::storage_matches(&plan.set, pod) {
                self.ensure_claims(plan, pod).await?;
            }
            if !self.claims_match_policy(&plan.update_set, pod) {
                let claims = self.cached_claims(&plan.update_set, pod);
                self.claims_for_policy(plan, &plan.update_set, pod, claims).await?;
            }
            let mut labels = pod.metadata.labels.clone().unwrap_or_default();
            if identity::set_identity_labels(&mut labels, &name, ordinal_of(pod)) {
                // Only the two identity labels: a merge patch of them cannot undo another
                // writer's change, so no resourceVersion guard (and no conflict on a lagging cache).
                let identity: serde_json::Map<String, Value> = [identity::POD_NAME_LABEL, identity::POD_INDEX_LABEL]
                    .into_iter()
                    .filter_map(|k| Some((k.to_string(), json!(labels.get(k)?))))
                    .collect();
                let patch = json!({"metadata": {"labels": identity}});
                let api: Api<Pod> = self.api(plan.ns());
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
            }
            Ok::<(), Error>(())
        }
        .await;
        let message = result.as_ref().err().map(|e| match e {
            Error::Kube(k) => workloads::error_message(k),
            other => other.to_string(),
        });
        self.pod_event(plan, "update", &name, message.as_deref());
        result
    }

    /// Upstream's `recordPodEvent`.
    fn pod_event(&self, plan: &Plan, verb: &str, pod: &str, error: Option<&str>) {
        let title = title(verb);
        let set = plan.name();
        match error {
            None => self.recorder.record(
                &plan.set,
                NORMAL,
                &format!("Successful{title}"),
                format!("{verb} Pod {pod} in StatefulSet {set} successful"),
            ),
            Some(e) => self.recorder.record(
                &plan.set,
                WARNING,
                &format!("Failed{title}"),
                format!("{verb} Pod {pod} in StatefulSet {set} failed error: {e}"),
            ),
        }
    }

    // ---- Claims ----

    fn cached_claim(&self, ns: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>> {
        self.claims.get(&ObjectRef::new(name).within(ns))
    }

    /// The pod's claims that exist, from the cache.
    fn cached_claims(&self, set: &StatefulSet, pod: &Pod) -> Vec<PersistentVolumeClaim> {
        let ns = set.metadata.namespace.as_deref().unwrap_or_default();
        identity::claims_for(set, ordinal_of(pod))
            .into_iter()
            .filter_map(|(_, c)| self.cached_claim(ns, c.metadata.name.as_deref().unwrap_or_default()))
            .map(|c| (*c).clone())
            .collect()
    }

    /// Upstream's `PodClaimIsStale`.
    fn claim_is_stale(&self, plan: &Plan, pod: &Pod) -> bool {
        identity::deletes_when_scaled(&plan.set)
            && self.cached_claims(&plan.set, pod).iter().any(|c| identity::claim_is_stale(c, pod))
    }

    /// Upstream's `ClaimsMatchRetentionPolicy` (a missing claim matches: it is picked up
    /// when created).
    fn claims_match_policy(&self, set: &StatefulSet, pod: &Pod) -> bool {
        self.cached_claims(set, pod).iter().all(|c| identity::claim_owner_up_to_date(c, set, pod))
    }

    /// Upstream's `createPersistentVolumeClaims`: creates the pod's missing claims; returns
    /// all of them. A claim being deleted is an error (the pod must wait for it to go).
    async fn ensure_claims(&self, plan: &Plan, pod: &Pod) -> Result<Vec<PersistentVolumeClaim>, Error> {
        let api: Api<PersistentVolumeClaim> = self.api(plan.ns());
        let pod_name = pod.name_any();
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for (_, claim) in identity::claims_for(&plan.set, ordinal_of(pod)) {
            let name = claim.metadata.name.clone().unwrap_or_default();
            if let Some(existing) = self.cached_claim(plan.ns(), &name) {
                if existing.metadata.deletion_timestamp.is_some() {
                    errors.push(format!("pvc {name} is being deleted"));
                } else {
                    out.push((*existing).clone());
                }
                continue;
            }
            match api.create(&PostParams::default(), &claim).await {
                Ok(created) => {
                    self.claim_event(plan, &name, &pod_name, None);
                    out.push(created);
                }
                // Created before and not cached yet: use the stored one.
                Err(e) if crate::api_reason(&e, 409) => match api.get_opt(&name).await {
                    Ok(Some(existing)) => out.push(existing),
                    Ok(None) => errors.push(format!("failed to create PVC {name}: {}", workloads::error_message(&e))),
                    Err(e) => errors.push(format!("failed to retrieve PVC {name}: {}", workloads::error_message(&e))),
                },
                Err(e) => {
                    let message = workloads::error_message(&e);
                    if !crate::namespace_terminating(&e) {
                        self.claim_event(plan, &name, &pod_name, Some(&message));
                    }
                    errors.push(format!("failed to create PVC {name}: {message}"));
                }
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(Error::Sync(errors.join(", ")))
        }
    }

    /// Upstream's `UpdatePodClaimForRetentionPolicy`, on the given claims.
    async fn claims_for_policy(
        &self,
        plan: &Plan,
        set: &StatefulSet,
        pod: &Pod,
        claims: Vec<PersistentVolumeClaim>,
    ) -> Result<(), Error> {
        for claim in claims {
            let name = claim.name_any();
            if identity::has_unexpected_controller(&claim, set, pod) {
                self.recorder.record(
                    &plan.set,
                    WARNING,
                    "ConflictingController",
                    format!(
                        "PersistentVolumeClaim {name} has a conflicting OwnerReference that acts as a manging controller, the retention policy is ignored for this claim"
                    ),
                );
            }
            if identity::claim_owner_up_to_date(&claim, set, pod) {
                continue;
            }
            let owners = identity::claim_owners_for_policy(&claim, set, pod);
            self.set_owners(&claim, |refs| *refs = owners)
                .await
                .map_err(|e| Error::Sync(format!("could not update claim {name} for delete policy ownerRefs: {e}")))?;
        }
        Ok(())
    }

    /// Upstream's `recordClaimEvent`.
    fn claim_event(&self, plan: &Plan, claim: &str, pod: &str, error: Option<&str>) {
        let set = plan.name();
        match error {
            None => self.recorder.record(
                &plan.set,
                NORMAL,
                "SuccessfulCreate",
                format!("create Claim {claim} Pod {pod} in StatefulSet {set} success"),
            ),
            Some(e) => self.recorder.record(
                &plan.set,
                WARNING,
                "FailedCreate",
                format!("create Claim {claim} for Pod {pod} in StatefulSet {set} failed error: {e}"),
            ),
        }
    }

    // ---- Status and history ----

    /// Upstream's `updateStatefulSetStatus`: completes a finished rolling update and writes
    /// the status if it differs.
    async fn write_status(&self, set: &StatefulSet, mut status: Status) -> Result<(), Error> {
        let replicas = identity::replicas(set) as i32;
        // For OnDelete too, as upstream since the fix of kubernetes#73492 (1.33 left an
        // OnDelete set's currentRevision behind forever).
        if status.updated_replicas == replicas && status.ready_replicas == replicas && status.replicas == replicas {
            status.current_replicas = status.updated_replicas;
            status.current_revision = status.update_revision.clone();
        }
        let old = set.status.clone().unwrap_or_default();
        let unchanged = old.observed_generation.unwrap_or(0) >= status.observed_generation
            && old.replicas == status.replicas
            && old.current_replicas.unwrap_or(0) == status.current_replicas
            && old.ready_replicas.unwrap_or(0) == status.ready_replicas
            && old.updated_replicas.unwrap_or(0) == status.updated_replicas
            && old.available_replicas.unwrap_or(0) == status.available_replicas
            && old.current_revision.as_deref().unwrap_or_default() == status.current_revision
            && old.update_revision.as_deref().unwrap_or_default() == status.update_revision
            && old.collision_count.unwrap_or(0) == status.collision_count;
        if unchanged {
            return Ok(());
        }
        // Zero counts are left out as upstream's omitempty does (replicas and
        // availableReplicas are always written).
        let count = |n: i32| if n == 0 { Value::Null } else { json!(n) };
        let text = |s: &str| if s.is_empty() { Value::Null } else { json!(s) };
        let patch = json!({"status": {
            "observedGeneration": if status.observed_generation == 0 { Value::Null } else { json!(status.observed_generation) },
            "replicas": status.replicas,
            "readyReplicas": count(status.ready_replicas),
            "currentReplicas": count(status.current_replicas),
            "updatedReplicas": count(status.updated_replicas),
            "availableReplicas": status.available_replicas,
            "currentRevision": text(&status.current_revision),
            "updateRevision": text(&status.update_revision),
            "collisionCount": status.collision_count,
        }});
        let api: Api<StatefulSet> = self.api(set.metadata.namespace.as_deref().unwrap_or_default());
        match api.patch_status(&set.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => Ok(()),
            Err(e) if crate::api_reason(&e, 404) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Upstream's `truncateHistory`: revisions not used by the status or any pod, beyond
    /// `revisionHistoryLimit`, oldest first.
    async fn truncate_history(
        &self,
        plan: &Plan,
        pods: &[Arc<Pod>],
        revisions: &[ControllerRevision],
    ) -> Result<(), Error> {
        let limit = plan.set.spec.as_ref().and_then(|s| s.revision_history_limit).unwrap_or(10);
        if limit < 0 {
            return Ok(());
        }
        let mut live: HashSet<&str> = pods.iter().map(|p| revision_of(p)).collect();
        live.insert(plan.current_name());
        live.insert(plan.update_name());
        let history: Vec<&ControllerRevision> =
            revisions.iter().filter(|r| !live.contains(r.metadata.name.as_deref().unwrap_or_default())).collect();
        let excess = history.len().saturating_sub(limit as usize);
        let api: Api<ControllerRevision> = self.api(plan.ns());
        for rev in &history[..excess] {
            let params = DeleteParams {
                preconditions: Some(Preconditions { uid: rev.metadata.uid.clone(), resource_version: None }),
                ..Default::default()
            };
            match api.delete(&rev.name_any(), &params).await {
                Ok(_) => {}
                Err(e) if crate::api_reason(&e, 404) || crate::api_reason(&e, 409) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// The status a sync computes (upstream's `StatefulSetStatus` without conditions).
struct Status {
    observed_generation: i64,
    replicas: i32,
    ready_replicas: i32,
    available_replicas: i32,
    current_replicas: i32,
    updated_replicas: i32,
    current_revision: String,
    update_revision: String,
    collision_count: i32,
}

impl Status {
    fn new(plan: &Plan, collision_count: i32) -> Self {
        Status {
            observed_generation: plan.set.metadata.generation.unwrap_or(0),
            replicas: 0,
            ready_replicas: 0,
            available_replicas: 0,
            current_replicas: 0,
            updated_replicas: 0,
            current_revision: plan.current_name().into(),
            update_revision: plan.update_name().into(),
            collision_count,
        }
    }

    /// Upstream's `updateStatus`/`computeReplicaStatus`.
    fn count<'a>(&mut self, plan: &Plan, replicas: impl Iterator<Item = &'a Replica>) {
        (self.replicas, self.ready_replicas, self.available_replicas, self.current_replicas, self.updated_replicas) =
            (0, 0, 0, 0, 0);
        for r in replicas.filter(|r| created(r)) {
            let pod = r.pod();
            self.replicas += 1;
            if running_and_ready(pod) {
                self.ready_replicas += 1;
                if plan.available(pod) {
                    self.available_replicas += 1;
                }
            }
            if !terminating(pod) {
                let revision = revision_of(pod);
                if revision == plan.current_name() {
                    self.current_replicas += 1;
                }
                if revision == plan.update_name() {
                    self.updated_replicas += 1;
                }
            }
        }
    }

    fn counted<'a>(mut self, plan: &Plan, replicas: impl Iterator<Item = &'a Replica>) -> Self {
        self.count(plan, replicas);
        self
    }
}

fn set_selector(set: &StatefulSet) -> Option<Selector> {
    workloads::selector(&set.spec.as_ref()?.selector)
}

/// Upstream's `getStatefulSetMaxUnavailable`: a number, or a percentage of the replicas
/// rounded down, at least 1.
fn max_unavailable(value: &IntOrString, replicas: usize) -> usize {
    let n = match value {
        IntOrString::Int(n) => i64::from(*n),
        IntOrString::String(s) => {
            let percent: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
            percent * replicas as i64 / 100
        }
    };
    n.max(1) as usize
}

/// `strings.Title` of a verb.
fn title(verb: &str) -> String {
    let mut chars = verb.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_unavailable_rounds_down_to_at_least_one() {
        assert_eq!(max_unavailable(&IntOrString::Int(3), 10), 3);
        assert_eq!(max_unavailable(&IntOrString::String("25%".into()), 10), 2);
        assert_eq!(max_unavailable(&IntOrString::String("5%".into()), 10), 1);
        assert_eq!(max_unavailable(&IntOrString::Int(0), 10), 1);
    }

    #[test]
    fn verbs_are_titled_like_go() {
        assert_eq!(title("create"), "Create");
        assert_eq!(title("delete"), "Delete");
    }
}
