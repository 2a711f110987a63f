//! Namespace (`SetDefaults_Namespace`, `pkg/registry/core/namespace/strategy.go`).

use k8s_openapi::api::core::v1::{Namespace, NamespaceSpec, NamespaceStatus};
use serde_json::Value;

use crate::field_error::FieldError;
use crate::typed::{str_at, Kind};
use crate::validation::NameRule;

impl Kind for Namespace {
    const NAME_RULE: NameRule = NameRule::Label;
    const FIELDS: &'static [&'static str] = &["status.phase", "name"];

    fn default(&mut self) {
        if let Some(name) = self.metadata.name.clone().filter(|n| !n.is_empty()) {
            self.metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert("kubernetes.io/metadata.name".into(), name);
        }
    }

    fn prepare_for_create(&mut self) {
        self.status = Some(NamespaceStatus { phase: Some("Active".into()), ..Default::default() });
        let spec = self.spec.get_or_insert_with(NamespaceSpec::default);
        let finalizers = spec.finalizers.get_or_insert_with(Vec::new);
        if !finalizers.iter().any(|f| f == "kubernetes") {
            finalizers.push("kubernetes".into());
        }
    }

    fn prepare_for_update(&mut self, old: &Self) {
        // The spec (finalizers) changes only through `/finalize`.
        self.spec.clone_from(&old.spec);
    }

    fn validate_update(&self, _old: &Self) -> Vec<FieldError> {
        Vec::new()
    }

    fn field_value(obj: &Value, field: &str) -> Option<String> {
        Some(match field {
            "name" => str_at(obj, "metadata.name"),
            other => str_at(obj, other),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Registry;

    #[test]
    fn create_sets_label_finalizer_and_phase() {
        let def = Registry::builtin().get("", "v1", "namespaces").cloned().unwrap();
        let mut obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}});
        def.strategy.default(&mut obj);
        def.strategy.prepare_for_create(&mut obj);
        assert_eq!(
            obj,
            json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "team-a"}},
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
        );
        assert!(def.strategy.validate_create(&obj).is_empty());
        assert_eq!(def.strategy.field_value(&obj, "status.phase").as_deref(), Some("Active"));
        obj["metadata"]["name"] = json!("a.b");
        assert_eq!(
            def.strategy.validate_create(&obj)[0].message,
            "metadata.name: Invalid value: \"a.b\": must not contain dots"
        );
    }
}
