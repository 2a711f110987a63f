//! Job (`SetDefaults_Job`, `pkg/registry/batch/job/strategy.go`, `ValidateJob`).

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::Value;

use crate::defaults::{self, str_default};
use crate::field_error::{FieldError, FieldPath};
use crate::kinds::validate_selector_matches;
use crate::typed::Kind;
use crate::validation::{self, json_value, non_negative, IMMUTABLE};

const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
const JOB_NAME: &str = "batch.kubernetes.io/job-name";
const LEGACY_CONTROLLER_UID: &str = "controller-uid";
const LEGACY_JOB_NAME: &str = "job-name";

impl Kind for Job {
    const GENERATION: bool = true;
    const FIELDS: &'static [&'static str] = &["status.successful"];

    fn default(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        default_spec(spec);
        let labels = spec.template.metadata.as_ref().and_then(|m| m.labels.clone());
        if let Some(labels) = labels {
            if self.metadata.labels.as_ref().is_none_or(BTreeMap::is_empty) {
                self.metadata.labels = Some(labels);
            }
        }
    }

    fn prepare_for_create(&mut self) {
        let uid = self.metadata.uid.clone().unwrap_or_default();
        let name = self.metadata.name.clone().unwrap_or_default();
        let spec = self.spec.get_or_insert_with(Default::default);
        if spec.manual_selector != Some(true) {
            // `generateSelector`: pods of this job, and only them, carry its uid.
            let labels =
                spec.template.metadata.get_or_insert_with(Default::default).labels.get_or_insert_with(BTreeMap::new);
            labels.entry(LEGACY_JOB_NAME.into()).or_insert_with(|| name.clone());
            labels.entry(JOB_NAME.into()).or_insert_with(|| name.clone());
            labels.entry(LEGACY_CONTROLLER_UID.into()).or_insert_with(|| uid.clone());
            labels.entry(CONTROLLER_UID.into()).or_insert_with(|| uid.clone());
            let selector = spec.selector.get_or_insert_with(LabelSelector::default);
            selector.match_labels.get_or_insert_with(BTreeMap::new).entry(CONTROLLER_UID.into()).or_insert(uid);
        }
        // Upstream's defaulting copies the template labels when the job has none; it runs
        // again when the stored object is read, so clients see the generated labels.
        let template_labels = spec.template.metadata.as_ref().and_then(|m| m.labels.clone());
        if self.metadata.labels.as_ref().is_none_or(BTreeMap::is_empty) {
            self.metadata.labels = template_labels;
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        let path = FieldPath::new("spec");
        let spec = self.spec.clone().unwrap_or_default();
        let mut errs = validate_spec(&spec, &path);
        let selector = spec.selector.clone().unwrap_or_default();
        let labels = spec.template.metadata.as_ref().and_then(|m| m.labels.as_ref());
        validate_selector_matches(&selector, labels, &path, &mut errs);
        errs
    }

    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        let mut errs = self.validate();
        let path = FieldPath::new("spec");
        let (Some(new), Some(old)) = (&self.spec, &old.spec) else { return errs };
        if new.selector != old.selector {
            errs.push(FieldError::invalid(&path.child("selector"), json_value(&new.selector), IMMUTABLE));
        }
        // The template may change only while the job is suspended (scheduling directives).
        if new.template != old.template && old.suspend != Some(true) {
            errs.push(FieldError::invalid(&path.child("template"), json_value(&new.template), IMMUTABLE));
        }
        if new.completion_mode != old.completion_mode {
            errs.push(FieldError::invalid(
                &path.child("completionMode"),
                new.completion_mode.clone().unwrap_or_default(),
                IMMUTABLE,
            ));
        }
        if new.completions != old.completions && new.completion_mode.as_deref() != Some("Indexed") {
            errs.push(FieldError::invalid(
                &path.child("completions"),
                new.completions.map_or(crate::field_error::BadValue::Null, Into::into),
                IMMUTABLE,
            ));
        }
        errs
    }

    fn check_decoded(&self) -> Result<(), String> {
        let spec = self.spec.as_ref().and_then(|s| s.template.spec.as_ref());
        spec.map_or(Ok(()), validation::pod::check_quantities)
    }

    fn field_value(obj: &Value, _field: &str) -> Option<String> {
        Some(obj.pointer("/status/succeeded").and_then(Value::as_i64).unwrap_or(0).to_string())
    }
}

