//! Update and Apply on one object: who owns which field afterwards, and the object an
//! apply produces (upstream's field manager chain: strip of system metadata, reset
//! fields of the status subresource, the updater, `kubectl` compatibility with
//! client-side apply).

use std::sync::OnceLock;

use serde_json::Value;

use crate::conflicts::{Conflict, Conflicts};
use crate::fieldset::Set;
use crate::managed::{Managed, Operation};
use crate::path::{Path, PathElement};
use crate::schema::TypeRef;
use crate::typed::{self, Comparison};
use crate::Error;

/// The annotation of client-side apply.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// The manager name `kubectl apply --server-side` uses; it gets the compatibility with
/// client-side apply (upstream's `lastAppliedManager` and `lastAppliedUpdater`).
const KUBECTL: &str = "kubectl";

/// Fields nobody owns (upstream's `stripMetaManager`).
fn strip_set() -> &'static Set {
    static STRIP: OnceLock<Set> = OnceLock::new();
    STRIP.get_or_init(|| {
        let mut s = Set::new();
        for p in [&["apiVersion"][..], &["kind"], &["metadata"]] {
            s.insert(&Path::fields(p).0);
        }
        for f in [
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        ] {
            s.insert(&Path::fields(&["metadata", f]).0);
        }
        s
    })
}

fn status_set() -> &'static Set {
    static STATUS: OnceLock<Set> = OnceLock::new();
    STATUS.get_or_init(|| {
        let mut s = Set::new();
        s.insert(&[PathElement::Field("status".into())]);
        s
    })
}

/// Which fields a write may not own (upstream's reset fields of the kind's strategies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reset {
    Nothing,
    /// The main resource of a kind with a status subresource: `status`.
    Status,
    /// The status subresource: everything but `status`.
    AllButStatus,
}

/// Tracks field ownership of one kind at one API version, for the main resource or a
/// subresource.
#[derive(Clone, Debug)]
pub struct FieldManager {
    ty: TypeRef,
    api_version: String,
    subresource: String,
    reset: Reset,
}

impl FieldManager {
    /// `subresource` is `None` for the main resource; `has_status` says whether the kind
    /// has a status subresource (then the main resource does not own `status`).
    pub fn new(ty: TypeRef, api_version: &str, subresource: Option<&str>, has_status: bool) -> FieldManager {
        let reset = match subresource {
            Some("status") => Reset::AllButStatus,
            Some(_) => Reset::Nothing,
            None if has_status => Reset::Status,
            None => Reset::Nothing,
        };
        FieldManager {
            ty,
            api_version: api_version.to_string(),
            subresource: subresource.unwrap_or_default().to_string(),
            reset,
        }
    }

    /// The type the manager works with.
    pub fn type_ref(&self) -> &TypeRef {
        &self.ty
    }

    fn owned(&self, set: Set) -> Set {
        let set = set.difference(strip_set());
        match self.reset {
            Reset::Nothing => set,
            Reset::Status => set.without_prefixes(status_set()),
            Reset::AllButStatus => set.only_prefixes(status_set()),
        }
    }

    fn owned_comparison(&self, c: Comparison) -> Comparison {
        Comparison { added: self.owned(c.added), modified: self.owned(c.modified), removed: self.owned(c.removed) }
    }

    /// Removes what this write may not change from an applied configuration.
    fn reset_config(&self, config: &mut Value) {
        let Some(map) = config.as_object_mut() else { return };
        match self.reset {
            Reset::Nothing => {}
            Reset::Status => {
                map.remove("status");
            }
            Reset::AllButStatus => {
                map.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status"))
            }
        }
    }

    /// The empty object a create starts from, for [`FieldManager::update`].
    pub fn zero_object(&self) -> Value {
        typed::zero_object(&self.ty)
    }

    /// Records an Update by `manager` from `live` to `new`: the fields it added or changed
    /// become its own and are taken from everyone else; removed fields leave every
    /// manager. Returns whether `managed` changed.
    pub fn update(&self, live: &Value, new: &Value, managed: &mut Managed, manager: &str, now: &str) -> bool {
        let cmp = self.owned_comparison(typed::compare(&self.ty, &without_meta(live), &without_meta(new)));
        if cmp.is_same() {
            return false;
        }
        let changed = cmp.changed();
        for e in &mut managed.entries {
            e.fields = e.fields.difference(&changed).difference(&cmp.removed);
        }
        let entry = managed.find_mut(manager, Operation::Update, &self.api_version, &self.subresource);
        if !changed.is_empty() {
            entry.fields.union_with(&changed);
            entry.time = Some(now.to_string());
        }
        managed.drop_empty();
        managed.cap_updaters();
        true
    }

    /// Applies `config` as `manager` to `live` (an empty object when creating). Returns
    /// the new object (without `managedFields`); `managed` holds the new ownership.
    /// Conflicts are an error unless `force`.
    pub fn apply(
        &self,
        live: &Value,
        config: &Value,
        managed: &mut Managed,
        manager: &str,
        force: bool,
        now: &str,
    ) -> Result<Value, Error> {
        let mut attempt = managed.clone();
        let result = match self.apply_once(live, config, &mut attempt, manager, force, now) {
            Err(Error::Conflicts(conflicts)) if manager == KUBECTL => {
                // Fields client-side apply set to the values they still have are not
                // conflicts for `kubectl apply --server-side` (upgrade from client-side).
                let allowed = self.allowed_by_last_applied(live).unwrap_or_default();
                let rest: Vec<Conflict> = conflicts.0.into_iter().filter(|c| !allowed.has(&c.path.0)).collect();
                if !rest.is_empty() {
                    return Err(Error::Conflicts(Conflicts(rest)));
                }
                attempt = managed.clone();
                self.apply_once(live, config, &mut attempt, manager, true, now)
            }
            other => other,
        };
        let mut obj = result?;
        *managed = attempt;
        if manager == KUBECTL {
            sync_last_applied(&mut obj, config);
        }
        Ok(obj)
    }

