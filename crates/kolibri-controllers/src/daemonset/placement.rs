//! Which nodes a DaemonSet's pods belong on (upstream's `NodeShouldRunDaemonPod`): the
//! template's `nodeName`, its `nodeSelector` and required node affinity
//! (`nodeaffinity.GetRequiredNodeAffinity`), and its taints, with the tolerations every
//! daemon pod gets (`AddOrUpdateDaemonPodTolerations`). The controllers crate does not
//! depend on the scheduler, so the few matching rules are repeated here.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodSpec, Taint,
    Toleration,
};

pub(crate) const NOT_READY: &str = "node.kubernetes.io/not-ready";
pub(crate) const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
const DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
const MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
const PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
const NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";
const NAME_FIELD: &str = "metadata.name";

/// Adds the tolerations of every daemon pod (upstream's `AddOrUpdateDaemonPodTolerations`):
/// daemon pods survive a node going not-ready or unreachable, and ignore the taints of node
/// conditions a daemon is often there to fix.
pub(crate) fn add_daemon_tolerations(spec: &mut PodSpec) {
    let mut wanted = vec![
        (NOT_READY, "NoExecute"),
        (UNREACHABLE, "NoExecute"),
        (DISK_PRESSURE, "NoSchedule"),
        (MEMORY_PRESSURE, "NoSchedule"),
        (PID_PRESSURE, "NoSchedule"),
        (UNSCHEDULABLE, "NoSchedule"),
    ];
    if spec.host_network == Some(true) {
        wanted.push((NETWORK_UNAVAILABLE, "NoSchedule"));
    }
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    for (key, effect) in wanted {
        add_or_update(
            tolerations,
            Toleration {
                key: Some(key.into()),
                operator: Some("Exists".into()),
                effect: Some(effect.into()),
                ..Default::default()
            },
        );
    }
}

/// Upstream's `AddOrUpdateTolerationInPodSpec`: a toleration with the same key, operator,
/// value and effect is replaced (dropping, say, its `tolerationSeconds`), else it is added.
fn add_or_update(tolerations: &mut Vec<Toleration>, toleration: Toleration) {
    let same = |t: &Toleration| {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        s(&t.key) == s(&toleration.key)
            && s(&t.effect) == s(&toleration.effect)
            && s(&t.operator) == s(&toleration.operator)
            && s(&t.value) == s(&toleration.value)
    };
    match tolerations.iter_mut().find(|t| same(t)) {
        Some(existing) => *existing = toleration,
        None => tolerations.push(toleration),
    }
}

/// Upstream's `ToleratesTaint`.
fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if t.effect.as_deref().is_some_and(|e| !e.is_empty() && e != taint.effect) {
        return false;
    }
    if t.key.as_deref().is_some_and(|k| !k.is_empty() && k != taint.key) {
        return false;
    }
    match t.operator.as_deref().unwrap_or_default() {
        "" | "Equal" => t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default(),
        "Exists" => true,
        _ => false,
    }
}

/// What a DaemonSet asks of a node, computed once per sync.
pub(crate) struct Placement {
    node_name: String,
    node_selector: BTreeMap<String, String>,
    required: Option<NodeSelector>,
    tolerations: Vec<Toleration>,
}

impl Placement {
    pub(crate) fn of(ds: &DaemonSet) -> Self {
        let mut spec = ds.spec.as_ref().and_then(|s| s.template.spec.clone()).unwrap_or_default();
        add_daemon_tolerations(&mut spec);
        Self {
            node_name: spec.node_name.clone().unwrap_or_default(),
            node_selector: spec.node_selector.clone().unwrap_or_default(),
            required: spec
                .affinity
                .and_then(|a| a.node_affinity)
                .and_then(|a| a.required_during_scheduling_ignored_during_execution),
            tolerations: spec.tolerations.unwrap_or_default(),
        }
    }

