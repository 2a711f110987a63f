//! The served definitions of a CustomResourceDefinition: one [`ResourceDef`] per served
//! version, under the accepted names.

use std::sync::Arc;

use serde_json::{json, Value};

use super::CustomStrategy;
use crate::{CustomInfo, PrinterColumn, ResourceDef, ScalePaths, SubresourceDef};

const VERBS: &[&str] = &["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"];

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// The definitions to serve for `crd` (a CustomResourceDefinition in `apiextensions.k8s.io/v1`
/// form). Names come from `status.acceptedNames` once the server accepted them.
pub fn definitions_of(crd: &Value) -> Vec<ResourceDef> {
    let spec = crd.get("spec").cloned().unwrap_or_default();
    let group = str_at(&spec, "group").to_string();
    let names = crd
        .get("status")
        .and_then(|s| s.get("acceptedNames"))
        .filter(|n| !str_at(n, "plural").is_empty())
        .or_else(|| spec.get("names"))
        .cloned()
        .unwrap_or_default();
    let plural = str_at(&names, "plural").to_string();
    let kind = str_at(&names, "kind").to_string();
    if group.is_empty() || plural.is_empty() || kind.is_empty() {
        return Vec::new();
    }
    let singular = match str_at(&names, "singular") {
        "" => kind.to_lowercase(),
        s => s.to_string(),
    };
    let list_kind = match str_at(&names, "listKind") {
        "" => format!("{kind}List"),
        s => s.to_string(),
    };
    let namespaced = str_at(&spec, "scope") != "Cluster";
    let crd_name = crd.get("metadata").map(|m| str_at(m, "name")).unwrap_or_default().to_string();
    let versions = spec.get("versions").and_then(Value::as_array).cloned().unwrap_or_default();
    versions
        .iter()
        .filter(|v| v.get("served").and_then(Value::as_bool).unwrap_or(false))
        .map(|v| {
            let version = str_at(v, "name").to_string();
            let schema = v.get("schema").and_then(|s| s.get("openAPIV3Schema")).map(|s| Arc::new(with_type_meta(s)));
            let subresources = v.get("subresources");
            let has_status = subresources.and_then(|s| s.get("status")).is_some();
            let scale = subresources.and_then(|s| s.get("scale")).map(|s| ScalePaths {
                spec_replicas_path: str_at(s, "specReplicasPath").to_string(),
                status_replicas_path: str_at(s, "statusReplicasPath").to_string(),
                label_selector_path: s.get("labelSelectorPath").and_then(Value::as_str).map(str::to_string),
            });
            let mut subs = Vec::new();
            if has_status {
                subs.push(SubresourceDef {
                    name: "status".into(),
                    group: group.clone(),
                    version: version.clone(),
                    kind: kind.clone(),
                    verbs: vec!["get".into(), "patch".into(), "update".into()],
                });
            }
            if scale.is_some() {
                subs.push(SubresourceDef {
                    name: "scale".into(),
                    group: "autoscaling".into(),
                    version: "v1".into(),
                    kind: "Scale".into(),
                    verbs: vec!["get".into(), "patch".into(), "update".into()],
                });
            }
            let deprecation_warning = v.get("deprecated").and_then(Value::as_bool).unwrap_or(false).then(|| {
                match v.get("deprecationWarning").and_then(Value::as_str) {
                    Some(w) => w.to_string(),
                    None => format!("{group}/{version} {kind} is deprecated"),
                }
            });
            let custom = CustomInfo {
                crd_name: crd_name.clone(),
                schema: schema.clone(),
                printer_columns: printer_columns(v.get("additionalPrinterColumns")),
                scale,
                storage: v.get("storage").and_then(Value::as_bool).unwrap_or(false),
                deprecation_warning,
            };
            ResourceDef {
                group: group.clone(),
                version,
                kind: kind.clone(),
                list_kind: list_kind.clone(),
                plural: plural.clone(),
                singular: singular.clone(),
                namespaced,
                short_names: strings(names.get("shortNames")),
                categories: strings(names.get("categories")),
                verbs: VERBS.iter().map(|v| v.to_string()).collect(),
                subresources: subs,
                has_status,
                protobuf: false,
                strategy: Arc::new(CustomStrategy::new(namespaced, has_status, schema)),
                custom: Some(Arc::new(custom)),
            }
        })
        .collect()
}

/// The schema with `apiVersion`, `kind` and `metadata` as upstream publishes them.
fn with_type_meta(schema: &Value) -> Value {
    let mut schema = schema.clone();
    if let Some(map) = schema.as_object_mut() {
        let props = map.entry("properties").or_insert_with(|| json!({}));
        if let Some(props) = props.as_object_mut() {
            props.entry("apiVersion").or_insert_with(|| json!({"type": "string"}));
            props.entry("kind").or_insert_with(|| json!({"type": "string"}));
            let metadata = props.entry("metadata").or_insert_with(|| json!({"type": "object"}));
            if let Some(m) = metadata.as_object_mut() {
                m.entry("type").or_insert_with(|| json!("object"));
            }
        }
    }
    schema
}

fn printer_columns(v: Option<&Value>) -> Vec<PrinterColumn> {
    v.and_then(Value::as_array)
        .map(|cols| {
            cols.iter()
                .map(|c| PrinterColumn {
                    name: str_at(c, "name").to_string(),
                    type_: str_at(c, "type").to_string(),
                    format: str_at(c, "format").to_string(),
                    description: str_at(c, "description").to_string(),
                    priority: c.get("priority").and_then(Value::as_i64).map_or(0, |p| p as i32),
                    json_path: str_at(c, "jsonPath").to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}
