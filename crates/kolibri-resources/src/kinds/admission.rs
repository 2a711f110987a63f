//! `admissionregistration.k8s.io` (`pkg/apis/admissionregistration/v1/defaults.go`,
//! `ValidateMutatingWebhookConfiguration`).

use std::collections::BTreeSet;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, RuleWithOperations, ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
    ValidatingWebhookConfiguration, WebhookClientConfig,
};

use crate::defaults::str_default;
use crate::field_error::{FieldError, FieldPath};
use crate::typed::Kind;

/// The fields both webhook kinds share, borrowed for defaulting and validation.
struct Webhook<'a> {
    name: &'a str,
    client_config: &'a mut WebhookClientConfig,
    failure_policy: &'a mut Option<String>,
    match_policy: &'a mut Option<String>,
    namespace_selector: &'a mut Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
    object_selector: &'a mut Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
    rules: &'a mut Option<Vec<RuleWithOperations>>,
    side_effects: &'a str,
    timeout_seconds: &'a mut Option<i32>,
    admission_review_versions: &'a [String],
}

impl Webhook<'_> {
    fn default(&mut self) {
        str_default(self.failure_policy, "Fail");
        str_default(self.match_policy, "Equivalent");
        self.namespace_selector.get_or_insert_with(Default::default);
        self.object_selector.get_or_insert_with(Default::default);
        self.timeout_seconds.get_or_insert(10);
        for rule in self.rules.iter_mut().flatten() {
            str_default(&mut rule.scope, "*");
        }
        if let Some(service) = self.client_config.service.as_mut() {
            service.port.get_or_insert(443);
        }
    }

    fn validate(&self, path: &FieldPath, seen: &mut BTreeSet<String>, errs: &mut Vec<FieldError>) {
        let name_path = path.child("name");
        if self.name.is_empty() {
            errs.push(FieldError::required(&name_path, ""));
        } else if self.name.split('.').count() < 3 || !crate::validation::names::dns1123_subdomain(self.name).is_empty()
        {
            errs.push(FieldError::invalid(
                &name_path,
                self.name,
                "should be a domain with at least three segments separated by dots",
            ));
        } else if !seen.insert(self.name.to_string()) {
            errs.push(FieldError::duplicate(&name_path, self.name));
        }
        if self.side_effects.is_empty() {
            errs.push(FieldError::required(&path.child("sideEffects"), "must specify one of None, NoneOnDryRun"));
        } else if !["None", "NoneOnDryRun"].contains(&self.side_effects) {
            errs.push(FieldError::not_supported(
                &path.child("sideEffects"),
                self.side_effects,
                &["None", "NoneOnDryRun"],
            ));
        }
        if self.admission_review_versions.is_empty() {
            errs.push(FieldError::required(&path.child("admissionReviewVersions"), "must specify one of v1, v1beta1"));
        } else if !self.admission_review_versions.iter().any(|v| v == "v1" || v == "v1beta1") {
            errs.push(FieldError::invalid(
                &path.child("admissionReviewVersions"),
                crate::validation::json_value(&self.admission_review_versions),
                "must include at least one of v1, v1beta1",
            ));
        }
        if let Some(t) = *self.timeout_seconds {
            if !(1..=30).contains(&t) {
                errs.push(FieldError::invalid(
                    &path.child("timeoutSeconds"),
                    t,
                    "the timeout value must be between 1 and 30 seconds",
                ));
            }
        }
        let cc = path.child("clientConfig");
        match (self.client_config.url.is_some(), self.client_config.service.is_some()) {
            (true, true) => errs.push(FieldError::required(&cc, "exactly one of url or service is required")),
            (false, false) => errs.push(FieldError::required(&cc, "exactly one of url or service is required")),
            _ => {}
        }
    }
}

macro_rules! webhooks {
    ($w:expr) => {
        Webhook {
            name: &$w.name,
            client_config: &mut $w.client_config,
            failure_policy: &mut $w.failure_policy,
            match_policy: &mut $w.match_policy,
            namespace_selector: &mut $w.namespace_selector,
            object_selector: &mut $w.object_selector,
            rules: &mut $w.rules,
            side_effects: &$w.side_effects,
            timeout_seconds: &mut $w.timeout_seconds,
            admission_review_versions: &$w.admission_review_versions,
        }
    };
}

impl Kind for MutatingWebhookConfiguration {
    const GENERATION: bool = true;
    const GENERATION_FIELDS: &'static [&'static str] = &["webhooks"];

    fn default(&mut self) {
        for w in self.webhooks.iter_mut().flatten() {
            str_default(&mut w.reinvocation_policy, "Never");
            webhooks!(w).default();
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, w) in self.webhooks.clone().iter_mut().flatten().enumerate() {
            webhooks!(w).validate(&FieldPath::new("webhooks").index(i), &mut seen, &mut errs);
        }
        errs
    }
}

impl Kind for ValidatingWebhookConfiguration {
    const GENERATION: bool = true;
    const GENERATION_FIELDS: &'static [&'static str] = &["webhooks"];

    fn default(&mut self) {
        for w in self.webhooks.iter_mut().flatten() {
            webhooks!(w).default();
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, w) in self.webhooks.clone().iter_mut().flatten().enumerate() {
            webhooks!(w).validate(&FieldPath::new("webhooks").index(i), &mut seen, &mut errs);
        }
        errs
    }
}

impl Kind for ValidatingAdmissionPolicy {
    const GENERATION: bool = true;

    fn default(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        str_default(&mut spec.failure_policy, "Fail");
        if let Some(m) = spec.match_constraints.as_mut() {
            str_default(&mut m.match_policy, "Equivalent");
            m.namespace_selector.get_or_insert_with(Default::default);
            m.object_selector.get_or_insert_with(Default::default);
        }
    }
}

impl Kind for ValidatingAdmissionPolicyBinding {
    const GENERATION: bool = true;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Registry;

    #[test]
    fn webhook_defaults_and_required_fields() {
        let def = Registry::builtin()
            .get("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations")
            .cloned()
            .unwrap();
        let mut obj = json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "m"},
            "webhooks": [{"name": "a.b.c", "clientConfig": {"service": {"namespace": "n", "name": "s"}},
                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]}]});
        let (o, _) = def.strategy.normalize(obj).unwrap();
        obj = o;
        def.strategy.default(&mut obj);
        let w = &obj["webhooks"][0];
        assert_eq!(w["failurePolicy"], "Fail");
        assert_eq!(w["matchPolicy"], "Equivalent");
        assert_eq!(w["reinvocationPolicy"], "Never");
        assert_eq!(w["timeoutSeconds"], 10);
        assert_eq!(w["namespaceSelector"], json!({}));
        assert_eq!(w["rules"][0]["scope"], "*");
        assert_eq!(w["clientConfig"]["service"]["port"], 443);
        let msgs: Vec<String> = def.strategy.validate_create(&obj).into_iter().map(|e| e.message).collect();
        assert_eq!(
            msgs,
            [
                "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun",
                "webhooks[0].admissionReviewVersions: Required value: must specify one of v1, v1beta1"
            ]
        );
    }
}
