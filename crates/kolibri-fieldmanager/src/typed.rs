//! Walks over JSON values with their type: the field set of a value, the comparison of
//! two values, the apply merge, and removal of paths (upstream's `typed` package).

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value};

use crate::fieldset::Set;
use crate::path::{Path, PathElement};
use crate::schema::{Atom, ListKind, TypeId, TypeRef};

/// Why a value does not fit its type; `path` in upstream's notation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for TypeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// The fields an update added, changed and removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    pub added: Set,
    pub modified: Set,
    pub removed: Set,
}

impl Comparison {
    pub fn is_same(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.removed.is_empty()
    }

    /// Added and modified together.
    pub fn changed(&self) -> Set {
        self.added.union(&self.modified)
    }
}

/// What a node is for a given value: a leaf, a map or a list.
enum Shape<'t> {
    Leaf,
    Map { fields: Option<&'t std::collections::HashMap<String, TypeId>>, elem: Option<TypeId> },
    List { elem: TypeId, kind: &'t ListKind },
}

fn shape(ty: &TypeRef, id: TypeId) -> Shape<'_> {
    match ty.atom(id) {
        Atom::Leaf => Shape::Leaf,
        Atom::Deduced => Shape::Map { fields: None, elem: Some(ty.deduced_id()) },
        Atom::Map { fields, elem } => Shape::Map { fields: Some(fields), elem: *elem },
        Atom::List { elem, kind } => Shape::List { elem: *elem, kind },
    }
}

fn child_type(
    fields: Option<&std::collections::HashMap<String, TypeId>>,
    elem: Option<TypeId>,
    key: &str,
) -> Option<TypeId> {
    fields.and_then(|f| f.get(key).copied()).or(elem)
}

fn is_declared(fields: Option<&std::collections::HashMap<String, TypeId>>, key: &str) -> bool {
    fields.is_some_and(|f| f.contains_key(key))
}

/// Upstream's `listItemToPathElement`. `protocol` keys default to `TCP`, as the
/// schemas of container, service and endpoint ports say.
pub fn item_element(kind: &ListKind, item: &Value) -> Result<PathElement, String> {
    match kind {
        ListKind::Set => Ok(PathElement::value(item)),
        ListKind::Map(keys) => {
            let Some(obj) = item.as_object() else {
                return Err(format!("expected map, got {item}"));
            };
            let mut fields = Vec::with_capacity(keys.len());
            for key in keys {
                match obj.get(key) {
                    Some(v) => fields.push((key.clone(), v.to_string())),
                    None if key == "protocol" => fields.push((key.clone(), "\"TCP\"".into())),
                    None => {
                        return Err(format!(
                            "associative list with keys has an element that omits key field {key:?} (and doesn't have default value)"
                        ))
                    }
                }
            }
            Ok(PathElement::key(fields))
        }
    }
}

/// The items of a list by element, in order; `dups` says whether duplicates are allowed
/// (the live object) or an error (an applied configuration).
fn index_items<'v>(
    kind: &ListKind,
    items: &'v [Value],
    dups: bool,
    path: &[PathElement],
) -> Result<(Vec<PathElement>, BTreeMap<PathElement, &'v Value>), TypeError> {
    let mut order = Vec::with_capacity(items.len());
    let mut by_pe = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        let pe = item_element(kind, item)
            .map_err(|m| TypeError { path: Path(path.to_vec()).to_string(), message: format!("element {i}: {m}") })?;
        if by_pe.contains_key(&pe) {
            if !dups {
                return Err(TypeError {
                    path: Path(path.to_vec()).to_string(),
                    message: format!("duplicate entries for key {pe}"),
                });
            }
            continue;
        }
        by_pe.insert(pe.clone(), item);
        order.push(pe);
    }
    Ok((order, by_pe))
}

/// The field set of `value` (upstream's `ToFieldSet`); duplicates in associative lists
/// are errors unless `dups`.
pub fn to_field_set(ty: &TypeRef, value: &Value, dups: bool) -> Result<Set, TypeError> {
    let mut out = Set::new();
    let mut path = Vec::new();
    walk_set(ty, ty.root(), value, dups, &mut path, &mut out)?;
    Ok(out)
}

