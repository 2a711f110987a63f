//! Priority (upstream `plugin/pkg/admission/priority`): a pod's `priorityClassName` (or the
//! cluster's global default class) gives its `priority` and `preemptionPolicy`; a class
//! that does not exist, or a priority the pod states itself, is refused with 403.

use std::sync::Arc;

use kolibri_store::ListOptions;
use serde_json::{json, Value};

use crate::handlers::meta;
use crate::status::{ApiError, ApiResult};
use crate::ApiServer;

const PREFIX: &str = "/registry/scheduling.k8s.io/priorityclasses/";
const DEFAULT_POLICY: &str = "PreemptLowerPriority";

pub(super) async fn admit_pod(server: &Arc<ApiServer>, pod: &mut Value) -> ApiResult<()> {
    let name = meta::name(pod).to_string();
    let forbidden = |msg: String| ApiError::forbidden_object("", "pods", &name, &msg);
    let class_name =
        pod.pointer("/spec/priorityClassName").and_then(Value::as_str).filter(|n| !n.is_empty()).map(str::to_string);
    let class = match &class_name {
        Some(class) => {
            let kv = server.store.get(&format!("{PREFIX}{class}")).await.map_err(ApiError::internal)?;
            let Some(kv) = kv else {
                return Err(forbidden(format!("no PriorityClass with name {class} was found")));
            };
            Some(serde_json::from_slice::<Value>(&kv.value).map_err(ApiError::internal)?)
        }
        None => {
            let listed = server.store.list(PREFIX, ListOptions::default()).await.map_err(ApiError::internal)?;
            listed
                .items
                .iter()
                .filter_map(|kv| serde_json::from_slice::<Value>(&kv.value).ok())
                .filter(|c| c.get("globalDefault").and_then(Value::as_bool) == Some(true))
                .min_by_key(|c| c.get("value").and_then(Value::as_i64).unwrap_or(0))
        }
    };
    let priority = class.as_ref().and_then(|c| c.get("value")).and_then(Value::as_i64).unwrap_or(0);
    let policy = class
        .as_ref()
        .and_then(|c| c.get("preemptionPolicy"))
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_POLICY)
        .to_string();
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else { return Ok(()) };
    if let Some(given) = spec.get("priority").and_then(Value::as_i64) {
        if given != priority {
            return Err(forbidden(format!(
                "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name"
            )));
        }
    }
    if let Some(given) = spec.get("preemptionPolicy").and_then(Value::as_str) {
        if given != policy {
            return Err(forbidden(format!(
                "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"
            )));
        }
    }
    spec.insert("priority".into(), json!(priority));
    spec.insert("preemptionPolicy".into(), json!(policy));
    if let (None, Some(class)) = (&class_name, &class) {
        spec.insert("priorityClassName".into(), json!(meta::name(class)));
    }
    Ok(())
}
