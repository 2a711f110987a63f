//! `status.conditions` of a CustomResourceDefinition.

use serde_json::{json, Value};

/// Whether condition `ty` is `True`.
pub(super) fn is_true(obj: &Value, ty: &str) -> bool {
    find(obj, ty).is_some_and(|c| c.get("status").and_then(Value::as_str) == Some("True"))
}

fn find<'a>(obj: &'a Value, ty: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")?.as_array()?.iter().find(|c| c.get("type").and_then(Value::as_str) == Some(ty))
}

/// Sets condition `ty`; `lastTransitionTime` moves only when the status changes.
pub(super) fn set(obj: &mut Value, ty: &str, status: &str, reason: &str, message: &str) {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let previous = find(obj, ty).cloned();
    let transition = match &previous {
        Some(p) if p.get("status").and_then(Value::as_str) == Some(status) => {
            p.get("lastTransitionTime").cloned().unwrap_or_else(|| json!(now))
        }
        _ => json!(now),
    };
    let condition = json!({
        "type": ty, "status": status, "lastTransitionTime": transition, "reason": reason, "message": message,
    });
    if previous.as_ref() == Some(&condition) {
        return;
    }
    if !obj.get("status").is_some_and(Value::is_object) {
        obj["status"] = json!({});
    }
    let list = &mut obj["status"]["conditions"];
    if !list.is_array() {
        *list = json!([]);
    }
    if let Some(items) = list.as_array_mut() {
        match items.iter_mut().find(|c| c.get("type").and_then(Value::as_str) == Some(ty)) {
            Some(existing) => *existing = condition,
            None => items.push(condition),
        }
    }
}
