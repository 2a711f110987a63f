//! The scheduler's tasks: one watch per kind feeding the cache and the queue, one loop
//! taking pods off the queue and scheduling them one at a time, binding tasks (bounded in
//! number) and the event writer.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{
    Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, ReplicationController, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, Preconditions};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::{watch, Semaphore};

use crate::cache::{set_selector, Cache, ClaimInfo, ClassInfo, NodeChange, PdbInfo, PodInfo, PodKey, VolumeInfo};
use crate::events::{Record, Recorder};
use crate::framework::{self, FitError};
use crate::plugins::volume_binding::{self, VolumeAction};
use crate::preemption::{self, NOT_HELPFUL};
use crate::queue::{Events, Queue};

/// Settings of a scheduler.
#[derive(Clone, Debug)]
pub struct Options {
    /// The `spec.schedulerName` this scheduler serves.
    pub scheduler_name: String,
    /// Bindings in flight at most (the pods are assumed meanwhile).
    pub bind_concurrency: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { scheduler_name: crate::DEFAULT_SCHEDULER.to_string(), bind_concurrency: 64 }
    }
}

/// The scheduler: [`Scheduler::new`], then [`Scheduler::run`] until shutdown.
pub struct Scheduler {
    client: Client,
    options: Options,
}

#[derive(Default)]
struct State {
    cache: Cache,
    /// Pods of this scheduler without a node.
    pending: HashMap<PodKey, Arc<PodInfo>>,
    /// Where the node search starts next.
    start: usize,
    /// The last unschedulable message written to each pod's condition.
    reported: HashMap<PodKey, String>,
}

struct Shared {
    state: Mutex<State>,
    queue: Queue,
    scheduler_name: String,
}

enum Decision {
    Skip,
    Bind {
        pod: Arc<PodInfo>,
        node: Arc<str>,
        volumes: Vec<VolumeAction>,
    },
    Unschedulable {
        pod: Arc<PodInfo>,
        message: String,
        helped_by: Events,
        nominated: Option<Arc<str>>,
        victims: Vec<Arc<PodInfo>>,
    },
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves at worst a stale cache entry.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn node_applied(&self, node: &Node) {
        let change = self.lock().cache.upsert_node(node);
        if change != NodeChange::None {
            self.queue.on_event(Events::NODE);
        }
    }

    fn node_deleted(&self, name: &str) {
        self.lock().cache.remove_node(name);
    }

    fn retain_nodes(&self, seen: &HashSet<String>) {
        let mut s = self.lock();
        let gone: Vec<String> =
            s.cache.node_names().iter().filter(|n| !seen.contains(&***n)).map(|n| n.to_string()).collect();
        for n in gone {
            s.cache.remove_node(&n);
        }
        drop(s);
        self.queue.on_event(Events::NODE);
    }

    fn pod_applied(&self, pod: &Pod) {
        let info = PodInfo::from_pod(pod);
        let key = info.key.clone();
        let mut s = self.lock();
        if let Some(node) = info.node_name.clone() {
            s.pending.remove(&key);
            s.reported.remove(&key);
            s.cache.upsert_bound_pod(Arc::new(info), &node);
            drop(s);
            self.queue.remove(&key);
            self.queue.on_event(Events::POD_ADDED);
            return;
        }
        if *info.scheduler_name != *self.scheduler_name || info.deleting {
            s.pending.remove(&key);
            drop(s);
            self.queue.remove(&key);
            return;
        }
        if s.cache.is_bound(&key) {
            // Assumed: its binding is under way; this is an older state of it.
            return;
        }
        let changed = s.pending.get(&key).is_none_or(|old| old.scheduling_changed(&info));
        let gated = info.gated;
        let priority = s.cache.priority_of(&info).unwrap_or(0);
        s.pending.insert(key.clone(), Arc::new(info));
        drop(s);
        if gated {
            self.queue.remove(&key);
        } else if changed || !self.queue.contains(&key) {
            self.queue.add(key, priority);
        }
    }

