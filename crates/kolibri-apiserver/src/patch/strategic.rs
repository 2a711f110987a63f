//! Strategic merge patch, with the semantics of upstream's
//! `apimachinery/pkg/util/strategicpatch/patch.go` (applying side only).
//!
//! Maps merge recursively and `null` deletes a key. Lists whose field has patch strategy
//! `merge` merge by their merge key (lists of objects) or as sets (lists of primitives);
//! other lists are replaced. Directives: `$patch` (`replace`, `delete`), `$retainKeys`,
//! `$setElementOrder/<field>`, `$deleteFromPrimitiveList/<field>`.
//!
//! Order of merged lists follows upstream: items named in the patch keep the patch's
//! order (or `$setElementOrder`'s), items only on the server keep theirs, and the two are
//! interleaved by the server's order; items new to the server come before server-only
//! items that the patch does not place.

use kolibri_resources::schema::{self, PatchMeta, SchemaRef};
use serde_json::{Map, Value};

use super::PatchError;

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

// Upstream's error texts (apimachinery/pkg/util/mergepatch/errors.go).
const ERR_BAD_JSON_DOC: &str = "invalid JSON document";
const ERR_NO_LIST_OF_LISTS: &str = "lists of lists are not supported";
const ERR_BAD_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
const ERR_BAD_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
const ERR_BAD_SET_ELEMENT_ORDER: &str = "invalid patch format of setElementOrder list";

type Result<T> = std::result::Result<T, PatchError>;

fn bad(message: impl Into<String>) -> PatchError {
    PatchError::BadRequest(message.into())
}

/// Applies a strategic merge patch to `original`, an object of OpenAPI `definition`.
pub(super) fn apply(original: &Value, patch: &[u8], definition: &str) -> Result<Value> {
    let patch = match serde_json::from_slice::<Value>(patch) {
        Ok(Value::Object(patch)) => patch,
        Ok(Value::Null) => Map::new(),
        Ok(other) => {
            return Err(bad(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_type(&other)
            )))
        }
        Err(e) => return Err(bad(e.to_string())),
    };
    let Value::Object(original) = original else {
        return Err(bad(ERR_BAD_JSON_DOC));
    };
    let schema = match schema::definitions().get_key_value(definition) {
        Some((name, _)) => Schema::Object(name.as_str()),
        None => Schema::Unknown,
    };
    merge_map(original.clone(), patch, schema).map(Value::Object)
}

