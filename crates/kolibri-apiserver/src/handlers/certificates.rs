//! CertificateSigningRequests: the requester recorded on create, and the `approval`
//! subresource that `kubectl certificate approve|deny` writes (upstream
//! `pkg/registry/certificates/certificates/strategy.go` and the condition validation).

use std::sync::Arc;

use http::{Response, StatusCode};
use kolibri_resources::{FieldError, FieldErrorType, ResourceDef};
use kolibri_store::StoreError;
use serde_json::{json, Value};

use super::write::{self, decode_object};
use super::{managed_fields, meta, Ctx};
use crate::identity::UserInfo;
use crate::response::Body;
use crate::status::{ApiError, ApiResult};
use crate::{encoding, keys, ApiServer};

/// Whether `def` is the CertificateSigningRequest resource.
fn is_csr(def: &ResourceDef) -> bool {
    def.group == "certificates.k8s.io" && def.plural == "certificatesigningrequests"
}

/// A new request carries who asked for it, never what the body claims, and no status:
/// nobody creates a request that is approved already.
pub(crate) fn set_requester(def: &ResourceDef, user: &UserInfo, obj: &mut Value) {
    if !is_csr(def) {
        return;
    }
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else { return };
    for field in ["username", "uid", "groups", "extra"] {
        spec.remove(field);
    }
    spec.insert("username".into(), json!(user.name));
    if !user.uid.is_empty() {
        spec.insert("uid".into(), json!(user.uid));
    }
    if !user.groups.is_empty() {
        spec.insert("groups".into(), json!(user.groups));
    }
    if !user.extra.is_empty() {
        spec.insert("extra".into(), json!(user.extra));
    }
    if let Some(m) = obj.as_object_mut() {
        m.insert("status".into(), json!({}));
    }
}

/// `PUT .../approval`: only `status.conditions` change; timestamps are filled in.
pub async fn update_approval(server: &Arc<ApiServer>, ctx: &Ctx) -> ApiResult<Response<Body>> {
    let def = &ctx.def;
    let name = ctx.name().to_string();
    let key = keys::object(def, None, &name);
    let (mut desired, warnings) = decode_object(ctx)?;
    let requested_managed = managed_fields::take(&mut desired);
    let requested_rv = meta::meta_str(&desired, "resourceVersion").unwrap_or_default().to_string();
    let dry_run = ctx.query.dry_run()?;
    for _ in 0..32 {
        let kv = super::read_current(server, def, &key, &name).await?;
        if !requested_rv.is_empty() && requested_rv != kv.mod_revision.to_string() {
            return Err(ApiError::modified(&def.group, &def.plural, &name));
        }
        let old = encoding::decode_stored(&kv.value, kv.mod_revision).map_err(ApiError::internal)?;
        let mut new = old.clone();
        let mut conditions: Vec<Value> =
            desired.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
        fill_timestamps(&mut conditions, &old);
        new["status"]["conditions"] = Value::Array(conditions);
        let errors = validate_conditions(&new, &old);
        if !errors.is_empty() {
            return Err(ApiError::invalid(&def.group, &def.kind, &name, &errors));
        }
        managed_fields::record_update(ctx, Some(&old), &mut new, requested_managed.clone());
        meta::metadata_mut(&mut new).remove("resourceVersion");
        let bytes = encoding::to_stored(&new);
        if bytes == kv.value {
            return write::stored_response(ctx, StatusCode::OK, &kv, &warnings);
        }
        if dry_run {
            meta::metadata_mut(&mut new).insert("resourceVersion".into(), json!(kv.mod_revision.to_string()));
            return write::value_response(ctx, StatusCode::OK, &new, &warnings);
        }
        match server.store.update(&key, bytes, kv.mod_revision).await {
            Ok(kv) => return write::stored_response(ctx, StatusCode::OK, &kv, &warnings),
            Err(StoreError::Conflict { .. }) if requested_rv.is_empty() => continue,
            Err(e) => return Err(write::store_error(def, &name, e)),
        }
    }
    Err(ApiError::conflict(&def.group, &def.plural, &name, "too many concurrent updates, please try again"))
}

