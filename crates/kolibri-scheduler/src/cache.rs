//! What the scheduler knows of the cluster, kept from its watches: nodes with the pods
//! bound (or assumed) to them, pending pods, priority classes, volumes, the selectors of
//! Services and workloads (default topology spreading) and PodDisruptionBudgets
//! (preemption). Only the fields scheduling needs are kept, never whole objects.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeSelector, PersistentVolume, PersistentVolumeClaim, Pod, Taint, Toleration,
    TopologySpreadConstraint,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::quantity::parse_value;
use crate::resources::{pod_requests, PodRequests, Resources};
use crate::selectors::Labels;

/// `namespace/name` of a pod.
pub type PodKey = Arc<str>;

pub fn pod_key(namespace: &str, name: &str) -> PodKey {
    format!("{namespace}/{name}").into()
}

/// A host port a pod asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    pub ip: Box<str>,
    pub protocol: Box<str>,
    pub port: i32,
}

impl HostPort {
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (&*self.ip == "0.0.0.0" || &*other.ip == "0.0.0.0" || self.ip == other.ip)
    }
}

/// The kinds of controllers whose selector upstream's default spreading uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerKind {
    ReplicationController,
    ReplicaSet,
    StatefulSet,
}

/// The scheduling view of a pod.
#[derive(Clone, Debug, PartialEq)]
pub struct PodInfo {
    pub key: PodKey,
    pub namespace: Box<str>,
    pub name: Box<str>,
    pub uid: Box<str>,
    pub labels: Labels,
    pub node_name: Option<Box<str>>,
    pub scheduler_name: Box<str>,
    /// `spec.priority` as written by the client (or an admission plugin).
    pub priority: Option<i32>,
    pub priority_class: Option<Box<str>>,
    pub preempt_never: bool,
    pub requests: PodRequests,
    /// Why the pod cannot be scheduled whatever the cluster looks like (a malformed quantity).
    pub invalid: Option<String>,
    pub host_ports: Vec<HostPort>,
    pub node_selector: Labels,
    pub affinity: Option<Box<Affinity>>,
    pub tolerations: Vec<Toleration>,
    pub spread: Vec<TopologySpreadConstraint>,
    pub images: Vec<Box<str>>,
    pub claims: Vec<Box<str>>,
    /// The controller owning the pod (kind and name), when it is one whose selector the
    /// default topology spreading uses.
    pub owner: Option<(OwnerKind, Box<str>)>,
    pub nominated_node: Option<Box<str>>,
    pub deleting: bool,
    pub gated: bool,
    /// Creation time (seconds), for the order of the queue.
    pub created: i64,
    /// `status.startTime` (seconds): preemption spares the pods that started first.
    pub started: Option<i64>,
}