    fn pod_deleted(&self, key: &str) {
        let mut s = self.lock();
        let freed = s.cache.remove_pod(key).is_some();
        s.pending.remove(key);
        s.reported.remove(key);
        s.cache.nominated.remove(key);
        drop(s);
        self.queue.remove(key);
        if freed {
            self.queue.on_event(Events::POD_DELETED);
        }
    }

    fn retain_pods(&self, seen: &HashSet<PodKey>) {
        let gone: Vec<PodKey> = {
            let s = self.lock();
            s.cache
                .nodes()
                .flat_map(|n| n.pods.iter().map(|p| p.key.clone()))
                .chain(s.pending.keys().cloned())
                .filter(|k| !seen.contains(k))
                .collect()
        };
        for key in gone {
            self.pod_deleted(&key);
        }
    }

    fn schedule_one(&self, key: &PodKey) -> Decision {
        let mut guard = self.lock();
        let state = &mut *guard;
        let Some(pod) = state.pending.get(key).cloned() else { return Decision::Skip };
        if pod.gated || state.cache.is_bound(key) {
            return Decision::Skip;
        }
        let unschedulable = |pod: Arc<PodInfo>, message: String, helped_by: Events| Decision::Unschedulable {
            pod,
            message,
            helped_by,
            nominated: None,
            victims: Vec::new(),
        };
        if let Some(invalid) = &pod.invalid {
            // Only a new version of the pod can help (or the periodic retry).
            return unschedulable(pod.clone(), invalid.clone(), Events::NONE);
        }
        let priority = match state.cache.priority_of(&pod) {
            Ok(p) => p,
            Err(message) => return unschedulable(pod, message, Events::PRIORITY_CLASS),
        };
        let mut start = state.start;
        let result = {
            let cache = &state.cache;
            match framework::cycle(cache, &pod, priority) {
                Err(failure) => {
                    let n = cache.node_count();
                    Err((
                        FitError {
                            num_nodes: n,
                            pre_filter: Some(failure),
                            nodes: Vec::new(),
                            post_filter: Some(format!("preemption: 0/{n} nodes are available: {n} {NOT_HELPFUL}.")),
                        },
                        None,
                    ))
                }
                Ok(cycle) => match framework::schedule(&cycle, &mut start) {
                    Ok(node) => Ok(node),
                    Err(fit) if fit.num_nodes == 0 => Err((fit, None)),
                    Err(mut fit) => match preemption::preempt(&cycle, &fit) {
                        Ok(outcome) => Err((fit, Some(outcome))),
                        Err(message) => {
                            fit.post_filter = Some(message);
                            Err((fit, None))
                        }
                    },
                },
            }
        };
        state.start = start;
        match result {
            Ok(node) => {
                let volumes = volume_binding::reserve(&mut state.cache, &pod, &node);
                state.cache.assume(pod.clone(), &node);
                state.pending.remove(key);
                state.reported.remove(key);
                Decision::Bind { pod, node, volumes }
            }
            Err((fit, outcome)) => {
                let mut helped_by = fit.helped_by();
                let message = fit.message();
                let (nominated, victims) = match outcome {
                    Some(o) => {
                        state.cache.nominate(&pod, &o.node, priority);
                        helped_by = helped_by.with(Events::POD_DELETED);
                        (Some(o.node), o.victims)
                    }
                    None => (None, Vec::new()),
                };
                Decision::Unschedulable { pod, message, helped_by, nominated, victims }
            }
        }
    }

    /// Whether the pod's condition needs writing (not when the same message is there).
    fn needs_report(&self, key: &PodKey, message: &str) -> bool {
        let mut s = self.lock();
        if s.reported.get(key).is_some_and(|m| m == message) {
            return false;
        }
        s.reported.insert(key.clone(), message.to_string());
        true
    }

