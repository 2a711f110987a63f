//! TaintToleration: `NoSchedule`/`NoExecute` taints must be tolerated (filter); fewer
//! untolerated `PreferNoSchedule` taints score higher.

use crate::cache::{NodeInfo, PodInfo};
use crate::framework::Failure;
use crate::queue::Events;
use crate::selectors::tolerated;

pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Result<(), Failure> {
    let untolerated = node
        .taints
        .iter()
        .find(|t| (t.effect == "NoSchedule" || t.effect == "NoExecute") && !tolerated(&pod.tolerations, t));
    match untolerated {
        None => Ok(()),
        Some(t) => Err(Failure::unresolvable(
            format!("node(s) had untolerated taint {{{}: {}}}", t.key, t.value.as_deref().unwrap_or_default()),
            Events::NODE,
        )),
    }
}

/// Count of intolerable `PreferNoSchedule` taints, normalized in reverse.
pub fn score(pod: &PodInfo, nodes: &[&NodeInfo]) -> Vec<i64> {
    // Only tolerations that can apply to PreferNoSchedule count (upstream's filter of them).
    let tolerations: Vec<_> = pod
        .tolerations
        .iter()
        .filter(|t| t.effect.as_deref().is_none_or(|e| e.is_empty() || e == "PreferNoSchedule"))
        .cloned()
        .collect();
    let mut scores: Vec<i64> = nodes
        .iter()
        .map(|n| {
            n.taints.iter().filter(|t| t.effect == "PreferNoSchedule" && !tolerated(&tolerations, t)).count() as i64
        })
        .collect();
    super::default_normalize(&mut scores, true);
    scores
}
