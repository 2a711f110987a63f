//! One scheduling attempt: pre-filter (per-attempt state), filter the nodes (stopping
//! once enough feasible nodes are found, as upstream's adaptive `percentageOfNodesToScore`),
//! score them with the default profile's weights, and pick the best (ties at random).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::cache::{Cache, NodeInfo, PodInfo};
use crate::plugins::{
    balanced_allocation, image_locality, inter_pod_affinity, node_affinity, node_name, node_ports, node_resources_fit,
    node_unschedulable, pod_topology_spread, taint_toleration, volume_binding,
};
use crate::queue::Events;
use crate::resources::Resources;

pub const MAX_NODE_SCORE: i64 = 100;

/// Weights of the score plugins in upstream's default profile.
const WEIGHT_TAINT_TOLERATION: i64 = 3;
const WEIGHT_NODE_AFFINITY: i64 = 2;
const WEIGHT_POD_TOPOLOGY_SPREAD: i64 = 2;
const WEIGHT_INTER_POD_AFFINITY: i64 = 2;
const WEIGHT_NODE_RESOURCES_FIT: i64 = 1;
const WEIGHT_BALANCED_ALLOCATION: i64 = 1;
const WEIGHT_IMAGE_LOCALITY: i64 = 1;

/// Why a node does not fit.
#[derive(Clone, Debug)]
pub struct Failure {
    /// Removing pods (preemption) cannot help.
    pub unresolvable: bool,
    pub reasons: Vec<String>,
    /// Events after which the pod may fit.
    pub helped_by: Events,
}

impl Failure {
    pub fn unschedulable(reason: impl Into<String>, helped_by: Events) -> Failure {
        Failure { unresolvable: false, reasons: vec![reason.into()], helped_by }
    }

    pub fn unresolvable(reason: impl Into<String>, helped_by: Events) -> Failure {
        Failure { unresolvable: true, reasons: vec![reason.into()], helped_by }
    }
}

/// State of one attempt, shared by the filters.
pub struct Cycle<'a> {
    pub cache: &'a Cache,
    pub pod: &'a PodInfo,
    pub priority: i32,
    pub affinity: inter_pod_affinity::PreFilter,
    pub spread: pod_topology_spread::PreFilter,
    pub volumes: volume_binding::PreFilter,
    /// Resources held on nodes for pods of at least this priority nominated there.
    pub nominated: HashMap<&'a str, Resources>,
}

/// Why a pod fits nowhere, and upstream's message for it.
#[derive(Clone, Debug)]
pub struct FitError {
    pub num_nodes: usize,
    /// A reason that holds for every node (from a pre-filter).
    pub pre_filter: Option<Failure>,
    pub nodes: Vec<(Arc<str>, Failure)>,
    /// What preemption found (`preemption: ...`).
    pub post_filter: Option<String>,
}

impl FitError {
    /// `0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient cpu.`
    /// plus the preemption part.
    pub fn message(&self) -> String {
        if self.num_nodes == 0 && self.pre_filter.is_none() {
            return "no nodes available to schedule pods".to_string();
        }
        let mut msg = format!("0/{} nodes are available:", self.num_nodes);
        match &self.pre_filter {
            Some(f) => msg.push_str(&format!(" {}.", f.reasons.join(", "))),
            None => {
                let histogram = histogram(self.nodes.iter().flat_map(|(_, f)| f.reasons.iter().map(String::as_str)));
                if !histogram.is_empty() {
                    msg.push_str(&format!(" {}.", histogram.join(", ")));
                }
            }
        }
        if let Some(post) = &self.post_filter {
            msg.push(' ');
            msg.push_str(post);
        }
        msg
    }

    /// The events that may make the pod fit.
    pub fn helped_by(&self) -> Events {
        let mut events = self.pre_filter.as_ref().map_or(Events::NONE, |f| f.helped_by);
        for (_, f) in &self.nodes {
            events = events.with(f.helped_by);
        }
        // With no node at all, a new node is what helps.
        events.with(Events::NODE)
    }
}

/// `N reason` strings, sorted as upstream sorts them (as strings).
pub fn histogram<'a>(reasons: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in reasons {
        *counts.entry(r).or_default() += 1;
    }
    let mut out: Vec<String> = counts.into_iter().map(|(r, n)| format!("{n} {r}")).collect();
    out.sort();
    out
}

/// Upstream's adaptive number of feasible nodes to find before scoring.
pub fn feasible_nodes_to_find(all: usize) -> usize {
    const MIN_FEASIBLE: usize = 100;
    if all < MIN_FEASIBLE {
        return all;
    }
    let percentage = 50usize.saturating_sub(all / 125).max(5);
    (all * percentage / 100).max(MIN_FEASIBLE)
}

/// Builds the per-attempt state; `Err` when a pre-filter rules out every node.
pub fn cycle<'a>(cache: &'a Cache, pod: &'a PodInfo, priority: i32) -> Result<Cycle<'a>, Failure> {
    let volumes = volume_binding::pre_filter(cache, pod)?;
    let mut nominated: HashMap<&str, Resources> = HashMap::new();
    for (key, n) in &cache.nominated {
        if *key != pod.key && n.priority >= priority {
            let r = nominated.entry(&*n.node).or_default();
            r.add(&n.requests);
            r.pods += 1;
        }
    }
    Ok(Cycle {
        cache,
        pod,
        priority,
        affinity: inter_pod_affinity::pre_filter(cache, pod),
        spread: pod_topology_spread::pre_filter(cache, pod),
        volumes,
        nominated,
    })
}

