//! ReplicationController (`SetDefaults_ReplicationController`, `ValidateReplicationController`).

use k8s_openapi::api::core::v1::ReplicationController;
use serde_json::Value;

use crate::field_error::{FieldError, FieldPath};
use crate::kinds::apps::validate_replica_set_template;
use crate::typed::Kind;
use crate::validation::{go_string_map, meta, non_negative, selector};
use crate::{defaults, validation};

impl Kind for ReplicationController {
    const GENERATION: bool = true;
    const FIELDS: &'static [&'static str] = &["status.replicas"];

    fn default(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        spec.replicas.get_or_insert(1);
        if let Some(template) = spec.template.as_mut() {
            defaults::pod::template(template);
            if let Some(labels) = template.metadata.as_ref().and_then(|m| m.labels.clone()) {
                if spec.selector.as_ref().is_none_or(|s| s.is_empty()) {
                    spec.selector = Some(labels.clone());
                }
                if self.metadata.labels.as_ref().is_none_or(|l| l.is_empty()) {
                    self.metadata.labels = Some(labels);
                }
            }
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        let path = FieldPath::new("spec");
        let mut errs = Vec::new();
        let spec = self.spec.clone().unwrap_or_default();
        non_negative(i64::from(spec.replicas.unwrap_or(0)), &path.child("replicas"), &mut errs);
        non_negative(i64::from(spec.min_ready_seconds.unwrap_or(0)), &path.child("minReadySeconds"), &mut errs);
        let sel = spec.selector.clone().unwrap_or_default();
        if sel.is_empty() {
            errs.push(FieldError::required(&path.child("selector"), ""));
        } else {
            meta::validate_labels(&sel, &path.child("selector"), &mut errs);
        }
        match &spec.template {
            None => errs.push(FieldError::required(&path.child("template"), "")),
            Some(template) => {
                let labels = template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
                if !sel.is_empty() && !selector::map_matches(&sel, &labels) {
                    errs.push(FieldError::invalid(
                        &path.child("template").child("metadata").child("labels"),
                        go_string_map(&labels),
                        "`selector` does not match template `labels`",
                    ));
                }
                errs.extend(validation::pod::validate_template(template, &path.child("template")));
                validate_replica_set_template(template, &path.child("template"), &mut errs);
            }
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
