//! Deployment (`SetDefaults_Deployment`, `ValidateDeployment`, `pkg/registry/apps/deployment`).

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{selector_immutable, validate_replica_set_template};
use crate::defaults::{self, str_default};
use crate::field_error::{FieldError, FieldPath};
use crate::kinds::{int_or_string_value, validate_int_or_percent, validate_selector_matches};
use crate::typed::Kind;
use crate::validation::{self, non_negative};

impl Kind for Deployment {
    const GENERATION: bool = true;

    fn default(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        spec.replicas.get_or_insert(1);
        let strategy = spec.strategy.get_or_insert_with(DeploymentStrategy::default);
        str_default(&mut strategy.type_, "RollingUpdate");
        if strategy.type_.as_deref() == Some("RollingUpdate") {
            let ru = strategy.rolling_update.get_or_insert_with(RollingUpdateDeployment::default);
            ru.max_unavailable.get_or_insert_with(|| IntOrString::String("25%".into()));
            ru.max_surge.get_or_insert_with(|| IntOrString::String("25%".into()));
        }
        spec.revision_history_limit.get_or_insert(10);
        spec.progress_deadline_seconds.get_or_insert(600);
        defaults::pod::template(&mut spec.template);
    }

    fn validate(&self) -> Vec<FieldError> {
        let path = FieldPath::new("spec");
        let mut errs = Vec::new();
        let spec = self.spec.clone().unwrap_or_default();
        non_negative(i64::from(spec.replicas.unwrap_or(0)), &path.child("replicas"), &mut errs);
        let labels = spec.template.metadata.as_ref().and_then(|m| m.labels.as_ref());
        validate_selector_matches(&spec.selector, labels, &path, &mut errs);
        errs.extend(validation::pod::validate_template(&spec.template, &path.child("template")));
        validate_replica_set_template(&spec.template, &path.child("template"), &mut errs);
        if let Some(strategy) = &spec.strategy {
            validate_strategy(strategy, &path.child("strategy"), &mut errs);
        }
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        non_negative(i64::from(min_ready), &path.child("minReadySeconds"), &mut errs);
        if let Some(limit) = spec.revision_history_limit {
            non_negative(i64::from(limit), &path.child("revisionHistoryLimit"), &mut errs);
        }
        if let Some(deadline) = spec.progress_deadline_seconds {
            non_negative(i64::from(deadline), &path.child("progressDeadlineSeconds"), &mut errs);
            if deadline <= min_ready {
                errs.push(FieldError::invalid(
                    &path.child("progressDeadlineSeconds"),
                    deadline,
                    "must be greater than minReadySeconds",
                ));
            }
        }
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
        let spec = self.spec.as_ref().and_then(|s| s.template.spec.as_ref());
        spec.map_or(Ok(()), validation::pod::check_quantities)
    }
}

fn validate_strategy(strategy: &DeploymentStrategy, path: &FieldPath, errs: &mut Vec<FieldError>) {
    const TYPES: &[&str] = &["Recreate", "RollingUpdate"];
    match strategy.type_.as_deref().unwrap_or_default() {
        "Recreate" => {
            if strategy.rolling_update.is_some() {
                errs.push(FieldError::forbidden(
                    &path.child("rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => {
            let Some(ru) = &strategy.rolling_update else {
                errs.push(FieldError::required(
                    &path.child("rollingUpdate"),
                    "this should be defaulted and never be nil",
                ));
                return;
            };
            let p = path.child("rollingUpdate");
            let zero = IntOrString::Int(0);
            let unavailable = ru.max_unavailable.clone().unwrap_or(zero.clone());
            let surge = ru.max_surge.clone().unwrap_or(zero);
            let u = validate_int_or_percent(&unavailable, &p.child("maxUnavailable"), errs);
            let s = validate_int_or_percent(&surge, &p.child("maxSurge"), errs);
            if u == 0 && s == 0 {
                errs.push(FieldError::invalid(
                    &p.child("maxUnavailable"),
                    int_or_string_value(&unavailable),
                    "may not be 0 when `maxSurge` is 0",
                ));
            }
        }
        other => errs.push(FieldError::not_supported(&path.child("type"), other, TYPES)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::Registry;

    fn deployment() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "d"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}})
    }

    #[test]
    fn defaults_are_upstreams() {
        let def = Registry::builtin().get("apps", "v1", "deployments").cloned().unwrap();
        let mut obj = deployment();
        def.strategy.default(&mut obj);
        assert_eq!(
            obj["spec"],
            json!({
                "replicas": 1,
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                    "containers": [{"name": "c", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
                        "resources": {}, "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File"}],
                    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                    "securityContext": {}, "terminationGracePeriodSeconds": 30}}
            })
        );
        assert!(def.strategy.validate_create(&obj).is_empty(), "{:?}", def.strategy.validate_create(&obj));
        assert!(def.strategy.sets_generation());
    }

    #[test]
    fn validation_messages() {
        let def = Registry::builtin().get("apps", "v1", "deployments").cloned().unwrap();
        let mut obj = deployment();
        def.strategy.default(&mut obj);
        obj["spec"]["replicas"] = json!(-1);
        obj["spec"]["template"]["metadata"]["labels"] = json!({"app": "x"});
        let msgs: Vec<String> = def.strategy.validate_create(&obj).into_iter().map(|e| e.message).collect();
        assert_eq!(
            msgs,
            [
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`"
            ]
        );
        let mut obj = deployment();
        obj["spec"].as_object_mut().unwrap().remove("selector");
        def.strategy.default(&mut obj);
        let msgs: Vec<String> = def.strategy.validate_create(&obj).into_iter().map(|e| e.message).collect();
        assert_eq!(msgs, ["spec.selector: Required value"]);
    }

    #[test]
    fn selector_is_immutable_and_spec_changes_bump_generation() {
        let def = Registry::builtin().get("apps", "v1", "deployments").cloned().unwrap();
        let mut old = deployment();
        def.strategy.default(&mut old);
        let mut new = old.clone();
        new["spec"]["selector"]["matchLabels"]["tier"] = json!("x");
        new["spec"]["template"]["metadata"]["labels"]["tier"] = json!("x");
        let errs = def.strategy.validate_update(&new, &old);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].message.starts_with("spec.selector: Invalid value: "));
        assert!(errs[0].message.ends_with(": field is immutable"));
        assert!(def.strategy.bumps_generation(&new, &old));
        let mut relabeled = old.clone();
        relabeled["metadata"]["labels"] = json!({"a": "b"});
        assert!(!def.strategy.bumps_generation(&relabeled, &old));
    }
}
