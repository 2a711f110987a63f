//! The RollingUpdate strategy (upstream's `rollingUpdate` in `update.go`): which old pods to
//! delete, or, with `maxSurge`, on which nodes to start a new pod next to the old one. The
//! manage loop creates the replacements and prunes the surplus; this only picks, so it is a
//! pure function of the pods per node.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;

use super::{is_updated, min_ready_seconds};
use crate::workloads;

/// What one pass of the rolling update does.
#[derive(Default, Debug)]
pub(super) struct Step {
    pub delete: Vec<Arc<Pod>>,
    /// Nodes to start an updated pod on (surge).
    pub create: Vec<String>,
}

/// Upstream's `GetScaledValueFromIntOrPercent` with rounding up.
fn scaled(value: Option<&IntOrString>, total: i32) -> i32 {
    match value {
        None => 0,
        Some(IntOrString::Int(n)) => *n,
        Some(IntOrString::String(s)) => {
            let percent = s.trim_end_matches('%').parse::<i64>().unwrap_or(0);
            (percent * i64::from(total) + 99).div_euclid(100) as i32
        }
    }
}

fn rolling(ds: &DaemonSet) -> Option<&k8s_openapi::api::apps::v1::RollingUpdateDaemonSet> {
    if !is_rolling_update(ds) {
        return None;
    }
    ds.spec.as_ref()?.update_strategy.as_ref()?.rolling_update.as_ref()
}

/// Whether the strategy is RollingUpdate (the default); OnDelete leaves old pods alone.
pub(super) fn is_rolling_update(ds: &DaemonSet) -> bool {
    let strategy = ds.spec.as_ref().and_then(|s| s.update_strategy.as_ref());
    strategy.and_then(|s| s.type_.as_deref()).unwrap_or("RollingUpdate") == "RollingUpdate"
}

/// Upstream's `SurgeCount`: 0 unless a RollingUpdate asks for a surge.
pub(super) fn surge_count(ds: &DaemonSet, desired: i32) -> i32 {
    rolling(ds).map_or(0, |r| scaled(r.max_surge.as_ref(), desired))
}

pub(super) fn unavailable_count(ds: &DaemonSet, desired: i32) -> i32 {
    rolling(ds).map_or(0, |r| scaled(r.max_unavailable.as_ref(), desired))
}

/// Upstream's `AllowsSurge`.
pub(super) fn allows_surge(ds: &DaemonSet) -> bool {
    surge_count(ds, 1) > 0
}

/// A node's updated and old pod.
type NewAndOld<'a> = (Option<&'a Arc<Pod>>, Option<&'a Arc<Pod>>);

/// Upstream's `findUpdatedPodsOnNode`: the one new and the one old pod of a node (not being
/// deleted); `None` when there are more, which the manage loop prunes first.
fn updated_and_old<'a>(pods: &'a [Arc<Pod>], hash: &str, generation: Option<i64>) -> Option<NewAndOld<'a>> {
    let (mut new, mut old) = (None, None);
    for pod in pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
        let slot = if is_updated(pod, hash, generation) { &mut new } else { &mut old };
        if slot.is_some() {
            return None;
        }
        *slot = Some(pod);
    }
    Some((new, old))
}

