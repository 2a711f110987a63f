//! The `scale` subresource: an `autoscaling/v1 Scale` view of `spec.replicas`, or of the
//! paths a custom resource's definition names.

use std::sync::Arc;

use http::{Response, StatusCode};
use kolibri_resources::ResourceDef;
use serde_json::{json, Value};

use super::write::update_object;
use super::{decode_body, meta, Ctx};
use crate::keys;
use crate::patch::{self, PatchType};
use crate::response::Body;
use crate::status::{ApiError, ApiResult};
use crate::{encoding, ApiServer};

/// Where a kind keeps its replicas and selector, as JSON pointers.
struct Paths {
    spec_replicas: String,
    status_replicas: String,
    /// For custom resources: a string selector at this pointer.
    label_selector: Option<String>,
}

impl Paths {
    fn of(def: &ResourceDef) -> Paths {
        match def.custom.as_ref().and_then(|c| c.scale.as_ref()) {
            Some(s) => Paths {
                spec_replicas: pointer(&s.spec_replicas_path),
                status_replicas: pointer(&s.status_replicas_path),
                label_selector: s.label_selector_path.as_deref().map(pointer),
            },
            None => Paths {
                spec_replicas: "/spec/replicas".into(),
                status_replicas: "/status/replicas".into(),
                label_selector: None,
            },
        }
    }
}

/// `.spec.replicas` → `/spec/replicas`.
fn pointer(path: &str) -> String {
    path.split('.').filter(|p| !p.is_empty()).fold(String::new(), |acc, p| format!("{acc}/{p}"))
}

/// Sets the value at a JSON pointer, making the objects on the way.
fn set_at(obj: &mut Value, ptr: &str, value: Value) {
    let mut cur = obj;
    let parts: Vec<&str> = ptr.split('/').skip(1).collect();
    for (i, part) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let Some(map) = cur.as_object_mut() else { return };
        if i + 1 == parts.len() {
            map.insert((*part).to_string(), value);
            return;
        }
        cur = map.entry((*part).to_string()).or_insert_with(|| json!({}));
    }
}

/// The Scale of a workload object in wire form.
fn scale_of(paths: &Paths, obj: &Value) -> Value {
    let m = meta::metadata(obj).cloned().unwrap_or_default();
    let mut metadata = serde_json::Map::new();
    for key in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
        if let Some(v) = m.get(key) {
            metadata.insert(key.into(), v.clone());
        }
    }
    let spec_replicas = obj.pointer(&paths.spec_replicas).and_then(Value::as_i64).unwrap_or(0);
    let status_replicas = obj.pointer(&paths.status_replicas).and_then(Value::as_i64).unwrap_or(0);
    let mut status = json!({ "replicas": status_replicas });
    let selector = match &paths.label_selector {
        Some(ptr) => obj.pointer(ptr).and_then(Value::as_str).map(str::to_string),
        None => obj.pointer("/spec/selector").map(selector_string),
    };
    if let Some(selector) = selector.filter(|s| !s.is_empty()) {
        status["selector"] = json!(selector);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": { "replicas": spec_replicas },
        "status": status,
    })
}

/// A label selector (`matchLabels`/`matchExpressions`, or a plain map for
/// ReplicationControllers) in its string form.
fn selector_string(selector: &Value) -> String {
    let Some(map) = selector.as_object() else { return String::new() };
    let mut parts = Vec::new();
    let labels = map.get("matchLabels").and_then(Value::as_object).or(if map.contains_key("matchExpressions") {
        None
    } else {
        Some(map)
    });
    if let Some(labels) = labels {
        for (k, v) in labels {
            parts.push(format!("{k}={}", v.as_str().unwrap_or_default()));
        }
    }
    for expr in map.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
        let key = expr.get("key").and_then(Value::as_str).unwrap_or_default();
        let values: Vec<&str> =
            expr.get("values").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        match expr.get("operator").and_then(Value::as_str).unwrap_or_default() {
            "In" => parts.push(format!("{key} in ({})", values.join(","))),
            "NotIn" => parts.push(format!("{key} notin ({})", values.join(","))),
            "Exists" => parts.push(key.to_string()),
            "DoesNotExist" => parts.push(format!("!{key}")),
            _ => {}
        }
    }
    parts.join(",")
}

pub async fn get(server: &Arc<ApiServer>, ctx: &Ctx) -> ApiResult<Response<Body>> {
    let def = &ctx.def;
    let key = keys::object(def, ctx.namespace(), ctx.name());
    let kv = super::read_current(server, def, &key, ctx.name()).await?;
    let obj = encoding::decode_stored(&kv.value, kv.mod_revision).map_err(ApiError::internal)?;
    let scale = serde_json::to_vec(&scale_of(&Paths::of(def), &obj)).map_err(ApiError::internal)?;
    // `kubectl get --subresource=scale` asks for a Table.
    super::object_response(ctx, StatusCode::OK, bytes::Bytes::from(scale))
}

/// PUT or PATCH of `scale`: the new `spec.replicas` goes to the parent object.
pub async fn write(server: &Arc<ApiServer>, ctx: &Ctx) -> ApiResult<Response<Body>> {
    let patch_type = if ctx.info.verb == "patch" {
        Some(
            PatchType::from_content_type(&ctx.content_type)
                .ok_or_else(|| ApiError::unsupported_media_type("the body of the request was in an unknown format"))?,
        )
    } else {
        None
    };
    let put_body = if patch_type.is_none() { Some(decode_body(ctx)?) } else { None };
    let definition = kolibri_resources::schema::definition_name("autoscaling", "v1", "Scale");
    let paths = Paths::of(&ctx.def);
    let resp = update_object(server, ctx, |old| {
        let current = scale_of(&paths, old);
        let desired = match (&put_body, patch_type) {
            (Some(body), _) => body.clone(),
            (None, Some(t)) => {
                patch::apply(t, &current, &ctx.body, definition).map_err(|e| ApiError::bad_request(e.to_string()))?
            }
            (None, None) => current.clone(),
        };
        let replicas = desired.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0);
        if replicas < 0 {
            return Err(ApiError::invalid(
                "autoscaling",
                "Scale",
                ctx.name(),
                &[kolibri_resources::FieldError {
                    error_type: kolibri_resources::FieldErrorType::Invalid,
                    field: "spec.replicas".into(),
                    message: format!("spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0"),
                }],
            ));
        }
        let mut new = old.clone();
        set_at(&mut new, &paths.spec_replicas, json!(replicas));
        // A resourceVersion in the Scale is a precondition on the parent.
        let rv = desired.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null);
        meta::metadata_mut(&mut new).insert("resourceVersion".into(), rv);
        Ok((new, Vec::new()))
    })
    .await?;
    // Answer with the Scale of the stored parent.
    let (parts, body) = resp.into_parts();
    let bytes = http_body_util::BodyExt::collect(body).await.map(|c| c.to_bytes()).unwrap_or_default();
    let obj: Value = serde_json::from_slice(&bytes).map_err(ApiError::internal)?;
    if obj.get("kind").and_then(Value::as_str) == Some("Status") {
        return Ok(Response::from_parts(parts, crate::response::full(bytes)));
    }
    Ok(crate::response::json_value(parts.status, &scale_of(&paths, &obj)))
}
