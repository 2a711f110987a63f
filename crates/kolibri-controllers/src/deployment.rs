//! Deployments (upstream's deployment-controller): a Deployment owns one ReplicaSet per pod
//! template, named `<deployment>-<pod-template-hash>`, and moves replicas from the old ones
//! to the new one:
//! - **RollingUpdate**: the new ReplicaSet grows while all pods stay within
//!   `replicas + maxSurge`, old ones shrink while available pods stay at or above
//!   `replicas - maxUnavailable` (percentages rounded as upstream: surge up, unavailable down);
//! - **Recreate**: old ReplicaSets go to zero, and once their pods are gone the new one is
//!   scaled up;
//! - scaling a Deployment mid-rollout spreads the change proportionally over its ReplicaSets;
//! - a paused Deployment only scales; `revisionHistoryLimit` old ReplicaSets are kept.
//!
//! Revisions live in the `deployment.kubernetes.io/revision` annotation of each ReplicaSet
//! (and of the Deployment), so `kubectl rollout history|undo` work as upstream. Status counts
//! come from the ReplicaSets' status; the `Available` and `Progressing` conditions (with the
//! progress deadline, a timer rather than a poll) and the `ScalingReplicaSet` events use
//! upstream's reasons and messages.
//!
//! The pod-template-hash has upstream's form (FNV-32a, encoded with the same alphabet), but is
//! computed over the template's JSON rather than Go's struct dump, so its value differs from
//! the one an upstream cluster would give the same template.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::core::Selector;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::events::{Recorder, NORMAL, WARNING};
use crate::informer::Change;
use crate::queue::{self, Backoff, Next, Queue};
use crate::replicaset::controller_ref;
use crate::workloads::{self, controller_of, key_of, split_key, Informers};
use crate::Error;

pub const NAME: &str = "deployment";
const COMPONENT: &str = "deployment-controller";
/// Upstream's `ConcurrentDeploymentSyncs`.
const WORKERS: usize = 5;

pub const HASH_LABEL: &str = "pod-template-hash";
pub const REVISION: &str = "deployment.kubernetes.io/revision";
const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// Deployment annotations that are not copied to its ReplicaSets.
const NOT_COPIED: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];
const MAX_REVISION_HISTORY_CHARS: usize = 2000;

// Condition types and reasons.
const AVAILABLE: &str = "Available";
const PROGRESSING: &str = "Progressing";
const REPLICA_FAILURE: &str = "ReplicaFailure";
const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
const RS_UPDATED: &str = "ReplicaSetUpdated";
const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
const TIMED_OUT: &str = "ProgressDeadlineExceeded";
const PAUSED: &str = "DeploymentPaused";
const RESUMED: &str = "DeploymentResumed";
const RS_CREATE_ERROR: &str = "ReplicaSetCreateError";

struct Controller {
    client: Client,
    deployments: Store<Deployment>,
    replica_sets: Store<ReplicaSet>,
    pods: Store<Pod>,
    recorder: Recorder,
    queue: Arc<Queue<String>>,
}

/// The ReplicaSets of one sync: the one matching the template, if any, and the others.
struct Sets {
    new: Option<ReplicaSet>,
    old: Vec<ReplicaSet>,
}

impl Sets {
    fn all(&self) -> Vec<&ReplicaSet> {
        self.old.iter().chain(self.new.as_ref()).collect()
    }
}

pub(crate) fn start(client: Client, informers: &Informers, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    let (deployments, replica_sets, pods) =
        (informers.deployments.get(), informers.replica_sets.get(), informers.pods.get());
    let ctl = Arc::new(Controller {
        recorder: Recorder::new(client.clone(), COMPONENT),
        client,
        deployments: deployments.store(),
        replica_sets: replica_sets.store(),
        pods: pods.store(),
        queue: Queue::new(Backoff::DEFAULT),
    });
    deployments.on_change({
        let queue = ctl.queue.clone();
        move |change| match change {
            Change::Applied { new, .. } => queue.add(key_of(&new.metadata)),
            Change::Deleted(old) => queue.add(key_of(&old.metadata)),
        }
    });
    replica_sets.on_change({
        let ctl = ctl.clone();
        move |change| match change {
            Change::Applied { old, new } => {
                if let Some(old) = old {
                    if controller_of(&old.metadata).map(|r| &r.uid) != controller_of(&new.metadata).map(|r| &r.uid) {
                        ctl.queue_owner(&old.metadata);
                    }
                }
                if !ctl.queue_owner(&new.metadata) {
                    let relabeled = old.as_ref().is_none_or(|o| o.metadata.labels != new.metadata.labels);
                    if relabeled && new.metadata.deletion_timestamp.is_none() {
                        ctl.queue_matching(&new.metadata);
                    }
                }
            }
            Change::Deleted(rs) => {
                ctl.queue_owner(&rs.metadata);
            }
        }
    });
    // Recreate waits for the old pods to be gone; their deletion is the signal.
    pods.on_change({
        let ctl = ctl.clone();
        move |change| {
            if let Change::Deleted(pod) = change {
                let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
                let Some(r) = controller_of(&pod.metadata).filter(|r| r.kind == "ReplicaSet") else { return };
                let Some(rs) = ctl.replica_sets.get(&ObjectRef::new(&r.name).within(ns)) else { return };
                let Some(d) = ctl.owner(&rs.metadata) else { return };
                let recreate = d.spec.as_ref().and_then(|s| s.strategy.as_ref()).and_then(|s| s.type_.as_deref());
                if recreate == Some("Recreate") {
                    ctl.queue.add(key_of(&d.metadata));
                }
            }
        }
    });
    let ready = futures::future::join3(deployments.synced(), replica_sets.synced(), pods.synced());
    let ready = async move {
        ready.await;
    };
    let queue = ctl.queue.clone();
    tokio::spawn(queue::serve(NAME, queue, WORKERS, ready, shutdown, move |key: String| {
        let ctl = ctl.clone();
        async move { ctl.sync(&key).await }
    }))
}