    fn binding_failed(&self, pod: &Arc<PodInfo>, error: &kube::Error) -> bool {
        let mut s = self.lock();
        if s.cache.is_assumed(&pod.key) {
            s.cache.remove_pod(&pod.key);
        }
        let gone = matches!(error, kube::Error::Api(e) if e.code == 404);
        let bound_elsewhere = matches!(error, kube::Error::Api(e) if e.code == 409);
        let retry = !gone && !bound_elsewhere;
        if retry {
            s.pending.insert(pod.key.clone(), pod.clone());
        }
        let priority = s.cache.priority_of(pod).unwrap_or(0);
        drop(s);
        if retry {
            self.queue.add_backoff(pod.key.clone(), priority);
        }
        self.queue.on_event(Events::POD_DELETED);
        retry
    }
}

impl Scheduler {
    pub fn new(client: Client, options: Options) -> Self {
        Scheduler { client, options }
    }

    /// Runs until `shutdown` turns true (or its sender is dropped).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            queue: Queue::default(),
            scheduler_name: self.options.scheduler_name.clone(),
        });
        let client = self.client;
        let (recorder, writer) = Recorder::new(client.clone(), self.options.scheduler_name.clone());
        let writer = tokio::spawn(writer);
        let (synced_tx, mut synced_rx) = watch::channel(0usize);
        let synced = Arc::new(synced_tx);
        let watches = start_watches(&client, &shared, &synced);
        let expected = watches.len();

        tokio::select! {
            _ = synced_rx.wait_for(|n| *n >= expected) => {}
            _ = shutdown.wait_for(|s| *s) => {}
        }
        if !*shutdown.borrow() {
            tracing::info!(scheduler = %self.options.scheduler_name, "caches filled; scheduler started");
            let stop = {
                let shared = shared.clone();
                let mut shutdown = shutdown.clone();
                async move {
                    let _ = shutdown.wait_for(|s| *s).await;
                    shared.queue.close();
                }
            };
            let work = schedule_loop(shared.clone(), client.clone(), recorder.clone(), self.options.bind_concurrency);
            tokio::join!(work, stop);
        }
        for w in watches {
            w.abort();
        }
        drop(recorder);
        writer.abort();
        let (nodes, pods, bytes) = {
            let s = shared.lock();
            (s.cache.node_count(), s.cache.pod_count(), s.cache.approximate_size())
        };
        tracing::info!(nodes, pods, cache_bytes = bytes, "scheduler stopped");
    }
}

async fn schedule_loop(shared: Arc<Shared>, client: Client, recorder: Recorder, bind_concurrency: usize) {
    let binds = Arc::new(Semaphore::new(bind_concurrency.max(1)));
    while let Some((key, _attempts)) = shared.queue.pop().await {
        match shared.schedule_one(&key) {
            Decision::Skip => shared.queue.done(&key),
            Decision::Bind { pod, node, volumes } => {
                shared.queue.done(&key);
                // A bind that waits for its volumes to be bound (up to 600 s) holds no permit:
                // the permits bound the writes in flight, and waiting ones must not stall the
                // loop for every other pod.
                let permit = if volumes.is_empty() {
                    let Ok(permit) = binds.clone().acquire_owned().await else { break };
                    Some(permit)
                } else {
                    None
                };
                let (shared, client, recorder) = (shared.clone(), client.clone(), recorder.clone());
                tokio::spawn(async move {
                    let result = crate::binder::bind(&client, &pod, &node, &volumes).await;
                    drop(permit);
                    match result {
                        Ok(()) => recorder.record(Record {
                            namespace: pod.namespace.to_string(),
                            pod: pod.name.to_string(),
                            uid: pod.uid.to_string(),
                            warning: false,
                            reason: "Scheduled",
                            action: "Binding",
                            message: format!("Successfully assigned {}/{} to {node}", pod.namespace, pod.name),
                        }),
                        Err(e) => {
                            tracing::info!(pod = %pod.key, node = %node, error = %e, "binding failed");
                            if shared.binding_failed(&pod, &e) {
                                recorder.record(Record {
                                    namespace: pod.namespace.to_string(),
                                    pod: pod.name.to_string(),
                                    uid: pod.uid.to_string(),
                                    warning: true,
                                    reason: "FailedScheduling",
                                    action: "Scheduling",
                                    message: format!("Binding rejected: {e}"),
                                });
                            }
                        }
                    }
                });
            }
            Decision::Unschedulable { pod, message, helped_by, nominated, victims } => {
                shared.queue.unschedulable(&key, helped_by);
                tracing::debug!(pod = %key, %message, "unschedulable");
                recorder.record(Record {
                    namespace: pod.namespace.to_string(),
                    pod: pod.name.to_string(),
                    uid: pod.uid.to_string(),
                    warning: true,
                    reason: "FailedScheduling",
                    action: "Scheduling",
                    message: message.clone(),
                });
                let report_key = format!("{message}\u{0}{}", nominated.as_deref().unwrap_or_default());
                if shared.needs_report(&key, &report_key) {
                    let (client, pod, nominated) = (client.clone(), pod.clone(), nominated.clone());
                    tokio::spawn(async move {
                        if let Err(e) =
                            crate::binder::report_unschedulable(&client, &pod, &message, nominated.as_deref()).await
                        {
                            tracing::debug!(pod = %pod.key, error = %e, "could not update the pod's condition");
                        }
                    });
                }
                if let Some(node) = nominated {
                    for victim in victims {
                        preempt_victim(&client, &recorder, &pod, &victim, &node);
                    }
                }
            }
        }
    }
}