/// The filters, in upstream's order; the first failure decides.
pub fn filter(cycle: &Cycle, node: &NodeInfo) -> Result<(), Failure> {
    let pod = cycle.pod;
    node_unschedulable::filter(pod, node)?;
    node_name::filter(pod, node)?;
    taint_toleration::filter(pod, node)?;
    node_affinity::filter(pod, node)?;
    node_ports::filter(pod, node)?;
    node_resources_fit::filter(cycle, node)?;
    volume_binding::filter(cycle, node)?;
    pod_topology_spread::filter(cycle, node)?;
    inter_pod_affinity::filter(cycle, node)?;
    Ok(())
}

/// Finds the best node for the pod, or why there is none. `start` is where the search
/// begins in the node list (rotated between attempts, as upstream, so the nodes share the
/// load when only a part of them is searched); it is advanced past the nodes looked at.
pub fn schedule(cycle: &Cycle, start: &mut usize) -> Result<Arc<str>, FitError> {
    let cache = cycle.cache;
    let names = cache.node_names();
    let all = names.len();
    let fit_error = |nodes| FitError { num_nodes: all, pre_filter: None, nodes, post_filter: None };
    if all == 0 {
        return Err(fit_error(Vec::new()));
    }
    let want = feasible_nodes_to_find(all);
    let mut feasible: Vec<&NodeInfo> = Vec::with_capacity(want.min(all));
    let mut failures = Vec::new();
    let mut looked = 0;
    for i in 0..all {
        let Some(node) = cache.node(&names[(*start + i) % all]) else { continue };
        looked += 1;
        match filter(cycle, node) {
            Ok(()) => {
                feasible.push(node);
                if feasible.len() >= want {
                    break;
                }
            }
            Err(f) => failures.push((node.name.clone(), f)),
        }
    }
    *start = (*start + looked) % all;
    if feasible.is_empty() {
        return Err(fit_error(failures));
    }
    if feasible.len() == 1 {
        return Ok(feasible[0].name.clone());
    }
    let scores = score(cycle, &feasible);
    Ok(select(&feasible, &scores))
}

/// Weighted sum of the score plugins for each feasible node.
pub fn score(cycle: &Cycle, nodes: &[&NodeInfo]) -> Vec<i64> {
    let (cache, pod) = (cycle.cache, cycle.pod);
    let mut total = vec![0i64; nodes.len()];
    let mut add = |scores: Vec<i64>, weight: i64| {
        for (t, s) in total.iter_mut().zip(scores) {
            *t += s * weight;
        }
    };
    add(taint_toleration::score(pod, nodes), WEIGHT_TAINT_TOLERATION);
    add(node_affinity::score(pod, nodes), WEIGHT_NODE_AFFINITY);
    add(pod_topology_spread::score(cache, pod, nodes), WEIGHT_POD_TOPOLOGY_SPREAD);
    add(inter_pod_affinity::score(cache, pod, nodes), WEIGHT_INTER_POD_AFFINITY);
    add(node_resources_fit::score(pod, nodes), WEIGHT_NODE_RESOURCES_FIT);
    add(balanced_allocation::score(pod, nodes), WEIGHT_BALANCED_ALLOCATION);
    add(image_locality::score(cache, pod, nodes), WEIGHT_IMAGE_LOCALITY);
    total
}

/// The highest score; among equals, one at random (reservoir sampling, as upstream).
fn select(nodes: &[&NodeInfo], scores: &[i64]) -> Arc<str> {
    let mut best = 0;
    let mut ties = 1u32;
    for i in 1..nodes.len() {
        if scores[i] > scores[best] {
            best = i;
            ties = 1;
        } else if scores[i] == scores[best] {
            ties += 1;
            if rand::Rng::gen_range(&mut rand::thread_rng(), 0..ties) == 0 {
                best = i;
            }
        }
    }
    nodes[best].name.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_shape_is_upstreams() {
        let f = |r: &str, unresolvable| Failure { unresolvable, reasons: vec![r.into()], helped_by: Events::NODE };
        let err = FitError {
            num_nodes: 3,
            pre_filter: None,
            nodes: vec![
                ("a".into(), f("Insufficient cpu", false)),
                ("b".into(), f("node(s) had untolerated taint {key: value}", true)),
                ("c".into(), f("Insufficient cpu", false)),
            ],
            post_filter: Some(
                "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.".into(),
            ),
        };
        assert_eq!(
            err.message(),
            "0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, 2 Insufficient cpu. \
             preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
        );
    }

    #[test]
    fn adaptive_number_of_nodes() {
        assert_eq!(feasible_nodes_to_find(50), 50);
        assert_eq!(feasible_nodes_to_find(500), 230);
        assert_eq!(feasible_nodes_to_find(5000), 500);
    }
}
