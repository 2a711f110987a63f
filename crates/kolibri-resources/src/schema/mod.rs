//! OpenAPI v3 schemas of the built-in kinds, with the `x-kubernetes-*` extensions upstream
//! puts on them (patch strategies, merge keys, list and map types, group/version/kind).
//!
//! The schemas come from k8s-openapi's `schemars` implementations; the extensions, which
//! k8s-openapi does not carry, from our own table of upstream facts ([`extensions`]).
//! Everything is built once, on first use.

mod build;
mod extensions;
mod kinds;
mod unknown;

use std::sync::OnceLock;

use serde_json::{Map, Value};

pub use unknown::unknown_fields;

/// Prefix of every `$ref` between definitions.
pub const REF_PREFIX: &str = "#/components/schemas/";

/// All component schemas of the built-in kinds and everything they reference, keyed by
/// upstream definition name (`io.k8s.api.core.v1.Pod`), extensions applied.
pub fn definitions() -> &'static Map<String, Value> {
    static DEFINITIONS: OnceLock<Map<String, Value>> = OnceLock::new();
    DEFINITIONS.get_or_init(build::definitions)
}

/// The definition name of a built-in kind, e.g. `("apps", "v1", "Deployment")` →
/// `io.k8s.api.apps.v1.Deployment`. `None` for kinds without a built-in schema (CRDs).
pub fn definition_name(group: &str, version: &str, kind: &str) -> Option<&'static str> {
    kinds::KINDS.iter().find(|(_, g, v, k)| *g == group && *v == version && *k == kind).map(|(name, ..)| *name)
}

/// The group/version/kinds a definition is served as (empty for non-kinds).
pub fn group_version_kinds(definition: &str) -> impl Iterator<Item = (&'static str, &'static str, &'static str)> + '_ {
    kinds::KINDS.iter().filter(move |(name, ..)| *name == definition).map(|(_, g, v, k)| (*g, *v, *k))
}

/// How strategic merge patch treats a field (`x-kubernetes-patch-strategy`).
/// All flags off means the field is replaced as a whole.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PatchStrategy {
    /// Lists merge (by merge key, or as a set for primitives).
    pub merge: bool,
    /// `$retainKeys` is honoured: keys not listed are cleared.
    pub retain_keys: bool,
    /// Explicitly replaced as a whole.
    pub replace: bool,
}

impl PatchStrategy {
    /// Parses a comma-separated `x-kubernetes-patch-strategy` value.
    pub fn parse(s: &str) -> PatchStrategy {
        let mut strategy = PatchStrategy::default();
        for part in s.split(',').map(str::trim) {
            match part {
                "merge" => strategy.merge = true,
                "retainKeys" => strategy.retain_keys = true,
                "replace" => strategy.replace = true,
                _ => {}
            }
        }
        strategy
    }
}

/// Strategic-merge metadata of one field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PatchMeta {
    pub strategy: PatchStrategy,
    /// `x-kubernetes-patch-merge-key`: the key identifying list items.
    pub merge_key: Option<&'static str>,
}

/// The patch metadata of `property` of `definition`; `None` when the definition has no such
/// property. A known property without a strategy gets the default (replace) metadata.
pub fn patch_meta(definition: &str, property: &str) -> Option<PatchMeta> {
    if let Some(row) = field_row(definition, property) {
        return Some(PatchMeta { strategy: row.2.map(PatchStrategy::parse).unwrap_or_default(), merge_key: row.3 });
    }
    property_schema(definition, property).map(|_| PatchMeta::default())
}

/// What a property holds, as far as a definition is involved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaRef {
    /// An object of this definition.
    Object(&'static str),
    /// A list of objects of this definition.
    List(&'static str),
    /// A map (`additionalProperties`) with values of this definition.
    Map(&'static str),
}

impl SchemaRef {
    /// The definition name, whatever the container.
    pub fn definition(self) -> &'static str {
        match self {
            SchemaRef::Object(d) | SchemaRef::List(d) | SchemaRef::Map(d) => d,
        }
    }
}

/// The type of `property` of `definition`, so that callers can descend into it
/// (`io.k8s.api.core.v1.PodSpec`, `containers` → `List("io.k8s.api.core.v1.Container")`).
/// `None` for primitive-typed or unknown properties.
pub fn property_definition(definition: &str, property: &str) -> Option<SchemaRef> {
    let schema = property_schema(definition, property)?;
    let (wrap, inner): (fn(&'static str) -> SchemaRef, &Value) = if let Some(items) = schema.get("items") {
        (SchemaRef::List, items)
    } else if let Some(values) = schema.get("additionalProperties") {
        (SchemaRef::Map, values)
    } else {
        (SchemaRef::Object, schema)
    };
    let name = ref_name(inner)?;
    let (name, _) = definitions().get_key_value(name)?;
    Some(wrap(name.as_str()))
}

/// The table row of `property` of `definition` (the table is sorted by both).
fn field_row(definition: &str, property: &str) -> Option<&'static extensions::FieldRow> {
    let i = extensions::FIELDS.binary_search_by(|row| (row.0, row.1).cmp(&(definition, property))).ok()?;
    extensions::FIELDS.get(i)
}

/// The schema of `property` of `definition`.
fn property_schema(definition: &str, property: &str) -> Option<&'static Value> {
    definitions().get(definition)?.get("properties")?.get(property)
}

/// The definition a schema refers to: `{"$ref": ...}` or `{"allOf": [{"$ref": ...}], ...}`
/// (the form a reference with a description takes in OpenAPI 3.0).
fn ref_name(schema: &Value) -> Option<&str> {
    let reference = match schema.get("$ref") {
        Some(r) => r,
        None => match schema.get("allOf")?.as_array()?.as_slice() {
            [only] => only.get("$ref")?,
            _ => return None,
        },
    };
    reference.as_str()?.strip_prefix(REF_PREFIX)
}

#[cfg(test)]
mod tests;
