//! Sets of field paths and their `fieldsV1` form.
//!
//! A set is a tree: at each node, `members` are the paths that end there and `children`
//! the subtrees. In `fieldsV1`, a member is `"f:x": {}`, a subtree `"f:x": {...}`, and a
//! path that is both carries `".": {}` in its subtree.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::path::{Path, PathElement};
use crate::Error;

/// A set of paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Set {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, Set>,
}

impl Set {
    pub fn new() -> Set {
        Set::default()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(Set::is_empty)
    }

    /// Adds `path` (the empty path is not a member of anything and is ignored).
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// Whether `path` is a member.
    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    /// Whether `pe` is a member of this node.
    pub fn has_member(&self, pe: &PathElement) -> bool {
        self.members.contains(pe)
    }

    /// The subtree under `pe`, if any.
    pub fn child(&self, pe: &PathElement) -> Option<&Set> {
        self.children.get(pe)
    }

    /// Whether the set has `pe` as a member or anything below it.
    pub fn touches(&self, pe: &PathElement) -> bool {
        self.members.contains(pe) || self.children.get(pe).is_some_and(|c| !c.is_empty())
    }

    /// Marks `pe` as a member of this node.
    pub fn insert_member(&mut self, pe: PathElement) {
        self.members.insert(pe);
    }

    /// The subtree under `pe`, created when absent.
    pub fn child_mut(&mut self, pe: PathElement) -> &mut Set {
        self.children.entry(pe).or_default()
    }

    /// The elements of this node that are members or have children.
    pub fn elements(&self) -> BTreeSet<&PathElement> {
        self.members.iter().chain(self.children.iter().filter(|(_, c)| !c.is_empty()).map(|(pe, _)| pe)).collect()
    }

    pub fn union(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.union_with(other);
        out
    }

    pub fn union_with(&mut self, other: &Set) {
        self.members.extend(other.members.iter().cloned());
        for (pe, child) in &other.children {
            self.children.entry(pe.clone()).or_default().union_with(child);
        }
    }

    /// Members of `self` that are not members of `other` (subtrees compared node by node).
    pub fn difference(&self, other: &Set) -> Set {
        let members = self.members.iter().filter(|m| !other.members.contains(*m)).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            let diff = match other.children.get(pe) {
                Some(o) => child.difference(o),
                None => child.clone(),
            };
            if !diff.is_empty() {
                children.insert(pe.clone(), diff);
            }
        }
        Set { members, children }
    }

    pub fn intersection(&self, other: &Set) -> Set {
        let members = self.members.intersection(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            if let Some(o) = other.children.get(pe) {
                let both = child.intersection(o);
                if !both.is_empty() {
                    children.insert(pe.clone(), both);
                }
            }
        }
        Set { members, children }
    }

    /// `self` without any path that starts with a member of `prefixes` (upstream's
    /// `RecursiveDifference`, used for fields a write may not own).
    pub fn without_prefixes(&self, prefixes: &Set) -> Set {
        let members = self.members.iter().filter(|m| !prefixes.members.contains(*m)).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            if prefixes.members.contains(pe) {
                continue;
            }
            let rest = match prefixes.children.get(pe) {
                Some(p) => child.without_prefixes(p),
                None => child.clone(),
            };
            if !rest.is_empty() {
                children.insert(pe.clone(), rest);
            }
        }
        Set { members, children }
    }

    /// Only the paths under (and including) the members of `prefixes`.
    pub fn only_prefixes(&self, prefixes: &Set) -> Set {
        let mut out = Set::new();
        for pe in &prefixes.members {
            if self.members.contains(pe) {
                out.members.insert(pe.clone());
            }
            if let Some(child) = self.children.get(pe) {
                out.children.insert(pe.clone(), child.clone());
            }
        }
        for (pe, p) in &prefixes.children {
            if prefixes.members.contains(pe) {
                continue;
            }
            if let Some(child) = self.children.get(pe) {
                let sub = child.only_prefixes(p);
                if !sub.is_empty() {
                    out.children.insert(pe.clone(), sub);
                }
            }
        }
        out
    }

    /// Every member path, in upstream's order (a node's members and subtrees merged by element).
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Path>) {
        for pe in self.elements() {
            prefix.push(pe.clone());
            if self.members.contains(pe) {
                out.push(Path(prefix.clone()));
            }
            if let Some(child) = self.children.get(pe) {
                child.collect_paths(prefix, out);
            }
            prefix.pop();
        }
    }

    /// The `fieldsV1` JSON of the set.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.encode(false))
    }

    fn encode(&self, include_self: bool) -> Map<String, Value> {
        let mut out = Map::new();
        if include_self {
            out.insert(".".into(), Value::Object(Map::new()));
        }
        for pe in self.elements() {
            let body = match self.children.get(pe).filter(|c| !c.is_empty()) {
                Some(child) => child.encode(self.members.contains(pe)),
                None => Map::new(),
            };
            out.insert(pe.to_fields_v1_key(), Value::Object(body));
        }
        out
    }

    /// Parses a `fieldsV1` object.
    pub fn from_fields_v1(v: &Value) -> Result<Set, Error> {
        let map = v.as_object().ok_or_else(|| Error::FieldsV1("expected an object".into()))?;
        let mut set = Set::new();
        for (key, body) in map {
            if key == "." {
                continue;
            }
            let pe = parse_key(key)?;
            let body_map = body.as_object().ok_or_else(|| Error::FieldsV1(format!("{key}: expected an object")))?;
            if body_map.is_empty() || body_map.contains_key(".") {
                set.members.insert(pe.clone());
            }
            if body_map.keys().any(|k| k != ".") {
                let child = Set::from_fields_v1(body)?;
                if !child.is_empty() {
                    set.children.insert(pe, child);
                }
            }
        }
        Ok(set)
    }
}

fn parse_key(key: &str) -> Result<PathElement, Error> {
    let bad = || Error::FieldsV1(format!("invalid path element {key:?}"));
    let (kind, rest) = key.split_once(':').ok_or_else(bad)?;
    match kind {
        "f" => Ok(PathElement::Field(rest.to_string())),
        "k" => {
            let fields: Map<String, Value> = serde_json::from_str(rest).map_err(|_| bad())?;
            if fields.is_empty() {
                return Err(bad());
            }
            Ok(PathElement::key(fields.into_iter().map(|(k, v)| (k, v.to_string())).collect()))
        }
        "v" => {
            let v: Value = serde_json::from_str(rest).map_err(|_| bad())?;
            Ok(PathElement::value(&v))
        }
        "i" => rest.parse::<usize>().map(PathElement::Index).map_err(|_| bad()),
        _ => Err(bad()),
    }
}
