//! `NamesAccepted`: a definition's plural, singular, short names, kind and list kind must
//! not be in use by another definition of the same group (upstream's naming controller).

use kolibri_resources::Registry;
use serde_json::{json, Value};

use super::conditions;

fn str_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

/// Checks the requested names of `crd` against the other served definitions of its group,
/// updates `status.acceptedNames` and the `NamesAccepted` condition, and says whether the
/// names are accepted.
pub(super) fn accept(registry: &Registry, crd: &mut Value) -> bool {
    let name = text(crd, "/metadata/name").to_string();
    let group = text(crd, "/spec/group").to_string();
    let requested = crd.pointer("/spec/names").cloned().unwrap_or_else(|| json!({}));
    let mut resources: Vec<String> = Vec::new();
    let mut kinds: Vec<String> = Vec::new();
    for def in registry.all() {
        if def.group != group || def.custom.as_ref().is_some_and(|c| c.crd_name == name) {
            continue;
        }
        resources.push(def.plural.clone());
        resources.push(def.singular.clone());
        resources.extend(def.short_names.iter().cloned());
        kinds.push(def.kind.clone());
        kinds.push(def.list_kind.clone());
    }
    let plural = text(&requested, "/plural");
    let singular = text(&requested, "/singular");
    let kind = text(&requested, "/kind");
    let list_kind = text(&requested, "/listKind");
    let in_use = |list: &[String], v: &str| !v.is_empty() && list.iter().any(|x| x == v);
    let conflict = if in_use(&resources, plural) {
        Some(("PluralConflict", plural.to_string()))
    } else if in_use(&resources, singular) {
        Some(("SingularConflict", singular.to_string()))
    } else if let Some(short) = str_list(requested.get("shortNames")).into_iter().find(|s| in_use(&resources, s)) {
        Some(("ShortNamesConflict", short))
    } else if in_use(&kinds, kind) {
        Some(("KindConflict", kind.to_string()))
    } else if in_use(&kinds, list_kind) {
        Some(("ListKindConflict", list_kind.to_string()))
    } else {
        None
    };
    match conflict {
        Some((reason, value)) => {
            conditions::set(crd, "NamesAccepted", "False", reason, &format!("\"{value}\" is already in use"));
            false
        }
        None => {
            let mut accepted = requested.clone();
            if let Some(map) = accepted.as_object_mut() {
                map.retain(|_, v| !v.is_null());
            }
            crd["status"]["acceptedNames"] = accepted;
            conditions::set(crd, "NamesAccepted", "True", "NoConflicts", "no conflicts found");
            true
        }
    }
}
