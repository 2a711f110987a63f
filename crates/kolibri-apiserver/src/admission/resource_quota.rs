//! ResourceQuota admission (upstream `plugin/pkg/admission/resourcequota`): a new object is
//! admitted only if every quota of its namespace that selects it still has room for its
//! usage, which is then added to the quota's `status.used` (compare-and-swap on the quota)
//! before the object is stored. The quota controller recomputes `status.used` from the
//! objects when they go.

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

pub(super) async fn admit(server: &Arc<ApiServer>, def: &ResourceDef, obj: &Value, dry_run: bool) -> ApiResult<()> {
    if !def.namespaced {
        return Ok(());
    }
    let namespace = meta::meta_str(obj, "namespace").unwrap_or_default().to_string();
    let name = meta::name(obj).to_string();
    let forbidden = |why: String| ApiError::forbidden_object(&def.group, &def.plural, &name, &why);
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
        let usage = quota::usage(&def.group, &def.plural, obj);
        let mut charges: Vec<(&KeyValue, Value)> = Vec::new();
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
            if def.group.is_empty() && def.plural == "pods" {
                if let Some(missing) = quota::pod_constraints(obj, &restricted) {
                    return Err(forbidden(format!("failed quota: {quota_name}: {missing}")));
                }
            }
            let used = quota::resource_list(q.pointer("/status/used"));
            if restricted.iter().any(|r| !used.contains_key(r)) {
                return Err(forbidden(format!(
                    "status unknown for quota: {quota_name}, resources: {}",
                    restricted.join(",")
                )));
            }
            let requested: Usage =
                usage.iter().filter(|(k, _)| hard.contains_key(*k)).map(|(k, v)| (k.clone(), *v)).collect();
            if let Some((k, _)) = requested.iter().find(|(_, v)| v.is_negative()) {
                return Err(forbidden(format!("quota usage is negative for resource(s): {k}")));
            }
            if requested.values().all(Quantity::is_zero) {
                continue;
            }
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
                    "exceeded quota: {quota_name}, requested: {}, used: {}, limited: {}",
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