impl Controller {
    /// The Deployment controlling an object, if it is the one we know.
    fn owner(&self, meta: &ObjectMeta) -> Option<Arc<Deployment>> {
        let r = controller_of(meta).filter(|r| r.kind == "Deployment")?;
        let ns = meta.namespace.as_deref().unwrap_or_default();
        let d = self.deployments.get(&ObjectRef::new(&r.name).within(ns))?;
        (d.metadata.uid.as_deref() == Some(r.uid.as_str())).then_some(d)
    }

    fn queue_owner(&self, meta: &ObjectMeta) -> bool {
        match self.owner(meta) {
            Some(d) => {
                self.queue.add(key_of(&d.metadata));
                true
            }
            None => false,
        }
    }

    /// Deployments that could adopt an orphaned ReplicaSet.
    fn queue_matching(&self, meta: &ObjectMeta) {
        if controller_of(meta).is_some() {
            return;
        }
        for d in self.deployments.state() {
            if d.metadata.namespace == meta.namespace
                && d.spec
                    .as_ref()
                    .and_then(|s| workloads::selector(&s.selector))
                    .is_some_and(|s| workloads::matches(&s, meta))
            {
                self.queue.add(key_of(&d.metadata));
            }
        }
    }

    fn api<K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>>(
        &self,
        ns: &str,
    ) -> Api<K> {
        Api::namespaced(self.client.clone(), ns)
    }

    async fn sync(&self, key: &str) -> Result<Next, Error> {
        let (ns, name) = split_key(key);
        let Some(cached) = self.deployments.get(&ObjectRef::new(name).within(ns)) else { return Ok(Next::Done) };
        let mut d = (*cached).clone();
        let spec = d.spec.clone().unwrap_or_default();
        let Some(selector) = workloads::selector(&spec.selector) else {
            self.recorder.record(
                &d,
                WARNING,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.".into(),
            );
            let status = d.status.get_or_insert_with(Default::default);
            if status.observed_generation < d.metadata.generation {
                status.observed_generation = d.metadata.generation;
                self.write_status(&mut d).await?;
            }
            return Ok(Next::Done);
        };
        let rss = self.claim(&d, &selector).await?;
        if d.metadata.deletion_timestamp.is_some() {
            let sets = self.sets(&mut d, rss, false).await?;
            self.sync_status(&mut d, &sets).await?;
            return Ok(Next::Done);
        }
        self.check_paused(&mut d).await?;
        if spec.paused == Some(true) {
            return self.sync_scale(&mut d, rss).await;
        }
        if self.is_scaling_event(&mut d, &rss).await? {
            return self.sync_scale(&mut d, rss).await;
        }
        if is_recreate(&d) {
            self.rollout_recreate(&mut d, rss).await
        } else {
            self.rollout_rolling(&mut d, rss).await
        }
    }

    /// Upstream's `ClaimReplicaSets`: adopts matching orphans, releases owned ReplicaSets that
    /// stopped matching.
    async fn claim(&self, d: &Deployment, selector: &Selector) -> Result<Vec<ReplicaSet>, Error> {
        let ns = d.metadata.namespace.as_deref().unwrap_or_default();
        let uid = d.metadata.uid.clone().unwrap_or_default();
        let mut out = Vec::new();
        for rs in self.replica_sets.state() {
            if rs.metadata.namespace.as_deref() != Some(ns) {
                continue;
            }
            let matches = workloads::matches(selector, &rs.metadata);
            match controller_of(&rs.metadata) {
                Some(r) if r.uid == uid => {
                    if matches {
                        out.push((*rs).clone());
                    } else {
                        self.set_owners(&rs, |refs| refs.retain(|r| r.uid != uid)).await?;
                    }
                }
                Some(_) => {}
                None if matches
                    && d.metadata.deletion_timestamp.is_none()
                    && rs.metadata.deletion_timestamp.is_none() =>
                {
                    let r = controller_ref(d);
                    if let Some(adopted) = self.set_owners(&rs, |refs| refs.push(r)).await? {
                        out.push(adopted);
                    }
                }
                None => {}
            }
        }
        out.sort_by(by_creation);
        Ok(out)
    }

