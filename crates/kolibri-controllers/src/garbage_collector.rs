//! The garbage collector (upstream's garbage-collector-controller): deletes objects whose
//! owners (`metadata.ownerReferences`) are gone, across every kind the server serves.
//!
//! - **Background**: the owner is deleted at once; its dependents then have a dangling
//!   reference and are deleted here.
//! - **Foreground**: the owner keeps a `foregroundDeletion` finalizer; its dependents are
//!   deleted first, and the finalizer is removed once no dependent with
//!   `blockOwnerDeletion: true` is left.
//! - **Orphan**: the owner keeps an `orphan` finalizer; the references to it are removed
//!   from its dependents, then the finalizer.
//! - **Dangling references** (no such owner, or one with another uid) make the dependent
//!   garbage, unless another owner still exists.
//!
//! Every deletable kind is watched as metadata only (one informer per kind); the owner →
//! dependents graph is built from those events. Decisions are taken on the live object
//! (and a live read of any owner the graph does not know), as upstream does, so a stale
//! cache never deletes anything that should stay. Custom resource definitions changing
//! trigger a new discovery, so new kinds are watched without polling.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::core::{DynamicObject, PartialObjectMeta};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::discovery::{self, Resource};
use crate::informer::{Change, Informer};
use crate::queue::{Backoff, Queue};
use crate::Error;

pub const NAME: &str = "garbage-collector";
const FOREGROUND: &str = "foregroundDeletion";
const ORPHAN: &str = "orphan";
const WORKERS: usize = 4;
/// How long the collector waits for all kinds' first lists before it starts anyway (a
/// broken kind must not stop collection of the others).
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

type Meta = PartialObjectMeta<DynamicObject>;
/// The informers of the watched kinds by (group, kind): the task, and the sender whose
/// drop stops it.
type Watched = HashMap<(String, String), (JoinHandle<()>, watch::Sender<bool>)>;

/// Keeps of an object's metadata only what the graph is built from (identity, owners,
/// finalizers, deletion) and what tells a re-list's unchanged objects apart: the cache of
/// every object of every kind then holds a few hundred bytes per object.
fn prune_meta(meta: &mut Meta) {
    let m = &mut meta.metadata;
    m.labels = None;
    m.annotations = None;
    m.creation_timestamp = None;
    m.generation = None;
    m.generate_name = None;
}

/// An object: its kind by group and kind (any served version reads it), and its identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct ObjId {
    group: String,
    kind: String,
    namespace: Option<String>,
    name: String,
    uid: String,
}

impl fmt::Display for ObjId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.group.is_empty() { self.kind.clone() } else { format!("{}.{}", self.kind, self.group) };
        match &self.namespace {
            Some(ns) => write!(f, "{kind} {ns}/{}", self.name),
            None => write!(f, "{kind} {}", self.name),
        }
    }
}

/// Work: look at a dependent (may it be deleted?) or at an owner being deleted with a
/// foreground or orphan finalizer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Item {
    Dependent(ObjId),
    Owner(ObjId),
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::Dependent(id) => write!(f, "dependent {id}"),
            Item::Owner(id) => write!(f, "owner {id}"),
        }
    }
}

struct Node {
    id: ObjId,
    /// Owner uid and whether the reference blocks the owner's foreground deletion.
    owners: Vec<(String, bool)>,
    deleting: bool,
    deleting_dependents: bool,
    orphaning: bool,
}

#[derive(Default)]
struct Graph {
    nodes: HashMap<String, Node>,
    /// Owner uid → dependents' uids (the owner itself may be unknown or gone).
    dependents: HashMap<String, HashSet<String>>,
}

impl Graph {
    fn unlink(&mut self, dependent: &str, owners: &[(String, bool)]) {
        for (owner, _) in owners {
            if let Some(set) = self.dependents.get_mut(owner) {
                set.remove(dependent);
                if set.is_empty() {
                    self.dependents.remove(owner);
                }
            }
        }
    }

    fn dependents_of(&self, owner: &str) -> Vec<&Node> {
        self.dependents.get(owner).into_iter().flatten().filter_map(|uid| self.nodes.get(uid)).collect()
    }
}

/// Whether an owner keeps its dependent.
enum OwnerState {
    Solid,
    Absent,
    /// Being deleted in the foreground: waiting for its dependents.
    Waiting,
}