/// One pass of the rolling update. `by_node` has an entry (maybe empty) for every node that
/// should run a pod; `should_run` tells whether a node still should.
pub(super) fn step(
    ds: &DaemonSet,
    by_node: &BTreeMap<String, Vec<Arc<Pod>>>,
    desired: i32,
    should_run: impl Fn(&str) -> bool,
    hash: &str,
    generation: Option<i64>,
    now: Timestamp,
) -> Step {
    let mut max_surge = surge_count(ds, desired);
    let mut max_unavailable = unavailable_count(ds, desired);
    // An impossible configuration (both 0) falls back to one unavailable pod, as upstream.
    if desired > 0 && max_surge == 0 && max_unavailable == 0 {
        max_unavailable = 1;
    }
    max_surge = max_surge.max(0);
    let min_ready = min_ready_seconds(ds);
    let available = |p: &Pod| workloads::is_available(p, min_ready, now);
    let mut step = Step::default();

    if max_surge == 0 {
        // Delete just enough old pods to stay within maxUnavailable; manage creates the
        // replacements. Deleted pods do not count, so an update progresses past dead nodes.
        let mut unavailable = 0;
        let mut replacements = Vec::new();
        let mut candidates = Vec::new();
        for pods in by_node.values() {
            let Some((new, old)) = updated_and_old(pods, hash, generation) else {
                unavailable += 1;
                continue;
            };
            match (new, old) {
                (None, None) | (Some(_), Some(_)) => unavailable += 1,
                (Some(new), None) => {
                    if !available(new) {
                        unavailable += 1;
                    }
                }
                (None, Some(old)) => {
                    if !available(old) {
                        replacements.push(old.clone());
                        unavailable += 1;
                    } else if unavailable < max_unavailable {
                        candidates.push(old.clone());
                    }
                }
            }
        }
        let remaining = (max_unavailable - unavailable).clamp(0, candidates.len() as i32) as usize;
        step.delete = replacements;
        step.delete.extend(candidates.into_iter().take(remaining));
        return step;
    }

    // Surge: a new pod starts next to each old one (at most maxSurge at a time, at once
    // where the old one is unavailable anyway); the old one goes when the new is available.
    let mut should_not_run = Vec::new();
    let mut candidates = Vec::new();
    let mut allowed = Vec::new();
    let (mut surging, mut num_available) = (0, 0);
    for (node, pods) in by_node {
        let Some((new, old)) = updated_and_old(pods, hash, generation) else {
            surging += 1;
            continue;
        };
        if let Some(p) = old.or(new) {
            if available(p) {
                num_available += 1;
            }
        }
        match (new, old) {
            (_, None) => {}
            (None, Some(old)) => {
                if !available(old) {
                    if should_run(node) {
                        allowed.push(node.clone());
                    } else {
                        step.delete.push(old.clone());
                    }
                } else if !should_run(node) {
                    should_not_run.push(old.clone());
                } else if surging < max_surge {
                    candidates.push(node.clone());
                }
            }
            (Some(new), Some(old)) => {
                if available(new) {
                    step.delete.push(old.clone());
                } else {
                    surging += 1;
                }
            }
        }
    }
    // With a surge 100% availability is expected: a pod on a node that no longer should run
    // one goes only while more pods are available than desired.
    let deletable = (num_available - desired).clamp(0, should_not_run.len() as i32) as usize;
    step.delete.extend(should_not_run.into_iter().take(deletable));
    let remaining = (max_surge - surging).clamp(0, candidates.len() as i32) as usize;
    step.create = allowed;
    step.create.extend(candidates.into_iter().take(remaining));
    step
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ds(strategy: serde_json::Value) -> DaemonSet {
        serde_json::from_value(json!({
            "metadata": {"name": "d", "namespace": "ns"},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "updateStrategy": strategy,
                "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": []}}},
        }))
        .unwrap()
    }

    fn pod(name: &str, hash: &str, ready: bool) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {"controller-revision-hash": hash}},
                "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]},
            }))
            .unwrap(),
        )
    }

    fn names(pods: &[Arc<Pod>]) -> Vec<&str> {
        pods.iter().map(|p| p.metadata.name.as_deref().unwrap()).collect()
    }

    #[test]
    fn without_surge_old_pods_go_within_max_unavailable() {
        let d = ds(json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}));
        let mut by_node = BTreeMap::new();
        for n in ["n1", "n2", "n3"] {
            by_node.insert(n.to_string(), vec![pod(&format!("{n}-old"), "old", true)]);
        }
        let s = step(&d, &by_node, 3, |_| true, "new", None, Timestamp::now());
        assert_eq!(names(&s.delete), ["n1-old"]);
        // One node being replaced (no pod): nothing more may go.
        by_node.insert("n1".into(), vec![]);
        let s = step(&d, &by_node, 3, |_| true, "new", None, Timestamp::now());
        assert!(s.delete.is_empty());
        // A new pod not ready yet counts as unavailable too.
        by_node.insert("n1".into(), vec![pod("n1-new", "new", false)]);
        assert!(step(&d, &by_node, 3, |_| true, "new", None, Timestamp::now()).delete.is_empty());
        by_node.insert("n1".into(), vec![pod("n1-new", "new", true)]);
        let s = step(&d, &by_node, 3, |_| true, "new", None, Timestamp::now());
        assert_eq!(names(&s.delete), ["n2-old"]);
        // An unavailable old pod is replaced whatever the budget.
        by_node.insert("n3".into(), vec![pod("n3-old", "old", false)]);
        let s = step(&d, &by_node, 3, |_| true, "new", None, Timestamp::now());
        assert_eq!(names(&s.delete), ["n3-old"]);
        // Percentages round up: 34% of 3 is 2.
        let d = ds(json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "34%"}}));
        by_node.insert("n3".into(), vec![pod("n3-old", "old", true)]);
        by_node.insert("n1".into(), vec![pod("n1-old", "old", true)]);
        assert_eq!(step(&d, &by_node, 3, |_| true, "new", None, Timestamp::now()).delete.len(), 2);
    }

    #[test]
    fn with_surge_new_pods_start_before_old_ones_go() {
        let d = ds(json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}));
        let mut by_node = BTreeMap::new();
        for n in ["n1", "n2"] {
            by_node.insert(n.to_string(), vec![pod(&format!("{n}-old"), "old", true)]);
        }
        let s = step(&d, &by_node, 2, |_| true, "new", None, Timestamp::now());
        assert!(s.delete.is_empty());
        assert_eq!(s.create, ["n1"]);
        // Surging on n1 and not available yet: nothing else.
        by_node.get_mut("n1").unwrap().push(pod("n1-new", "new", false));
        let s = step(&d, &by_node, 2, |_| true, "new", None, Timestamp::now());
        assert!(s.delete.is_empty() && s.create.is_empty());
        // Available: the old one goes, and the next node may surge.
        by_node.insert("n1".into(), vec![pod("n1-old", "old", true), pod("n1-new", "new", true)]);
        let s = step(&d, &by_node, 2, |_| true, "new", None, Timestamp::now());
        assert_eq!(names(&s.delete), ["n1-old"]);
        assert_eq!(s.create, ["n2"]);
    }

    #[test]
    fn on_delete_and_pod_template_generation() {
        let d = ds(json!({"type": "OnDelete"}));
        assert!(!allows_surge(&d) && !is_rolling_update(&d));
        assert_eq!(unavailable_count(&d, 5), 0);
        let mut p = (*pod("p", "other", true)).clone();
        p.metadata.labels.as_mut().unwrap().insert(super::super::GENERATION_LABEL.into(), "3".into());
        assert!(is_updated(&p, "new", Some(3)));
        assert!(!is_updated(&p, "new", Some(4)));
        assert!(!is_updated(&p, "", None));
    }
}