    async fn set_owners(
        &self,
        rs: &ReplicaSet,
        edit: impl FnOnce(&mut Vec<OwnerReference>),
    ) -> Result<Option<ReplicaSet>, Error> {
        let mut refs = rs.metadata.owner_references.clone().unwrap_or_default();
        edit(&mut refs);
        let patch = json!({"metadata": {
            "ownerReferences": if refs.is_empty() { Value::Null } else { json!(refs) },
            "resourceVersion": rs.metadata.resource_version,
            "uid": rs.metadata.uid,
        }});
        let api: Api<ReplicaSet> = self.api(rs.metadata.namespace.as_deref().unwrap_or_default());
        match api.patch(&rs.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(rs) => Ok(Some(rs)),
            Err(e) if crate::api_reason(&e, 404) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes the status (guarded by the resourceVersion); `d` becomes the stored object.
    async fn write_status(&self, d: &mut Deployment) -> Result<(), Error> {
        let api: Api<Deployment> = self.api(d.metadata.namespace.as_deref().unwrap_or_default());
        *d = api.replace_status(&d.name_any(), &PostParams::default(), d).await?;
        Ok(())
    }

    /// Sets the Deployment's revision annotation (a metadata write: the status subresource
    /// keeps metadata as it is).
    async fn set_revision(&self, d: &mut Deployment, revision: &str) -> Result<(), Error> {
        if d.annotations().get(REVISION).map(String::as_str) == Some(revision) {
            return Ok(());
        }
        let api: Api<Deployment> = self.api(d.metadata.namespace.as_deref().unwrap_or_default());
        let patch = json!({"metadata": {
            "annotations": { REVISION: revision },
            "resourceVersion": d.metadata.resource_version,
        }});
        let status = d.status.clone();
        *d = api.patch(&d.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
        // Keep conditions set in this sync but not written yet.
        d.status = status;
        Ok(())
    }

    async fn check_paused(&self, d: &mut Deployment) -> Result<(), Error> {
        if !has_progress_deadline(d) {
            return Ok(());
        }
        let paused = d.spec.as_ref().and_then(|s| s.paused) == Some(true);
        let status = d.status.get_or_insert_with(Default::default);
        let paused_cond = condition(status, PROGRESSING).is_some_and(|c| c.reason.as_deref() == Some(PAUSED));
        let update = if paused && !paused_cond {
            set_condition(status, new_condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused".into()));
            true
        } else if !paused && paused_cond {
            set_condition(status, new_condition(PROGRESSING, "Unknown", RESUMED, "Deployment is resumed".into()));
            true
        } else {
            false
        };
        if update {
            self.write_status(d).await?;
        }
        Ok(())
    }

    /// Upstream's `getAllReplicaSetsAndSyncRevision`.
    async fn sets(&self, d: &mut Deployment, mut rss: Vec<ReplicaSet>, create: bool) -> Result<Sets, Error> {
        let template = d.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
        let new_index = rss.iter().position(|rs| equal_ignore_hash(rs_template(rs), &template));
        let existing = new_index.map(|i| rss.remove(i));
        let new = self.new_replica_set(d, existing, &rss, create).await?;
        Ok(Sets { new, old: rss })
    }

    /// Upstream's `getNewReplicaSet`: brings the new ReplicaSet's annotations up to date, or
    /// creates it.
    async fn new_replica_set(
        &self,
        d: &mut Deployment,
        existing: Option<ReplicaSet>,
        old: &[ReplicaSet],
        create: bool,
    ) -> Result<Option<ReplicaSet>, Error> {
        let ns = d.metadata.namespace.clone().unwrap_or_default();
        let revision = (old.iter().map(revision_of).max().unwrap_or(0) + 1).to_string();
        let min_ready = d.spec.as_ref().and_then(|s| s.min_ready_seconds);
        let api: Api<ReplicaSet> = self.api(&ns);
        if let Some(rs) = existing {
            let mut copy = rs.clone();
            let annotated = set_new_rs_annotations(d, &mut copy, &revision, true);
            let spec = copy.spec.get_or_insert_with(Default::default);
            let min_ready_changed = spec.min_ready_seconds != min_ready;
            let copy = if annotated || min_ready_changed {
                spec.min_ready_seconds = min_ready;
                api.replace(&copy.name_any(), &PostParams::default(), &copy).await?
            } else {
                copy
            };
            let rs_revision = copy.annotations().get(REVISION).cloned().unwrap_or_default();
            self.set_revision(d, &rs_revision).await?;
            let deadline = has_progress_deadline(d);
            let status = d.status.get_or_insert_with(Default::default);
            if deadline && condition(status, PROGRESSING).is_none() {
                let message = format!("Found new replica set {:?}", copy.name_any());
                set_condition(status, new_condition(PROGRESSING, "True", FOUND_NEW_RS, message));
                self.write_status(d).await?;
            }
            return Ok(Some(copy));
        }
        if !create {
            return Ok(None);
        }

        let spec = d.spec.clone().unwrap_or_default();
        let collisions = d.status.as_ref().and_then(|s| s.collision_count);
        let hash = compute_hash(&spec.template, collisions);
        let mut template = spec.template.clone();
        template
            .metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(HASH_LABEL.into(), hash.clone());
        let mut selector = spec.selector.clone();
        selector.match_labels.get_or_insert_with(BTreeMap::new).insert(HASH_LABEL.into(), hash.clone());
        let name = format!("{}-{hash}", d.name_any());
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns.clone()),
                owner_references: Some(vec![controller_ref(d)]),
                labels: template.metadata.as_ref().and_then(|m| m.labels.clone()),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: min_ready,
                selector,
                template: Some(template),
            }),
            status: None,
        };
        let mut all: Vec<&ReplicaSet> = old.iter().collect();
        all.push(&rs);
        let replicas = new_rs_new_replicas(d, &all, &rs);
        if let Some(s) = rs.spec.as_mut() {
            s.replicas = Some(replicas);
        }
        set_new_rs_annotations(d, &mut rs, &revision, false);

        let mut already_existed = false;
        let created = match api.create(&PostParams::default(), &rs).await {
            Ok(created) => created,
            Err(e) if crate::api_reason(&e, 409) => {
                // Ours from an earlier sync (a lagging cache), or a hash collision.
                match api.get_opt(&name).await? {
                    Some(found)
                        if controller_of(&found.metadata).is_some_and(|r| Some(&r.uid) == d.metadata.uid.as_ref())
                            && equal_ignore_hash(rs_template(&found), &spec.template) =>
                    {
                        already_existed = true;
                        found
                    }
                    _ => {
                        let status = d.status.get_or_insert_with(Default::default);
                        status.collision_count = Some(status.collision_count.unwrap_or(0).saturating_add(1));
                        self.write_status(d).await?;
                        return Err(Error::Sync(format!(
                            "hash collision for replica set {name}; collisionCount raised"
                        )));
                    }
                }
            }
            Err(e) => {
                let message = format!("Failed to create new replica set {name:?}: {}", workloads::error_message(&e));
                if has_progress_deadline(d) {
                    let status = d.status.get_or_insert_with(Default::default);
                    set_condition(status, new_condition(PROGRESSING, "False", RS_CREATE_ERROR, message.clone()));
                    self.write_status(d).await?;
                }
                self.recorder.record(d, WARNING, RS_CREATE_ERROR, message.clone());
                return Err(Error::Sync(message));
            }
        };
        if !already_existed && replicas > 0 {
            self.recorder.record(
                d,
                NORMAL,
                "ScalingReplicaSet",
                format!("Scaled up replica set {name} from 0 to {replicas}"),
            );
        }
        self.set_revision(d, &revision).await?;
        if !already_existed && has_progress_deadline(d) {
            let status = d.status.get_or_insert_with(Default::default);
            set_condition(
                status,
                new_condition(PROGRESSING, "True", NEW_RS_CREATED, format!("Created new replica set {name:?}")),
            );
            self.write_status(d).await?;
        }
        Ok(Some(created))
    }