fn walk_set(
    ty: &TypeRef,
    id: TypeId,
    value: &Value,
    dups: bool,
    path: &mut Vec<PathElement>,
    out: &mut Set,
) -> Result<(), TypeError> {
    let err = |path: &[PathElement], message: String| TypeError { path: Path(path.to_vec()).to_string(), message };
    match shape(ty, id) {
        Shape::Leaf => out.insert(path),
        Shape::Map { fields, elem } => match value {
            Value::Object(map) => {
                for (key, v) in map {
                    let Some(child) = child_type(fields, elem, key) else {
                        path.push(PathElement::Field(key.clone()));
                        let e = err(path, "field not declared in schema".into());
                        path.pop();
                        return Err(e);
                    };
                    path.push(PathElement::Field(key.clone()));
                    walk_set(ty, child, v, dups, path, out)?;
                    let empty = v.is_null() || v.as_object().is_some_and(Map::is_empty);
                    if empty || !is_declared(fields, key) {
                        out.insert(path);
                    }
                    path.pop();
                }
            }
            Value::Null => {}
            // A deduced node holding a scalar or a list is a leaf.
            _ if fields.is_none() => out.insert(path),
            other => return Err(err(path, format!("expected map, got {other}"))),
        },
        Shape::List { elem, kind } => match value {
            Value::Array(items) => {
                let (order, by_pe) = index_items(kind, items, dups, path)?;
                for pe in order {
                    let Some(item) = by_pe.get(&pe) else { continue };
                    path.push(pe);
                    walk_set(ty, elem, item, dups, path, out)?;
                    out.insert(path);
                    path.pop();
                }
            }
            Value::Null => {}
            other => return Err(err(path, format!("expected list, got {other}"))),
        },
    }
    Ok(())
}

/// Compares `lhs` (before) with `rhs` (after), as upstream's `Compare`.
pub fn compare(ty: &TypeRef, lhs: &Value, rhs: &Value) -> Comparison {
    let mut out = Comparison::default();
    compare_at(ty, ty.root(), Some(lhs), Some(rhs), &mut Vec::new(), &mut out);
    out
}

fn empty_or_absent(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    }
}

fn compare_leaf(lhs: Option<&Value>, rhs: Option<&Value>, path: &[PathElement], out: &mut Comparison) {
    match (lhs, rhs) {
        (None, Some(_)) => out.added.insert(path),
        (Some(_), None) => out.removed.insert(path),
        (Some(l), Some(r)) if l != r => out.modified.insert(path),
        _ => {}
    }
}

fn compare_at(
    ty: &TypeRef,
    id: TypeId,
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    path: &mut Vec<PathElement>,
    out: &mut Comparison,
) {
    let is = |v: Option<&Value>, f: fn(&Value) -> bool| v.is_none_or(|v| v.is_null() || f(v));
    match shape(ty, id) {
        Shape::Map { fields, elem }
            if is(lhs, Value::is_object)
                && is(rhs, Value::is_object)
                && !(empty_or_absent(lhs) && empty_or_absent(rhs)) =>
        {
            let empty = Map::new();
            let l = lhs.and_then(Value::as_object).unwrap_or(&empty);
            let r = rhs.and_then(Value::as_object).unwrap_or(&empty);
            for (key, lv) in l {
                let child = child_type(fields, elem, key).unwrap_or(ty.deduced_id());
                path.push(PathElement::Field(key.clone()));
                compare_at(ty, child, Some(lv), r.get(key), path, out);
                path.pop();
            }
            for (key, rv) in r {
                if l.contains_key(key) {
                    continue;
                }
                let child = child_type(fields, elem, key).unwrap_or(ty.deduced_id());
                path.push(PathElement::Field(key.clone()));
                compare_at(ty, child, None, Some(rv), path, out);
                path.pop();
            }
        }
        Shape::List { elem, kind }
            if is(lhs, Value::is_array)
                && is(rhs, Value::is_array)
                && !(empty_or_absent(lhs) && empty_or_absent(rhs)) =>
        {
            let none: Vec<Value> = Vec::new();
            let l = lhs.and_then(Value::as_array).unwrap_or(&none);
            let r = rhs.and_then(Value::as_array).unwrap_or(&none);
            match (index_items(kind, l, true, path), index_items(kind, r, true, path)) {
                (Ok((lorder, lmap)), Ok((rorder, rmap))) => {
                    for pe in &lorder {
                        path.push(pe.clone());
                        compare_at(ty, elem, lmap.get(pe).copied(), rmap.get(pe).copied(), path, out);
                        path.pop();
                    }
                    for pe in &rorder {
                        if lmap.contains_key(pe) {
                            continue;
                        }
                        path.push(pe.clone());
                        compare_at(ty, elem, None, rmap.get(pe).copied(), path, out);
                        path.pop();
                    }
                }
                // Items without keys: the list is compared as a whole.
                _ => return compare_leaf(lhs, rhs, path, out),
            }
        }
        _ => return compare_leaf(lhs, rhs, path, out),
    }
    if lhs.is_none() {
        out.added.insert(path);
    } else if rhs.is_none() {
        out.removed.insert(path);
    }
}