/// `SetDefaults_Job`'s spec part (a CronJob's job template gets only the pod template defaults).
fn default_spec(spec: &mut JobSpec) {
    if spec.completions.is_none() && spec.parallelism.is_none() {
        spec.completions = Some(1);
        spec.parallelism = Some(1);
    }
    spec.parallelism.get_or_insert(1);
    if spec.backoff_limit.is_none() {
        spec.backoff_limit = Some(if spec.backoff_limit_per_index.is_some() { i32::MAX } else { 6 });
    }
    str_default(&mut spec.completion_mode, "NonIndexed");
    spec.suspend.get_or_insert(false);
    if spec.pod_replacement_policy.is_none() {
        let policy = if spec.pod_failure_policy.is_some() { "Failed" } else { "TerminatingOrFailed" };
        spec.pod_replacement_policy = Some(policy.into());
    }
    for rule in spec.pod_failure_policy.iter_mut().flat_map(|p| p.rules.iter_mut()) {
        for pattern in rule.on_pod_conditions.iter_mut().flatten() {
            if pattern.status.is_empty() {
                pattern.status = "True".into();
            }
        }
    }
    defaults::pod::template(&mut spec.template);
}

/// `ValidateJobSpec` less the selector (a CronJob's template has none yet).
pub(crate) fn validate_spec(spec: &JobSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (field, value) in
        [("parallelism", spec.parallelism), ("completions", spec.completions), ("backoffLimit", spec.backoff_limit)]
    {
        if let Some(v) = value {
            non_negative(i64::from(v), &path.child(field), &mut errs);
        }
    }
    if let Some(seconds) = spec.active_deadline_seconds {
        non_negative(seconds, &path.child("activeDeadlineSeconds"), &mut errs);
    }
    if let Some(ttl) = spec.ttl_seconds_after_finished {
        non_negative(i64::from(ttl), &path.child("ttlSecondsAfterFinished"), &mut errs);
    }
    match spec.completion_mode.as_deref() {
        None | Some("NonIndexed") => {}
        Some("Indexed") => {
            if spec.completions.is_none() {
                errs.push(FieldError::required(&path.child("completions"), "when completion mode is Indexed"));
            }
        }
        Some(other) => {
            errs.push(FieldError::not_supported(&path.child("completionMode"), other, &["NonIndexed", "Indexed"]));
        }
    }
    let template_path = path.child("template");
    errs.extend(validation::pod::validate_template(&spec.template, &template_path));
    let policy = spec.template.spec.as_ref().and_then(|s| s.restart_policy.clone()).unwrap_or_default();
    if policy != "OnFailure" && policy != "Never" {
        errs.push(FieldError::not_supported(
            &template_path.child("spec").child("restartPolicy"),
            policy,
            &["OnFailure", "Never"],
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Registry;

    #[test]
    fn defaults_and_generated_selector() {
        let def = Registry::builtin().get("batch", "v1", "jobs").cloned().unwrap();
        let mut obj = json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "pi", "namespace": "d", "uid": "u-1"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "perl"}]}}}});
        def.strategy.default(&mut obj);
        def.strategy.prepare_for_create(&mut obj);
        let spec = &obj["spec"];
        assert_eq!(spec["completions"], 1);
        assert_eq!(spec["parallelism"], 1);
        assert_eq!(spec["backoffLimit"], 6);
        assert_eq!(spec["completionMode"], "NonIndexed");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
        assert!(spec.get("manualSelector").is_none());
        assert_eq!(spec["selector"], json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}));
        let labels = json!({"batch.kubernetes.io/controller-uid": "u-1", "batch.kubernetes.io/job-name": "pi",
            "controller-uid": "u-1", "job-name": "pi"});
        assert_eq!(spec["template"]["metadata"]["labels"], labels);
        assert_eq!(obj["metadata"]["labels"], labels);
        assert!(def.strategy.validate_create(&obj).is_empty(), "{:?}", def.strategy.validate_create(&obj));
        assert_eq!(def.strategy.field_value(&obj, "status.successful").as_deref(), Some("0"));

        let mut changed = obj.clone();
        changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("perl:2");
        let errs = def.strategy.validate_update(&changed, &obj);
        assert!(errs.iter().any(|e| e.field == "spec.template" && e.message.ends_with("field is immutable")));
    }

    #[test]
    fn restart_policy_must_not_be_always() {
        let def = Registry::builtin().get("batch", "v1", "jobs").cloned().unwrap();
        let mut obj = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "d", "uid": "u"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "perl"}]}}}});
        def.strategy.default(&mut obj);
        def.strategy.prepare_for_create(&mut obj);
        let msgs: Vec<String> = def.strategy.validate_create(&obj).into_iter().map(|e| e.message).collect();
        assert_eq!(
            msgs,
            ["spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""]
        );
    }
}
