//! VolumeBinding: a pod's claims must exist; bound claims' volumes must be reachable from
//! the node (their node affinity); unbound `WaitForFirstConsumer` claims need an available
//! matching volume reachable from the node, or a class that can provision there. Once a
//! node is chosen, the matched volume is reserved for the claim (`spec.claimRef`) or the
//! claim is annotated with the node for its provisioner (`volume.kubernetes.io/selected-node`);
//! the binder then waits until those claims are bound before binding the pod (upstream's
//! PreBind).

use std::collections::HashSet;

use crate::cache::{Cache, ClaimInfo, NodeInfo, PodInfo};
use crate::framework::{Cycle, Failure};
use crate::queue::Events;
use crate::selectors::node_selector_matches;

pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
pub const CONFLICT_REASON: &str = "node(s) had volume node affinity conflict";
pub const NO_VOLUME_REASON: &str = "node(s) didn't find available persistent volumes to bind";
pub const MISSING_PV_REASON: &str = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
pub const UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";
const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";

/// The pod's claims, sorted out once per attempt.
#[derive(Default)]
pub struct PreFilter {
    bound_volumes: Vec<Box<str>>,
    /// `namespace/name` and the claim, for claims that wait for their first consumer.
    delayed: Vec<(Box<str>, ClaimInfo)>,
}

fn events() -> Events {
    Events::NODE.with(Events::VOLUME)
}

/// `Err` is a reason that holds for every node (a missing claim, an unbound immediate one).
pub fn pre_filter(cache: &Cache, pod: &PodInfo) -> Result<PreFilter, Failure> {
    let mut state = PreFilter::default();
    for name in &pod.claims {
        let key: Box<str> = format!("{}/{name}", pod.namespace).into();
        let Some(claim) = cache.claims.get(&key) else {
            return Err(Failure::unresolvable(format!("persistentvolumeclaim \"{name}\" not found"), events()));
        };
        if claim.deleting {
            return Err(Failure::unresolvable(format!("persistentvolumeclaim \"{name}\" is being deleted"), events()));
        }
        if let Some(volume) = &claim.volume_name {
            state.bound_volumes.push(volume.clone());
            continue;
        }
        let wffc = claim.class.as_ref().and_then(|c| cache.classes.get(c)).is_some_and(|c| c.wait_for_first_consumer);
        if !wffc {
            return Err(Failure::unresolvable(UNBOUND_IMMEDIATE, events()));
        }
        state.delayed.push((key, claim.clone()));
    }
    Ok(state)
}

/// An available volume for the claim reachable from the node (the smallest that fits).
fn find_volume<'a>(
    cache: &'a Cache,
    key: &str,
    claim: &ClaimInfo,
    node: &NodeInfo,
    taken: &HashSet<&'a str>,
) -> Option<&'a str> {
    cache
        .volumes
        .iter()
        .filter(|(name, v)| {
            !taken.contains(&***name)
                && !v.released
                && v.claim.as_deref().is_none_or(|c| c == key)
                && v.class == claim.class
                && v.capacity >= claim.request
                && claim.access_modes.iter().all(|m| v.access_modes.contains(m))
                && v.node_affinity.as_ref().is_none_or(|a| node_selector_matches(a, &node.name, &node.labels))
        })
        .min_by_key(|(name, v)| (v.capacity, name.to_string()))
        .map(|(name, _)| &**name)
}

fn can_provision(cache: &Cache, claim: &ClaimInfo, node: &NodeInfo) -> bool {
    let Some(class) = claim.class.as_ref().and_then(|c| cache.classes.get(c)) else { return false };
    if &*class.provisioner == NO_PROVISIONER {
        return false;
    }
    class.allowed_topologies.is_empty()
        || class.allowed_topologies.iter().any(|term| {
            term.match_label_expressions
                .iter()
                .flatten()
                .all(|e| node.labels.get(&e.key).is_some_and(|v| e.values.contains(v)))
        })
}

pub fn filter(cycle: &Cycle, node: &NodeInfo) -> Result<(), Failure> {
    let (cache, state) = (cycle.cache, &cycle.volumes);
    for name in &state.bound_volumes {
        let Some(volume) = cache.volumes.get(name) else {
            return Err(Failure::unresolvable(MISSING_PV_REASON, events()));
        };
        if let Some(affinity) = &volume.node_affinity {
            if !node_selector_matches(affinity, &node.name, &node.labels) {
                return Err(Failure::unresolvable(CONFLICT_REASON, events()));
            }
        }
    }
    let mut taken = HashSet::new();
    for (key, claim) in &state.delayed {
        if let Some(selected) = &claim.selected_node {
            // Already being provisioned for a node: only that one will do.
            if **selected != *node.name {
                return Err(Failure::unresolvable(NO_VOLUME_REASON, events()));
            }
            continue;
        }
        match find_volume(cache, key, claim, node, &taken) {
            Some(v) => {
                taken.insert(v);
            }
            None if can_provision(cache, claim, node) => {}
            None => return Err(Failure::unresolvable(NO_VOLUME_REASON, events())),
        }
    }
    Ok(())
}

/// What binding the pod to a node needs done to its claims first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeAction {
    /// Reserve the volume for the claim.
    Reserve { volume: String, namespace: String, claim: String, claim_uid: String },
    /// Tell the claim's provisioner where the pod goes (`annotated`: the claim already
    /// names this node, only its binding is waited for).
    SelectNode { namespace: String, claim: String, node: String, annotated: bool },
}

impl VolumeAction {
    /// The claim the action is about.
    pub fn claim(&self) -> &str {
        match self {
            VolumeAction::Reserve { claim, .. } | VolumeAction::SelectNode { claim, .. } => claim,
        }
    }
}

/// Decides the actions for the chosen node and records the reservations in the cache so
/// the next pod does not pick the same volume.
pub fn reserve(cache: &mut Cache, pod: &PodInfo, node: &str) -> Vec<VolumeAction> {
    let Ok(state) = pre_filter(cache, pod) else { return Vec::new() };
    let Some(info) = cache.node(node).cloned() else { return Vec::new() };
    let mut actions = Vec::new();
    let mut taken = HashSet::new();
    let mut reserved = Vec::new();
    for (key, claim) in &state.delayed {
        let claim_name = key.split_once('/').map_or("", |(_, n)| n).to_string();
        if claim.selected_node.is_some() {
            // Being provisioned for this node already (the filter allowed no other): wait
            // for it as well.
            actions.push(VolumeAction::SelectNode {
                namespace: pod.namespace.to_string(),
                claim: claim_name,
                node: node.to_string(),
                annotated: true,
            });
            continue;
        }
        match find_volume(cache, key, claim, &info, &taken) {
            Some(v) => {
                taken.insert(v);
                reserved.push((v.to_string(), key.clone()));
                actions.push(VolumeAction::Reserve {
                    volume: v.to_string(),
                    namespace: pod.namespace.to_string(),
                    claim: claim_name,
                    claim_uid: claim.uid.to_string(),
                });
            }
            None => actions.push(VolumeAction::SelectNode {
                namespace: pod.namespace.to_string(),
                claim: claim_name,
                node: node.to_string(),
                annotated: false,
            }),
        }
    }
    for (v, key) in reserved {
        if let Some(volume) = cache.volumes.get_mut(v.as_str()) {
            volume.claim = Some(key);
        }
    }
    actions
}
