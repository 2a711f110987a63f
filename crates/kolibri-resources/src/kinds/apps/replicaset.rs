//! ReplicaSet (`SetDefaults_ReplicaSet`, `ValidateReplicaSet`).

use k8s_openapi::api::apps::v1::ReplicaSet;
use serde_json::Value;

use super::{selector_immutable, validate_replica_set_template};
use crate::defaults;
use crate::field_error::{FieldError, FieldPath};
use crate::kinds::validate_selector_matches;
use crate::typed::Kind;
use crate::validation::{self, non_negative};

impl Kind for ReplicaSet {
    const GENERATION: bool = true;
    const FIELDS: &'static [&'static str] = &["status.replicas"];

    fn default(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        spec.replicas.get_or_insert(1);
        if let Some(t) = spec.template.as_mut() {
            defaults::pod::template(t);
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        let path = FieldPath::new("spec");
        let mut errs = Vec::new();
        let spec = self.spec.clone().unwrap_or_default();
        non_negative(i64::from(spec.replicas.unwrap_or(0)), &path.child("replicas"), &mut errs);
        non_negative(i64::from(spec.min_ready_seconds.unwrap_or(0)), &path.child("minReadySeconds"), &mut errs);
        let template = spec.template.clone().unwrap_or_default();
        let labels = template.metadata.as_ref().and_then(|m| m.labels.as_ref());
        validate_selector_matches(&spec.selector, labels, &path, &mut errs);
        errs.extend(validation::pod::validate_template(&template, &path.child("template")));
        validate_replica_set_template(&template, &path.child("template"), &mut errs);
        errs
    }

    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        let mut errs = self.validate();
        if let (Some(new), Some(old)) = (&self.spec, &old.spec) {
            selector_immutable(&new.selector, &old.selector, &mut errs);
        }
        errs
    }

    fn check_decoded(&self) -> Result<(), String> {
        let spec = self.spec.as_ref().and_then(|s| s.template.as_ref()).and_then(|t| t.spec.as_ref());
        spec.map_or(Ok(()), validation::pod::check_quantities)
    }

    fn field_value(obj: &Value, _field: &str) -> Option<String> {
        Some(obj.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0).to_string())
    }
}
