//! Finds the fields of an object that its schema does not know (for `fieldValidation`).

use serde_json::{Map, Value};

use super::{definitions, ref_name};

/// JSON paths (`spec.containers[0].foo`) of the fields of `obj` that the schema of
/// `definition` does not declare, in document order. Maps (`additionalProperties`),
/// `x-kubernetes-preserve-unknown-fields` and untyped objects (RawExtension, JSON) accept
/// any key. An unknown `definition` yields no paths.
pub fn unknown_fields(definition: &str, obj: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(schema) = definitions().get(definition) {
        walk(schema, obj, &mut String::new(), &mut out);
    }
    out
}

fn walk(schema: &Value, value: &Value, path: &mut String, out: &mut Vec<String>) {
    let Some(schema) = resolve(schema) else {
        return;
    };
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return;
    }
    match value {
        Value::Object(fields) => walk_object(schema, fields, path, out),
        Value::Array(items) => {
            let Some(item_schema) = schema.get("items") else {
                return;
            };
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(item_schema, item, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

fn walk_object(schema: &Value, fields: &Map<String, Value>, path: &mut String, out: &mut Vec<String>) {
    let properties = schema.get("properties").and_then(Value::as_object);
    let values = schema.get("additionalProperties").filter(|v| v.is_object());
    if properties.is_none() && values.is_none() {
        return;
    }
    for (key, value) in fields {
        let len = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
        match properties.and_then(|p| p.get(key)).or(values) {
            Some(field_schema) => walk(field_schema, value, path, out),
            None => out.push(path.clone()),
        }
        path.truncate(len);
    }
}

/// Follows references until a schema with content.
fn resolve(mut schema: &Value) -> Option<&Value> {
    // Bounded: a reference chain longer than this is a broken table.
    for _ in 0..8 {
        match ref_name(schema) {
            Some(name) => schema = definitions().get(name)?,
            None => return Some(schema),
        }
    }
    None
}
