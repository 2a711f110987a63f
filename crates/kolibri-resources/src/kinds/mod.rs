//! The per-kind rules, one file per kind people write by hand, grouped by API group.
//! Kinds with no rules beyond the generic ones ([`crate::typed`]) are listed in
//! [`simple`].

pub(crate) mod admission;
pub(crate) mod apiextensions;
pub(crate) mod apps;
pub(crate) mod batch;
pub(crate) mod core;
pub(crate) mod networking;
pub(crate) mod rbac;
pub(crate) mod simple;
pub(crate) mod storage;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::field_error::{FieldError, FieldPath};
use crate::validation::{go_string_map, selector};

/// The workload rule: a non-empty, valid selector that matches the template's labels.
pub(crate) fn validate_selector_matches(
    sel: &LabelSelector,
    template_labels: Option<&BTreeMap<String, String>>,
    spec: &FieldPath,
    errs: &mut Vec<FieldError>,
) {
    if selector::is_empty(sel) {
        errs.push(FieldError::required(&spec.child("selector"), ""));
        return;
    }
    selector::validate(sel, &spec.child("selector"), errs);
    let labels = template_labels.cloned().unwrap_or_default();
    if !selector::matches(sel, &labels) {
        errs.push(FieldError::invalid(
            &spec.child("template").child("metadata").child("labels"),
            go_string_map(&labels),
            "`selector` does not match template `labels`",
        ));
    }
}

/// `ValidatePositiveIntOrPercent` plus `IsNotMoreThan100Percent`; returns the value as a
/// number (percent or absolute) for the "both zero" checks.
pub(crate) fn validate_int_or_percent(value: &IntOrString, path: &FieldPath, errs: &mut Vec<FieldError>) -> i64 {
    match value {
        IntOrString::Int(i) => {
            if *i < 0 {
                errs.push(FieldError::invalid(path, *i, "must be greater than or equal to 0"));
            }
            i64::from(*i)
        }
        IntOrString::String(s) => {
            let Some(n) = s.strip_suffix('%').and_then(|n| n.parse::<i64>().ok()) else {
                errs.push(FieldError::invalid(
                    path,
                    s,
                    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                ));
                return 0;
            };
            if n > 100 {
                errs.push(FieldError::invalid(path, s, "must not be greater than 100%"));
            }
            n
        }
    }
}

/// A `%v`-like rendering of an IntOrString for error values.
pub(crate) fn int_or_string_value(value: &IntOrString) -> crate::field_error::BadValue {
    match value {
        IntOrString::Int(i) => (*i).into(),
        IntOrString::String(s) => s.clone().into(),
    }
}