/// Where in the schema a value sits.
#[derive(Clone, Copy, Debug)]
enum Schema {
    /// An object of this definition.
    Object(&'static str),
    /// A map (labels, JSONSchemaProps.properties) whose values are of this definition.
    MapOf(&'static str),
    /// Free-form or unknown: maps merge, lists are replaced.
    Unknown,
}

impl Schema {
    /// The patch metadata of `key` and the schema of its value (of its items, for lists).
    fn field(self, key: &str) -> (Schema, PatchMeta) {
        match self {
            Schema::Object(definition) => {
                let meta = schema::patch_meta(definition, key).unwrap_or_default();
                let sub = match schema::property_definition(definition, key) {
                    Some(SchemaRef::Object(d) | SchemaRef::List(d)) => Schema::Object(d),
                    Some(SchemaRef::Map(d)) => Schema::MapOf(d),
                    None => Schema::Unknown,
                };
                (sub, meta)
            }
            Schema::MapOf(definition) => (Schema::Object(definition), PatchMeta::default()),
            Schema::Unknown => (Schema::Unknown, PatchMeta::default()),
        }
    }

    /// Whether `key`, starting with `$`, is a field here rather than an unknown directive
    /// (JSONSchemaProps has `$ref` and `$schema`; maps take any key).
    fn has_dollar_field(self, key: &str) -> bool {
        match self {
            Schema::Object(definition) => schema::patch_meta(definition, key).is_some(),
            Schema::MapOf(_) | Schema::Unknown => true,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Schema::Object(d) | Schema::MapOf(d) => d,
            Schema::Unknown => "",
        }
    }
}

/// Upstream `mergeMap`.
fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: Schema,
) -> Result<Map<String, Value>> {
    if let Some(directive) = patch.remove(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => Ok(patch),
            Some("delete") => Ok(Map::new()),
            _ => Err(bad(format!("unknown patch type: {directive} in map: {}", Value::Object(patch)))),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    merge_set_element_order(&mut original, &mut patch, schema)?;

    for (key, patch_value) in patch {
        let (key, is_delete_list) = match key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            Some(rest) => match rest.strip_prefix('/') {
                Some(field) => (field.to_owned(), true),
                None => return Err(bad(ERR_BAD_PRIMITIVE_LIST)),
            },
            None if key.starts_with('$') && !schema.has_dollar_field(&key) => {
                return Err(bad(format!("unknown strategic merge patch directive: {key}")));
            }
            None => (key, false),
        };

        if patch_value.is_null() {
            original.remove(&key);
            continue;
        }
        let Some(original_value) = original.get_mut(&key) else {
            if !is_delete_list {
                if let Some(value) = take_patch_value(patch_value) {
                    original.insert(key, value);
                }
            }
            continue;
        };
        match (original_value, patch_value) {
            (Value::Object(o), Value::Object(p)) => {
                let (sub, meta) = schema.field(&key);
                let o = std::mem::take(o);
                let merged = if meta.strategy.replace { p } else { merge_map(o, p, sub)? };
                original.insert(key, Value::Object(merged));
            }
            (Value::Array(o), Value::Array(p)) => {
                let (sub, meta) = schema.field(&key);
                let o = std::mem::take(o);
                let merged = merge_slice_handler(o, p, sub, meta, is_delete_list)?;
                original.insert(key, Value::Array(merged));
            }
            // Different types, or scalars: the patch's value wins.
            (_, patch_value) => {
                if is_delete_list {
                    continue;
                }
                match take_patch_value(patch_value) {
                    Some(value) => original.insert(key, value),
                    None => original.remove(&key),
                };
            }
        }
    }
    Ok(original)
}

/// Upstream `mergeSliceHandler`: merge lists with the merge strategy (and deletion lists),
/// replace the others.
fn merge_slice_handler(
    original: Vec<Value>,
    patch: Vec<Value>,
    schema: Schema,
    meta: PatchMeta,
    is_delete_list: bool,
) -> Result<Vec<Value>> {
    if meta.strategy.merge || is_delete_list {
        merge_slice(original, patch, schema, meta.merge_key, is_delete_list)
    } else {
        Ok(patch)
    }
}

/// Upstream `mergeSlice`.
fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    schema: Schema,
    merge_key: Option<&str>,
    is_delete_list: bool,
) -> Result<Vec<Value>> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = element_kind(&original, &patch)?;
    if kind != Kind::Object {
        if is_delete_list {
            return Ok(original.into_iter().filter(|v| !patch.contains(v)).collect());
        }
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for v in original.iter().chain(&patch) {
            if !merged.contains(v) {
                merged.push(v.clone());
            }
        }
        let (patch_items, server_only) = partition_primitives(merged, &patch);
        return normalize_element_order(patch_items, server_only, &patch, &original, None);
    }

    let Some(merge_key) = merge_key else {
        return Err(bad(format!("cannot merge lists without merge key for {}", schema.name())));
    };
    let (original, patch) = merge_slice_with_special_elements(original, patch, merge_key)?;
    let server_order = original.clone();
    let merged = merge_slice_without_special_elements(original, &patch, merge_key, schema)?;
    let (patch_items, server_only) = partition_maps(merged, &patch, merge_key)?;
    normalize_element_order(patch_items, server_only, &patch, &server_order, Some(merge_key))
}

