//! Builds the definitions map: generates the schemas with schemars, then applies the
//! upstream extensions from our tables.

use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

use super::{extensions, kinds, REF_PREFIX};

const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const APIEXTENSIONS_JSON: &str = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON";

pub(super) fn definitions() -> Map<String, Value> {
    let mut generator = SchemaSettings::openapi3().with(|s| s.meta_schema = None).into_generator();
    kinds::generate_all(&mut generator);
    let mut definitions = generator.take_definitions(true);
    add_lists(&mut definitions);
    apply_fields(&mut definitions);
    apply_kinds(&mut definitions);
    fix_special_types(&mut definitions);
    definitions
}

/// Synthesizes `<Kind>List` schemas, which k8s-openapi models as a generic `List<T>`
/// without a schema, in upstream's shape.
fn add_lists(definitions: &mut Map<String, Value>) {
    for &(definition, _, _, kind) in kinds::KINDS {
        let Some(item) = definition.strip_suffix("List") else {
            continue;
        };
        if definitions.contains_key(definition) {
            continue;
        }
        let Some(item_properties) = definitions.get(item).and_then(|s| s.get("properties")) else {
            continue;
        };
        let item_kind = kind.strip_suffix("List").unwrap_or(kind);
        let list = json!({
            "description": format!("{kind} is a list of {item_kind} objects."),
            "type": "object",
            "properties": {
                "apiVersion": item_properties.get("apiVersion").cloned().unwrap_or_else(|| json!({"type": "string"})),
                "kind": item_properties.get("kind").cloned().unwrap_or_else(|| json!({"type": "string"})),
                "items": {
                    "description": format!("List of {item_kind} objects."),
                    "type": "array",
                    "items": { "$ref": format!("{REF_PREFIX}{item}") },
                },
                "metadata": {
                    "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                    "allOf": [{ "$ref": format!("{REF_PREFIX}{LIST_META}") }],
                },
            },
            "required": ["items"],
        });
        definitions.insert(definition.to_owned(), list);
    }
}

fn apply_fields(definitions: &mut Map<String, Value>) {
    for &(definition, property, strategy, merge_key, list_type, map_keys, map_type) in extensions::FIELDS {
        let Some(schema) = definitions.get_mut(definition).and_then(Value::as_object_mut) else {
            continue;
        };
        let target = if property.is_empty() {
            schema
        } else {
            match schema.get_mut("properties").and_then(|p| p.get_mut(property)).and_then(Value::as_object_mut) {
                Some(target) => target,
                None => continue,
            }
        };
        let mut set = |key: &str, value: Option<&str>| {
            if let Some(value) = value {
                target.insert(key.into(), value.into());
            }
        };
        set("x-kubernetes-patch-strategy", strategy);
        set("x-kubernetes-patch-merge-key", merge_key);
        set("x-kubernetes-list-type", list_type);
        set("x-kubernetes-map-type", map_type);
        if !map_keys.is_empty() {
            target.insert("x-kubernetes-list-map-keys".into(), json!(map_keys));
        }
    }
}

fn apply_kinds(definitions: &mut Map<String, Value>) {
    for &(definition, group, version, kind) in kinds::KINDS {
        let Some(schema) = definitions.get_mut(definition).and_then(Value::as_object_mut) else {
            continue;
        };
        let gvk = json!({ "group": group, "kind": kind, "version": version });
        match schema.entry("x-kubernetes-group-version-kind").or_insert_with(|| json!([])) {
            Value::Array(list) => list.push(gvk),
            other => *other = json!([gvk]),
        }
    }
}

/// Types whose generated schema differs from upstream's.
fn fix_special_types(definitions: &mut Map<String, Value>) {
    if let Some(Value::Object(schema)) = definitions.get_mut(INT_OR_STRING) {
        schema.insert("format".into(), "int-or-string".into());
        schema.insert("x-kubernetes-int-or-string".into(), true.into());
    }
    // Any JSON value, not only objects.
    if let Some(Value::Object(schema)) = definitions.get_mut(APIEXTENSIONS_JSON) {
        schema.remove("type");
    }
}
