//! Structural schemas: reading the parts of a schema node that pruning, defaulting and
//! validation walk, and the rules a CustomResourceDefinition's schema must follow to be
//! structural (upstream `apiextensions-apiserver/pkg/apiserver/schema/validation.go`).

use serde_json::{Map, Value};

use crate::field_error::{FieldError, FieldPath};

/// `properties` of a schema node.
pub(crate) fn properties(s: &Value) -> Option<&Map<String, Value>> {
    s.get("properties").and_then(Value::as_object)
}

/// `items` of an array node (a single schema; arrays of schemas are refused at creation).
pub(crate) fn items(s: &Value) -> Option<&Value> {
    s.get("items").filter(|i| i.is_object())
}

/// `additionalProperties` when it is a schema (`true` without a schema keeps anything).
pub(crate) fn additional_properties(s: &Value) -> Option<&Value> {
    s.get("additionalProperties").filter(|a| a.is_object())
}

fn ext(s: &Value, name: &str) -> bool {
    s.get(name).and_then(Value::as_bool).unwrap_or(false)
}

/// `x-kubernetes-preserve-unknown-fields: true`.
pub(crate) fn preserves_unknown(s: &Value) -> bool {
    ext(s, "x-kubernetes-preserve-unknown-fields")
        || s.get("additionalProperties").and_then(Value::as_bool).unwrap_or(false)
}

/// `x-kubernetes-int-or-string: true`.
pub(crate) fn int_or_string(s: &Value) -> bool {
    ext(s, "x-kubernetes-int-or-string")
}

/// `x-kubernetes-embedded-resource: true`: `apiVersion`, `kind` and `metadata` are kept.
pub(crate) fn is_embedded(s: &Value) -> bool {
    ext(s, "x-kubernetes-embedded-resource")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Root,
    Field,
    Item,
}

/// Problems that keep `schema` (at `path`, e.g. `spec.versions[0].schema.openAPIV3Schema`)
/// from being structural, plus the value rules upstream checks on every schema.
pub(crate) fn validate_schema(schema: &Value, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    node(schema, Level::Root, path, &mut errs);
    errs
}

fn type_of(s: &Value) -> &str {
    s.get("type").and_then(Value::as_str).unwrap_or_default()
}

