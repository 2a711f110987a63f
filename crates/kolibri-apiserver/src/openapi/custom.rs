//! OpenAPI schemas of custom resources, published as upstream's CRD OpenAPI builder does:
//! the version's schema under a REST-friendly name (`com.example.v1.Widget`) with its
//! group/version/kind, `metadata` pointing at `ObjectMeta`, and a list schema beside it.

use std::collections::BTreeSet;

use kolibri_resources::{CustomInfo, ResourceDef};
use serde_json::{json, Map, Value};

use super::{schema_ref, REF_PREFIX};

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const METADATA_DESCRIPTION: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const LIST_METADATA_DESCRIPTION: &str = "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#lists-and-maps";

/// `example.com`, `v1`, `Widget` → `com.example.v1.Widget`.
pub(super) fn definition_name(def: &ResourceDef) -> String {
    let reversed: Vec<&str> = def.group.split('.').rev().collect();
    format!("{}.{}.{}", reversed.join("."), def.version, def.kind)
}

fn gvk(def: &ResourceDef, kind: &str) -> Value {
    json!([{ "group": def.group, "version": def.version, "kind": kind }])
}

/// Adds the object and list schemas of `def` to `schemas`, and the built-in schemas they
/// reference to `roots`.
pub(super) fn add_schemas(
    def: &ResourceDef,
    info: &CustomInfo,
    schemas: &mut Map<String, Value>,
    roots: &mut BTreeSet<&'static str>,
) {
    roots.insert(OBJECT_META);
    roots.insert(LIST_META);
    let name = definition_name(def);
    let mut object = info.schema.as_deref().cloned().unwrap_or_else(|| json!({ "type": "object" }));
    if let Some(map) = object.as_object_mut() {
        let props = map.entry("properties").or_insert_with(|| json!({}));
        if let Some(props) = props.as_object_mut() {
            props.insert("apiVersion".into(), json!({ "type": "string", "description": API_VERSION_DESCRIPTION }));
            props.insert("kind".into(), json!({ "type": "string", "description": KIND_DESCRIPTION }));
            props.insert(
                "metadata".into(),
                json!({ "allOf": [schema_ref(OBJECT_META)], "description": METADATA_DESCRIPTION }),
            );
        }
        map.insert("x-kubernetes-group-version-kind".into(), gvk(def, &def.kind));
    }
    let list = json!({
        "description": format!("{} is a list of {}", def.list_kind, def.kind),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": { "type": "string", "description": API_VERSION_DESCRIPTION },
            "items": {
                "type": "array",
                "description": format!("List of {}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md", def.plural),
                "items": { "$ref": format!("{REF_PREFIX}{name}") },
            },
            "kind": { "type": "string", "description": KIND_DESCRIPTION },
            "metadata": { "allOf": [schema_ref(LIST_META)], "description": LIST_METADATA_DESCRIPTION },
        },
        "x-kubernetes-group-version-kind": gvk(def, &def.list_kind),
    });
    schemas.insert(format!("{name}List"), list);
    schemas.insert(name, object);
}