fn preempt_victim(client: &Client, recorder: &Recorder, preemptor: &PodInfo, victim: &PodInfo, node: &str) {
    tracing::info!(preemptor = %preemptor.key, victim = %victim.key, node, "preempting");
    recorder.record(Record {
        namespace: victim.namespace.to_string(),
        pod: victim.name.to_string(),
        uid: victim.uid.to_string(),
        warning: false,
        reason: "Preempted",
        action: "Preempting",
        message: format!("Preempted by pod {} on node {node}", preemptor.uid),
    });
    let api: Api<Pod> = Api::namespaced(client.clone(), &victim.namespace);
    let (name, uid) = (victim.name.to_string(), victim.uid.to_string());
    tokio::spawn(async move {
        let params = DeleteParams {
            preconditions: Some(Preconditions { uid: Some(uid), resource_version: None }),
            ..Default::default()
        };
        match api.delete(&name, &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(e) => tracing::warn!(pod = %name, error = %e, "could not delete a preemption victim"),
        }
    });
}

/// Follows one kind: `on` gets every watcher event; the first complete list bumps `synced`.
fn follow<K>(
    api: Api<K>,
    config: watcher::Config,
    kind: &'static str,
    synced: Arc<watch::Sender<usize>>,
    mut on: impl FnMut(watcher::Event<K>) + Send + 'static,
) -> tokio::task::JoinHandle<()>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    tokio::spawn(async move {
        let stream = watcher(api, config).default_backoff();
        let mut stream = std::pin::pin!(stream);
        let mut first = true;
        let mut failing = false;
        while let Some(event) = stream.next().await {
            match event {
                Ok(event) => {
                    failing = false;
                    let done = matches!(event, watcher::Event::InitDone);
                    on(event);
                    if done && first {
                        first = false;
                        synced.send_modify(|n| *n += 1);
                    }
                }
                Err(e) => {
                    // The stream backs off before its next attempt; say so once per outage.
                    if !failing {
                        tracing::warn!(kind, error = %e, "scheduler watch failed; retrying with backoff");
                    }
                    failing = true;
                }
            }
        }
    })
}

/// A kind kept as a map in the cache, replaced as a whole at each (re-)list.
struct MapKind<K> {
    kind: &'static str,
    /// What a change may help (none: a change only affects scores or preemption).
    event: Events,
    key: fn(&K) -> Box<str>,
    upsert: fn(&mut Cache, Box<str>, &K),
    remove: fn(&mut Cache, &str),
    clear: fn(&mut Cache),
}

