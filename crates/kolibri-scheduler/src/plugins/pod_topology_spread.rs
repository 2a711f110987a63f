//! PodTopologySpread: `DoNotSchedule` constraints bound the skew of matching pods between
//! topology domains (filter); `ScheduleAnyway` constraints, or for a pod without
//! constraints upstream's system defaults (hostname max skew 3, zone max skew 5, over the
//! pods matching the selectors of the pod's Services and controller), prefer the emptier
//! domains (score).

use std::collections::HashMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

use crate::cache::{Cache, NodeInfo, OwnerKind, PodInfo};
use crate::framework::{Cycle, Failure, MAX_NODE_SCORE};
use crate::queue::Events;
use crate::selectors::{label_selector_matches, tolerated};

pub const REASON: &str = "node(s) didn't match pod topology spread constraints";
pub const MISSING_LABEL_REASON: &str = "node(s) didn't match pod topology spread constraints (missing required label)";

const HOSTNAME: &str = "kubernetes.io/hostname";
const ZONE: &str = "topology.kubernetes.io/zone";

struct Constraint {
    max_skew: i64,
    key: String,
    /// Which pods (of the pod's namespace) the constraint counts.
    selects: LabelSelector,
    min_domains: Option<i32>,
    honor_affinity: bool,
    honor_taints: bool,
}

impl Constraint {
    fn counts(&self, pod: &PodInfo, other: &PodInfo) -> bool {
        if other.deleting || other.namespace != pod.namespace {
            return false;
        }
        label_selector_matches(&self.selects, &other.labels)
    }

    fn node_eligible(&self, pod: &PodInfo, node: &NodeInfo) -> bool {
        (!self.honor_affinity || super::node_affinity::matches(pod, node))
            && (!self.honor_taints
                || node
                    .taints
                    .iter()
                    .all(|t| !(t.effect == "NoSchedule" || t.effect == "NoExecute") || tolerated(&pod.tolerations, t)))
    }
}

/// The pod's constraints with this `whenUnsatisfiable`; `matchLabelKeys` become `In`
/// requirements with the pod's values.
fn constraints(pod: &PodInfo, when: &str) -> Vec<Constraint> {
    pod.spread
        .iter()
        .filter(|c| c.when_unsatisfiable == when)
        .map(|c| {
            let mut sel = c.label_selector.clone().unwrap_or(LabelSelector {
                // A missing selector matches no pod.
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: "kolibri.internal/none".into(),
                    operator: "In".into(),
                    values: Some(vec![]),
                }]),
                ..Default::default()
            });
            for key in c.match_label_keys.iter().flatten() {
                if let Some(v) = pod.labels.get(key) {
                    sel.match_expressions.get_or_insert_with(Vec::new).push(LabelSelectorRequirement {
                        key: key.clone(),
                        operator: "In".into(),
                        values: Some(vec![v.clone()]),
                    });
                }
            }
            Constraint {
                max_skew: i64::from(c.max_skew),
                key: c.topology_key.clone(),
                selects: sel,
                min_domains: c.min_domains,
                honor_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
                honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
            }
        })
        .collect()
}