/// Upstream `mergeSliceWithSpecialElements`: applies `$patch: delete` items to `original`
/// and `$patch: replace` to the whole list; returns the list to merge into and the patch
/// without directive items.
fn merge_slice_with_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Some(directive) = item.get(DIRECTIVE) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let Some(key_value) = item.get(merge_key) else {
                    return Err(no_merge_key(&item, merge_key));
                };
                original.retain(|o| o.get(merge_key) != Some(key_value));
            }
            // Keep going: other directive items must still be dropped.
            Some("replace") => replace = true,
            Some("merge") => {
                return Err(bad("merging lists cannot yet be specified in the patch"));
            }
            _ => return Err(bad(format!("unknown patch type: {directive} in map: {item}"))),
        }
    }
    if replace {
        Ok((plain, Vec::new()))
    } else {
        Ok((original, plain))
    }
}

/// Upstream `mergeSliceWithoutSpecialElements`: patch items merge into the original item
/// with the same merge key value, or are appended.
fn merge_slice_without_special_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    schema: Schema,
) -> Result<Vec<Value>> {
    for item in patch {
        let Some(key_value) = item.get(merge_key) else {
            return Err(no_merge_key(item, merge_key));
        };
        match original.iter().position(|o| o.get(merge_key) == Some(key_value)) {
            Some(i) => {
                let (Value::Object(o), Value::Object(p)) = (&mut original[i], item) else {
                    return Err(bad(format!("value for key {i} is not a map")));
                };
                let merged = merge_map(std::mem::take(o), p.clone(), schema)?;
                original[i] = Value::Object(merged);
            }
            None => original.push(item.clone()),
        }
    }
    Ok(original)
}

/// Upstream `applyRetainKeysDirective`: clears the keys of `original` not listed in
/// `$retainKeys`; every key the patch sets must be listed.
fn apply_retain_keys(original: &mut Map<String, Value>, patch: &mut Map<String, Value>) -> Result<()> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(bad(ERR_BAD_RETAIN_KEYS));
    };
    let retained = |key: &str| retain.iter().any(|k| k.as_str() == Some(key));
    let all_listed = patch.iter().all(|(k, v)| {
        v.is_null() || k.starts_with(DELETE_FROM_PRIMITIVE_LIST) || k.starts_with(SET_ELEMENT_ORDER) || retained(k)
    });
    if !all_listed {
        return Err(bad(ERR_BAD_RETAIN_KEYS));
    }
    original.retain(|k, _| retained(k));
    Ok(())
}

/// Upstream `mergePatchIntoOriginal`: merges each list that has a `$setElementOrder`
/// directive and orders it by the directive; both are removed from `patch`.
fn merge_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    schema: Schema,
) -> Result<()> {
    let keys: Vec<String> = patch.keys().filter(|k| k.starts_with(SET_ELEMENT_ORDER)).cloned().collect();
    for directive_key in keys {
        let Some(Value::Array(order)) = patch.remove(&directive_key) else {
            return Err(bad(ERR_BAD_SET_ELEMENT_ORDER));
        };
        let field = directive_key
            .strip_prefix(SET_ELEMENT_ORDER)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| bad(ERR_BAD_SET_ELEMENT_ORDER))?
            .to_owned();
        let original_list = list_field(original, &field)?;
        let patch_list = list_field(patch, &field)?;
        patch.remove(&field);
        let (sub, meta) = schema.field(&field);
        validate_patch_with_set_order_list(patch_list.as_deref().unwrap_or_default(), &order, meta.merge_key)?;

        let server_order = original_list.clone().unwrap_or_default();
        let kind_source = patch_list.clone().unwrap_or_default();
        let merged = match (original_list, patch_list) {
            (Some(o), None) => o,
            (None, Some(p)) => match remove_directives(Value::Array(p)) {
                Some(Value::Array(p)) => p,
                _ => continue,
            },
            (Some(o), Some(p)) => merge_slice_handler(o, p, sub, meta, false)?,
            (None, None) => continue,
        };
        // Upstream fails on two empty lists; an empty result needs no ordering.
        if server_order.is_empty() && kind_source.is_empty() {
            original.insert(field, Value::Array(merged));
            continue;
        }
        element_kind(&server_order, &kind_source)?;
        let (patch_items, server_only) = match meta.merge_key {
            None => partition_primitives(merged, &order),
            Some(key) => partition_maps(merged, &order, key)?,
        };
        let ordered = normalize_element_order(patch_items, server_only, &order, &server_order, meta.merge_key)?;
        original.insert(field, Value::Array(ordered));
    }
    Ok(())
}

