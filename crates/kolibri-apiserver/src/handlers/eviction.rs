//! `POST pods/<name>/eviction` (upstream `pkg/registry/core/pod/storage/eviction.go`): a
//! pod is deleted only when the one PodDisruptionBudget that selects it allows a
//! disruption, which is taken from the budget's status (compare-and-swap) before the pod
//! goes. Pods that are pending, terminal or already deleting disrupt nothing and go at once.

use std::sync::Arc;

use http::{Response, StatusCode};
use kolibri_store::{ListOptions, StoreError};
use serde_json::{json, Value};

use super::delete::{self, Deleted, Options};
use super::{decode_body, meta, Ctx};
use crate::response::{self, Body};
use crate::status::{ApiError, ApiResult, Cause};
use crate::{encoding, keys, ApiServer};

/// How often a budget update is retried on conflicts (upstream: 20 steps).
const RETRIES: usize = 20;
/// Evictions approved but not yet seen by the disruption controller (upstream's limit).
const MAX_DISRUPTED_PODS: usize = 2000;
const VIOLATION: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

pub async fn create(server: &Arc<ApiServer>, ctx: &Ctx) -> ApiResult<Response<Body>> {
    let eviction = decode_body(ctx)?;
    let name = ctx.name().to_string();
    if meta::meta_str(&eviction, "name").unwrap_or_default() != name {
        return Err(ApiError::bad_request("name in URL does not match name in Eviction object"));
    }
    let delete_options = eviction.get("deleteOptions").cloned().unwrap_or(Value::Null);
    let body_dry_run = delete_options.get("dryRun").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    let dry_run = ctx.query.dry_run()? || body_dry_run;
    let options = Options::from_body(&delete_options);
    let namespace = ctx.namespace().unwrap_or_default().to_string();
    let key = keys::object(&ctx.def, Some(&namespace), &name);

    // Upstream retries an eviction whose own resourceVersion precondition lost a race (a
    // pending pod being scheduled meanwhile), up to 20 times 10 ms apart.
    let mut attempt = 0;
    let (kv, pod) = loop {
        let kv = super::read_current(server, &ctx.def, &key, &name).await?;
        let pod = encoding::decode_stored(&kv.value, kv.mod_revision).map_err(ApiError::internal)?;
        let phase = pod.pointer("/status/phase").and_then(Value::as_str).unwrap_or_default();
        // A pod that is pending, finished or already going disrupts nothing.
        if !(matches!(phase, "Succeeded" | "Failed" | "Pending") || meta::is_deleting(&pod)) {
            break (kv, pod);
        }
        let mut options = options.clone();
        let ours =
            !matches!(phase, "Succeeded" | "Failed") && !meta::is_deleting(&pod) && options.resource_version.is_none();
        if ours {
            // Not racing a pod that becomes ready meanwhile.
            options.resource_version = Some(kv.mod_revision.to_string());
        }
        match delete_pod(server, ctx, &name, &namespace, &options, dry_run).await {
            Err(e) if ours && e.code == StatusCode::CONFLICT && attempt < 20 => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            other => return other,
        }
    };

    let budgets = budgets_of(server, &namespace, &pod).await?;
    if budgets.len() > 1 {
        let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            "code": 500});
        return Ok(response::json_value(StatusCode::INTERNAL_SERVER_ERROR, &status));
    }
    let mut options = options;
    if let Some(budget_key) = budgets.first() {
        let budget_name = budget_key.rsplit('/').next().unwrap_or_default().to_string();
        let (desired, current, always_allow) = {
            let kv = server.store.get(budget_key).await.map_err(ApiError::internal)?;
            let pdb: Value = kv
                .map(|kv| serde_json::from_slice(&kv.value))
                .transpose()
                .map_err(ApiError::internal)?
                .unwrap_or_default();
            (
                pdb.pointer("/status/desiredHealthy").and_then(Value::as_i64).unwrap_or(0),
                pdb.pointer("/status/currentHealthy").and_then(Value::as_i64).unwrap_or(0),
                pdb.pointer("/spec/unhealthyPodEvictionPolicy").and_then(Value::as_str) == Some("AlwaysAllow"),
            )
        };
        if !is_ready(&pod) && (always_allow || (current >= desired && desired > 0)) {
            // An unready pod is not counted as healthy: evicting it takes nothing from the
            // budget, as long as it does not become ready meanwhile.
            if options.resource_version.is_none() {
                options.resource_version = Some(kv.mod_revision.to_string());
                return match delete_pod(server, ctx, &name, &namespace, &options, dry_run).await {
                    Err(e) if e.code == StatusCode::CONFLICT => Err(still_processing(&budget_name)),
                    other => other,
                };
            }
        } else {
            take_disruption(server, budget_key, &budget_name, &name, dry_run).await?;
        }
    }
    delete_pod(server, ctx, &name, &namespace, &options, dry_run).await
}