    /// Scales `rs` (and refreshes its replica annotations); returns whether its size changed.
    async fn scale(&self, d: &Deployment, rs: &mut ReplicaSet, to: i32) -> Result<bool, Error> {
        let from = replicas_of(rs);
        let replicas = d_replicas(d);
        let size_changed = from != to;
        let mut copy = rs.clone();
        let annotated = set_replicas_annotations(&mut copy, replicas, replicas + max_surge(d));
        if !size_changed && !annotated {
            return Ok(false);
        }
        copy.spec.get_or_insert_with(Default::default).replicas = Some(to);
        let api: Api<ReplicaSet> = self.api(rs.metadata.namespace.as_deref().unwrap_or_default());
        *rs = api.replace(&rs.name_any(), &PostParams::default(), &copy).await?;
        if size_changed {
            let direction = if from < to { "up" } else { "down" };
            let message = format!("Scaled {direction} replica set {} from {from} to {to}", rs.name_any());
            self.recorder.record(d, NORMAL, "ScalingReplicaSet", message);
        }
        Ok(size_changed)
    }

    async fn is_scaling_event(&self, d: &mut Deployment, rss: &[ReplicaSet]) -> Result<bool, Error> {
        let sets = self.sets(d, rss.to_vec(), false).await?;
        let replicas = d_replicas(d);
        Ok(sets
            .all()
            .into_iter()
            .filter(|rs| replicas_of(rs) > 0)
            .filter_map(|rs| rs.annotations().get(DESIRED_REPLICAS).and_then(|v| v.parse::<i32>().ok()))
            .any(|desired| desired != replicas))
    }

    /// A paused Deployment or a scaling event: only sizes change (upstream's `sync`).
    async fn sync_scale(&self, d: &mut Deployment, rss: Vec<ReplicaSet>) -> Result<Next, Error> {
        let mut sets = self.sets(d, rss, false).await?;
        self.scale_proportionally(d, &mut sets).await?;
        if d.spec.as_ref().and_then(|s| s.paused) == Some(true) {
            self.cleanup(d, &sets.old).await?;
        }
        self.sync_status(d, &sets).await?;
        Ok(Next::Done)
    }

    /// Upstream's `scale`: the only active ReplicaSet takes the new size; otherwise the
    /// difference is spread in proportion to the ReplicaSets' sizes.
    async fn scale_proportionally(&self, d: &Deployment, sets: &mut Sets) -> Result<(), Error> {
        let replicas = d_replicas(d);
        let active: Vec<usize> = (0..sets.old.len()).filter(|i| replicas_of(&sets.old[*i]) > 0).collect();
        let new_active = sets.new.as_ref().is_some_and(|rs| replicas_of(rs) > 0);
        // FindActiveOrLatest.
        if active.len() + usize::from(new_active) <= 1 && (sets.new.is_some() || !sets.old.is_empty()) {
            let target = if new_active || (active.is_empty() && sets.new.is_some()) {
                sets.new.as_mut()
            } else if let Some(i) = active.first() {
                sets.old.get_mut(*i)
            } else {
                // Nothing active: the largest (then newest) old one.
                sets.old.sort_by(|a, b| replicas_of(b).cmp(&replicas_of(a)).then_with(|| by_creation(b, a)));
                sets.old.first_mut()
            };
            if let Some(rs) = target {
                if replicas_of(rs) != replicas {
                    self.scale(d, rs, replicas).await?;
                }
            }
            return Ok(());
        }
        if sets.new.as_ref().is_some_and(|rs| is_saturated(d, rs)) {
            for rs in sets.old.iter_mut().filter(|rs| replicas_of(rs) > 0) {
                self.scale(d, rs, 0).await?;
            }
            return Ok(());
        }
        if !is_rolling(d) {
            return Ok(());
        }
        let mut all: Vec<&mut ReplicaSet> =
            sets.old.iter_mut().chain(sets.new.as_mut()).filter(|rs| replicas_of(rs) > 0).collect();
        let total: i32 = all.iter().map(|rs| replicas_of(rs)).sum();
        let allowed = if replicas > 0 { replicas + max_surge(d) } else { 0 };
        let to_add = allowed - total;
        if to_add > 0 {
            all.sort_by(|a, b| replicas_of(b).cmp(&replicas_of(a)).then_with(|| by_creation(b, a)));
        } else if to_add < 0 {
            all.sort_by(|a, b| replicas_of(b).cmp(&replicas_of(a)).then_with(|| by_creation(a, b)));
        }
        let mut added = 0;
        let mut sizes = Vec::with_capacity(all.len());
        for rs in &all {
            let proportion = if to_add != 0 { proportion(rs, d, to_add, added) } else { 0 };
            added += proportion;
            sizes.push(replicas_of(rs) + proportion);
        }
        for (i, rs) in all.into_iter().enumerate() {
            let mut size = sizes[i];
            if i == 0 && to_add != 0 {
                size = (size + to_add - added).max(0);
            }
            self.scale(d, rs, size).await?;
        }
        Ok(())
    }

    async fn rollout_rolling(&self, d: &mut Deployment, rss: Vec<ReplicaSet>) -> Result<Next, Error> {
        let mut sets = self.sets(d, rss, true).await?;
        if self.reconcile_new(d, &mut sets).await? {
            return self.sync_rollout_status(d, &sets).await;
        }
        if self.reconcile_old(d, &mut sets).await? {
            return self.sync_rollout_status(d, &sets).await;
        }
        if deployment_complete(d, d.status.as_ref().unwrap_or(&Default::default())) {
            self.cleanup(d, &sets.old).await?;
        }
        self.sync_rollout_status(d, &sets).await
    }