/// Upstream's `populateConditionTimestamps`: `lastUpdateTime` defaults to now;
/// `lastTransitionTime` to that of the old condition of the same type and status, else now.
fn fill_timestamps(conditions: &mut [Value], old: &Value) {
    let now = meta::now_rfc3339();
    let old_conditions: Vec<Value> =
        old.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    for c in conditions.iter_mut() {
        let Some(map) = c.as_object_mut() else { continue };
        let unset = |m: &serde_json::Map<String, Value>, f: &str| m.get(f).is_none_or(|v| v.is_null() || v == "");
        if unset(map, "lastUpdateTime") {
            map.insert("lastUpdateTime".into(), json!(now));
        }
        if unset(map, "lastTransitionTime") {
            let same = old_conditions
                .iter()
                .find(|o| o.get("type") == map.get("type") && o.get("status") == map.get("status"));
            let at = same.and_then(|o| o.get("lastTransitionTime")).filter(|v| v.is_string()).cloned();
            map.insert("lastTransitionTime".into(), at.unwrap_or_else(|| json!(now)));
        }
    }
}

/// Upstream's condition rules: a type and a status each; Approved, Denied and Failed only
/// as "True"; not Approved and Denied together; no type twice; and a decision, once made,
/// is not taken back.
fn validate_conditions(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let conditions: Vec<Value> =
        new.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    let (mut approved, mut denied) = (false, false);
    let mut seen: Vec<String> = Vec::new();
    for (i, c) in conditions.iter().enumerate() {
        let path = format!("status.conditions[{i}]");
        let kind = c.get("type").and_then(Value::as_str).unwrap_or_default();
        let status = c.get("status").and_then(Value::as_str).unwrap_or_default();
        if kind.is_empty() {
            errors.push(error(FieldErrorType::Required, &format!("{path}.type"), "Required value".into()));
        }
        let only_true = matches!(kind, "Approved" | "Denied" | "Failed");
        if status.is_empty() {
            errors.push(error(FieldErrorType::Required, &format!("{path}.status"), "Required value".into()));
        } else if (only_true && status != "True") || !matches!(status, "True" | "False" | "Unknown") {
            let supported = if only_true { "\"True\"" } else { "\"False\", \"True\", \"Unknown\"" };
            errors.push(error(
                FieldErrorType::NotSupported,
                &format!("{path}.status"),
                format!("Unsupported value: \"{status}\": supported values: {supported}"),
            ));
        }
        match kind {
            "Approved" => {
                approved = true;
                if denied {
                    errors.push(error(
                        FieldErrorType::Invalid,
                        &format!("{path}.type"),
                        "Invalid value: \"Approved\": Approved condition may not be set once the Denied condition is set"
                            .into(),
                    ));
                }
            }
            "Denied" => {
                denied = true;
                if approved {
                    errors.push(error(
                        FieldErrorType::Invalid,
                        &format!("{path}.type"),
                        "Invalid value: \"Denied\": Denied condition may not be set once the Approved condition is set"
                            .into(),
                    ));
                }
            }
            _ => {}
        }
        if seen.iter().any(|s| s == kind) {
            errors.push(error(
                FieldErrorType::Duplicate,
                &format!("{path}.type"),
                format!("Duplicate value: \"{kind}\""),
            ));
        }
        seen.push(kind.to_string());
    }
    for decided in ["Approved", "Denied"] {
        let had = old
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| cs.iter().any(|c| c.get("type").and_then(Value::as_str) == Some(decided)));
        if had && !seen.iter().any(|s| s == decided) {
            errors.push(error(
                FieldErrorType::Forbidden,
                "status.conditions",
                format!("Forbidden: updates may not remove a condition of type \"{decided}\""),
            ));
        }
    }
    errors
}

fn error(error_type: FieldErrorType, field: &str, message: String) -> FieldError {
    FieldError { error_type, field: field.to_string(), message: format!("{field}: {message}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approved_and_denied_exclude_each_other() {
        let new = json!({"status": {"conditions": [
            {"type": "Approved", "status": "True"}, {"type": "Denied", "status": "True"}]}});
        let errors = validate_conditions(&new, &json!({}));
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].message,
            "status.conditions[1].type: Invalid value: \"Denied\": Denied condition may not be set once the Approved condition is set"
        );
        let new = json!({"status": {"conditions": [{"type": "Approved", "status": "False"}]}});
        assert_eq!(
            validate_conditions(&new, &json!({}))[0].message,
            "status.conditions[0].status: Unsupported value: \"False\": supported values: \"True\""
        );
    }

    #[test]
    fn timestamps_are_filled() {
        let mut conditions = vec![json!({"type": "Approved", "status": "True"})];
        fill_timestamps(&mut conditions, &json!({}));
        assert!(conditions[0]["lastUpdateTime"].is_string());
        assert!(conditions[0]["lastTransitionTime"].is_string());
    }
}