impl PodInfo {
    pub fn from_pod(pod: &Pod) -> PodInfo {
        let meta = &pod.metadata;
        let namespace = meta.namespace.as_deref().unwrap_or("default");
        let name = meta.name.as_deref().unwrap_or_default();
        let spec = pod.spec.clone().unwrap_or_default();
        let (requests, invalid) = match pod_requests(&spec) {
            Ok(r) => (r, None),
            Err(e) => (PodRequests::default(), Some(e.to_string())),
        };
        let mut host_ports = Vec::new();
        let sidecars = spec.init_containers.iter().flatten().filter(|c| c.restart_policy.as_deref() == Some("Always"));
        for c in spec.containers.iter().chain(sidecars) {
            for p in c.ports.iter().flatten() {
                if p.host_port.is_some_and(|hp| hp > 0) {
                    host_ports.push(HostPort {
                        ip: p.host_ip.as_deref().filter(|s| !s.is_empty()).unwrap_or("0.0.0.0").into(),
                        protocol: p.protocol.as_deref().unwrap_or("TCP").into(),
                        port: p.host_port.unwrap_or_default(),
                    });
                }
            }
        }
        let images = spec
            .init_containers
            .iter()
            .flatten()
            .chain(spec.containers.iter())
            .filter_map(|c| c.image.as_deref())
            .map(|i| normalized_image(i).into())
            .collect();
        let claims = spec
            .volumes
            .iter()
            .flatten()
            .filter_map(|v| {
                if let Some(c) = &v.persistent_volume_claim {
                    Some(c.claim_name.as_str().into())
                } else {
                    v.ephemeral.as_ref().map(|_| format!("{name}-{}", v.name).into())
                }
            })
            .collect();
        PodInfo {
            key: pod_key(namespace, name),
            namespace: namespace.into(),
            name: name.into(),
            uid: meta.uid.as_deref().unwrap_or_default().into(),
            labels: meta.labels.clone().unwrap_or_default(),
            node_name: spec.node_name.as_deref().filter(|n| !n.is_empty()).map(Into::into),
            scheduler_name: spec.scheduler_name.as_deref().unwrap_or(crate::DEFAULT_SCHEDULER).into(),
            priority: spec.priority,
            priority_class: spec.priority_class_name.as_deref().filter(|n| !n.is_empty()).map(Into::into),
            preempt_never: spec.preemption_policy.as_deref() == Some("Never"),
            requests,
            invalid,
            host_ports,
            node_selector: spec.node_selector.unwrap_or_default(),
            affinity: spec.affinity.map(Box::new),
            tolerations: spec.tolerations.unwrap_or_default(),
            spread: spec.topology_spread_constraints.unwrap_or_default(),
            images,
            claims,
            // The controller reference (upstream's `GetControllerOf`), when its kind is one
            // the default spreading selector reads.
            owner: meta.owner_references.iter().flatten().find(|o| o.controller == Some(true)).and_then(|o| {
                let kind = match (o.api_version.as_str(), o.kind.as_str()) {
                    ("v1", "ReplicationController") => OwnerKind::ReplicationController,
                    ("apps/v1", "ReplicaSet") => OwnerKind::ReplicaSet,
                    ("apps/v1", "StatefulSet") => OwnerKind::StatefulSet,
                    _ => return None,
                };
                Some((kind, o.name.as_str().into()))
            }),
            nominated_node: pod
                .status
                .as_ref()
                .and_then(|s| s.nominated_node_name.as_deref())
                .filter(|n| !n.is_empty())
                .map(Into::into),
            deleting: meta.deletion_timestamp.is_some(),
            gated: spec.scheduling_gates.as_ref().is_some_and(|g| !g.is_empty()),
            created: meta.creation_timestamp.as_ref().map_or(0, |t| t.0.as_second()),
            started: pod.status.as_ref().and_then(|s| s.start_time.as_ref()).map(|t| t.0.as_second()),
        }
    }

    /// Whether a change from `self` to `new` can change where (or whether) the pod fits;
    /// status-only writes (ours included) must not send a pod around the queue again.
    pub fn scheduling_changed(&self, new: &PodInfo) -> bool {
        let mut a = self.clone();
        a.nominated_node = new.nominated_node.clone();
        a.created = new.created;
        a.started = new.started;
        a != *new
    }

    pub fn has_required_anti_affinity(&self) -> bool {
        self.affinity.as_ref().and_then(|a| a.pod_anti_affinity.as_ref()).is_some_and(|a| {
            a.required_during_scheduling_ignored_during_execution.as_ref().is_some_and(|t| !t.is_empty())
        })
    }

    pub fn has_pod_affinity(&self) -> bool {
        self.affinity.as_ref().is_some_and(|a| a.pod_affinity.is_some() || a.pod_anti_affinity.is_some())
    }
}

/// Upstream's image name normalization: no tag and no digest means `:latest`.
pub fn normalized_image(name: &str) -> String {
    if name.rfind(':').unwrap_or(0) <= name.rfind('/').unwrap_or(0) && !name.contains('@') {
        format!("{name}:latest")
    } else {
        name.to_string()
    }
}

