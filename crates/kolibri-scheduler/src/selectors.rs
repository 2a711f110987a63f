//! Matching of label selectors, node selector terms and tolerations, shared by the plugins.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

pub type Labels = BTreeMap<String, String>;

/// Whether `selector` selects `labels`; an empty selector selects everything, an invalid
/// operator selects nothing (upstream rejects those at validation).
pub fn label_selector_matches(selector: &LabelSelector, labels: &Labels) -> bool {
    if let Some(m) = &selector.match_labels {
        if !m.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            return false;
        }
    }
    selector.match_expressions.iter().flatten().all(|e| requirement_matches(e, labels))
}

fn requirement_matches(e: &LabelSelectorRequirement, labels: &Labels) -> bool {
    let value = labels.get(&e.key);
    let values = e.values.as_deref().unwrap_or_default();
    match e.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        _ => false,
    }
}

/// Whether a node (its name and labels) matches one node selector requirement.
fn node_requirement_matches(e: &NodeSelectorRequirement, value: Option<&String>) -> bool {
    let values = e.values.as_deref().unwrap_or_default();
    match e.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        // Gt/Lt take exactly one integer value; anything else matches nothing.
        "Gt" | "Lt" => {
            let (Some(v), [bound]) = (value, values) else { return false };
            match (v.parse::<i64>(), bound.parse::<i64>()) {
                (Ok(v), Ok(b)) => {
                    if e.operator == "Gt" {
                        v > b
                    } else {
                        v < b
                    }
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// One term: all its expressions and fields; a term with neither matches nothing.
pub fn node_term_matches(term: &NodeSelectorTerm, name: &str, labels: &Labels) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    let name = name.to_string();
    exprs.iter().all(|e| node_requirement_matches(e, labels.get(&e.key)))
        && fields.iter().all(|f| f.key == "metadata.name" && node_requirement_matches(f, Some(&name)))
}

/// A node selector: any of its terms.
pub fn node_selector_matches(selector: &NodeSelector, name: &str, labels: &Labels) -> bool {
    selector.node_selector_terms.iter().any(|t| node_term_matches(t, name, labels))
}

/// Whether `toleration` tolerates `taint` (upstream's `ToleratesTaint`).
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = toleration.effect.as_deref().filter(|e| !e.is_empty()) {
        if effect != taint.effect {
            return false;
        }
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => toleration.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default(),
        _ => false,
    }
}

pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint { key: key.into(), value: Some(value.into()), effect: effect.into(), ..Default::default() }
    }

    fn toleration(json: serde_json::Value) -> Toleration {
        serde_json::from_value(json).expect("toleration")
    }

    #[test]
    fn tolerations_as_upstream() {
        let t = taint("dedicated", "gpu", "NoSchedule");
        assert!(tolerates(&toleration(serde_json::json!({"key": "dedicated", "value": "gpu"})), &t));
        assert!(tolerates(&toleration(serde_json::json!({"operator": "Exists"})), &t));
        assert!(tolerates(
            &toleration(serde_json::json!({"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"})),
            &t
        ));
        assert!(!tolerates(&toleration(serde_json::json!({"key": "dedicated", "value": "cpu"})), &t));
        assert!(!tolerates(
            &toleration(serde_json::json!({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"})),
            &t
        ));
    }

    #[test]
    fn node_terms_and_operators() {
        let labels: Labels = [("gen".to_string(), "5".to_string()), ("disk".to_string(), "ssd".to_string())].into();
        let term = |json: serde_json::Value| -> NodeSelectorTerm { serde_json::from_value(json).expect("term") };
        assert!(node_term_matches(
            &term(serde_json::json!({"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["4"]}]})),
            "n",
            &labels
        ));
        assert!(!node_term_matches(
            &term(serde_json::json!({"matchExpressions": [{"key": "gen", "operator": "Lt", "values": ["4"]}]})),
            "n",
            &labels
        ));
        assert!(node_term_matches(
            &term(serde_json::json!({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]})),
            "n",
            &labels
        ));
        assert!(node_term_matches(
            &term(serde_json::json!({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n"]}]})),
            "n",
            &labels
        ));
        // An empty term matches nothing.
        assert!(!node_term_matches(&term(serde_json::json!({})), "n", &labels));
        // A malformed Gt matches nothing instead of failing.
        assert!(!node_term_matches(
            &term(serde_json::json!({"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["x"]}]})),
            "n",
            &labels
        ));
    }

    #[test]
    fn label_selectors() {
        let labels: Labels = [("app".to_string(), "web".to_string())].into();
        let sel = |json: serde_json::Value| -> LabelSelector { serde_json::from_value(json).expect("selector") };
        assert!(label_selector_matches(&sel(serde_json::json!({})), &labels));
        assert!(label_selector_matches(
            &sel(serde_json::json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]})),
            &labels
        ));
        assert!(!label_selector_matches(&sel(serde_json::json!({"matchLabels": {"app": "db"}})), &labels));
        assert!(!label_selector_matches(
            &sel(serde_json::json!({"matchExpressions": [{"key": "app", "operator": "Bogus"}]})),
            &labels
        ));
    }
}
