//! DaemonSet (`SetDefaults_DaemonSet`, `ValidateDaemonSet`).

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetUpdateStrategy, RollingUpdateDaemonSet};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{selector_immutable, validate_replica_set_template};
use crate::defaults::{self, str_default};
use crate::field_error::{FieldError, FieldPath};
use crate::kinds::{int_or_string_value, validate_int_or_percent, validate_selector_matches};
use crate::typed::Kind;
use crate::validation::{self, non_negative};

impl Kind for DaemonSet {
    const GENERATION: bool = true;

    fn default(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        let strategy = spec.update_strategy.get_or_insert_with(DaemonSetUpdateStrategy::default);
        str_default(&mut strategy.type_, "RollingUpdate");
        if strategy.type_.as_deref() == Some("RollingUpdate") {
            let ru = strategy.rolling_update.get_or_insert_with(RollingUpdateDaemonSet::default);
            ru.max_unavailable.get_or_insert(IntOrString::Int(1));
            ru.max_surge.get_or_insert(IntOrString::Int(0));
        }
        spec.revision_history_limit.get_or_insert(10);
        defaults::pod::template(&mut spec.template);
    }

    /// Upstream keeps `spec.templateGeneration` of its internal type in this annotation of
    /// apps/v1: 1 on create (or the caller's value, if a positive number).
    fn prepare_for_create(&mut self) {
        let generation = template_generation(self).filter(|g| *g >= 1).unwrap_or(1);
        set_template_generation(self, generation);
    }

    /// A changed pod template bumps the template generation; otherwise it stays.
    fn prepare_for_update(&mut self, old: &Self) {
        let previous = template_generation(old).unwrap_or(0);
        let template = |ds: &Self| ds.spec.as_ref().map(|s| s.template.clone());
        let generation = if template(self) != template(old) { previous + 1 } else { previous.max(1) };
        set_template_generation(self, generation);
    }

    fn validate(&self) -> Vec<FieldError> {
        let path = FieldPath::new("spec");
        let mut errs = Vec::new();
        let spec = self.spec.clone().unwrap_or_default();
        let labels = spec.template.metadata.as_ref().and_then(|m| m.labels.as_ref());
        validate_selector_matches(&spec.selector, labels, &path, &mut errs);
        errs.extend(validation::pod::validate_template(&spec.template, &path.child("template")));
        validate_replica_set_template(&spec.template, &path.child("template"), &mut errs);
        non_negative(i64::from(spec.min_ready_seconds.unwrap_or(0)), &path.child("minReadySeconds"), &mut errs);
        if let Some(strategy) = &spec.update_strategy {
            let p = path.child("updateStrategy");
            match strategy.type_.as_deref().unwrap_or_default() {
                "OnDelete" => {}
                "RollingUpdate" => {
                    if let Some(ru) = &strategy.rolling_update {
                        let rp = p.child("rollingUpdate");
                        let zero = IntOrString::Int(0);
                        let unavailable = ru.max_unavailable.clone().unwrap_or(zero.clone());
                        let surge = ru.max_surge.clone().unwrap_or(zero);
                        let u = validate_int_or_percent(&unavailable, &rp.child("maxUnavailable"), &mut errs);
                        let s = validate_int_or_percent(&surge, &rp.child("maxSurge"), &mut errs);
                        if u == 0 && s == 0 {
                            errs.push(FieldError::invalid(
                                &rp.child("maxUnavailable"),
                                int_or_string_value(&unavailable),
                                "may not be 0 when `maxSurge` is 0",
                            ));
                        }
                    }
                }
                other => errs.push(FieldError::not_supported(&p.child("type"), other, &["OnDelete", "RollingUpdate"])),
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

/// The annotation of apps/v1 that carries the template generation.
const TEMPLATE_GENERATION: &str = "deprecated.daemonset.template.generation";

fn template_generation(ds: &DaemonSet) -> Option<i64> {
    ds.metadata.annotations.as_ref()?.get(TEMPLATE_GENERATION)?.parse().ok()
}

fn set_template_generation(ds: &mut DaemonSet, generation: i64) {
    ds.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(TEMPLATE_GENERATION.into(), generation.to_string());
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::Registry;

    fn daemon_set(image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "d"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                "template": {"metadata": {"labels": {"app": "agent"}},
                    "spec": {"containers": [{"name": "c", "image": image}]}}}})
    }

    #[test]
    fn template_generation_counts_template_changes() {
        let def = Registry::builtin().get("apps", "v1", "daemonsets").cloned().unwrap();
        let generation =
            |obj: &Value| obj["metadata"]["annotations"]["deprecated.daemonset.template.generation"].clone();
        let mut v1 = daemon_set("agent:1");
        def.strategy.prepare_for_create(&mut v1);
        assert_eq!(generation(&v1), json!("1"));
        // Only a template change counts.
        let mut same = v1.clone();
        same["spec"]["minReadySeconds"] = json!(5);
        def.strategy.prepare_for_update(&mut same, &v1);
        assert_eq!(generation(&same), json!("1"));
        let mut v2 = daemon_set("agent:2");
        def.strategy.prepare_for_update(&mut v2, &same);
        assert_eq!(generation(&v2), json!("2"));
    }
}