    async fn reconcile_new(&self, d: &Deployment, sets: &mut Sets) -> Result<bool, Error> {
        let replicas = d_replicas(d);
        let Some(new) = sets.new.as_ref() else { return Ok(false) };
        let current = replicas_of(new);
        if current == replicas {
            return Ok(false);
        }
        let target = if current > replicas { replicas } else { new_rs_new_replicas(d, &sets.all(), new) };
        let Some(new) = sets.new.as_mut() else { return Ok(false) };
        self.scale(d, new, target).await
    }

    /// Upstream's `reconcileOldReplicaSets`: first unhealthy old replicas, then as many old
    /// replicas as availability allows.
    async fn reconcile_old(&self, d: &Deployment, sets: &mut Sets) -> Result<bool, Error> {
        let old_pods: i32 = sets.old.iter().map(replicas_of).sum();
        if old_pods == 0 {
            return Ok(false);
        }
        let all_pods: i32 = sets.all().into_iter().map(replicas_of).sum();
        let min_available = d_replicas(d) - max_unavailable(d);
        let new_unavailable = sets.new.as_ref().map_or(0, |rs| replicas_of(rs) - available_of(rs));
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(false);
        }
        sets.old.sort_by(by_creation);
        // Old replicas that are not available cannot make things worse by going.
        let mut cleaned = 0;
        for rs in sets.old.iter_mut() {
            if cleaned >= max_scaled_down {
                break;
            }
            let (replicas, available) = (replicas_of(rs), available_of(rs));
            if replicas == 0 || replicas == available {
                continue;
            }
            let n = (max_scaled_down - cleaned).min(replicas - available);
            self.scale(d, rs, replicas - n).await?;
            cleaned += n;
        }
        // Then available ones, down to the minimum availability.
        let available: i32 = sets.all().into_iter().map(available_of).sum();
        let mut scaled = 0;
        if available > min_available {
            let total = available - min_available;
            for rs in sets.old.iter_mut() {
                if scaled >= total {
                    break;
                }
                let replicas = replicas_of(rs);
                if replicas == 0 {
                    continue;
                }
                let n = replicas.min(total - scaled);
                self.scale(d, rs, replicas - n).await?;
                scaled += n;
            }
        }
        Ok(cleaned + scaled > 0)
    }

    async fn rollout_recreate(&self, d: &mut Deployment, rss: Vec<ReplicaSet>) -> Result<Next, Error> {
        let mut sets = self.sets(d, rss, false).await?;
        let mut scaled_down = false;
        for rs in sets.old.iter_mut().filter(|rs| replicas_of(rs) > 0) {
            scaled_down |= self.scale(d, rs, 0).await?;
        }
        if scaled_down || self.old_pods_running(&sets) {
            return self.sync_rollout_status(d, &sets).await;
        }
        if sets.new.is_none() {
            let rss: Vec<ReplicaSet> = sets.old.drain(..).collect();
            sets = self.sets(d, rss, true).await?;
        }
        let replicas = d_replicas(d);
        if let Some(new) = sets.new.as_mut() {
            if self.scale(d, new, replicas).await? {
                return self.sync_rollout_status(d, &sets).await;
            }
        }
        if deployment_complete(d, d.status.as_ref().unwrap_or(&Default::default())) {
            self.cleanup(d, &sets.old).await?;
        }
        self.sync_rollout_status(d, &sets).await
    }

    fn old_pods_running(&self, sets: &Sets) -> bool {
        if sets.old.iter().map(|rs| rs.status.as_ref().map_or(0, |s| s.replicas)).sum::<i32>() > 0 {
            return true;
        }
        let old_uids: Vec<&str> = sets.old.iter().filter_map(|rs| rs.metadata.uid.as_deref()).collect();
        self.pods.state().iter().any(|p| {
            controller_of(&p.metadata).is_some_and(|r| old_uids.contains(&r.uid.as_str()))
                && !matches!(workloads::phase(p), "Succeeded" | "Failed")
        })
    }

    /// Deletes the oldest empty ReplicaSets beyond `revisionHistoryLimit`.
    async fn cleanup(&self, d: &Deployment, old: &[ReplicaSet]) -> Result<(), Error> {
        let Some(limit) = d.spec.as_ref().and_then(|s| s.revision_history_limit) else { return Ok(()) };
        let empty = |rs: &&ReplicaSet| {
            rs.metadata.deletion_timestamp.is_none()
                && replicas_of(rs) == 0
                && rs.status.as_ref().map_or(0, |s| s.replicas) == 0
                && rs.metadata.generation <= rs.status.as_ref().and_then(|s| s.observed_generation)
        };
        let mut cleanable: Vec<&ReplicaSet> = old.iter().filter(empty).collect();
        let excess = cleanable.len() as i64 - i64::from(limit.max(0));
        if excess <= 0 {
            return Ok(());
        }
        cleanable.sort_by_key(|rs| (revision_of(rs), rs.metadata.creation_timestamp.as_ref().map(|t| t.0)));
        let api: Api<ReplicaSet> = self.api(d.metadata.namespace.as_deref().unwrap_or_default());
        for rs in cleanable.into_iter().take(excess as usize) {
            let params = DeleteParams {
                preconditions: Some(Preconditions { uid: rs.metadata.uid.clone(), resource_version: None }),
                ..Default::default()
            };
            match api.delete(&rs.name_any(), &params).await {
                Ok(_) => tracing::debug!(replicaset = %rs.name_any(), "deleted an old replica set"),
                Err(e) if crate::api_reason(&e, 404) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Upstream's `syncDeploymentStatus`: counts only.
    async fn sync_status(&self, d: &mut Deployment, sets: &Sets) -> Result<(), Error> {
        let status = calculate_status(d, sets);
        if d.status.as_ref() != Some(&status) {
            d.status = Some(status);
            self.write_status(d).await?;
        }
        Ok(())
    }

    /// Upstream's `syncRolloutStatus`: counts and the Progressing condition; asks to look
    /// again when the progress deadline falls due.
    async fn sync_rollout_status(&self, d: &mut Deployment, sets: &Sets) -> Result<Next, Error> {
        let mut status = calculate_status(d, sets);
        let old_status = d.status.clone().unwrap_or_default();
        if !has_progress_deadline(d) {
            remove_condition(&mut status, PROGRESSING);
        }
        let current = condition(&old_status, PROGRESSING).cloned();
        let complete_before = status.replicas == status.updated_replicas
            && current.as_ref().is_some_and(|c| c.reason.as_deref() == Some(NEW_RS_AVAILABLE));
        let what = match &sets.new {
            Some(rs) => format!("ReplicaSet {:?}", rs.name_any()),
            None => format!("Deployment {:?}", d.name_any()),
        };
        if has_progress_deadline(d) && !complete_before {
            if deployment_complete(d, &status) {
                let c = new_condition(
                    PROGRESSING,
                    "True",
                    NEW_RS_AVAILABLE,
                    format!("{what} has successfully progressed."),
                );
                set_condition(&mut status, c);
            } else if deployment_progressing(&old_status, &status) {
                let mut c = new_condition(PROGRESSING, "True", RS_UPDATED, format!("{what} is progressing."));
                if let Some(cur) = &current {
                    if cur.status == "True" {
                        c.last_transition_time = cur.last_transition_time.clone();
                    }
                    remove_condition(&mut status, PROGRESSING);
                }
                set_condition(&mut status, c);
            } else if timed_out(d, &status) {
                let c = new_condition(PROGRESSING, "False", TIMED_OUT, format!("{what} has timed out progressing."));
                set_condition(&mut status, c);
            }
        }
        // A ReplicaSet's failure to create or delete pods is the Deployment's.
        let failure = sets
            .all()
            .into_iter()
            .filter_map(|rs| {
                rs.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == REPLICA_FAILURE).cloned()
            })
            .next();
        match failure {
            Some(c) => set_condition(
                &mut status,
                DeploymentCondition {
                    type_: REPLICA_FAILURE.into(),
                    status: c.status,
                    reason: c.reason,
                    message: c.message,
                    last_transition_time: c.last_transition_time.clone(),
                    last_update_time: c.last_transition_time,
                },
            ),
            None => remove_condition(&mut status, REPLICA_FAILURE),
        }
        if d.status.as_ref() != Some(&status) {
            d.status = Some(status);
            self.write_status(d).await?;
        }
        Ok(self.requeue_stuck(d))
    }

    /// When the progress deadline of an unfinished rollout falls due.
    fn requeue_stuck(&self, d: &Deployment) -> Next {
        let status = d.status.clone().unwrap_or_default();
        let Some(c) = condition(&status, PROGRESSING) else { return Next::Done };
        if !has_progress_deadline(d) || deployment_complete(d, &status) || c.reason.as_deref() == Some(TIMED_OUT) {
            return Next::Done;
        }
        let Some(from) = c.last_update_time.as_ref() else { return Next::Done };
        let deadline = i64::from(d.spec.as_ref().and_then(|s| s.progress_deadline_seconds).unwrap_or(600));
        let left = from.0.as_second() + deadline - Timestamp::now().as_second();
        Next::After(Duration::from_secs(left.max(1) as u64))
    }
}

fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> std::cmp::Ordering {
    let t = |rs: &ReplicaSet| rs.metadata.creation_timestamp.as_ref().map(|t| t.0);
    t(a).cmp(&t(b)).then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

fn d_replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn replicas_of(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

fn available_of(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0)
}

fn revision_of(rs: &ReplicaSet) -> i64 {
    rs.annotations().get(REVISION).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn rs_template(rs: &ReplicaSet) -> &PodTemplateSpec {
    static EMPTY: std::sync::OnceLock<PodTemplateSpec> = std::sync::OnceLock::new();
    rs.spec.as_ref().and_then(|s| s.template.as_ref()).unwrap_or_else(|| EMPTY.get_or_init(Default::default))
}

fn is_recreate(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.strategy.as_ref()).and_then(|s| s.type_.as_deref()) == Some("Recreate")
}

fn is_rolling(d: &Deployment) -> bool {
    !is_recreate(d)
}

fn has_progress_deadline(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.progress_deadline_seconds).is_some_and(|s| s != i32::MAX)
}

/// Templates equal but for the pod-template-hash label.
fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let strip = |t: &PodTemplateSpec| {
        let mut t = t.clone();
        if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            labels.remove(HASH_LABEL);
        }
        serde_json::to_value(t).unwrap_or(Value::Null)
    };
    strip(a) == strip(b)
}

