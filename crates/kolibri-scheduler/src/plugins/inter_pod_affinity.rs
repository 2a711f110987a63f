//! InterPodAffinity: required pod affinity and anti-affinity of the incoming pod, and the
//! required anti-affinity of the pods already placed (filter); preferred terms of both
//! sides, and the existing pods' required affinity with weight 1 (score).

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{PodAffinityTerm, WeightedPodAffinityTerm};

use crate::cache::{Cache, NodeInfo, PodInfo};
use crate::framework::{Cycle, Failure, MAX_NODE_SCORE};
use crate::queue::Events;
use crate::selectors::{label_selector_matches, Labels};

pub const AFFINITY_REASON: &str = "node(s) didn't match pod affinity rules";
pub const ANTI_AFFINITY_REASON: &str = "node(s) didn't match pod anti-affinity rules";
pub const EXISTING_ANTI_AFFINITY_REASON: &str = "node(s) didn't satisfy existing pods anti-affinity rules";

/// Weight of an existing pod's required affinity term in the score (upstream's
/// `hardPodAffinityWeight` default).
const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

type Pair = (String, String);

fn required_affinity(pod: &PodInfo) -> &[PodAffinityTerm] {
    pod.affinity
        .as_ref()
        .and_then(|a| a.pod_affinity.as_ref())
        .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_deref())
        .unwrap_or_default()
}

fn required_anti_affinity(pod: &PodInfo) -> &[PodAffinityTerm] {
    pod.affinity
        .as_ref()
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_deref())
        .unwrap_or_default()
}

fn preferred_affinity(pod: &PodInfo) -> &[WeightedPodAffinityTerm] {
    pod.affinity
        .as_ref()
        .and_then(|a| a.pod_affinity.as_ref())
        .and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_deref())
        .unwrap_or_default()
}

fn preferred_anti_affinity(pod: &PodInfo) -> &[WeightedPodAffinityTerm] {
    pod.affinity
        .as_ref()
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_deref())
        .unwrap_or_default()
}

/// Whether `term` of pod `owner` selects `candidate`: its namespaces (the owner's when none
/// are named or selected; those named plus those whose labels the namespace selector
/// matches) and its label selector, with `matchLabelKeys`/`mismatchLabelKeys` taking the
/// owner's values.
pub fn term_matches(cache: &Cache, term: &PodAffinityTerm, owner: &PodInfo, candidate: &PodInfo) -> bool {
    let namespaces = term.namespaces.as_deref().unwrap_or_default();
    let ns_ok = match &term.namespace_selector {
        Some(sel) => {
            namespaces.iter().any(|n| **n == *candidate.namespace)
                || cache.namespaces.get(&*candidate.namespace).is_some_and(|labels| label_selector_matches(sel, labels))
        }
        None if namespaces.is_empty() => owner.namespace == candidate.namespace,
        None => namespaces.iter().any(|n| **n == *candidate.namespace),
    };
    if !ns_ok {
        return false;
    }
    let Some(selector) = &term.label_selector else { return false };
    if !label_selector_matches(selector, &candidate.labels) {
        return false;
    }
    let keys_ok = |keys: &Option<Vec<String>>, equal: bool| {
        keys.iter().flatten().all(|k| match owner.labels.get(k) {
            Some(v) => (candidate.labels.get(k) == Some(v)) == equal,
            None => true,
        })
    };
    keys_ok(&term.match_label_keys, true) && keys_ok(&term.mismatch_label_keys, false)
}

fn pair(labels: &Labels, key: &str) -> Option<Pair> {
    labels.get(key).map(|v| (key.to_string(), v.clone()))
}

/// Counts per topology pair, computed once per scheduling attempt.
#[derive(Default)]
pub struct PreFilter {
    active: bool,
    existing_anti: HashMap<Pair, i64>,
    affinity: HashMap<Pair, i64>,
    anti: HashMap<Pair, i64>,
}

pub fn pre_filter(cache: &Cache, pod: &PodInfo) -> PreFilter {
    let aff = required_affinity(pod);
    let anti = required_anti_affinity(pod);
    let mut state = PreFilter::default();
    if aff.is_empty() && anti.is_empty() && cache.anti_affinity_pods == 0 {
        return state;
    }
    state.active = true;
    for node in cache.nodes() {
        for existing in &node.pods {
            if cache.anti_affinity_pods > 0 {
                for t in required_anti_affinity(existing) {
                    if term_matches(cache, t, existing, pod) {
                        if let Some(p) = pair(&node.labels, &t.topology_key) {
                            *state.existing_anti.entry(p).or_default() += 1;
                        }
                    }
                }
            }
            if !aff.is_empty() && aff.iter().all(|t| term_matches(cache, t, pod, existing)) {
                for t in aff {
                    if let Some(p) = pair(&node.labels, &t.topology_key) {
                        *state.affinity.entry(p).or_default() += 1;
                    }
                }
            }
            for t in anti {
                if term_matches(cache, t, pod, existing) {
                    if let Some(p) = pair(&node.labels, &t.topology_key) {
                        *state.anti.entry(p).or_default() += 1;
                    }
                }
            }
        }
    }
    state
}