/// The scheduling view of a node and of the pods on it.
#[derive(Clone, Debug, Default)]
pub struct NodeInfo {
    pub name: Arc<str>,
    /// False for a placeholder holding pods bound to a node the cache has not seen (yet).
    pub registered: bool,
    pub labels: Labels,
    pub unschedulable: bool,
    pub taints: Vec<Taint>,
    pub allocatable: Resources,
    pub images: Vec<(Box<str>, i64)>,
    pub requested: Resources,
    pub non_zero_milli_cpu: i64,
    pub non_zero_memory: i64,
    pub pods: Vec<Arc<PodInfo>>,
}

impl NodeInfo {
    fn from_node(node: &Node) -> NodeInfo {
        let name: Arc<str> = node.metadata.name.as_deref().unwrap_or_default().into();
        let spec = node.spec.clone().unwrap_or_default();
        let status = node.status.clone().unwrap_or_default();
        let mut allocatable = Resources::default();
        // A malformed allocatable entry is read as zero: the node then fits nothing
        // asking for that resource, which is safer than guessing.
        if let Some(map) = status.allocatable.as_ref().or(status.capacity.as_ref()) {
            for (k, q) in map {
                let mut one = BTreeMap::new();
                one.insert(k.clone(), q.clone());
                match Resources::from_map(&one) {
                    Ok(r) => allocatable.add(&r),
                    Err(e) => tracing::warn!(node = %name, error = %e, "malformed allocatable quantity"),
                }
            }
        }
        let images = status
            .images
            .iter()
            .flatten()
            .flat_map(|i| {
                let size = i.size_bytes.unwrap_or(0);
                i.names.iter().flatten().map(move |n| (normalized_image(n).into_boxed_str(), size))
            })
            .collect();
        NodeInfo {
            name,
            registered: true,
            labels: node.metadata.labels.clone().unwrap_or_default(),
            unschedulable: spec.unschedulable.unwrap_or(false),
            taints: spec.taints.unwrap_or_default(),
            allocatable,
            images,
            ..Default::default()
        }
    }

    fn same_node_data(&self, other: &NodeInfo) -> bool {
        self.labels == other.labels
            && self.unschedulable == other.unschedulable
            && self.taints == other.taints
            && self.allocatable == other.allocatable
            && self.images == other.images
    }

    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests.requests);
        self.requested.pods += 1;
        self.non_zero_milli_cpu += pod.requests.non_zero_milli_cpu;
        self.non_zero_memory += pod.requests.non_zero_memory;
        self.pods.push(pod);
    }

    pub fn remove_pod(&mut self, key: &str) -> Option<Arc<PodInfo>> {
        let i = self.pods.iter().position(|p| &*p.key == key)?;
        let pod = self.pods.swap_remove(i);
        self.requested.sub(&pod.requests.requests);
        self.requested.pods -= 1;
        self.non_zero_milli_cpu -= pod.requests.non_zero_milli_cpu;
        self.non_zero_memory -= pod.requests.non_zero_memory;
        Some(pod)
    }

    pub fn image_size(&self, image: &str) -> Option<i64> {
        self.images.iter().find(|(n, _)| &**n == image).map(|(_, s)| *s)
    }
}

/// A PersistentVolumeClaim, as volume binding needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimInfo {
    pub uid: Box<str>,
    pub volume_name: Option<Box<str>>,
    pub class: Option<Box<str>>,
    pub request: i64,
    pub access_modes: Vec<String>,
    pub deleting: bool,
    pub selected_node: Option<Box<str>>,
}

/// A PersistentVolume, as volume binding needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct VolumeInfo {
    pub class: Option<Box<str>>,
    pub capacity: i64,
    pub access_modes: Vec<String>,
    /// `namespace/name` of the claim it is bound or reserved to.
    pub claim: Option<Box<str>>,
    pub node_affinity: Option<NodeSelector>,
    pub released: bool,
}