async fn delete_pod(
    server: &Arc<ApiServer>,
    ctx: &Ctx,
    name: &str,
    namespace: &str,
    options: &Options,
    dry_run: bool,
) -> ApiResult<Response<Body>> {
    match delete::delete_one(server, ctx, name, Some(namespace), options, dry_run).await? {
        Deleted::Now(..) | Deleted::Pending(_) | Deleted::DryRun(_) => {
            let status =
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
            Ok(response::json_value(StatusCode::CREATED, &status))
        }
    }
}

/// Store keys of the budgets in the pod's namespace whose (non-empty) selector selects it.
async fn budgets_of(server: &ApiServer, namespace: &str, pod: &Value) -> ApiResult<Vec<String>> {
    let listed = server
        .store
        .list(&format!("/registry/policy/poddisruptionbudgets/{namespace}/"), ListOptions::default())
        .await
        .map_err(ApiError::internal)?;
    let labels = pod.pointer("/metadata/labels").cloned().unwrap_or(json!({}));
    Ok(listed
        .items
        .iter()
        .filter(|kv| {
            serde_json::from_slice::<Value>(&kv.value)
                .ok()
                .and_then(|pdb| pdb.pointer("/spec/selector").cloned())
                .is_some_and(|sel| selects(&sel, &labels))
        })
        .map(|kv| kv.key.clone())
        .collect())
}

/// Whether a `LabelSelector` selects `labels`. An empty or invalid selector selects
/// nothing here, as upstream's eviction does.
pub(crate) fn selects(selector: &Value, labels: &Value) -> bool {
    let match_labels = selector.get("matchLabels").and_then(Value::as_object);
    let exprs = selector.get("matchExpressions").and_then(Value::as_array);
    if match_labels.is_none_or(|m| m.is_empty()) && exprs.is_none_or(|e| e.is_empty()) {
        return false;
    }
    let label = |k: &str| labels.get(k).and_then(Value::as_str);
    if !match_labels.into_iter().flatten().all(|(k, v)| label(k) == v.as_str()) {
        return false;
    }
    exprs.into_iter().flatten().all(|e| {
        let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
        let values: Vec<&str> =
            e.get("values").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        let value = label(key);
        match e.get("operator").and_then(Value::as_str) {
            Some("In") => value.is_some_and(|v| values.contains(&v)),
            Some("NotIn") => value.is_none_or(|v| !values.contains(&v)),
            Some("Exists") => value.is_some(),
            Some("DoesNotExist") => value.is_none(),
            _ => false,
        }
    })
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions").and_then(Value::as_array).into_iter().flatten().any(|c| {
        c.get("type").and_then(Value::as_str) == Some("Ready")
            && c.get("status").and_then(Value::as_str) == Some("True")
    })
}

fn still_processing(budget: &str) -> ApiError {
    let mut err = ApiError::too_many_requests(VIOLATION, 10);
    err.causes.push(Cause {
        reason: "DisruptionBudget".into(),
        message: format!("The disruption budget {budget} is still being processed by the server."),
        field: String::new(),
    });
    err
}