    fn apply_once(
        &self,
        live: &Value,
        config: &Value,
        managed: &mut Managed,
        manager: &str,
        force: bool,
        now: &str,
    ) -> Result<Value, Error> {
        let mut config = config.clone();
        self.reset_config(&mut config);
        let config_set = self.owned(typed::to_field_set(&self.ty, &config, false).map_err(Error::Type)?);
        let live = without_meta(live);
        let mut merged = typed::merge(&self.ty, &live, &config);

        let last =
            managed.find(manager, Operation::Apply, &self.api_version, &self.subresource).map(|e| e.fields.clone());
        let entry = managed.find_mut(manager, Operation::Apply, &self.api_version, &self.subresource);
        entry.fields = config_set;
        entry.api_version = self.api_version.clone();
        if let Some(last) = last.as_ref().filter(|l| !l.is_empty()) {
            self.prune(&mut merged, managed, last);
        }

        let cmp = self.owned_comparison(typed::compare(&self.ty, &live, &merged));
        let changed = cmp.changed();
        let mut conflicts = Vec::new();
        for e in &managed.entries {
            if e.same_manager(manager, Operation::Apply, &self.api_version, &self.subresource) {
                continue;
            }
            for path in e.fields.intersection(&changed).paths() {
                conflicts.push(Conflict { manager: e.describe(), path });
            }
        }
        if !conflicts.is_empty() && !force {
            return Err(Error::Conflicts(Conflicts(conflicts)));
        }
        for e in &mut managed.entries {
            if e.same_manager(manager, Operation::Apply, &self.api_version, &self.subresource) {
                continue;
            }
            e.fields = e.fields.difference(&changed).difference(&cmp.removed);
        }
        if merged != live || last.is_none() {
            managed.find_mut(manager, Operation::Apply, &self.api_version, &self.subresource).time =
                Some(now.to_string());
        }
        managed.drop_empty();
        Ok(merged)
    }

    /// Removes what `manager` applied last time, no longer applies, and nobody else owns.
    fn prune(&self, merged: &mut Value, managed: &Managed, last: &Set) {
        let mut owned = Set::new();
        for e in &managed.entries {
            owned.union_with(&e.fields);
        }
        let candidates =
            typed::ensure_named_fields(&self.ty, last).difference(&typed::ensure_named_fields(&self.ty, &owned));
        let removable = not_above_owned(&candidates, &owned);
        if !removable.is_empty() {
            typed::remove_items(&self.ty, merged, &removable);
        }
    }

    /// The fields of the last-applied annotation of `live` that still have the values it
    /// gives them.
    fn allowed_by_last_applied(&self, live: &Value) -> Option<Set> {
        let text = live.get("metadata")?.get("annotations")?.get(LAST_APPLIED_ANNOTATION)?.as_str()?;
        let last: Value = serde_json::from_str(text).ok()?;
        if last.get("apiVersion").and_then(Value::as_str) != Some(self.api_version.as_str()) {
            return None;
        }
        let set = typed::to_field_set(&self.ty, &last, false).ok()?;
        let cmp = typed::compare(&self.ty, &last, &without_meta(live));
        Some(set.difference(&cmp.modified).difference(&cmp.added).difference(&cmp.removed))
    }
}

/// The members of `candidates` with nothing owned at or below them.
fn not_above_owned(candidates: &Set, owned: &Set) -> Set {
    let mut out = Set::new();
    for pe in candidates.elements() {
        let owned_child = owned.child(pe);
        if candidates.has_member(pe) && !owned.touches(pe) {
            out.insert_member(pe.clone());
            continue;
        }
        if let Some(child) = candidates.child(pe) {
            let sub = match owned_child {
                Some(o) => not_above_owned(child, o),
                None => child.clone(),
            };
            if !sub.is_empty() {
                *out.child_mut(pe.clone()) = sub;
            }
        }
    }
    out
}

/// `obj` without `metadata.managedFields` and `metadata.resourceVersion`, which are not
/// fields of the object for ownership.
fn without_meta(obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        meta.remove("resourceVersion");
    }
    out
}

/// Keeps the client-side apply annotation in step with a server-side apply by
/// `kubectl`, when the object has one (upstream's `lastAppliedUpdater`).
fn sync_last_applied(obj: &mut Value, config: &Value) {
    let has = obj
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(LAST_APPLIED_ANNOTATION))
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    if !has {
        return;
    }
    let mut applied = config.clone();
    if let Some(annotations) =
        applied.get_mut("metadata").and_then(|m| m.get_mut("annotations")).and_then(Value::as_object_mut)
    {
        annotations.remove(LAST_APPLIED_ANNOTATION);
    }
    let Ok(text) = serde_json::to_string(&applied) else { return };
    if let Some(annotations) =
        obj.get_mut("metadata").and_then(|m| m.get_mut("annotations")).and_then(Value::as_object_mut)
    {
        annotations.insert(LAST_APPLIED_ANNOTATION.into(), Value::String(text));
    }
}
