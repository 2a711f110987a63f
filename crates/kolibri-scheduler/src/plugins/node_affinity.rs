//! NodeAffinity: `nodeSelector` and required node affinity (filter); the weights of the
//! preferred terms a node matches (score).

use crate::cache::{NodeInfo, PodInfo};
use crate::framework::Failure;
use crate::queue::Events;
use crate::selectors::{node_selector_matches, node_term_matches};

pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";

/// Whether the node satisfies the pod's `nodeSelector` and required node affinity.
pub fn matches(pod: &PodInfo, node: &NodeInfo) -> bool {
    if !pod.node_selector.iter().all(|(k, v)| node.labels.get(k) == Some(v)) {
        return false;
    }
    let required = pod
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref());
    required.is_none_or(|sel| node_selector_matches(sel, &node.name, &node.labels))
}

pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Result<(), Failure> {
    if matches(pod, node) {
        Ok(())
    } else {
        Err(Failure::unresolvable(REASON, Events::NODE))
    }
}

pub fn score(pod: &PodInfo, nodes: &[&NodeInfo]) -> Vec<i64> {
    let preferred = pod
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_deref())
        .unwrap_or_default();
    let mut scores: Vec<i64> = nodes
        .iter()
        .map(|n| {
            preferred
                .iter()
                .filter(|t| t.weight != 0 && node_term_matches(&t.preference, &n.name, &n.labels))
                .map(|t| i64::from(t.weight))
                .sum()
        })
        .collect();
    super::default_normalize(&mut scores, false);
    scores
}
