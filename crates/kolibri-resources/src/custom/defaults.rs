//! Structural defaulting: `default` values of the schema fill fields that are absent, or
//! null without `nullable` (upstream `structural/defaulting`).

use serde_json::Value;

use super::structural::{additional_properties, items, properties};

/// Applies defaults to `value` and everything below it; at the root `metadata` is left alone.
pub(super) fn apply(value: &mut Value, schema: &Value, root: bool) {
    match value {
        Value::Object(map) => {
            if let Some(props) = properties(schema) {
                for (key, prop) in props {
                    if root && key == "metadata" {
                        continue;
                    }
                    let Some(default) = prop.get("default") else { continue };
                    let nullable = prop.get("nullable").and_then(Value::as_bool).unwrap_or(false);
                    match map.get(key) {
                        None => {
                            map.insert(key.clone(), default.clone());
                        }
                        Some(Value::Null) if !nullable => {
                            map.insert(key.clone(), default.clone());
                        }
                        Some(_) => {}
                    }
                }
                for (key, v) in map.iter_mut() {
                    if root && key == "metadata" {
                        continue;
                    }
                    if let Some(prop) = props.get(key) {
                        apply(v, prop, false);
                    }
                }
            } else if let Some(additional) = additional_properties(schema) {
                map.values_mut().for_each(|v| apply(v, additional, false));
            }
        }
        Value::Array(list) => {
            if let Some(item) = items(schema) {
                list.iter_mut().for_each(|v| apply(v, item, false));
            }
        }
        _ => {}
    }
}