/// A StorageClass, as volume binding needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassInfo {
    pub provisioner: Box<str>,
    pub wait_for_first_consumer: bool,
    pub allowed_topologies: Vec<k8s_openapi::api::core::v1::TopologySelectorTerm>,
}

impl ClaimInfo {
    pub fn from_claim(c: &PersistentVolumeClaim) -> ClaimInfo {
        let spec = c.spec.clone().unwrap_or_default();
        ClaimInfo {
            uid: c.metadata.uid.as_deref().unwrap_or_default().into(),
            volume_name: spec.volume_name.filter(|v| !v.is_empty()).map(Into::into),
            class: spec.storage_class_name.map(Into::into),
            request: spec
                .resources
                .and_then(|r| r.requests)
                .and_then(|r| r.get("storage").and_then(|q| parse_value(&q.0).ok()))
                .unwrap_or(0),
            access_modes: spec.access_modes.unwrap_or_default(),
            deleting: c.metadata.deletion_timestamp.is_some(),
            selected_node: c
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(crate::plugins::volume_binding::SELECTED_NODE))
                .map(|s| s.as_str().into()),
        }
    }
}

impl VolumeInfo {
    pub fn from_volume(v: &PersistentVolume) -> VolumeInfo {
        let spec = v.spec.clone().unwrap_or_default();
        VolumeInfo {
            class: spec.storage_class_name.map(Into::into),
            capacity: spec
                .capacity
                .as_ref()
                .and_then(|c| c.get("storage").and_then(|q| parse_value(&q.0).ok()))
                .unwrap_or(0),
            access_modes: spec.access_modes.unwrap_or_default(),
            claim: spec.claim_ref.map(|r| {
                format!("{}/{}", r.namespace.unwrap_or_default(), r.name.unwrap_or_default()).into_boxed_str()
            }),
            node_affinity: spec.node_affinity.and_then(|a| a.required),
            released: v
                .status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .is_some_and(|p| p == "Released" || p == "Failed"),
        }
    }
}

impl ClassInfo {
    pub fn from_class(c: &StorageClass) -> ClassInfo {
        ClassInfo {
            provisioner: c.provisioner.as_str().into(),
            wait_for_first_consumer: c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"),
            allowed_topologies: c.allowed_topologies.clone().unwrap_or_default(),
        }
    }
}

/// Selectors by namespace and name (of Services or workloads).
pub type Selectors<T> = HashMap<Box<str>, HashMap<Box<str>, T>>;

/// Sets the selector of the object `namespace/name` (none: forgets it).
pub fn set_selector<T>(map: &mut Selectors<T>, key: &str, selector: Option<T>) {
    let (namespace, name) = key.split_once('/').unwrap_or(("", key));
    match selector {
        Some(sel) => {
            map.entry(namespace.into()).or_default().insert(name.into(), sel);
        }
        None => {
            if let Some(names) = map.get_mut(namespace) {
                names.remove(name);
                if names.is_empty() {
                    map.remove(namespace);
                }
            }
        }
    }
}

/// What upstream's default topology spreading derives a pod's selector from
/// (`helper.DefaultSelector`): the selectors of the Services, ReplicationControllers,
/// ReplicaSets and StatefulSets of each namespace, nothing else of them.
#[derive(Default)]
pub struct SpreadSelectors {
    /// `spec.selector` of each Service that has one.
    pub services: Selectors<Labels>,
    pub replication_controllers: Selectors<Labels>,
    pub replica_sets: Selectors<LabelSelector>,
    pub stateful_sets: Selectors<LabelSelector>,
}

/// A PodDisruptionBudget, as preemption needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct PdbInfo {
    pub namespace: Box<str>,
    /// None: the budget selects no pod (no selector, or an empty one, as upstream).
    pub selector: Option<LabelSelector>,
    pub disruptions_allowed: i32,
    /// Pods whose eviction was admitted but which are not gone yet (`status.disruptedPods`).
    pub disrupted: Vec<Box<str>>,
}