fn node(s: &Value, level: Level, path: &FieldPath, errs: &mut Vec<FieldError>) {
    let Some(map) = s.as_object() else {
        errs.push(FieldError::invalid(path, s.to_string(), "must be a schema object"));
        return;
    };
    if map.contains_key("$ref") {
        errs.push(FieldError::forbidden(&path.child("$ref"), "$ref is not supported"));
    }
    let ty = type_of(s);
    if ty == "array" && !map.contains_key("items") {
        errs.push(FieldError::required(&path.child("items"), "must be specified"));
    }
    if let Some(items) = map.get("items") {
        if items.is_array() {
            errs.push(FieldError::forbidden(&path.child("items"), "items must be a schema object and not an array"));
        } else {
            node(items, Level::Item, &path.child("items"), errs);
        }
    }
    if let Some(props) = properties(s) {
        for (key, child) in props {
            node(child, Level::Field, &path.child("properties").key(key), errs);
        }
    }
    if let Some(additional) = map.get("additionalProperties") {
        if level == Level::Root {
            errs.push(FieldError::forbidden(&path.child("additionalProperties"), "must not be used at the root"));
        }
        if map.contains_key("properties") {
            errs.push(FieldError::forbidden(
                &path.child("additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            ));
        }
        if additional.is_object() {
            node(additional, Level::Field, &path.child("additionalProperties"), errs);
        }
    }
    if ext(s, "uniqueItems") {
        errs.push(FieldError::forbidden(
            &path.child("uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    if int_or_string(s) && ext(s, "x-kubernetes-preserve-unknown-fields") {
        errs.push(FieldError::invalid(
            &path.child("x-kubernetes-preserve-unknown-fields"),
            true,
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    let embedded = is_embedded(s);
    if embedded && ty != "object" {
        if ty.is_empty() {
            errs.push(FieldError::required(
                &path.child("type"),
                "must be object if x-kubernetes-embedded-resource is true",
            ));
        } else {
            errs.push(FieldError::invalid(
                &path.child("type"),
                ty,
                "must be object if x-kubernetes-embedded-resource is true",
            ));
        }
    } else if ty.is_empty() && !int_or_string(s) && !ext(s, "x-kubernetes-preserve-unknown-fields") {
        let detail = match level {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        errs.push(FieldError::required(&path.child("type"), detail));
    }
    if level == Level::Root && !ty.is_empty() && ty != "object" {
        errs.push(FieldError::invalid(&path.child("type"), ty, "must be object at the root"));
    }
    if level == Level::Root || embedded {
        type_meta_rules(s, level, path, errs);
    }
    if let Some(pattern) = map.get("pattern").and_then(Value::as_str) {
        if let Err(e) = regex::Regex::new(pattern) {
            errs.push(FieldError::invalid(
                &path.child("pattern"),
                pattern,
                &format!("must be a valid regular expression, but isn't: {e}"),
            ));
        }
    }
    // Upstream's two spellings of int-or-string may use `type` under a junctor.
    let skip_any_of = is_int_or_string_pattern(map.get("anyOf"));
    let skip_first_all_of_any_of = map
        .get("allOf")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .is_some_and(|f| is_int_or_string_pattern(f.get("anyOf")));
    for junctor in ["allOf", "anyOf", "oneOf"] {
        if junctor == "anyOf" && skip_any_of {
            continue;
        }
        if let Some(list) = map.get(junctor).and_then(Value::as_array) {
            for (i, sub) in list.iter().enumerate() {
                let mut sub = sub.clone();
                if junctor == "allOf" && i == 0 && skip_first_all_of_any_of {
                    if let Some(m) = sub.as_object_mut() {
                        m.remove("anyOf");
                    }
                }
                nested(&sub, &path.child(junctor).index(i), errs);
            }
        }
    }
    if let Some(not) = map.get("not") {
        nested(not, &path.child("not"), errs);
    }
}

/// `anyOf: [{type: integer}, {type: string}]`, exactly.
fn is_int_or_string_pattern(any_of: Option<&Value>) -> bool {
    any_of.and_then(Value::as_array).is_some_and(|a| {
        a.len() == 2 && a[0] == serde_json::json!({"type": "integer"}) && a[1] == serde_json::json!({"type": "string"})
    })
}

/// `apiVersion` and `kind` must be strings and `metadata` may only restrict `name` and
/// `generateName`.
fn type_meta_rules(s: &Value, level: Level, path: &FieldPath, errs: &mut Vec<FieldError>) {
    let Some(props) = properties(s) else { return };
    for (key, want) in [("kind", "string"), ("apiVersion", "string"), ("metadata", "object")] {
        if let Some(p) = props.get(key) {
            let ty = type_of(p);
            if ty != want {
                errs.push(FieldError::invalid(
                    &path.child("properties").key(key).child("type"),
                    ty,
                    &format!("must be {want}"),
                ));
            }
        }
    }
    if level != Level::Root {
        return;
    }
    if let Some(Value::Object(metadata)) = props.get("metadata") {
        let allowed = |k: &str| {
            matches!(k, "type" | "description")
                || (k == "properties"
                    && properties(&Value::Object(metadata.clone()))
                        .is_some_and(|p| p.keys().all(|n| n == "name" || n == "generateName")))
        };
        if !metadata.keys().all(|k| allowed(k)) {
            errs.push(FieldError::forbidden(
                &path.child("properties").key("metadata"),
                "must not specify anything other than name and generateName, but metadata is implicitly specified",
            ));
        }
    }
}

/// A schema under a logic junctor may only hold value validations.
fn nested(s: &Value, path: &FieldPath, errs: &mut Vec<FieldError>) {
    let Some(map) = s.as_object() else { return };
    let set = |k: &str| map.get(k).is_some_and(|v| !matches!(v, Value::String(s) if s.is_empty()));
    for (key, rule) in [
        ("type", "must be empty to be structural"),
        ("additionalProperties", "must be undefined to be structural"),
        ("default", "must be undefined to be structural"),
        ("title", "must be empty to be structural"),
        ("description", "must be empty to be structural"),
        ("x-kubernetes-list-map-keys", "must be empty to be structural"),
        ("x-kubernetes-list-type", "must be undefined to be structural"),
    ] {
        if set(key) {
            errs.push(FieldError::forbidden(&path.child(key), rule));
        }
    }
    for key in [
        "nullable",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-embedded-resource",
        "x-kubernetes-int-or-string",
    ] {
        if ext(s, key) {
            errs.push(FieldError::forbidden(&path.child(key), "must be false to be structural"));
        }
    }
    if let Some(props) = properties(s) {
        if props.contains_key("metadata") {
            errs.push(FieldError::forbidden(
                &path.child("properties").key("metadata"),
                "must not be specified in a nested context",
            ));
        }
        for (key, child) in props {
            nested(child, &path.child("properties").key(key), errs);
        }
    }
    if let Some(items) = map.get("items") {
        nested(items, &path.child("items"), errs);
    }
    for junctor in ["allOf", "anyOf", "oneOf"] {
        if let Some(list) = map.get(junctor).and_then(Value::as_array) {
            for (i, sub) in list.iter().enumerate() {
                nested(sub, &path.child(junctor).index(i), errs);
            }
        }
    }
    if let Some(not) = map.get("not") {
        nested(not, &path.child("not"), errs);
    }
}
