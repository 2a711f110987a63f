//! Node (`SetDefaults_NodeStatus`, `pkg/registry/core/node/strategy.go`).

use k8s_openapi::api::core::v1::Node;
use serde_json::Value;

use crate::field_error::{FieldError, FieldPath};
use crate::typed::Kind;
use crate::validation::pod::{check_list, validate_quantities};

impl Kind for Node {
    const FIELDS: &'static [&'static str] = &["spec.unschedulable"];
    // Kubelets register nodes with their status.
    const CLEAR_STATUS_ON_CREATE: bool = false;

    fn default(&mut self) {
        if let Some(status) = self.status.as_mut() {
            if status.allocatable.is_none() && status.capacity.is_some() {
                status.allocatable.clone_from(&status.capacity);
            }
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if let Some(status) = &self.status {
            let path = FieldPath::new("status");
            if let Some(c) = &status.capacity {
                validate_quantities(c, &path.child("capacity"), &mut errs);
            }
            if let Some(a) = &status.allocatable {
                validate_quantities(a, &path.child("allocatable"), &mut errs);
            }
        }
        for (i, taint) in self.spec.iter().flat_map(|s| s.taints.iter().flatten()).enumerate() {
            let p = FieldPath::new("spec").child("taints").index(i);
            crate::validation::push_msgs(
                &mut errs,
                &p.child("key"),
                &taint.key,
                crate::validation::names::qualified_name(&taint.key),
            );
            const EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];
            if !EFFECTS.contains(&taint.effect.as_str()) {
                errs.push(FieldError::not_supported(&p.child("effect"), taint.effect.as_str(), EFFECTS));
            }
        }
        errs
    }

    fn check_decoded(&self) -> Result<(), String> {
        let status = self.status.as_ref();
        check_list(status.and_then(|s| s.capacity.as_ref()))?;
        check_list(status.and_then(|s| s.allocatable.as_ref()))
    }

    fn field_value(obj: &Value, _field: &str) -> Option<String> {
        let v = obj.pointer("/spec/unschedulable").and_then(Value::as_bool).unwrap_or(false);
        Some(v.to_string())
    }
}