struct Collector {
    client: Client,
    graph: Mutex<Graph>,
    /// Served resources by (group, kind).
    resources: RwLock<HashMap<(String, String), Resource>>,
    queue: Arc<Queue<Item>>,
}

/// Runs the collector until `shutdown`.
pub(crate) async fn run(client: Client, mut shutdown: watch::Receiver<bool>) {
    let gc = Arc::new(Collector {
        client: client.clone(),
        graph: Mutex::default(),
        resources: RwLock::default(),
        queue: Queue::new(Backoff::DEFAULT),
    });
    let rediscover = Arc::new(Notify::new());
    let mut watched = Watched::new();
    let mut workers: Option<JoinHandle<()>> = None;
    let mut failures = 0u32;
    loop {
        match discovery::preferred(&client).await {
            Ok(found) => {
                failures = 0;
                if let Some(message) = found.failure_message() {
                    tracing::warn!(controller = NAME, "{message}");
                }
                let stores = gc.watch_kinds(&found.resources, &mut watched, &rediscover);
                if workers.is_none() {
                    let ready = async move {
                        futures::future::join_all(stores).await;
                    };
                    tokio::select! {
                        r = tokio::time::timeout(SYNC_TIMEOUT, ready) => if r.is_err() {
                            tracing::warn!(controller = NAME, "not every kind was listed in time; starting anyway");
                        },
                        _ = crate::stopped(&mut shutdown) => break,
                    }
                    tracing::info!(controller = NAME, kinds = watched.len(), "caches filled; controller started");
                    let gc = gc.clone();
                    workers =
                        Some(tokio::spawn(crate::queue::run_workers(NAME, gc.queue.clone(), WORKERS, move |item| {
                            let gc = gc.clone();
                            async move { gc.process(item).await }
                        })));
                }
            }
            Err(e) => {
                let delay = Backoff { base: Duration::from_millis(500), max: Duration::from_secs(60) }.delay(failures);
                failures = failures.saturating_add(1);
                tracing::warn!(controller = NAME, error = %e, retry_in_ms = delay.as_millis() as u64, "discovery failed");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => continue,
                    _ = crate::stopped(&mut shutdown) => break,
                }
            }
        }
        tokio::select! {
            _ = rediscover.notified() => {
                // Let a burst of definition changes settle into one discovery.
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            _ = crate::stopped(&mut shutdown) => break,
        }
    }
    gc.queue.shut_down();
    let tasks: Vec<JoinHandle<()>> = watched.into_values().map(|(task, _stop)| task).collect();
    for task in tasks.into_iter().chain(workers) {
        let _ = task.await;
    }
}

