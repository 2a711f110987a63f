//! Pruning: fields a structural schema does not specify are dropped on write, unless
//! `x-kubernetes-preserve-unknown-fields` keeps them (upstream `structural/pruning`).
//! Dropped paths are reported so `fieldValidation` can warn or refuse.

use serde_json::Value;

use super::structural::{additional_properties, is_embedded, items, preserves_unknown, properties};

/// Prunes a whole object: `apiVersion`, `kind` and `metadata` are always kept.
pub(super) fn prune_root(obj: &mut Value, schema: &Value, unknown: &mut Vec<String>) {
    prune_object(obj, schema, "", true, unknown);
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn prune_object(value: &mut Value, schema: &Value, path: &str, type_meta: bool, unknown: &mut Vec<String>) {
    let Value::Object(map) = value else { return };
    if let Some(additional) = additional_properties(schema) {
        for (key, v) in map.iter_mut() {
            prune(v, additional, &join(path, key), unknown);
        }
        return;
    }
    let props = properties(schema);
    let preserve = preserves_unknown(schema);
    if props.is_none() && (preserve || schema.get("type").and_then(Value::as_str) != Some("object")) {
        // No structure to prune against.
        return;
    }
    let mut dropped = Vec::new();
    for (key, v) in map.iter_mut() {
        if type_meta && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        match props.and_then(|p| p.get(key)) {
            Some(child) => prune(v, child, &join(path, key), unknown),
            None if preserve => {}
            None => dropped.push(key.clone()),
        }
    }
    for key in dropped {
        map.remove(&key);
        unknown.push(join(path, &key));
    }
}

fn prune(value: &mut Value, schema: &Value, path: &str, unknown: &mut Vec<String>) {
    match value {
        Value::Object(_) => prune_object(value, schema, path, is_embedded(schema), unknown),
        Value::Array(list) => {
            if let Some(item) = items(schema) {
                for (i, v) in list.iter_mut().enumerate() {
                    prune(v, item, &format!("{path}[{i}]"), unknown);
                }
            }
        }
        _ => {}
    }
}