/// The pod-template-hash: FNV-32a of the template (and the collision count), as a decimal
/// number encoded with upstream's `SafeEncodeString` alphabet.
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    let mut write = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u32::from(*b);
            hash = hash.wrapping_mul(0x0100_0193);
        }
    };
    write(&serde_json::to_vec(template).unwrap_or_default());
    if let Some(n) = collision_count {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&(n as u32).to_le_bytes());
        write(&bytes);
    }
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash.to_string().bytes().map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char).collect()
}

/// Upstream's `GetScaledValueFromIntOrPercent`.
fn scaled(value: Option<&IntOrString>, total: i32, round_up: bool, default_percent: i32) -> i32 {
    let percent = match value {
        Some(IntOrString::Int(n)) => return *n,
        Some(IntOrString::String(s)) => s.trim_end_matches('%').parse::<i32>().unwrap_or(0),
        None => default_percent,
    };
    let v = i64::from(percent) * i64::from(total);
    (if round_up { (v + 99).div_euclid(100) } else { v.div_euclid(100) }) as i32
}

/// Upstream's `ResolveFenceposts`: (surge, unavailable).
fn fenceposts(d: &Deployment) -> (i32, i32) {
    let ru = d.spec.as_ref().and_then(|s| s.strategy.as_ref()).and_then(|s| s.rolling_update.as_ref());
    let replicas = d_replicas(d);
    let surge = scaled(ru.and_then(|r| r.max_surge.as_ref()), replicas, true, 25);
    let unavailable = scaled(ru.and_then(|r| r.max_unavailable.as_ref()), replicas, false, 25);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

fn max_surge(d: &Deployment) -> i32 {
    if is_rolling(d) {
        fenceposts(d).0
    } else {
        0
    }
}

fn max_unavailable(d: &Deployment) -> i32 {
    let replicas = d_replicas(d);
    if !is_rolling(d) || replicas == 0 {
        return 0;
    }
    fenceposts(d).1.min(replicas)
}

/// Upstream's `NewRSNewReplicas`.
fn new_rs_new_replicas(d: &Deployment, all: &[&ReplicaSet], new: &ReplicaSet) -> i32 {
    let replicas = d_replicas(d);
    if !is_rolling(d) {
        return replicas;
    }
    let current: i32 = all.iter().map(|rs| replicas_of(rs)).sum();
    let max_total = replicas + max_surge(d);
    if current >= max_total {
        return replicas_of(new);
    }
    let up = (max_total - current).min(replicas - replicas_of(new));
    replicas_of(new) + up
}

fn is_saturated(d: &Deployment, rs: &ReplicaSet) -> bool {
    let replicas = d_replicas(d);
    let desired = rs.annotations().get(DESIRED_REPLICAS).and_then(|v| v.parse::<i32>().ok());
    desired == Some(replicas) && replicas_of(rs) == replicas && available_of(rs) == replicas
}

/// Upstream's `GetProportion`.
fn proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    if replicas_of(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = {
        let replicas = d_replicas(d);
        if replicas == 0 {
            -replicas_of(rs)
        } else {
            let deployment_replicas = replicas + max_surge(d);
            let annotated = rs
                .annotations()
                .get(MAX_REPLICAS)
                .and_then(|v| v.parse::<i32>().ok())
                .unwrap_or_else(|| d.status.as_ref().map_or(0, |s| s.replicas.unwrap_or(0)));
            if annotated == 0 {
                0
            } else {
                let size = f64::from(replicas_of(rs)) * f64::from(deployment_replicas) / f64::from(annotated);
                size.round() as i32 - replicas_of(rs)
            }
        }
    };
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let annotations = rs.annotations_mut();
    let mut changed = false;
    for (key, value) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
        let value = value.to_string();
        if annotations.get(key) != Some(&value) {
            annotations.insert(key.into(), value);
            changed = true;
        }
    }
    changed
}