/// Merges an applied configuration `rhs` into `lhs` (upstream's `Merge`): the
/// configuration's values win, granular maps and lists are merged item by item.
pub fn merge(ty: &TypeRef, lhs: &Value, rhs: &Value) -> Value {
    merge_at(ty, ty.root(), Some(lhs), Some(rhs), &mut Vec::new()).unwrap_or(Value::Null)
}

fn merge_at(
    ty: &TypeRef,
    id: TypeId,
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    path: &mut Vec<PathElement>,
) -> Option<Value> {
    let (l, r) = match (lhs, rhs) {
        (l, None) => return l.cloned(),
        (None, r) => return r.cloned(),
        (Some(l), Some(r)) => (l, r),
    };
    match (shape(ty, id), l, r) {
        (Shape::Map { fields, elem }, Value::Object(lm), Value::Object(rm)) if !(lm.is_empty() && rm.is_empty()) => {
            let mut out = lm.clone();
            for (key, rv) in rm {
                let child = child_type(fields, elem, key).unwrap_or(ty.deduced_id());
                path.push(PathElement::Field(key.clone()));
                if let Some(v) = merge_at(ty, child, lm.get(key), Some(rv), path) {
                    out.insert(key.clone(), v);
                }
                path.pop();
            }
            Some(Value::Object(out))
        }
        (Shape::List { elem, kind }, Value::Array(la), Value::Array(ra)) if !(la.is_empty() && ra.is_empty()) => {
            match merge_list(ty, elem, kind, la, ra, path) {
                Some(items) => Some(Value::Array(items)),
                None => Some(r.clone()),
            }
        }
        _ => Some(r.clone()),
    }
}

/// Upstream's list merge order: items of the live list keep their place, items of the
/// configuration follow the configuration's order, new ones right after the item that
/// precedes them in the configuration. `None` when an item has no key.
fn merge_list(
    ty: &TypeRef,
    elem: TypeId,
    kind: &ListKind,
    la: &[Value],
    ra: &[Value],
    path: &mut Vec<PathElement>,
) -> Option<Vec<Value>> {
    let (rpes, robs) = index_items(kind, ra, true, path).ok()?;
    let (lpes, lobs) = index_items(kind, la, true, path).ok()?;
    let mut shared: std::collections::VecDeque<&PathElement> =
        rpes.iter().filter(|pe| lobs.contains_key(*pe)).collect();
    let mut next_shared = shared.pop_front();
    let mut merged_rhs: HashSet<&PathElement> = HashSet::new();
    let mut out = Vec::with_capacity(la.len().max(ra.len()));
    let (llen, rlen) = (lpes.len(), rpes.len());
    let (mut li, mut ri) = (0, 0);
    let item = |pe: &PathElement, path: &mut Vec<PathElement>, out: &mut Vec<Value>| {
        path.push(pe.clone());
        if let Some(v) = merge_at(ty, elem, lobs.get(pe).copied(), robs.get(pe).copied(), path) {
            out.push(v);
        }
        path.pop();
    };
    while li < llen || ri < rlen {
        let before = (li, ri);
        if li < llen && ri < rlen {
            let pe = &lpes[li];
            if *pe == rpes[ri] {
                merged_rhs.insert(pe);
                item(pe, path, &mut out);
                li += 1;
                ri += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if robs.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                li += 1;
                continue;
            }
        }
        if li < llen {
            let pe = &lpes[li];
            if !robs.contains_key(pe) {
                item(pe, path, &mut out);
                li += 1;
                continue;
            } else if merged_rhs.contains(pe) {
                li += 1;
            }
        }
        if ri < rlen {
            let pe = &rpes[ri];
            merged_rhs.insert(pe);
            item(pe, path, &mut out);
            ri += 1;
            if next_shared == Some(pe) {
                next_shared = shared.pop_front();
            }
        }
        if (li, ri) == before {
            // Never reached with well-formed input; keeps the loop finite regardless.
            li += 1;
        }
    }
    Some(out)
}

