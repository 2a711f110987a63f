//! LimitRanger (upstream `plugin/pkg/admission/limitranger`): the LimitRanges of the pod's
//! namespace default each container's requests and limits, then bound them (min, max,
//! max limit/request ratio, per Container and per Pod). A pod out of bounds is refused
//! with 403 and upstream's messages.

use std::sync::Arc;

use kolibri_resources::validation::quantity;
use kolibri_store::ListOptions;
use serde_json::{json, Map, Value};

use crate::handlers::meta;
use crate::status::{ApiError, ApiResult};
use crate::ApiServer;

const ANNOTATION: &str = "kubernetes.io/limit-ranger";

fn q(v: &Value) -> Option<f64> {
    v.as_str().and_then(|s| quantity::parse(s).ok()).or_else(|| v.as_f64())
}

fn text(v: &Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
}

fn entries(v: Option<&Value>) -> impl Iterator<Item = (&String, &Value)> {
    v.and_then(Value::as_object).into_iter().flatten()
}

pub(super) async fn admit_pod(server: &Arc<ApiServer>, pod: &mut Value) -> ApiResult<()> {
    let namespace = meta::meta_str(pod, "namespace").unwrap_or_default().to_string();
    let listed = server
        .store
        .list(&format!("/registry/core/limitranges/{namespace}/"), ListOptions::default())
        .await
        .map_err(ApiError::internal)?;
    if listed.items.is_empty() {
        return Ok(());
    }
    let items: Vec<Value> = listed
        .items
        .iter()
        .filter_map(|kv| serde_json::from_slice::<Value>(&kv.value).ok())
        .flat_map(|lr| lr.pointer("/spec/limits").and_then(Value::as_array).cloned().unwrap_or_default())
        .collect();
    apply_defaults(pod, &items);
    let errors = check(pod, &items);
    if errors.is_empty() {
        return Ok(());
    }
    let detail = if errors.len() == 1 { errors[0].clone() } else { format!("[{}]", errors.join(", ")) };
    Err(ApiError::forbidden_object("", "pods", meta::name(pod), &detail))
}

/// `default` and `defaultRequest` of Container items fill what containers leave unset.
fn apply_defaults(pod: &mut Value, items: &[Value]) {
    let mut notes: Vec<String> = Vec::new();
    for list in ["initContainers", "containers"] {
        let Some(containers) = pod.pointer_mut(&format!("/spec/{list}")).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in containers.iter_mut() {
            let name = c.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
            let (mut set_requests, mut set_limits) = (Vec::new(), Vec::new());
            for item in items.iter().filter(|i| i.get("type").and_then(Value::as_str) == Some("Container")) {
                for (field, from, set) in
                    [("requests", "defaultRequest", &mut set_requests), ("limits", "default", &mut set_limits)]
                {
                    for (resource, value) in entries(item.get(from)) {
                        let resources = c.as_object_mut().map(|m| m.entry("resources").or_insert_with(|| json!({})));
                        let Some(Value::Object(resources)) = resources else { continue };
                        let target = resources.entry(field).or_insert_with(|| Value::Object(Map::new()));
                        if let Some(t) = target.as_object_mut() {
                            if !t.contains_key(resource) {
                                t.insert(resource.clone(), value.clone());
                                set.push(resource.clone());
                            }
                        }
                    }
                }
            }
            if !set_requests.is_empty() {
                notes.push(format!(
                    "{} request for {list_kind} {name}",
                    set_requests.join(", "),
                    list_kind = kind(list)
                ));
            }
            if !set_limits.is_empty() {
                notes.push(format!("{} limit for {list_kind} {name}", set_limits.join(", "), list_kind = kind(list)));
            }
        }
    }
    if !notes.is_empty() {
        let m = meta::metadata_mut(pod);
        let annotations = m.entry("annotations").or_insert_with(|| json!({}));
        if let Some(a) = annotations.as_object_mut() {
            a.insert(ANNOTATION.into(), json!(format!("LimitRanger plugin set: {}", notes.join("; "))));
        }
    }
}

fn kind(list: &str) -> &'static str {
    if list == "initContainers" {
        "init container"
    } else {
        "container"
    }
}

