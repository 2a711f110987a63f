//! ResourceQuota admission (upstream `plugin/pkg/admission/resourcequota`): a new object is
//! admitted only if every quota of its namespace that selects it still has room for its
//! usage, which is then added to the quota's `status.used` (compare-and-swap on the quota)
//! before the object is stored. An update of a Service or a claim is charged what its
//! usage grew by (a type change to NodePort or LoadBalancer, an expanded claim). The quota
//! controller recomputes `status.used` from the objects when they go.

use std::collections::HashSet;
use std::sync::Arc;

use kolibri_resources::quota::{self, Quantity, Usage};
use kolibri_resources::ResourceDef;
use kolibri_store::{KeyValue, ListOptions, StoreError};
use serde_json::{json, Value};

use crate::handlers::meta;
use crate::status::{ApiError, ApiResult};
use crate::{encoding, ApiServer};

/// How often the check is redone when a quota changed underneath.
const RETRIES: usize = 16;

/// Whether an update of the kind can change what it uses (upstream's evaluators'
/// `Handles`): a Service's type and ports, a claim's storage request. Pods change usage
/// only through an in-place resize, other kinds only by count (on create).
pub(super) fn handles_update(def: &ResourceDef) -> bool {
    def.group.is_empty() && matches!(def.plural.as_str(), "services" | "persistentvolumeclaims")
}

/// Admits `obj` against the quotas of its namespace and charges them. On an update `old`
/// is the stored object: a quota that selected it already is charged only what grew
/// (upstream's `CheckRequest`).
pub(super) async fn admit(
    server: &Arc<ApiServer>,
    def: &ResourceDef,
    obj: &Value,
    old: Option<&Value>,
    dry_run: bool,
) -> ApiResult<()> {
    if !def.namespaced {
        return Ok(());
    }
    if old.is_some() && !handles_update(def) {
        return Ok(());
    }
    let namespace = meta::meta_str(obj, "namespace").unwrap_or_default().to_string();
    let name = meta::name(obj).to_string();
    let forbidden = |why: String| ApiError::forbidden_object(&def.group, &def.plural, &name, &why);
    let is_pod = def.group.is_empty() && def.plural == "pods";
    let usage = quota::usage(&def.group, &def.plural, obj);
    let old_usage = old.map(|o| quota::usage(&def.group, &def.plural, o));
    // Quotas charged already, when a later one conflicted.
    let mut charged_keys: HashSet<String> = HashSet::new();
    for _ in 0..RETRIES {
        let listed = server
            .store
            .list(&format!("/registry/core/resourcequotas/{namespace}/"), ListOptions::default())
            .await
            .map_err(ApiError::internal)?;
        if listed.items.is_empty() {
            return Ok(());
        }
        // The quotas that select the object, checked for constraints and known usage first.
        let mut interesting: Vec<(&KeyValue, Value)> = Vec::new();
        for kv in listed.items.iter().filter(|kv| !charged_keys.contains(&kv.key)) {
            let Ok(q) = serde_json::from_slice::<Value>(&kv.value) else { continue };
            if !quota::matches_scopes(&q, &def.group, &def.plural, obj) {
                continue;
            }
            let hard = quota::resource_list(q.pointer("/status/hard"));
            let restricted = quota::matching_resources(&def.group, &def.plural, hard.keys());
            if restricted.is_empty() {
                continue;
            }
            let quota_name = meta::name(&q).to_string();
            if is_pod {
                if let Some(missing) = quota::pod_constraints(obj, &restricted) {
                    return Err(forbidden(format!("failed quota: {quota_name}: {missing}")));
                }
            }
            let used = quota::resource_list(q.pointer("/status/used"));
            if restricted.iter().any(|r| !used.contains_key(r)) {
                let mut names = restricted.clone();
                names.sort();
                return Err(forbidden(format!(
                    "status unknown for quota: {quota_name}, resources: {}",
                    names.join(",")
                )));
            }
            interesting.push((kv, q));
        }
        let negative: Vec<&str> = usage.iter().filter(|(_, v)| v.is_negative()).map(|(k, _)| k.as_str()).collect();
        if !negative.is_empty() {
            return Err(forbidden(format!("quota usage is negative for resource(s): {}", negative.join(","))));
        }
        if interesting.is_empty() {
            return Ok(());
        }
        let mut charges: Vec<(&KeyValue, Value)> = Vec::new();
        for (kv, q) in interesting {
            // A quota that selected the old object already holds its usage.
            let delta = match (old, &old_usage) {
                (Some(o), Some(prev)) if quota::matches_scopes(&q, &def.group, &def.plural, o) => {
                    quota::subtract_non_negative(&usage, prev)
                }
                _ => usage.clone(),
            };
            let hard = quota::resource_list(q.pointer("/status/hard"));
            let requested: Usage =
                quota::remove_zeros(delta).into_iter().filter(|(k, _)| hard.contains_key(k)).collect();
            if requested.is_empty() {
                continue;
            }
            let used = quota::resource_list(q.pointer("/status/used"));
            let new_used: Usage = requested
                .iter()
                .map(|(k, v)| (k.clone(), used.get(k).copied().unwrap_or(Quantity::ZERO).plus(*v)))
                .collect();
            let exceeded: Vec<&String> =
                new_used.iter().filter(|(k, v)| hard.get(*k).is_some_and(|h| *v > h)).map(|(k, _)| k).collect();
            if !exceeded.is_empty() {
                let mask = |list: &Usage| -> Usage {
                    list.iter().filter(|(k, _)| exceeded.contains(k)).map(|(k, v)| (k.clone(), *v)).collect()
                };
                return Err(forbidden(format!(
                    "exceeded quota: {}, requested: {}, used: {}, limited: {}",
                    meta::name(&q),
                    quota::pretty(&mask(&requested)),
                    quota::pretty(&mask(&used)),
                    quota::pretty(&mask(&hard)),
                )));
            }
            let mut charged = q.clone();
            for (k, v) in &new_used {
                charged["status"]["used"][k] = json!(v.to_string());
            }
            charges.push((kv, charged));
        }
        if dry_run {
            return Ok(());
        }
        let mut conflicted = false;
        for (kv, charged) in charges {
            match server.store.update(&kv.key, encoding::to_stored(&charged), kv.mod_revision).await {
                Ok(_) => {
                    charged_keys.insert(kv.key.clone());
                }
                Err(StoreError::Conflict { .. }) | Err(StoreError::NotFound(_)) => {
                    conflicted = true;
                    break;
                }
                Err(e) => return Err(ApiError::internal(e)),
            }
        }
        if !conflicted {
            return Ok(());
        }
    }
    Err(ApiError::internal("resource quota evaluation timed out"))
}
