//! Label selectors: validation (`metav1/validation`) and matching against a label set.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::meta::validate_labels;
use super::{names, push_msgs};
use crate::field_error::{FieldError, FieldPath};

/// `ValidateLabelSelector`.
pub fn validate(selector: &LabelSelector, path: &FieldPath, errs: &mut Vec<FieldError>) {
    if let Some(match_labels) = &selector.match_labels {
        validate_labels(match_labels, &path.child("matchLabels"), errs);
    }
    for (i, expr) in selector.match_expressions.iter().flatten().enumerate() {
        let p = path.child("matchExpressions").index(i);
        let values = expr.values.as_deref().unwrap_or_default();
        match expr.operator.as_str() {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(
                        &p.child("values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::forbidden(
                        &p.child("values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            other => errs.push(FieldError::invalid(&p.child("operator"), other, "not a valid selector operator")),
        }
        push_msgs(errs, &p.child("key"), &expr.key, names::qualified_name(&expr.key));
        for (j, v) in values.iter().enumerate() {
            push_msgs(errs, &p.child("values").index(j), v, names::label_value(v));
        }
    }
}

/// Whether the selector is empty (selects everything; workloads forbid it).
pub fn is_empty(selector: &LabelSelector) -> bool {
    selector.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
        && selector.match_expressions.as_ref().is_none_or(Vec::is_empty)
}

/// Whether `labels` satisfy `selector` (`metav1.LabelSelectorAsSelector(...).Matches`).
pub fn matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_ok = selector.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
    let exprs_ok = selector.match_expressions.iter().flatten().all(|e| {
        let values = e.values.as_deref().unwrap_or_default();
        let value = labels.get(&e.key);
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    labels_ok && exprs_ok
}

/// Whether a map selector (RC, Service) matches `labels`.
pub fn map_matches(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    #[test]
    fn matching() {
        let labels: BTreeMap<String, String> = [("app".to_string(), "x".to_string())].into();
        let sel = LabelSelector {
            match_labels: Some(labels.clone()),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "DoesNotExist".into(),
                values: None,
            }]),
        };
        assert!(matches(&sel, &labels));
        let other: BTreeMap<String, String> = [("app".to_string(), "y".to_string())].into();
        assert!(!matches(&sel, &other));
    }

    #[test]
    fn bad_operator() {
        let sel = LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "k".into(),
                operator: "Is".into(),
                values: None,
            }]),
        };
        let mut errs = Vec::new();
        validate(&sel, &FieldPath::new("spec.selector"), &mut errs);
        assert_eq!(
            errs[0].message,
            "spec.selector.matchExpressions[0].operator: Invalid value: \"Is\": not a valid selector operator"
        );
    }
}