impl PdbInfo {
    pub fn from_pdb(pdb: &PodDisruptionBudget) -> PdbInfo {
        let selector = pdb.spec.as_ref().and_then(|s| s.selector.clone()).filter(|s| {
            s.match_labels.as_ref().is_some_and(|m| !m.is_empty())
                || s.match_expressions.as_ref().is_some_and(|e| !e.is_empty())
        });
        let status = pdb.status.as_ref();
        PdbInfo {
            namespace: pdb.metadata.namespace.as_deref().unwrap_or_default().into(),
            selector,
            disruptions_allowed: status.map_or(0, |s| s.disruptions_allowed),
            disrupted: status
                .and_then(|s| s.disrupted_pods.as_ref())
                .map(|d| d.keys().map(|k| k.as_str().into()).collect())
                .unwrap_or_default(),
        }
    }
}

/// A pod nominated to a node by preemption: its resources are held there for it.
#[derive(Clone, Debug)]
pub struct Nominated {
    pub node: Box<str>,
    pub priority: i32,
    pub requests: Resources,
}

/// The scheduler's cache.
#[derive(Default)]
pub struct Cache {
    nodes: HashMap<Arc<str>, NodeInfo>,
    /// Names of registered nodes, sorted: the order nodes are tried in.
    order: Vec<Arc<str>>,
    /// Node of each bound or assumed pod, and whether it is only assumed.
    pods: HashMap<PodKey, (Arc<str>, bool)>,
    /// How many registered nodes have each image (image locality spreads its score by it).
    image_nodes: HashMap<Box<str>, u32>,
    pub priority_classes: HashMap<Box<str>, (i32, bool)>,
    pub claims: HashMap<Box<str>, ClaimInfo>,
    pub volumes: HashMap<Box<str>, VolumeInfo>,
    pub classes: HashMap<Box<str>, ClassInfo>,
    pub nominated: HashMap<PodKey, Nominated>,
    /// Labels of each namespace, for the namespace selectors of pod affinity terms.
    pub namespaces: HashMap<Box<str>, Labels>,
    /// Selectors for the default topology spreading.
    pub spreading: SpreadSelectors,
    /// PodDisruptionBudgets by `namespace/name`, for the choice of preemption victims.
    pub pdbs: HashMap<Box<str>, PdbInfo>,
    /// Bound pods with required anti-affinity terms (the filter can skip work when zero).
    pub anti_affinity_pods: usize,
    /// Bound pods with any pod (anti-)affinity (the score can skip work when zero).
    pub affinity_pods: usize,
}

/// What changed in the cache, for deciding which unschedulable pods to try again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeChange {
    None,
    Added,
    Updated,
}