    /// `(shouldRun, shouldContinueRunning)`: whether a pod should be started on the node, and
    /// whether a pod already there may stay (it may, on a node with an untolerated
    /// NoSchedule taint, as long as every NoExecute taint is tolerated).
    pub(crate) fn check(&self, node: &Node) -> (bool, bool) {
        let name = node.metadata.name.as_deref().unwrap_or_default();
        if !self.node_name.is_empty() && self.node_name != name {
            return (false, false);
        }
        if !self.affinity_matches(node) {
            return (false, false);
        }
        let taints = node.spec.as_ref().and_then(|s| s.taints.as_deref()).unwrap_or_default();
        let untolerated = |effects: &[&str]| {
            taints
                .iter()
                .any(|t| effects.contains(&t.effect.as_str()) && !self.tolerations.iter().any(|tol| tolerates(tol, t)))
        };
        if untolerated(&["NoSchedule", "NoExecute"]) {
            return (false, !untolerated(&["NoExecute"]));
        }
        (true, true)
    }

    /// `nodeSelector` and the required node affinity (`GetRequiredNodeAffinity(...).Match`).
    fn affinity_matches(&self, node: &Node) -> bool {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        let labels = node.metadata.labels.as_ref().unwrap_or(&EMPTY);
        if !self.node_selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            return false;
        }
        let name = node.metadata.name.clone().unwrap_or_default();
        self.required.as_ref().is_none_or(|sel| sel.node_selector_terms.iter().any(|t| term_matches(t, &name, labels)))
    }
}

/// One term: all its expressions (on labels) and fields (only `metadata.name`); a term with
/// neither matches nothing.
fn term_matches(term: &NodeSelectorTerm, name: &String, labels: &BTreeMap<String, String>) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs.iter().all(|e| requirement_matches(e, labels.get(&e.key)))
        && fields.iter().all(|f| {
            f.key == NAME_FIELD && matches!(f.operator.as_str(), "In" | "NotIn") && requirement_matches(f, Some(name))
        })
}