/// The list at `key`; `null` counts as absent.
fn list_field(map: &Map<String, Value>, key: &str) -> Result<Option<Vec<Value>>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(list)) => Ok(Some(list.clone())),
        Some(other) => Err(bad(format!("expected a []interface {{}}, but received a {}", json_type(other)))),
    }
}

/// Upstream `validatePatchWithSetOrderList`: the patch list's items appear in
/// `$setElementOrder` in the same relative order.
fn validate_patch_with_set_order_list(patch: &[Value], order: &[Value], merge_key: Option<&str>) -> Result<()> {
    if patch.is_empty() || order.is_empty() {
        return Ok(());
    }
    let non_delete: Vec<&Value> = match merge_key {
        Some(_) => {
            let mut kept = Vec::new();
            for item in patch {
                if !item.is_object() {
                    return Err(bad(format!(
                        "expected a map[string]interface {{}}, but received a {}",
                        json_type(item)
                    )));
                }
                if item.get(DIRECTIVE).and_then(Value::as_str) != Some("delete") {
                    kept.push(item);
                }
            }
            kept
        }
        None => patch.iter().collect(),
    };
    let (mut p, mut o) = (0, 0);
    while p < non_delete.len() && o < order.len() {
        if non_delete[p].get(DIRECTIVE).is_some() {
            p += 1;
            continue;
        }
        if merge_key_value_equal(non_delete[p], &order[o], merge_key)? {
            p += 1;
        }
        o += 1;
    }
    if p < non_delete.len() && o >= order.len() {
        return Err(bad(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            Value::Array(patch.to_vec()),
            Value::Array(order.to_vec())
        )));
    }
    Ok(())
}

fn merge_key_value_equal(left: &Value, right: &Value, merge_key: Option<&str>) -> Result<bool> {
    let Some(key) = merge_key else {
        return Ok(left == right);
    };
    let l = left.get(key).ok_or_else(|| no_merge_key(left, key))?;
    let r = right.get(key).ok_or_else(|| no_merge_key(right, key))?;
    Ok(l == r)
}

/// Splits `merged` into the items present in `by` and the others, keeping order.
fn partition_primitives(merged: Vec<Value>, by: &[Value]) -> (Vec<Value>, Vec<Value>) {
    merged.into_iter().partition(|v| by.contains(v))
}

fn partition_maps(merged: Vec<Value>, by: &[Value], merge_key: &str) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut in_by = Vec::new();
    let mut others = Vec::new();
    for item in merged {
        let Some(key_value) = item.get(merge_key) else {
            return Err(no_merge_key(&item, merge_key));
        };
        let mut found = false;
        for (i, b) in by.iter().enumerate() {
            if !b.is_object() {
                return Err(bad(format!("value for key {i} is not a map")));
            }
            if b.get(merge_key) == Some(key_value) {
                found = true;
                break;
            }
        }
        if found {
            in_by.push(item);
        } else {
            others.push(item);
        }
    }
    Ok((in_by, others))
}

/// Upstream `normalizeElementOrder`: sorts the patch's items by `patch_order` and the
/// server-only items by `server_order`, then interleaves them by `server_order`.
fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: Option<&str>,
) -> Result<Vec<Value>> {
    let patch_items = normalize_slice_order(patch_items, patch_order, merge_key)?;
    let server_only = normalize_slice_order(server_only, server_order, merge_key)?;
    Ok(merge_sorted(server_only, patch_items, server_order, merge_key))
}