impl Cache {
    pub fn node_names(&self) -> &[Arc<str>] {
        &self.order
    }

    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.nodes.get(name).filter(|n| n.registered)
    }

    pub fn nodes(&self) -> impl Iterator<Item = &NodeInfo> {
        self.order.iter().filter_map(|n| self.nodes.get(n))
    }

    pub fn node_count(&self) -> usize {
        self.order.len()
    }

    /// Bound and assumed pods.
    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    pub fn image_node_count(&self, image: &str) -> u32 {
        self.image_nodes.get(image).copied().unwrap_or(0)
    }

    fn count_images(&mut self, node: &NodeInfo, delta: i32) {
        let mut seen = std::collections::HashSet::new();
        for (image, _) in &node.images {
            if seen.insert(image) {
                let n = self.image_nodes.entry(image.clone()).or_insert(0);
                *n = n.saturating_add_signed(delta);
                if *n == 0 {
                    self.image_nodes.remove(image);
                }
            }
        }
    }

    pub fn upsert_node(&mut self, node: &Node) -> NodeChange {
        let mut info = NodeInfo::from_node(node);
        let name = info.name.clone();
        let change = match self.nodes.remove(&name) {
            Some(old) => {
                let changed = !old.registered || !old.same_node_data(&info);
                if old.registered {
                    self.count_images(&old, -1);
                }
                info.requested = old.requested;
                info.non_zero_milli_cpu = old.non_zero_milli_cpu;
                info.non_zero_memory = old.non_zero_memory;
                info.pods = old.pods;
                match (old.registered, changed) {
                    (false, _) => NodeChange::Added,
                    (true, true) => NodeChange::Updated,
                    (true, false) => NodeChange::None,
                }
            }
            None => NodeChange::Added,
        };
        self.count_images(&info, 1);
        self.nodes.insert(name.clone(), info);
        if let Err(i) = self.order.binary_search(&name) {
            self.order.insert(i, name);
        }
        change
    }

    pub fn remove_node(&mut self, name: &str) {
        let Some(node) = self.nodes.get_mut(name) else { return };
        let info = std::mem::take(node);
        if info.registered {
            self.count_images(&info, -1);
        }
        self.order.retain(|n| &**n != name);
        if info.pods.is_empty() {
            self.nodes.remove(name);
        } else {
            // Its pods still hold their resources should the node come back.
            let placeholder = self.nodes.entry(info.name.clone()).or_default();
            placeholder.name = info.name.clone();
            for p in info.pods {
                placeholder.add_pod(p);
            }
        }
    }

    /// Adds or updates a bound pod (confirming an assumed one).
    pub fn upsert_bound_pod(&mut self, pod: Arc<PodInfo>, node: &str) {
        self.remove_pod(&pod.key);
        let node: Arc<str> = node.into();
        if pod.has_required_anti_affinity() {
            self.anti_affinity_pods += 1;
        }
        if pod.has_pod_affinity() {
            self.affinity_pods += 1;
        }
        self.pods.insert(pod.key.clone(), (node.clone(), false));
        self.nominated.remove(&pod.key);
        let entry = self.nodes.entry(node.clone()).or_insert_with(|| NodeInfo { name: node, ..Default::default() });
        entry.add_pod(pod);
    }

    /// Places a pod on a node before its binding is confirmed, so the next pod sees it.
    pub fn assume(&mut self, pod: Arc<PodInfo>, node: &str) {
        self.upsert_bound_pod(pod.clone(), node);
        if let Some(entry) = self.pods.get_mut(&pod.key) {
            entry.1 = true;
        }
    }

    /// Whether a pod is in the cache only because it was assumed.
    pub fn is_assumed(&self, key: &str) -> bool {
        self.pods.get(key).is_some_and(|(_, assumed)| *assumed)
    }

    pub fn is_bound(&self, key: &str) -> bool {
        self.pods.contains_key(key)
    }

    pub fn remove_pod(&mut self, key: &str) -> Option<Arc<PodInfo>> {
        let (node, _) = self.pods.remove(key)?;
        let entry = self.nodes.get_mut(&node)?;
        let pod = entry.remove_pod(key)?;
        if !entry.registered && entry.pods.is_empty() {
            self.nodes.remove(&node);
        }
        if pod.has_required_anti_affinity() {
            self.anti_affinity_pods -= 1;
        }
        if pod.has_pod_affinity() {
            self.affinity_pods -= 1;
        }
        Some(pod)
    }

    /// The effective priority: `spec.priority`, else the class's value, else the global
    /// default class's, else zero. `Err` names a class that does not exist.
    pub fn priority_of(&self, pod: &PodInfo) -> Result<i32, String> {
        if let Some(p) = pod.priority {
            return Ok(p);
        }
        if let Some(class) = &pod.priority_class {
            return match self.priority_classes.get(class) {
                Some((v, _)) => Ok(*v),
                None => Err(format!("no PriorityClass with name {class} was found")),
            };
        }
        Ok(self.priority_classes.values().filter(|(_, default)| *default).map(|(v, _)| *v).max().unwrap_or(0))
    }

    pub fn upsert_priority_class(&mut self, pc: &PriorityClass) {
        if let Some(name) = &pc.metadata.name {
            self.priority_classes.insert(name.as_str().into(), (pc.value, pc.global_default.unwrap_or(false)));
        }
    }

    pub fn nominate(&mut self, pod: &PodInfo, node: &str, priority: i32) {
        self.nominated.insert(
            pod.key.clone(),
            Nominated { node: node.into(), priority, requests: pod.requests.requests.clone() },
        );
    }

    /// Approximate bytes held by the cache (its own structures, strings and maps; nested
    /// API types counted by their JSON size), for the log line at shutdown and the
    /// benchmark. Walks everything: not for hot paths.
    pub fn approximate_size(&self) -> usize {
        let labels = |l: &Labels| l.iter().map(|(k, v)| k.len() + v.len() + 64).sum::<usize>();
        let json = |v: &dyn erased::Json| v.json_len();
        let mut total = self.pods.capacity() * (std::mem::size_of::<(PodKey, (Arc<str>, bool))>() + 8);
        for node in self.nodes.values() {
            total += std::mem::size_of::<NodeInfo>() + node.name.len() + 32;
            total += labels(&node.labels);
            total += node.taints.iter().map(|t| json(t)).sum::<usize>();
            total += node.images.iter().map(|(n, _)| n.len() + 32).sum::<usize>();
            total += node.pods.capacity() * std::mem::size_of::<Arc<PodInfo>>();
            for pod in &node.pods {
                total += 16 + std::mem::size_of::<PodInfo>() + pod.key.len() + pod.namespace.len() + pod.name.len();
                total += pod.uid.len() + pod.scheduler_name.len() + labels(&pod.labels) + labels(&pod.node_selector);
                total += pod.requests.requests.scalar.iter().map(|(n, _)| n.len() + 24).sum::<usize>();
                total += pod.host_ports.len() * (std::mem::size_of::<HostPort>() + 16);
                total += pod.images.iter().map(|i| i.len() + 16).sum::<usize>();
                total += pod.claims.iter().map(|c| c.len() + 16).sum::<usize>();
                total += pod.affinity.as_deref().map_or(0, |a| json(a));
                total += pod.tolerations.iter().map(|t| json(t)).sum::<usize>();
                total += pod.spread.iter().map(|t| json(t)).sum::<usize>();
                total += pod.owner.as_ref().map_or(0, |(_, n)| n.len() + 16);
            }
        }
        fn selectors<T>(map: &Selectors<T>, size: impl Fn(&T) -> usize) -> usize {
            map.iter()
                .map(|(ns, names)| ns.len() + 64 + names.iter().map(|(n, sel)| n.len() + 48 + size(sel)).sum::<usize>())
                .sum()
        }
        let spreading = &self.spreading;
        total += selectors(&spreading.services, labels) + selectors(&spreading.replication_controllers, labels);
        total += selectors(&spreading.replica_sets, |s| json(s)) + selectors(&spreading.stateful_sets, |s| json(s));
        for (key, pdb) in &self.pdbs {
            total += key.len() + pdb.namespace.len() + std::mem::size_of::<PdbInfo>() + 48;
            total += pdb.selector.as_ref().map_or(0, |s| json(s));
            total += pdb.disrupted.iter().map(|d| d.len() + 16).sum::<usize>();
        }
        total
    }
}

/// JSON size of API types, a stand-in for their heap size in [`Cache::approximate_size`].
mod erased {
    pub trait Json {
        fn json_len(&self) -> usize;
    }

    impl<T: serde::Serialize> Json for T {
        fn json_len(&self) -> usize {
            serde_json::to_vec(self).map_or(0, |v| v.len())
        }
    }
}