/// Removes the members of `set` (with everything below them) from `value`.
pub fn remove_items(ty: &TypeRef, value: &mut Value, set: &Set) {
    remove_at(ty, ty.root(), value, set);
}

fn remove_at(ty: &TypeRef, id: TypeId, value: &mut Value, set: &Set) {
    match (shape(ty, id), value) {
        (Shape::Map { fields, elem }, Value::Object(map)) => {
            map.retain(|k, _| !set.has_member(&PathElement::Field(k.clone())));
            for (key, v) in map.iter_mut() {
                if let Some(child_set) = set.child(&PathElement::Field(key.clone())) {
                    let child = child_type(fields, elem, key).unwrap_or(ty.deduced_id());
                    remove_at(ty, child, v, child_set);
                }
            }
        }
        (Shape::List { elem, kind }, Value::Array(items)) => {
            items.retain(|item| item_element(kind, item).map_or(true, |pe| !set.has_member(&pe)));
            for item in items.iter_mut() {
                if let Ok(pe) = item_element(kind, item) {
                    if let Some(child_set) = set.child(&pe) {
                        remove_at(ty, elem, item, child_set);
                    }
                }
            }
        }
        _ => {}
    }
}

/// `set` with every declared struct field on the way to a member made a member itself
/// (upstream's `EnsureNamedFieldsAreMembers`), so pruning can remove whole structs.
pub fn ensure_named_fields(ty: &TypeRef, set: &Set) -> Set {
    let mut out = set.clone();
    ensure_at(ty, ty.root(), set, &mut out);
    out
}

fn ensure_at(ty: &TypeRef, id: TypeId, set: &Set, out: &mut Set) {
    for pe in set.elements() {
        let Some(child_set) = set.child(pe) else { continue };
        let child_id = match (shape(ty, id), pe) {
            (Shape::Map { fields, elem }, PathElement::Field(name)) => {
                if is_declared(fields, name) {
                    out.insert_member(pe.clone());
                }
                child_type(fields, elem, name).unwrap_or(ty.deduced_id())
            }
            (Shape::List { elem, .. }, _) => elem,
            _ => ty.deduced_id(),
        };
        let mut sub = child_set.clone();
        ensure_at(ty, child_id, child_set, &mut sub);
        let target = out.child_mut(pe.clone());
        *target = sub;
    }
}

/// Struct fields that upstream's Go types hold by value: an empty object of the kind has
/// them as `{}` (the "before" of a create), so creating does not own them as a whole.
const VALUE_STRUCT_FIELDS: &[&str] =
    &["metadata", "spec", "status", "template", "strategy", "updateStrategy", "jobTemplate", "loadBalancer"];

/// Fields upstream's Go types serialize as `null` in a zero value (no `omitempty`).
const NULL_FIELDS: &[&str] = &["containers"];

/// The object a create is compared with: the kind's zero value.
pub fn zero_object(ty: &TypeRef) -> Value {
    zero_at(ty, ty.root(), 0)
}

fn zero_at(ty: &TypeRef, id: TypeId, depth: usize) -> Value {
    let mut out = Map::new();
    if let Atom::Map { fields, .. } = ty.atom(id) {
        if depth < 6 {
            for name in VALUE_STRUCT_FIELDS {
                if let Some(child) = fields.get(*name) {
                    if matches!(ty.atom(*child), Atom::Map { fields, .. } if !fields.is_empty()) {
                        out.insert((*name).to_string(), zero_at(ty, *child, depth + 1));
                    }
                }
            }
            for name in NULL_FIELDS {
                if fields.contains_key(*name) {
                    out.insert((*name).to_string(), Value::Null);
                }
            }
        }
    }
    Value::Object(out)
}