fn follow_map<K>(
    client: &Client,
    shared: &Arc<Shared>,
    synced: &Arc<watch::Sender<usize>>,
    m: MapKind<K>,
) -> tokio::task::JoinHandle<()>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let shared = shared.clone();
    let mut relist: Vec<K> = Vec::new();
    follow(Api::<K>::all(client.clone()), watcher::Config::default(), m.kind, synced.clone(), move |ev| {
        match ev {
            watcher::Event::Init => relist.clear(),
            watcher::Event::InitApply(o) => relist.push(o),
            watcher::Event::InitDone => {
                let mut s = shared.lock();
                (m.clear)(&mut s.cache);
                for o in relist.drain(..) {
                    (m.upsert)(&mut s.cache, (m.key)(&o), &o);
                }
            }
            watcher::Event::Apply(o) => (m.upsert)(&mut shared.lock().cache, (m.key)(&o), &o),
            watcher::Event::Delete(o) => (m.remove)(&mut shared.lock().cache, &(m.key)(&o)),
        }
        if m.event != Events::NONE {
            shared.queue.on_event(m.event);
        }
    })
}

fn namespaced_key<K: ResourceExt>(o: &K) -> Box<str> {
    format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any()).into()
}

fn name_key<K: ResourceExt>(o: &K) -> Box<str> {
    o.name_any().into()
}