impl Collector {
    /// Starts informers for deletable kinds not watched yet, stops those no longer served;
    /// returns the caches of the new ones.
    fn watch_kinds(
        self: &Arc<Self>,
        resources: &[Resource],
        watched: &mut Watched,
        rediscover: &Arc<Notify>,
    ) -> Vec<impl std::future::Future<Output = ()> + Send + 'static> {
        let by_kind: HashMap<(String, String), Resource> =
            resources.iter().map(|r| ((r.ar.group.clone(), r.ar.kind.clone()), r.clone())).collect();
        let deletable: HashSet<(String, String)> = by_kind
            .iter()
            .filter(|(_, r)| ["list", "watch", "delete"].iter().all(|v| r.supports(v)))
            .map(|(k, _)| k.clone())
            .collect();
        *self.resources.write().unwrap_or_else(|p| p.into_inner()) = by_kind.clone();
        let mut dropped = HashSet::new();
        watched.retain(|kind, _| {
            let keep = deletable.contains(kind);
            if !keep {
                tracing::info!(controller = NAME, kind = %kind.1, group = %kind.0, "kind no longer served; not watched");
                dropped.insert(kind.clone());
            }
            keep
        });
        if !dropped.is_empty() {
            // Objects of a kind that is no longer served are gone with it.
            let mut graph = self.graph.lock().unwrap_or_else(|p| p.into_inner());
            let gone: Vec<(String, Vec<(String, bool)>)> = graph
                .nodes
                .iter()
                .filter(|(_, n)| dropped.contains(&(n.id.group.clone(), n.id.kind.clone())))
                .map(|(uid, n)| (uid.clone(), n.owners.clone()))
                .collect();
            for (uid, owners) in gone {
                graph.nodes.remove(&uid);
                graph.unlink(&uid, &owners);
            }
        }
        let mut stores = Vec::new();
        for kind in deletable {
            if watched.contains_key(&kind) {
                continue;
            }
            let Some(resource) = by_kind.get(&kind) else { continue };
            let ar = resource.ar.clone();
            let name = format!("{}.{} metadata", ar.plural, ar.group);
            let informer = Informer::<Meta>::pruned(name, ar.clone(), Some(prune_meta));
            let crds = ar.group == "apiextensions.k8s.io" && ar.kind == "CustomResourceDefinition";
            informer.on_change({
                let gc = self.clone();
                let rediscover = rediscover.clone();
                let (group, kind) = kind.clone();
                move |change| {
                    gc.observe(&group, &kind, change);
                    if crds {
                        rediscover.notify_one();
                    }
                }
            });
            let (stop_tx, stop_rx) = watch::channel(false);
            let api: Api<Meta> = Api::all_with(self.client.clone(), &ar);
            let events = watcher(api, watcher::Config::default()).default_backoff();
            if let Some(task) = informer.start(events, stop_rx) {
                stores.push(informer.synced());
                watched.insert(kind, (task, stop_tx));
            }
        }
        stores
    }

    /// Updates the graph from one change and queues the work it implies.
    fn observe(&self, group: &str, kind: &str, change: &Change<Meta>) {
        let mut graph = self.graph.lock().unwrap_or_else(|p| p.into_inner());
        match change {
            Change::Applied { new, .. } => {
                let Some(uid) = new.uid() else { return };
                let id = ObjId {
                    group: group.into(),
                    kind: kind.into(),
                    namespace: new.namespace(),
                    name: new.name_any(),
                    uid: uid.clone(),
                };
                let finalizers = new.finalizers();
                let deleting = new.metadata.deletion_timestamp.is_some();
                let node = Node {
                    owners: new
                        .owner_references()
                        .iter()
                        .map(|r| (r.uid.clone(), r.block_owner_deletion == Some(true)))
                        .collect(),
                    deleting,
                    deleting_dependents: deleting && finalizers.iter().any(|f| f == FOREGROUND),
                    orphaning: deleting && finalizers.iter().any(|f| f == ORPHAN),
                    id: id.clone(),
                };
                let previous = graph.nodes.remove(&uid);
                if let Some(prev) = &previous {
                    graph.unlink(&uid, &prev.owners);
                }
                for (owner, _) in &node.owners {
                    graph.dependents.entry(owner.clone()).or_default().insert(uid.clone());
                }
                let owners_changed = previous.as_ref().is_none_or(|p| p.owners != node.owners);
                if !node.owners.is_empty() && owners_changed {
                    self.queue.add(Item::Dependent(id.clone()));
                }
                // An owner waiting for this object no longer needs to when the blocking
                // reference went away.
                for (owner, block) in previous.iter().flat_map(|p| p.owners.iter()) {
                    if *block && !node.owners.contains(&(owner.clone(), true)) {
                        if let Some(owner) = graph.nodes.get(owner).filter(|o| o.deleting_dependents) {
                            self.queue.add(Item::Owner(owner.id.clone()));
                        }
                    }
                }
                let newly_deleting = |f: fn(&Node) -> bool| f(&node) && previous.as_ref().is_none_or(|p| !f(p));
                if newly_deleting(|n| n.deleting_dependents) || newly_deleting(|n| n.orphaning) {
                    self.queue.add(Item::Owner(id));
                }
                graph.nodes.insert(uid, node);
            }
            Change::Deleted(old) => {
                let Some(uid) = old.uid() else { return };
                let Some(node) = graph.nodes.remove(&uid) else { return };
                graph.unlink(&uid, &node.owners);
                // Owners waiting for this dependent look again.
                for (owner, _) in &node.owners {
                    if let Some(owner) = graph.nodes.get(owner).filter(|o| o.deleting_dependents) {
                        self.queue.add(Item::Owner(owner.id.clone()));
                    }
                }
                // Its dependents now have a dangling reference.
                for dependent in graph.dependents_of(&uid) {
                    self.queue.add(Item::Dependent(dependent.id.clone()));
                }
            }
        }
    }

    fn resource(&self, group: &str, kind: &str) -> Option<Resource> {
        self.resources.read().unwrap_or_else(|p| p.into_inner()).get(&(group.to_string(), kind.to_string())).cloned()
    }

    fn api(&self, id: &ObjId) -> Result<Api<DynamicObject>, Error> {
        let r = self
            .resource(&id.group, &id.kind)
            .ok_or_else(|| Error::Sync(format!("the server does not serve the kind of {id}")))?;
        Ok(match (&id.namespace, r.namespaced) {
            (Some(ns), true) => Api::namespaced_with(self.client.clone(), ns, &r.ar),
            _ => Api::all_with(self.client.clone(), &r.ar),
        })
    }

    async fn process(self: Arc<Self>, item: Item) -> Result<crate::queue::Next, Error> {
        let (Item::Dependent(id) | Item::Owner(id)) = &item;
        if self.resource(&id.group, &id.kind).is_none() {
            // Its kind is no longer served, so neither is the object.
            return Ok(crate::queue::Next::Done);
        }
        match &item {
            Item::Dependent(id) => self.attempt_to_delete(id).await?,
            Item::Owner(id) => self.process_owner(id).await?,
        }
        Ok(crate::queue::Next::Done)
    }

    /// Deletes `id` if none of its owners keeps it.
    async fn attempt_to_delete(&self, id: &ObjId) -> Result<(), Error> {
        {
            let graph = self.graph.lock().unwrap_or_else(|p| p.into_inner());
            match graph.nodes.get(&id.uid) {
                None => return Ok(()),
                // Already going, and not waiting for dependents of its own.
                Some(n) if n.deleting && !n.deleting_dependents => return Ok(()),
                Some(_) => {}
            }
        }
        let api = self.api(id)?;
        let Some(latest) = api.get_metadata_opt(&id.name).await? else { return Ok(()) };
        if latest.uid().as_deref() != Some(id.uid.as_str()) {
            return Ok(());
        }
        if latest.metadata.deletion_timestamp.is_some() && latest.finalizers().iter().any(|f| f == FOREGROUND) {
            return self.process_owner(id).await;
        }
        let refs = latest.owner_references().to_vec();
        if refs.is_empty() {
            return Ok(());
        }
        let (mut solid, mut gone, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
        for r in &refs {
            match self.owner_state(r, id).await? {
                OwnerState::Solid => solid.push(r.uid.clone()),
                OwnerState::Absent => gone.push(r.uid.clone()),
                OwnerState::Waiting => waiting.push(r.uid.clone()),
            }
        }
        if !solid.is_empty() {
            if gone.is_empty() && waiting.is_empty() {
                return Ok(());
            }
            // Still owned: only the references to gone or foreground-deleting owners go
            // (else those owners would wait for this object forever).
            let drop: Vec<String> = gone.into_iter().chain(waiting).collect();
            tracing::info!(controller = NAME, object = %id, "removing references to owners that are gone or being deleted");
            return self.remove_owner_references(id, &drop).await;
        }
        let has_dependents = {
            let graph = self.graph.lock().unwrap_or_else(|p| p.into_inner());
            graph.dependents.get(&id.uid).is_some_and(|d| !d.is_empty())
        };
        let params = if !waiting.is_empty() && has_dependents {
            // Its owner waits for it in the foreground: so do its own dependents.
            DeleteParams::foreground()
        } else if latest.finalizers().iter().any(|f| f == ORPHAN) {
            DeleteParams::orphan()
        } else if latest.finalizers().iter().any(|f| f == FOREGROUND) {
            DeleteParams::foreground()
        } else {
            DeleteParams::background()
        };
        let params = DeleteParams {
            preconditions: Some(Preconditions { uid: Some(id.uid.clone()), resource_version: None }),
            ..params
        };
        tracing::info!(controller = NAME, object = %id, "deleting an object whose owners are gone or being deleted");
        match api.delete(&id.name, &params).await {
            Ok(_) => Ok(()),
            // Gone already, or replaced by an object of the same name (uid precondition).
            Err(e) if crate::api_reason(&e, 404) || crate::api_reason(&e, 409) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the owner `r` of `dependent` exists (with that uid) and how.
    async fn owner_state(&self, r: &OwnerReference, dependent: &ObjId) -> Result<OwnerState, Error> {
        {
            let graph = self.graph.lock().unwrap_or_else(|p| p.into_inner());
            if graph.nodes.get(&r.uid).is_some_and(|n| !n.deleting) {
                return Ok(OwnerState::Solid);
            }
        }
        let group = r.api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or_default();
        let resource = self.resource(group, &r.kind).ok_or_else(|| {
            Error::Sync(format!("owner of {dependent}: the server does not serve {} {}", r.api_version, r.kind))
        })?;
        let api: Api<DynamicObject> = match (resource.namespaced, &dependent.namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &resource.ar),
            // A cluster-scoped object cannot be owned by a namespaced one: upstream treats
            // the reference as dangling.
            (true, None) => return Ok(OwnerState::Absent),
            (false, _) => Api::all_with(self.client.clone(), &resource.ar),
        };
        let Some(owner) = api.get_metadata_opt(&r.name).await? else { return Ok(OwnerState::Absent) };
        if owner.uid().as_deref() != Some(r.uid.as_str()) {
            return Ok(OwnerState::Absent);
        }
        if owner.metadata.deletion_timestamp.is_some() && owner.finalizers().iter().any(|f| f == FOREGROUND) {
            return Ok(OwnerState::Waiting);
        }
        Ok(OwnerState::Solid)
    }

    /// An owner being deleted with the `orphan` or `foregroundDeletion` finalizer.
    async fn process_owner(&self, id: &ObjId) -> Result<(), Error> {
        let api = self.api(id)?;
        let Some(latest) = api.get_metadata_opt(&id.name).await? else { return Ok(()) };
        if latest.uid().as_deref() != Some(id.uid.as_str()) || latest.metadata.deletion_timestamp.is_none() {
            return Ok(());
        }
        let finalizers = latest.finalizers().to_vec();
        let dependents: Vec<(ObjId, bool, bool)> = {
            let graph = self.graph.lock().unwrap_or_else(|p| p.into_inner());
            graph
                .dependents_of(&id.uid)
                .into_iter()
                .map(|n| {
                    let blocks = n.owners.iter().any(|(o, block)| *o == id.uid && *block);
                    (n.id.clone(), blocks, n.deleting)
                })
                .collect()
        };
        if finalizers.iter().any(|f| f == ORPHAN) {
            for (dependent, _, _) in &dependents {
                self.remove_owner_references(dependent, std::slice::from_ref(&id.uid)).await?;
            }
            tracing::info!(controller = NAME, object = %id, dependents = dependents.len(), "orphaned the dependents");
            return self.remove_finalizer(id, ORPHAN).await;
        }
        if finalizers.iter().any(|f| f == FOREGROUND) {
            for (dependent, _, deleting) in &dependents {
                if !deleting {
                    self.queue.add(Item::Dependent(dependent.clone()));
                }
            }
            if dependents.iter().any(|(_, blocks, _)| *blocks) {
                // Each blocking dependent's deletion queues this owner again.
                return Ok(());
            }
            tracing::info!(controller = NAME, object = %id, "no blocking dependents left; finishing foreground deletion");
            return self.remove_finalizer(id, FOREGROUND).await;
        }
        Ok(())
    }

    /// Removes the references to `owners` from `id` (a compare-and-swap on its
    /// resourceVersion; a conflict is retried with backoff).
    async fn remove_owner_references(&self, id: &ObjId, owners: &[String]) -> Result<(), Error> {
        let api = self.api(id)?;
        let Some(latest) = api.get_metadata_opt(&id.name).await? else { return Ok(()) };
        if latest.uid().as_deref() != Some(id.uid.as_str()) {
            return Ok(());
        }
        let refs = latest.owner_references();
        let keep: Vec<&OwnerReference> = refs.iter().filter(|r| !owners.contains(&r.uid)).collect();
        if keep.len() == refs.len() {
            return Ok(());
        }
        let refs = if keep.is_empty() { serde_json::Value::Null } else { json!(keep) };
        let patch = json!({ "metadata": { "resourceVersion": latest.resource_version(), "ownerReferences": refs } });
        match api.patch_metadata(&id.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => Ok(()),
            Err(e) if crate::api_reason(&e, 404) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn remove_finalizer(&self, id: &ObjId, finalizer: &str) -> Result<(), Error> {
        let api = self.api(id)?;
        let Some(latest) = api.get_metadata_opt(&id.name).await? else { return Ok(()) };
        if latest.uid().as_deref() != Some(id.uid.as_str()) {
            return Ok(());
        }
        let keep: Vec<&String> = latest.finalizers().iter().filter(|f| *f != finalizer).collect();
        if keep.len() == latest.finalizers().len() {
            return Ok(());
        }
        let finalizers = if keep.is_empty() { serde_json::Value::Null } else { json!(keep) };
        let patch = json!({ "metadata": { "resourceVersion": latest.resource_version(), "finalizers": finalizers } });
        match api.patch_metadata(&id.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => Ok(()),
            Err(e) if crate::api_reason(&e, 404) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