/// Upstream's `helper.DefaultSelector`: the union of the selectors of the Services that
/// select the pod and of its ReplicationController, ReplicaSet or StatefulSet; None when
/// that selects nothing in particular (then the defaults do not apply).
pub fn default_selector(cache: &Cache, pod: &PodInfo) -> Option<LabelSelector> {
    let spreading = &cache.spreading;
    let mut labels = crate::selectors::Labels::new();
    for selector in spreading.services.get(&*pod.namespace).into_iter().flat_map(|s| s.values()) {
        if !selector.is_empty() && selector.iter().all(|(k, v)| pod.labels.get(k) == Some(v)) {
            labels.extend(selector.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    let mut requirements: Vec<LabelSelectorRequirement> = Vec::new();
    if let Some((kind, name)) = &pod.owner {
        let workload = |map: &crate::cache::Selectors<LabelSelector>| {
            map.get(&*pod.namespace).and_then(|m| m.get(&**name)).cloned()
        };
        match kind {
            OwnerKind::ReplicationController => {
                let rcs = spreading.replication_controllers.get(&*pod.namespace);
                if let Some(selector) = rcs.and_then(|m| m.get(&**name)) {
                    labels.extend(selector.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
            OwnerKind::ReplicaSet => {
                requirements = workload(&spreading.replica_sets).map(as_requirements).unwrap_or_default()
            }
            OwnerKind::StatefulSet => {
                requirements = workload(&spreading.stateful_sets).map(as_requirements).unwrap_or_default()
            }
        }
    }
    if labels.is_empty() && requirements.is_empty() {
        return None;
    }
    Some(LabelSelector { match_labels: Some(labels), match_expressions: Some(requirements) })
}

/// A workload's selector as requirements (`matchLabels` as `In`); a selector with an
/// operator upstream would not parse adds none, as upstream's `LabelSelectorAsSelector`.
fn as_requirements(selector: LabelSelector) -> Vec<LabelSelectorRequirement> {
    let expressions = selector.match_expressions.unwrap_or_default();
    let valid = expressions.iter().all(|e| {
        let n = e.values.as_ref().map_or(0, Vec::len);
        match e.operator.as_str() {
            "In" | "NotIn" => n > 0,
            "Exists" | "DoesNotExist" => n == 0,
            _ => false,
        }
    });
    if !valid {
        return Vec::new();
    }
    let labels = selector.match_labels.unwrap_or_default().into_iter().map(|(key, v)| LabelSelectorRequirement {
        key,
        operator: "In".into(),
        values: Some(vec![v]),
    });
    labels.chain(expressions).collect()
}

fn system_defaults(cache: &Cache, pod: &PodInfo) -> Vec<Constraint> {
    let Some(selector) = default_selector(cache, pod) else { return Vec::new() };
    [(HOSTNAME, 3), (ZONE, 5)]
        .into_iter()
        .map(|(key, skew)| Constraint {
            max_skew: skew,
            key: key.into(),
            selects: selector.clone(),
            min_domains: None,
            honor_affinity: true,
            honor_taints: false,
        })
        .collect()
}

/// Matching pods per domain of each `DoNotSchedule` constraint.
#[derive(Default)]
pub struct PreFilter {
    constraints: Vec<Constraint>,
    counts: Vec<HashMap<String, i64>>,
    mins: Vec<i64>,
}

pub fn pre_filter(cache: &Cache, pod: &PodInfo) -> PreFilter {
    let constraints = constraints(pod, "DoNotSchedule");
    if constraints.is_empty() {
        return PreFilter::default();
    }
    let mut counts: Vec<HashMap<String, i64>> = vec![HashMap::new(); constraints.len()];
    for node in cache.nodes().filter(|n| n.registered) {
        if !constraints.iter().all(|c| node.labels.contains_key(&c.key) && c.node_eligible(pod, node)) {
            continue;
        }
        for (i, c) in constraints.iter().enumerate() {
            let value = node.labels.get(&c.key).cloned().unwrap_or_default();
            let n = node.pods.iter().filter(|p| c.counts(pod, p)).count() as i64;
            *counts[i].entry(value).or_default() += n;
        }
    }
    let mins = constraints
        .iter()
        .zip(&counts)
        .map(|(c, m)| {
            if c.min_domains.is_some_and(|d| (m.len() as i64) < i64::from(d)) {
                0
            } else {
                m.values().copied().min().unwrap_or(0)
            }
        })
        .collect();
    PreFilter { constraints, counts, mins }
}

pub fn filter(cycle: &Cycle, node: &NodeInfo) -> Result<(), Failure> {
    let state = &cycle.spread;
    let pod = cycle.pod;
    for (i, c) in state.constraints.iter().enumerate() {
        let Some(value) = node.labels.get(&c.key) else {
            return Err(Failure::unresolvable(MISSING_LABEL_REASON, Events::NODE));
        };
        let own = i64::from(c.counts(pod, pod));
        let matching = state.counts[i].get(value).copied().unwrap_or(0);
        if matching + own - state.mins[i] > c.max_skew {
            return Err(Failure::unschedulable(REASON, Events::NODE.with(Events::POD_DELETED)));
        }
    }
    Ok(())
}

pub fn score(cache: &Cache, pod: &PodInfo, nodes: &[&NodeInfo]) -> Vec<i64> {
    let (constraints, require_all) = if pod.spread.is_empty() {
        (system_defaults(cache, pod), false)
    } else {
        (constraints(pod, "ScheduleAnyway"), true)
    };
    if constraints.is_empty() {
        return vec![0; nodes.len()];
    }
    let ignored: Vec<bool> =
        nodes.iter().map(|n| require_all && !constraints.iter().all(|c| n.labels.contains_key(&c.key))).collect();
    let mut weights = Vec::with_capacity(constraints.len());
    let mut counts: Vec<HashMap<&str, i64>> = Vec::with_capacity(constraints.len());
    for c in &constraints {
        let mut m: HashMap<&str, i64> = HashMap::new();
        if c.key == HOSTNAME {
            // Per node: only the candidates matter.
            for (n, ignored) in nodes.iter().zip(&ignored) {
                if *ignored {
                    continue;
                }
                if let Some(v) = n.labels.get(&c.key) {
                    *m.entry(v).or_default() += n.pods.iter().filter(|p| c.counts(pod, p)).count() as i64;
                }
            }
            weights.push(((m.len() + 2) as f64).ln());
        } else {
            let domains: std::collections::HashSet<&str> = nodes
                .iter()
                .zip(&ignored)
                .filter(|(_, i)| !**i)
                .filter_map(|(n, _)| n.labels.get(&c.key).map(String::as_str))
                .collect();
            for node in cache.nodes().filter(|n| n.registered && c.node_eligible(pod, n)) {
                if let Some(v) = node.labels.get(&c.key).filter(|v| domains.contains(v.as_str())) {
                    *m.entry(v).or_default() += node.pods.iter().filter(|p| c.counts(pod, p)).count() as i64;
                }
            }
            weights.push(((domains.len() + 2) as f64).ln());
        }
        counts.push(m);
    }
    let raw: Vec<i64> = nodes
        .iter()
        .map(|n| {
            let mut s = 0.0;
            for ((c, w), m) in constraints.iter().zip(&weights).zip(&counts) {
                if let Some(v) = n.labels.get(&c.key) {
                    let count = m.get(v.as_str()).copied().unwrap_or(0);
                    s += count as f64 * w + (c.max_skew - 1) as f64;
                }
            }
            s.round() as i64
        })
        .collect();
    let considered = raw.iter().zip(&ignored).filter(|(_, i)| !**i).map(|(s, _)| *s);
    let min = considered.clone().min().unwrap_or(0);
    let max = considered.max().unwrap_or(0);
    raw.iter()
        .zip(&ignored)
        .map(|(s, ignored)| {
            if *ignored {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - s) / max
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::set_selector;
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::{json, Value};

    fn pod(extra: Value) -> PodInfo {
        let mut v = json!({"metadata": {"name": "p", "namespace": "ns", "labels": {"app": "web", "tier": "front"}},
            "spec": {"containers": []}});
        if let (Some(m), Some(e)) = (v["metadata"].as_object_mut(), extra.as_object()) {
            m.extend(e.clone());
        }
        PodInfo::from_pod(&serde_json::from_value::<Pod>(v).expect("pod"))
    }

    fn labels(v: Value) -> crate::selectors::Labels {
        serde_json::from_value(v).expect("labels")
    }

    #[test]
    fn default_selector_is_the_union_of_services_and_controller() {
        let mut cache = Cache::default();
        let bare = pod(json!({}));
        assert_eq!(default_selector(&cache, &bare), None);
        set_selector(&mut cache.spreading.services, "ns/web", Some(labels(json!({"app": "web"}))));
        set_selector(&mut cache.spreading.services, "ns/other", Some(labels(json!({"app": "db"}))));
        set_selector(&mut cache.spreading.services, "elsewhere/web", Some(labels(json!({"tier": "front"}))));
        let sel = default_selector(&cache, &bare).expect("selected by a service");
        assert_eq!(sel.match_labels, Some(labels(json!({"app": "web"}))));
        assert_eq!(sel.match_expressions, Some(vec![]));

        let rs: LabelSelector = serde_json::from_value(json!({"matchLabels": {"tier": "front"},
            "matchExpressions": [{"key": "app", "operator": "Exists"}]}))
        .expect("selector");
        set_selector(&mut cache.spreading.replica_sets, "ns/web-1", Some(rs));
        let owned = pod(json!({"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1",
            "uid": "u", "controller": true}]}));
        let sel = default_selector(&cache, &owned).expect("selector");
        let exprs = sel.match_expressions.unwrap_or_default();
        assert_eq!(exprs.len(), 2);
        assert_eq!((exprs[0].key.as_str(), exprs[0].operator.as_str()), ("tier", "In"));
        assert_eq!((exprs[1].key.as_str(), exprs[1].operator.as_str()), ("app", "Exists"));

        // A controller of another kind adds nothing; a service gone leaves nothing.
        set_selector(&mut cache.spreading.services, "ns/web", None);
        let job = pod(json!({"ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "j",
            "uid": "u", "controller": true}]}));
        assert_eq!(default_selector(&cache, &job), None);
        assert!(cache.spreading.services.get("ns").is_some_and(|m| m.len() == 1));
    }
}