/// Takes one disruption from the budget (compare-and-swap on its stored revision) and
/// records the pod in `status.disruptedPods`, or refuses with 429.
async fn take_disruption(server: &ApiServer, key: &str, budget: &str, pod: &str, dry_run: bool) -> ApiResult<()> {
    for _ in 0..RETRIES {
        let kv = server
            .store
            .get(key)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::not_found("policy", "poddisruptionbudgets", budget))?;
        let mut pdb: Value = serde_json::from_slice(&kv.value).map_err(ApiError::internal)?;
        let status = pdb.get("status").cloned().unwrap_or(json!({}));
        let int = |f: &str| status.get(f).and_then(Value::as_i64).unwrap_or(0);
        let generation = pdb.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
        if int("observedGeneration") < generation {
            return Err(still_processing(budget));
        }
        let allowed = int("disruptionsAllowed");
        if allowed < 0 {
            return Err(ApiError::forbidden_object(
                "policy",
                "poddisruptionbudget",
                budget,
                "pdb disruptions allowed is negative",
            ));
        }
        let disrupted = status.get("disruptedPods").and_then(Value::as_object).map_or(0, |m| m.len());
        if disrupted > MAX_DISRUPTED_PODS {
            return Err(ApiError::forbidden_object(
                "policy",
                "poddisruptionbudget",
                budget,
                "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
            ));
        }
        if allowed == 0 {
            let mut err = ApiError::too_many_requests(VIOLATION, 0);
            err.causes.push(Cause {
                reason: "DisruptionBudget".into(),
                message: format!(
                    "The disruption budget {budget} needs {} healthy pods and has {} currently",
                    int("desiredHealthy"),
                    int("currentHealthy")
                ),
                field: String::new(),
            });
            return Err(err);
        }
        if dry_run {
            return Ok(());
        }
        pdb["status"]["disruptionsAllowed"] = json!(allowed - 1);
        if allowed - 1 == 0 {
            set_insufficient(&mut pdb);
        }
        if !pdb["status"]["disruptedPods"].is_object() {
            pdb["status"]["disruptedPods"] = json!({});
        }
        pdb["status"]["disruptedPods"][pod] = json!(meta::now_rfc3339());
        match server.store.update(key, encoding::to_stored(&pdb), kv.mod_revision).await {
            Ok(_) => return Ok(()),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(ApiError::internal(e)),
        }
    }
    Err(ApiError::timeout(format!("couldn't update PodDisruptionBudget \"{budget}\" due to conflicts")))
}

/// Upstream's `UpdateDisruptionAllowedCondition` once no disruption is left.
fn set_insufficient(pdb: &mut Value) {
    let generation = pdb.pointer("/status/observedGeneration").cloned().unwrap_or(json!(0));
    let mut conditions: Vec<Value> =
        pdb.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    let now = meta::now_rfc3339();
    match conditions.iter_mut().find(|c| c.get("type").and_then(Value::as_str) == Some("DisruptionAllowed")) {
        Some(c) => {
            if c.get("status").and_then(Value::as_str) != Some("False") {
                c["lastTransitionTime"] = json!(now);
            }
            c["status"] = json!("False");
            c["reason"] = json!("InsufficientPods");
            c["message"] = json!("");
            c["observedGeneration"] = generation;
        }
        None => conditions.push(json!({"type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods",
            "message": "", "observedGeneration": generation, "lastTransitionTime": now})),
    }
    pdb["status"]["conditions"] = Value::Array(conditions);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_selectors_select_nothing() {
        let labels = json!({"app": "web", "tier": "a"});
        assert!(!selects(&json!({}), &labels));
        assert!(selects(&json!({"matchLabels": {"app": "web"}}), &labels));
        assert!(!selects(&json!({"matchLabels": {"app": "db"}}), &labels));
        assert!(selects(&json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]}), &labels));
        assert!(!selects(&json!({"matchExpressions": [{"key": "tier", "operator": "Bogus"}]}), &labels));
    }
}