/// Upstream's `SetNewReplicaSetAnnotations`: the Deployment's annotations, the revision
/// (and the revisions it had before, when an old ReplicaSet becomes the new one again), and
/// for a new ReplicaSet the replica annotations.
fn set_new_rs_annotations(d: &Deployment, rs: &mut ReplicaSet, revision: &str, exists: bool) -> bool {
    let mut changed = false;
    let copied: Vec<(String, String)> = d
        .annotations()
        .iter()
        .filter(|(k, _)| !NOT_COPIED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let annotations = rs.annotations_mut();
    for (k, v) in copied {
        if annotations.get(&k) != Some(&v) {
            annotations.insert(k, v);
            changed = true;
        }
    }
    let old = annotations.get(REVISION).cloned();
    let old_number = match old.as_deref().map(str::parse::<i64>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return changed,
    };
    let Ok(new_number) = revision.parse::<i64>() else { return changed };
    if old_number < new_number {
        annotations.insert(REVISION.into(), revision.into());
        changed = true;
        if let Some(old) = old {
            let history = annotations.get(REVISION_HISTORY).cloned().unwrap_or_default();
            if history.is_empty() {
                annotations.insert(REVISION_HISTORY.into(), old);
            } else {
                let mut revisions: Vec<&str> = history.split(',').collect();
                let mut total = history.len() + old.len() + 1;
                while total > MAX_REVISION_HISTORY_CHARS && !revisions.is_empty() {
                    total -= revisions.remove(0).len() + 1;
                }
                if total <= MAX_REVISION_HISTORY_CHARS {
                    revisions.push(&old);
                    let joined = revisions.join(",");
                    annotations.insert(REVISION_HISTORY.into(), joined);
                }
            }
        }
    }
    if !exists {
        let replicas = d_replicas(d);
        changed |= set_replicas_annotations(rs, replicas, replicas + max_surge(d));
    }
    changed
}

fn calculate_status(d: &Deployment, sets: &Sets) -> DeploymentStatus {
    let all = sets.all();
    let status_of = |rs: &ReplicaSet| rs.status.clone().unwrap_or_default();
    let available: i32 = all.iter().map(|rs| available_of(rs)).sum();
    let total: i32 = all.iter().map(|rs| replicas_of(rs)).sum();
    let replicas: i32 = all.iter().map(|rs| status_of(rs).replicas).sum();
    let ready: i32 = all.iter().map(|rs| status_of(rs).ready_replicas.unwrap_or(0)).sum();
    let updated = sets.new.as_ref().map_or(0, |rs| status_of(rs).replicas);
    let nonzero = |n: i32| (n != 0).then_some(n);
    let old = d.status.clone().unwrap_or_default();
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: nonzero(replicas),
        updated_replicas: nonzero(updated),
        ready_replicas: nonzero(ready),
        available_replicas: nonzero(available),
        unavailable_replicas: nonzero((total - available).max(0)),
        collision_count: old.collision_count,
        conditions: old.conditions.clone(),
        terminating_replicas: old.terminating_replicas,
    };
    let condition = if available >= d_replicas(d) - max_unavailable(d) {
        new_condition(AVAILABLE, "True", "MinimumReplicasAvailable", "Deployment has minimum availability.".into())
    } else {
        new_condition(
            AVAILABLE,
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.".into(),
        )
    };
    set_condition(&mut status, condition);
    status
}