fn count(map: &HashMap<Pair, i64>, key: &str, value: &str) -> i64 {
    // Lookups by borrowed pairs would need a custom key type; these maps are small.
    map.iter().find(|((k, v), _)| k == key && v == value).map_or(0, |(_, c)| *c)
}

pub fn filter(cycle: &Cycle, node: &NodeInfo) -> Result<(), Failure> {
    let state = &cycle.affinity;
    if !state.active {
        return Ok(());
    }
    let (cache, pod) = (cycle.cache, cycle.pod);
    let aff = required_affinity(pod);
    if !aff.is_empty() {
        let mut pods_exist = true;
        for t in aff {
            match node.labels.get(&t.topology_key) {
                Some(v) => pods_exist &= count(&state.affinity, &t.topology_key, v) > 0,
                None => return Err(Failure::unresolvable(AFFINITY_REASON, Events::NODE.with(Events::POD_ADDED))),
            }
        }
        // The first pod of a group with affinity to itself may go anywhere.
        let first_of_group = state.affinity.is_empty() && aff.iter().all(|t| term_matches(cache, t, pod, pod));
        if !pods_exist && !first_of_group {
            return Err(Failure::unresolvable(AFFINITY_REASON, Events::NODE.with(Events::POD_ADDED)));
        }
    }
    for t in required_anti_affinity(pod) {
        if let Some(v) = node.labels.get(&t.topology_key) {
            if count(&state.anti, &t.topology_key, v) > 0 {
                return Err(Failure::unschedulable(ANTI_AFFINITY_REASON, Events::NODE.with(Events::POD_DELETED)));
            }
        }
    }
    if !state.existing_anti.is_empty() && node.labels.iter().any(|(k, v)| count(&state.existing_anti, k, v) > 0) {
        return Err(Failure::unschedulable(EXISTING_ANTI_AFFINITY_REASON, Events::NODE.with(Events::POD_DELETED)));
    }
    Ok(())
}

pub fn score(cache: &Cache, pod: &PodInfo, nodes: &[&NodeInfo]) -> Vec<i64> {
    let pref = preferred_affinity(pod);
    let pref_anti = preferred_anti_affinity(pod);
    if pref.is_empty() && pref_anti.is_empty() && cache.affinity_pods == 0 {
        return vec![0; nodes.len()];
    }
    let mut topology: HashMap<Pair, i64> = HashMap::new();
    let mut add = |labels: &Labels, key: &str, delta: i64| {
        if let Some(p) = pair(labels, key) {
            *topology.entry(p).or_default() += delta;
        }
    };
    for node in cache.nodes() {
        for existing in &node.pods {
            for t in pref {
                if term_matches(cache, &t.pod_affinity_term, pod, existing) {
                    add(&node.labels, &t.pod_affinity_term.topology_key, i64::from(t.weight));
                }
            }
            for t in pref_anti {
                if term_matches(cache, &t.pod_affinity_term, pod, existing) {
                    add(&node.labels, &t.pod_affinity_term.topology_key, -i64::from(t.weight));
                }
            }
            if existing.affinity.is_none() {
                continue;
            }
            for t in required_affinity(existing) {
                if term_matches(cache, t, existing, pod) {
                    add(&node.labels, &t.topology_key, HARD_POD_AFFINITY_WEIGHT);
                }
            }
            for t in preferred_affinity(existing) {
                if term_matches(cache, &t.pod_affinity_term, existing, pod) {
                    add(&node.labels, &t.pod_affinity_term.topology_key, i64::from(t.weight));
                }
            }
            for t in preferred_anti_affinity(existing) {
                if term_matches(cache, &t.pod_affinity_term, existing, pod) {
                    add(&node.labels, &t.pod_affinity_term.topology_key, -i64::from(t.weight));
                }
            }
        }
    }
    if topology.is_empty() {
        return vec![0; nodes.len()];
    }
    let raw: Vec<i64> = nodes
        .iter()
        .map(|n| topology.iter().filter(|((k, v), _)| n.labels.get(k) == Some(v)).map(|(_, s)| *s).sum())
        .collect();
    let min = raw.iter().copied().min().unwrap_or(0);
    let max = raw.iter().copied().max().unwrap_or(0);
    let diff = max - min;
    raw.iter()
        .map(|s| if diff > 0 { (MAX_NODE_SCORE as f64 * ((s - min) as f64 / diff as f64)) as i64 } else { 0 })
        .collect()
}