/// Upstream `normalizeSliceOrder`: stable sort by position in `order`; `$patch: delete`
/// items go last.
fn normalize_slice_order(items: Vec<Value>, order: &[Value], merge_key: Option<&str>) -> Result<Vec<Value>> {
    let (mut items, deletes): (Vec<Value>, Vec<Value>) = match merge_key {
        Some(key) => {
            for item in items.iter().chain(order) {
                if !item.is_object() {
                    return Err(bad(format!(
                        "expected a map[string]interface {{}}, but received a {}",
                        json_type(item)
                    )));
                }
                if item.get(key).is_none() {
                    return Err(no_merge_key(item, key));
                }
            }
            items.into_iter().partition(|i| i.get(DIRECTIVE).and_then(Value::as_str) != Some("delete"))
        }
        None => (items, Vec::new()),
    };
    items.sort_by_key(|item| index(order, item, merge_key).unwrap_or(usize::MAX));
    items.extend(deletes);
    Ok(items)
}

/// Upstream `mergeSortedSlice`: merges two sorted lists; a `left` item goes before the
/// next `right` item only when both are in `server_order` and it comes first there.
fn merge_sorted(left: Vec<Value>, right: Vec<Value>, server_order: &[Value], merge_key: Option<&str>) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (index(server_order, l, merge_key), index(server_order, r, merge_key)),
                (Some(li), Some(ri)) if li < ri
            ),
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

/// Position of `value` in `list`, comparing merge key values for maps.
fn index(list: &[Value], value: &Value, merge_key: Option<&str>) -> Option<usize> {
    match merge_key {
        Some(key) => {
            let wanted = value.get(key);
            list.iter().position(|v| v.get(key) == wanted)
        }
        None => list.iter().position(|v| v == value),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Number,
    String,
    Object,
}

/// Upstream `sliceElementType`: all elements of both lists have one type, not a list.
fn element_kind(a: &[Value], b: &[Value]) -> Result<Kind> {
    let mut kind = None;
    for v in a.iter().chain(b) {
        let k = match v {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Object(_) => Kind::Object,
            Value::Array(_) => return Err(PatchError::Invalid(ERR_NO_LIST_OF_LISTS.into())),
        };
        match kind {
            None => kind = Some(k),
            Some(prev) if prev != k => {
                return Err(bad(format!(
                    "list element types are not identical: {} {}",
                    Value::Array(a.to_vec()),
                    Value::Array(b.to_vec())
                )))
            }
            Some(_) => {}
        }
    }
    kind.ok_or_else(|| bad("no elements in any of the given slices"))
}

/// A patch value taken as a whole (the original has no such key, or another type):
/// nulls inside are dropped and directives removed; `None` when the value itself is a
/// directive.
fn take_patch_value(mut value: Value) -> Option<Value> {
    discard_nulls(&mut value);
    remove_directives(value)
}

/// Upstream `discardNullValuesFromPatch`.
fn discard_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(discard_nulls);
        }
        Value::Array(list) => list.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}

/// Upstream `removeDirectives`: drops maps carrying `$patch`; also drops the other
/// directive keys, which would otherwise end up as unknown fields in the object.
fn remove_directives(value: Value) -> Option<Value> {
    match value {
        Value::Object(map) => {
            if map.contains_key(DIRECTIVE) {
                return None;
            }
            let cleaned = map
                .into_iter()
                .filter(|(k, _)| {
                    !(k == RETAIN_KEYS || k.starts_with(SET_ELEMENT_ORDER) || k.starts_with(DELETE_FROM_PRIMITIVE_LIST))
                })
                .filter_map(|(k, v)| remove_directives(v).map(|v| (k, v)))
                .collect();
            Some(Value::Object(cleaned))
        }
        Value::Array(list) => Some(Value::Array(list.into_iter().filter_map(remove_directives).collect())),
        other => Some(other),
    }
}

fn no_merge_key(item: &Value, key: &str) -> PatchError {
    bad(format!("map: {item} does not contain declared merge key: {key}"))
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
