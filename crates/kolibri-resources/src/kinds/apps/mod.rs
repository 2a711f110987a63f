//! The `apps` group.

pub(crate) mod daemonset;
pub(crate) mod deployment;
pub(crate) mod replicaset;
pub(crate) mod statefulset;

use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::field_error::{FieldError, FieldPath};
use crate::validation::{json_value, IMMUTABLE};

/// `ValidatePodTemplateSpecForReplicaSet`'s extra rules: pods restart always and have no deadline.
pub(crate) fn validate_replica_set_template(template: &PodTemplateSpec, path: &FieldPath, errs: &mut Vec<FieldError>) {
    let Some(spec) = &template.spec else { return };
    let spec_path = path.child("spec");
    if let Some(policy) = spec.restart_policy.as_deref() {
        if policy != "Always" {
            errs.push(FieldError::not_supported(&spec_path.child("restartPolicy"), policy, &["Always"]));
        }
    }
    if spec.active_deadline_seconds.is_some() {
        errs.push(FieldError::forbidden(
            &spec_path.child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
}

/// `spec.selector` may not change after creation (apps/v1).
pub(crate) fn selector_immutable(new: &LabelSelector, old: &LabelSelector, errs: &mut Vec<FieldError>) {
    if new != old {
        errs.push(FieldError::invalid(&FieldPath::new("spec").child("selector"), json_value(new), IMMUTABLE));
    }
}