fn deployment_complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let replicas = d_replicas(d);
    s.updated_replicas.unwrap_or(0) == replicas
        && s.replicas.unwrap_or(0) == replicas
        && s.available_replicas.unwrap_or(0) == replicas
        && s.observed_generation >= d.metadata.generation
}

fn deployment_progressing(old: &DeploymentStatus, new: &DeploymentStatus) -> bool {
    let n = |v: Option<i32>| v.unwrap_or(0);
    let old_old = n(old.replicas) - n(old.updated_replicas);
    let new_old = n(new.replicas) - n(new.updated_replicas);
    n(new.updated_replicas) > n(old.updated_replicas)
        || new_old < old_old
        || n(new.ready_replicas) > n(old.ready_replicas)
        || n(new.available_replicas) > n(old.available_replicas)
}

fn timed_out(d: &Deployment, s: &DeploymentStatus) -> bool {
    let Some(c) = condition(s, PROGRESSING) else { return false };
    match c.reason.as_deref() {
        Some(NEW_RS_AVAILABLE) => return false,
        Some(TIMED_OUT) => return true,
        _ => {}
    }
    let Some(from) = c.last_update_time.as_ref() else { return false };
    let deadline = i64::from(d.spec.as_ref().and_then(|s| s.progress_deadline_seconds).unwrap_or(600));
    from.0.as_second() + deadline < Timestamp::now().as_second()
}

fn condition<'a>(s: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    s.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

fn new_condition(type_: &str, status: &str, reason: &str, message: String) -> DeploymentCondition {
    let now = Time(workloads::now());
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(now.clone()),
        last_transition_time: Some(now),
    }
}

/// Upstream's `SetDeploymentCondition`: same status and reason change nothing; same status
/// keeps the transition time.
fn set_condition(s: &mut DeploymentStatus, mut c: DeploymentCondition) {
    if let Some(cur) = condition(s, &c.type_) {
        if cur.status == c.status && cur.reason == c.reason {
            return;
        }
        if cur.status == c.status {
            c.last_transition_time = cur.last_transition_time.clone();
        }
    }
    remove_condition(s, &c.type_.clone());
    s.conditions.get_or_insert_with(Vec::new).push(c);
}

fn remove_condition(s: &mut DeploymentStatus, type_: &str) {
    if let Some(conditions) = s.conditions.as_mut() {
        conditions.retain(|c| c.type_ != type_);
        if conditions.is_empty() {
            s.conditions = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};

    fn deployment(replicas: i32, surge: IntOrString, unavailable: IntOrString) -> Deployment {
        Deployment {
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                strategy: Some(DeploymentStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDeployment {
                        max_surge: Some(surge),
                        max_unavailable: Some(unavailable),
                    }),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn fenceposts_round_as_upstream() {
        let pct = |s: &str| IntOrString::String(s.into());
        // 25% of 10: surge rounds up to 3, unavailable down to 2.
        let d = deployment(10, pct("25%"), pct("25%"));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (3, 2));
        // Both zero after rounding: one may be unavailable.
        let d = deployment(1, IntOrString::Int(0), pct("25%"));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (0, 1));
        let d = deployment(3, IntOrString::Int(0), IntOrString::Int(5));
        assert_eq!(max_unavailable(&d), 3);
    }

    #[test]
    fn hashes_use_the_safe_alphabet_and_change_with_collisions() {
        let t = PodTemplateSpec::default();
        let h = compute_hash(&t, None);
        assert!(!h.is_empty() && h.len() <= 10);
        assert!(h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
        assert_eq!(h, compute_hash(&t, None));
        assert_ne!(h, compute_hash(&t, Some(1)));
    }

    #[test]
    fn new_replica_set_grows_within_the_surge() {
        let d = deployment(10, IntOrString::Int(3), IntOrString::Int(2));
        let rs = |n: i32| ReplicaSet {
            spec: Some(ReplicaSetSpec { replicas: Some(n), ..Default::default() }),
            ..Default::default()
        };
        let (old, new) = (rs(10), rs(0));
        assert_eq!(new_rs_new_replicas(&d, &[&old, &new], &new), 3);
        let (old, new) = (rs(8), rs(3));
        assert_eq!(new_rs_new_replicas(&d, &[&old, &new], &new), 5);
        let (old, new) = (rs(10), rs(3));
        assert_eq!(new_rs_new_replicas(&d, &[&old, &new], &new), 3);
    }

    #[test]
    fn revision_history_is_kept_when_an_old_set_comes_back() {
        let d = Deployment::default();
        let mut rs = ReplicaSet::default();
        rs.annotations_mut().insert(REVISION.into(), "1".into());
        assert!(set_new_rs_annotations(&d, &mut rs, "3", true));
        assert_eq!(rs.annotations().get(REVISION).map(String::as_str), Some("3"));
        assert_eq!(rs.annotations().get(REVISION_HISTORY).map(String::as_str), Some("1"));
        assert!(set_new_rs_annotations(&d, &mut rs, "5", true));
        assert_eq!(rs.annotations().get(REVISION_HISTORY).map(String::as_str), Some("1,3"));
        assert!(!set_new_rs_annotations(&d, &mut rs, "5", true));
    }

    #[test]
    fn conditions_keep_times_for_the_same_status_and_reason() {
        let mut s = DeploymentStatus::default();
        let mut c = new_condition(PROGRESSING, "True", RS_UPDATED, "a".into());
        c.last_transition_time = Some(Time(Timestamp::from_second(1).unwrap()));
        set_condition(&mut s, c);
        set_condition(&mut s, new_condition(PROGRESSING, "True", RS_UPDATED, "b".into()));
        assert_eq!(condition(&s, PROGRESSING).unwrap().message.as_deref(), Some("a"));
        set_condition(&mut s, new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE, "c".into()));
        let c = condition(&s, PROGRESSING).unwrap();
        assert_eq!(c.last_transition_time.as_ref().unwrap().0.as_second(), 1);
        assert_eq!(c.reason.as_deref(), Some(NEW_RS_AVAILABLE));
    }
}
