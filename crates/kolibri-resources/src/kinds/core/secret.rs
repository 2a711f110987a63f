//! Secret (`SetDefaults_Secret`, the v1 conversion of `stringData`, `ValidateSecret`).

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use serde_json::Value;

use super::configmap::{immutable_rules, MAX_SIZE};
use crate::field_error::{FieldError, FieldPath};
use crate::typed::{str_at, Kind};
use crate::validation::{names, push_msgs, IMMUTABLE};

impl Kind for Secret {
    const FIELDS: &'static [&'static str] = &["type"];

    fn default(&mut self) {
        if self.type_.as_deref().is_none_or(str::is_empty) {
            self.type_ = Some("Opaque".into());
        }
        // `stringData` is write-only: the conversion merges it into `data`.
        if let Some(string_data) = self.string_data.take() {
            let data = self.data.get_or_insert_with(Default::default);
            for (k, v) in string_data {
                data.insert(k, ByteString(v.into_bytes()));
            }
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let data_path = FieldPath::new("data");
        let data = self.data.clone().unwrap_or_default();
        let mut size = 0;
        for (k, v) in &data {
            push_msgs(&mut errs, &data_path.key(k), k, names::config_map_key(k));
            size += v.0.len();
        }
        if size > MAX_SIZE {
            errs.push(FieldError::too_long(&data_path, MAX_SIZE));
        }
        let required_keys: &[&str] = match self.type_.as_deref().unwrap_or_default() {
            "kubernetes.io/dockercfg" => &[".dockercfg"],
            "kubernetes.io/dockerconfigjson" => &[".dockerconfigjson"],
            "kubernetes.io/ssh-auth" => &["ssh-privatekey"],
            "kubernetes.io/tls" => &["tls.key", "tls.crt"],
            _ => &[],
        };
        for key in required_keys {
            if !data.contains_key(*key) {
                errs.push(FieldError::required(&data_path.key(key), ""));
            }
        }
        match self.type_.as_deref().unwrap_or_default() {
            "kubernetes.io/service-account-token" => {
                let annotations = self.metadata.annotations.clone().unwrap_or_default();
                if annotations.get("kubernetes.io/service-account.name").is_none_or(String::is_empty) {
                    errs.push(FieldError::required(
                        &FieldPath::new("metadata").child("annotations").key("kubernetes.io/service-account.name"),
                        "",
                    ));
                }
            }
            // Upstream's path really is `data[%s][username]`.
            "kubernetes.io/basic-auth" if !data.contains_key("username") && !data.contains_key("password") => {
                errs.push(FieldError::required(&FieldPath::new("data[%s]").key("username"), ""));
                errs.push(FieldError::required(&FieldPath::new("data[%s]").key("password"), ""));
            }
            _ => {}
        }
        errs
    }

    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        let mut errs = self.validate();
        if self.type_ != old.type_ {
            errs.push(FieldError::invalid(&FieldPath::new("type"), self.type_.clone().unwrap_or_default(), IMMUTABLE));
        }
        if old.immutable == Some(true) {
            immutable_rules(self.immutable, self.data != old.data, false, &mut errs);
        }
        errs
    }

    fn field_value(obj: &Value, field: &str) -> Option<String> {
        Some(str_at(obj, field))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Registry;

    #[test]
    fn defaults_type_and_merges_string_data() {
        let def = Registry::builtin().get("", "v1", "secrets").cloned().unwrap();
        let mut obj = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "d"},
            "stringData": {"user": "admin"}});
        def.strategy.default(&mut obj);
        assert_eq!(obj["type"], "Opaque");
        assert_eq!(obj["data"], json!({"user": "YWRtaW4="}));
        assert!(obj.get("stringData").is_none());
        assert_eq!(def.strategy.field_value(&obj, "type").as_deref(), Some("Opaque"));
        obj["type"] = json!("kubernetes.io/tls");
        let msgs: Vec<String> = def.strategy.validate_create(&obj).into_iter().map(|e| e.message).collect();
        assert_eq!(msgs, ["data[tls.key]: Required value", "data[tls.crt]: Required value"]);
    }
}