fn start_watches(
    client: &Client,
    shared: &Arc<Shared>,
    synced: &Arc<watch::Sender<usize>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    {
        let shared = shared.clone();
        let mut seen: HashSet<String> = HashSet::new();
        tasks.push(follow(Api::<Node>::all(client.clone()), watcher::Config::default(), "nodes", synced.clone(), {
            move |ev| match ev {
                watcher::Event::Init => seen.clear(),
                watcher::Event::InitApply(n) => {
                    seen.insert(n.name_any());
                    shared.node_applied(&n);
                }
                watcher::Event::InitDone => shared.retain_nodes(&std::mem::take(&mut seen)),
                watcher::Event::Apply(n) => shared.node_applied(&n),
                watcher::Event::Delete(n) => shared.node_deleted(&n.name_any()),
            }
        }));
    }
    {
        let shared = shared.clone();
        let mut seen: HashSet<PodKey> = HashSet::new();
        // Terminal pods hold nothing; they leave the watch (as deletions) when they end.
        let config = watcher::Config::default().fields("status.phase!=Succeeded,status.phase!=Failed");
        tasks.push(follow(Api::<Pod>::all(client.clone()), config, "pods", synced.clone(), move |ev| match ev {
            watcher::Event::Init => seen.clear(),
            watcher::Event::InitApply(p) => {
                seen.insert(namespaced_key(&p).into());
                shared.pod_applied(&p);
            }
            watcher::Event::InitDone => shared.retain_pods(&std::mem::take(&mut seen)),
            watcher::Event::Apply(p) => shared.pod_applied(&p),
            watcher::Event::Delete(p) => shared.pod_deleted(&namespaced_key(&p)),
        }));
    }
    tasks.push(follow_map(
        client,
        shared,
        synced,
        MapKind::<PriorityClass> {
            kind: "priorityclasses",
            event: Events::PRIORITY_CLASS,
            key: name_key,
            upsert: |c, _, o| c.upsert_priority_class(o),
            remove: |c, k| {
                c.priority_classes.remove(k);
            },
            clear: |c| c.priority_classes.clear(),
        },
    ));
    tasks.push(follow_map(
        client,
        shared,
        synced,
        MapKind::<Namespace> {
            kind: "namespaces",
            // New labels can make pods match affinity terms with namespace selectors.
            event: Events::POD_ADDED,
            key: name_key,
            upsert: |c, k, o| {
                c.namespaces.insert(k, o.metadata.labels.clone().unwrap_or_default());
            },
            remove: |c, k| {
                c.namespaces.remove(k);
            },
            clear: |c| c.namespaces.clear(),
        },
    ));
    tasks.push(follow_map(
        client,
        shared,
        synced,
        MapKind::<PersistentVolumeClaim> {
            kind: "persistentvolumeclaims",
            event: Events::VOLUME,
            key: namespaced_key,
            upsert: |c, k, o| {
                c.claims.insert(k, ClaimInfo::from_claim(o));
            },
            remove: |c, k| {
                c.claims.remove(k);
            },
            clear: |c| c.claims.clear(),
        },
    ));
    tasks.push(follow_map(
        client,
        shared,
        synced,
        MapKind::<PersistentVolume> {
            kind: "persistentvolumes",
            event: Events::VOLUME,
            key: name_key,
            upsert: |c, k, o| {
                c.volumes.insert(k, VolumeInfo::from_volume(o));
            },
            remove: |c, k| {
                c.volumes.remove(k);
            },
            clear: |c| c.volumes.clear(),
        },
    ));
    tasks.push(follow_map(
        client,
        shared,
        synced,
        MapKind::<StorageClass> {
            kind: "storageclasses",
            event: Events::VOLUME,
            key: name_key,
            upsert: |c, k, o| {
                c.classes.insert(k, ClassInfo::from_class(o));
            },
            remove: |c, k| {
                c.classes.remove(k);
            },
            clear: |c| c.classes.clear(),
        },
    ));
    // Selectors for the default topology spreading (a score: no pod waits for them).
    tasks.push(follow_map(
        client,
        shared,
        synced,
        MapKind::<Service> {
            kind: "services",
            event: Events::NONE,
            key: namespaced_key,
            upsert: |c, k, o| {
                let selector = o.spec.as_ref().and_then(|s| s.selector.clone()).filter(|s| !s.is_empty());
                set_selector(&mut c.spreading.services, &k, selector);
            },
            remove: |c, k| set_selector(&mut c.spreading.services, k, None),
            clear: |c| c.spreading.services.clear(),
        },
    ));
    tasks.push(follow_map(
        client,
        shared,
        synced,
        MapKind::<ReplicationController> {
            kind: "replicationcontrollers",
            event: Events::NONE,
            key: namespaced_key,
            upsert: |c, k, o| {
                let selector = o.spec.as_ref().and_then(|s| s.selector.clone()).filter(|s| !s.is_empty());
                set_selector(&mut c.spreading.replication_controllers, &k, selector);
            },
            remove: |c, k| set_selector(&mut c.spreading.replication_controllers, k, None),
            clear: |c| c.spreading.replication_controllers.clear(),
        },
    ));
    tasks.push(follow_map(
        client,
        shared,
        synced,
        MapKind::<ReplicaSet> {
            kind: "replicasets",
            event: Events::NONE,
            key: namespaced_key,
            upsert: |c, k, o| {
                let selector = o.spec.as_ref().map(|s| s.selector.clone());
                set_selector(&mut c.spreading.replica_sets, &k, selector);
            },
            remove: |c, k| set_selector(&mut c.spreading.replica_sets, k, None),
            clear: |c| c.spreading.replica_sets.clear(),
        },
    ));
    tasks.push(follow_map(
        client,
        shared,
        synced,
        MapKind::<StatefulSet> {
            kind: "statefulsets",
            event: Events::NONE,
            key: namespaced_key,
            upsert: |c, k, o| {
                let selector = o.spec.as_ref().map(|s| s.selector.clone());
                set_selector(&mut c.spreading.stateful_sets, &k, selector);
            },
            remove: |c, k| set_selector(&mut c.spreading.stateful_sets, k, None),
            clear: |c| c.spreading.stateful_sets.clear(),
        },
    ));
    // Budgets only order preemption victims.
    tasks.push(follow_map(
        client,
        shared,
        synced,
        MapKind::<PodDisruptionBudget> {
            kind: "poddisruptionbudgets",
            event: Events::NONE,
            key: namespaced_key,
            upsert: |c, k, o| {
                c.pdbs.insert(k, PdbInfo::from_pdb(o));
            },
            remove: |c, k| {
                c.pdbs.remove(k);
            },
            clear: |c| c.pdbs.clear(),
        },
    ));
    tasks
}