fn requirement_matches(e: &NodeSelectorRequirement, value: Option<&String>) -> bool {
    let values = e.values.as_deref().unwrap_or_default();
    match e.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        // Gt/Lt take one integer; anything malformed matches nothing.
        op @ ("Gt" | "Lt") => {
            let (Some(v), [bound]) = (value, values) else { return false };
            match (v.parse::<i64>(), bound.parse::<i64>()) {
                (Ok(v), Ok(b)) => (op == "Gt" && v > b) || (op == "Lt" && v < b),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Upstream's `ReplaceDaemonSetPodNodeNameNodeAffinity`: the required node affinity becomes
/// the one term `metadata.name In [node]`, so the scheduler binds the pod to that node.
pub(crate) fn pin_to_node(affinity: Option<Affinity>, node: &str) -> Affinity {
    let term = NodeSelectorTerm {
        match_fields: Some(vec![NodeSelectorRequirement {
            key: NAME_FIELD.into(),
            operator: "In".into(),
            values: Some(vec![node.into()]),
        }]),
        match_expressions: None,
    };
    let mut affinity = affinity.unwrap_or_default();
    let node_affinity = affinity.node_affinity.get_or_insert_with(NodeAffinity::default);
    node_affinity.required_during_scheduling_ignored_during_execution =
        Some(NodeSelector { node_selector_terms: vec![term] });
    affinity
}

/// Upstream's `GetTargetNodeName`: the node a pod is bound to, or for a pending pod the node
/// its `metadata.name In [node]` affinity names.
pub(crate) fn target_node(pod: &Pod) -> Option<&str> {
    let spec = pod.spec.as_ref()?;
    if let Some(name) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        return Some(name);
    }
    let required =
        spec.affinity.as_ref()?.node_affinity.as_ref()?.required_during_scheduling_ignored_during_execution.as_ref()?;
    required.node_selector_terms.iter().flat_map(|t| t.match_fields.iter().flatten()).find_map(|f| {
        if f.key != NAME_FIELD || f.operator != "In" {
            return None;
        }
        match f.values.as_deref() {
            Some([one]) => Some(one.as_str()),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ds(spec: serde_json::Value) -> DaemonSet {
        serde_json::from_value(json!({
            "metadata": {"name": "d", "namespace": "ns"},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": spec}},
        }))
        .unwrap()
    }

    fn node(name: &str, labels: serde_json::Value, taints: serde_json::Value) -> Node {
        serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}, "spec": {"taints": taints}}))
            .unwrap()
    }

    #[test]
    fn taints_selectors_and_affinity_decide_placement() {
        let plain = Placement::of(&ds(json!({"containers": [{"name": "c"}]})));
        assert_eq!(plain.check(&node("n", json!({}), json!([]))), (true, true));
        // An untolerated NoSchedule taint: no new pod, an existing one stays.
        let tainted = node("n", json!({}), json!([{"key": "k", "effect": "NoSchedule"}]));
        assert_eq!(plain.check(&tainted), (false, true));
        // NoExecute: it goes.
        let evicting = node("n", json!({}), json!([{"key": "k", "value": "v", "effect": "NoExecute"}]));
        assert_eq!(plain.check(&evicting), (false, false));
        // The taints of node conditions are tolerated by every daemon pod.
        for (key, effect) in [(UNSCHEDULABLE, "NoSchedule"), (NOT_READY, "NoExecute"), (DISK_PRESSURE, "NoSchedule")] {
            let n = node("n", json!({}), json!([{"key": key, "effect": effect}]));
            assert_eq!(plain.check(&n), (true, true), "{key}");
        }
        let network = node("n", json!({}), json!([{"key": NETWORK_UNAVAILABLE, "effect": "NoSchedule"}]));
        assert_eq!(plain.check(&network), (false, true));
        let host = Placement::of(&ds(json!({"hostNetwork": true, "containers": [{"name": "c"}]})));
        assert_eq!(host.check(&network), (true, true));
        // A toleration of the template.
        let tolerating = Placement::of(&ds(
            json!({"tolerations": [{"key": "k", "operator": "Exists"}], "containers": [{"name": "c"}]}),
        ));
        assert_eq!(tolerating.check(&evicting), (true, true));

        let selected = Placement::of(&ds(json!({"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "c"}]})));
        assert_eq!(selected.check(&node("n", json!({"disk": "ssd"}), json!([]))), (true, true));
        assert_eq!(selected.check(&node("n", json!({"disk": "hdd"}), json!([]))), (false, false));
        let affinity = Placement::of(&ds(
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["3"]}]},
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["special"]}]},
            ]}}}, "containers": [{"name": "c"}]}),
        ));
        assert_eq!(affinity.check(&node("n", json!({"gen": "4"}), json!([]))), (true, true));
        assert_eq!(affinity.check(&node("n", json!({"gen": "2"}), json!([]))), (false, false));
        assert_eq!(affinity.check(&node("special", json!({}), json!([]))), (true, true));
        let named = Placement::of(&ds(json!({"nodeName": "a", "containers": [{"name": "c"}]})));
        assert_eq!(named.check(&node("b", json!({}), json!([]))), (false, false));
    }

    #[test]
    fn daemon_tolerations_replace_matching_ones() {
        let mut spec: PodSpec = serde_json::from_value(json!({"containers": [], "tolerations": [
            {"key": NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "mine", "operator": "Exists"},
        ]}))
        .unwrap();
        add_daemon_tolerations(&mut spec);
        let tolerations = spec.tolerations.unwrap();
        assert_eq!(tolerations.len(), 7);
        assert_eq!(tolerations[0].key.as_deref(), Some(NOT_READY));
        assert_eq!(tolerations[0].toleration_seconds, None);
        assert_eq!(tolerations[1].key.as_deref(), Some("mine"));
    }

    #[test]
    fn pods_are_pinned_and_their_node_found() {
        let mut pod = Pod::default();
        let spec = pod.spec.get_or_insert_with(Default::default);
        let existing: Affinity = serde_json::from_value(json!({"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "x", "operator": "Exists"}]}]},
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {"matchExpressions": [{"key": "y", "operator": "Exists"}]}}],
        }}))
        .unwrap();
        spec.affinity = Some(pin_to_node(Some(existing), "n1"));
        let na = spec.affinity.as_ref().unwrap().node_affinity.as_ref().unwrap();
        assert_eq!(
            na.required_during_scheduling_ignored_during_execution.as_ref().unwrap().node_selector_terms.len(),
            1
        );
        assert!(na.preferred_during_scheduling_ignored_during_execution.is_some());
        assert_eq!(target_node(&pod), Some("n1"));
        pod.spec.as_mut().unwrap().node_name = Some("n2".into());
        assert_eq!(target_node(&pod), Some("n2"));
    }
}
