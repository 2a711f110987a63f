//! ConfigMap (`ValidateConfigMap`, `ValidateConfigMapUpdate`).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::ConfigMap;

use crate::field_error::{FieldError, FieldPath};
use crate::typed::Kind;
use crate::validation::{names, push_msgs};

/// Upstream's `MaxConfigMapSize` (and `MaxSecretSize`).
pub(crate) const MAX_SIZE: usize = 1024 * 1024;

impl Kind for ConfigMap {
    fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let mut size = 0;
        let binary_keys: BTreeSet<&String> = self.binary_data.iter().flatten().map(|(k, _)| k).collect();
        for (k, v) in self.data.iter().flatten() {
            let p = FieldPath::new("data").key(k);
            push_msgs(&mut errs, &p, k, names::config_map_key(k));
            if binary_keys.contains(k) {
                errs.push(FieldError::invalid(&p, k, "duplicate of key present in binaryData"));
            }
            size += v.len();
        }
        for (k, v) in self.binary_data.iter().flatten() {
            push_msgs(&mut errs, &FieldPath::new("binaryData").key(k), k, names::config_map_key(k));
            size += v.0.len();
        }
        if size > MAX_SIZE {
            errs.push(FieldError::too_long(&FieldPath::new(""), MAX_SIZE));
        }
        errs
    }

    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        let mut errs = self.validate();
        if old.immutable == Some(true) {
            immutable_rules(self.immutable, self.data != old.data, self.binary_data != old.binary_data, &mut errs);
        }
        errs
    }
}

/// The rules of an object marked `immutable` (ConfigMaps and Secrets).
pub(crate) fn immutable_rules(new_immutable: Option<bool>, data: bool, binary: bool, errs: &mut Vec<FieldError>) {
    const MSG: &str = "field is immutable when `immutable` is set";
    if new_immutable != Some(true) {
        errs.push(FieldError::forbidden(&FieldPath::new("immutable"), MSG));
    }
    if data {
        errs.push(FieldError::forbidden(&FieldPath::new("data"), MSG));
    }
    if binary {
        errs.push(FieldError::forbidden(&FieldPath::new("binaryData"), MSG));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Registry;

    #[test]
    fn bad_key_message_and_immutability() {
        let def = Registry::builtin().get("", "v1", "configmaps").cloned().unwrap();
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d"},
            "data": {"bad key": "v"}});
        assert_eq!(
            def.strategy.validate_create(&obj)[0].message,
            "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
        );
        let old = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d"},
            "data": {"a": "1"}, "immutable": true});
        let mut new = old.clone();
        new["data"]["a"] = json!("2");
        let msgs: Vec<String> = def.strategy.validate_update(&new, &old).into_iter().map(|e| e.message).collect();
        assert_eq!(msgs, ["data: Forbidden: field is immutable when `immutable` is set"]);
        assert!(!def.strategy.sets_generation());
    }
}