/// The bounds of Container and Pod items, with upstream's messages.
fn check(pod: &Value, items: &[Value]) -> Vec<String> {
    let mut errors = Vec::new();
    let containers: Vec<&Value> = ["initContainers", "containers"]
        .iter()
        .flat_map(|l| pod.pointer(&format!("/spec/{l}")).and_then(Value::as_array).into_iter().flatten())
        .collect();
    for item in items {
        match item.get("type").and_then(Value::as_str) {
            Some("Container") => {
                for c in &containers {
                    let requests = c.pointer("/resources/requests");
                    let limits = c.pointer("/resources/limits");
                    bounds(item, "Container", requests, limits, &mut errors);
                }
            }
            Some("Pod") => {
                // A pod's usage is the sum over its app containers.
                let sum = |field: &str| {
                    let mut total: Map<String, Value> = Map::new();
                    for c in pod.pointer("/spec/containers").and_then(Value::as_array).into_iter().flatten() {
                        for (r, v) in entries(c.pointer(&format!("/resources/{field}"))) {
                            let prev = total.get(r).and_then(q).unwrap_or(0.0);
                            total.insert(r.clone(), json!(format_sum(prev + q(v).unwrap_or(0.0), v)));
                        }
                    }
                    Value::Object(total)
                };
                let (requests, limits) = (sum("requests"), sum("limits"));
                bounds(item, "Pod", Some(&requests), Some(&limits), &mut errors);
            }
            _ => {}
        }
    }
    errors
}

/// A summed quantity, printed in the unit of one of its parts when whole (`2`, `500m`).
fn format_sum(total: f64, example: &Value) -> String {
    let unit = example.as_str().unwrap_or_default();
    if unit.ends_with('m') {
        format!("{}m", (total * 1000.0).round() as i64)
    } else if total.fract() == 0.0 {
        format!("{}", total as i64)
    } else {
        format!("{total}")
    }
}

fn bounds(item: &Value, what: &str, requests: Option<&Value>, limits: Option<&Value>, errors: &mut Vec<String>) {
    let get = |m: Option<&Value>, r: &str| m.and_then(|m| m.get(r)).filter(|v| q(v).is_some()).cloned();
    for (resource, min) in entries(item.get("min")) {
        match get(requests, resource) {
            None => {
                errors.push(format!("minimum {resource} usage per {what} is {}.  No request is specified", text(min)))
            }
            Some(r) if q(&r) < q(min) => errors.push(format!(
                "minimum {resource} usage per {what} is {}, but request is {}",
                text(min),
                text(&r)
            )),
            _ => {}
        }
    }
    for (resource, max) in entries(item.get("max")) {
        match get(limits, resource) {
            None => {
                errors.push(format!("maximum {resource} usage per {what} is {}.  No limit is specified", text(max)))
            }
            Some(l) if q(&l) > q(max) => {
                errors.push(format!("maximum {resource} usage per {what} is {}, but limit is {}", text(max), text(&l)))
            }
            _ => {}
        }
    }
    for (resource, ratio) in entries(item.get("maxLimitRequestRatio")) {
        let limit = get(limits, resource).and_then(|l| q(&l));
        let request = get(requests, resource).and_then(|r| q(&r)).filter(|r| *r > 0.0);
        match (limit, request) {
            (Some(l), Some(r)) if l / r > q(ratio).unwrap_or(f64::MAX) => errors.push(format!(
                "{resource} max limit to request ratio per {what} is {}, but provided ratio is {:.6}",
                text(ratio),
                l / r
            )),
            (Some(_), None) => errors.push(format!(
                "{resource} max limit to request ratio per {what} is {}, but no request is specified or request is 0",
                text(ratio)
            )),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> Vec<Value> {
        vec![json!({"type": "Container", "default": {"cpu": "500m", "memory": "128Mi"},
                    "defaultRequest": {"cpu": "100m"}, "max": {"cpu": "1"}, "min": {"memory": "64Mi"}})]
    }

    #[test]
    fn defaults_fill_unset_resources_and_are_noted() {
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "a", "resources": {"requests": {"memory": "100Mi"}}}]}});
        apply_defaults(&mut pod, &items());
        let r = &pod["spec"]["containers"][0]["resources"];
        assert_eq!(r["limits"], json!({"cpu": "500m", "memory": "128Mi"}));
        assert_eq!(r["requests"], json!({"memory": "100Mi", "cpu": "100m"}));
        assert_eq!(
            pod["metadata"]["annotations"][ANNOTATION],
            "LimitRanger plugin set: cpu request for container a; cpu, memory limit for container a"
        );
        assert!(check(&pod, &items()).is_empty());
    }

    #[test]
    fn bounds_use_upstream_messages() {
        let pod = json!({"spec": {"containers": [
            {"name": "a", "resources": {"limits": {"cpu": "2", "memory": "128Mi"}, "requests": {"cpu": "2"}}}]}});
        assert_eq!(
            check(&pod, &items()),
            vec![
                "minimum memory usage per Container is 64Mi.  No request is specified".to_string(),
                "maximum cpu usage per Container is 1, but limit is 2".to_string(),
            ]
        );
    }
}
