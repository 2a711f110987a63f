//! POST of a new object, and `pods/binding`.

use std::sync::Arc;

use http::{Response, StatusCode};
use kolibri_store::StoreError;
use serde_json::{json, Value};

use super::managed_fields;
use super::write::{self, decode_object, Track};
use super::{decode_body, meta, Ctx};
use crate::keys;
use crate::response::Body;
use crate::status::{ApiError, ApiResult};
use crate::ApiServer;

/// How often a generated name is retried when it collides.
const GENERATE_NAME_ATTEMPTS: usize = 8;

pub async fn create(server: &Arc<ApiServer>, ctx: &Ctx) -> ApiResult<Response<Body>> {
    managed_fields::validate_field_manager(ctx, "CreateOptions", Vec::new())?;
    let (decoded, warnings) = decode_object(ctx)?;
    create_decoded(server, ctx, decoded, warnings, Track::Update).await
}

/// Creates a decoded object (a POST body, or what an apply to a missing object made).
pub async fn create_decoded(
    server: &Arc<ApiServer>,
    ctx: &Ctx,
    mut decoded: Value,
    warnings: Vec<String>,
    track: Track,
) -> ApiResult<Response<Body>> {
    let def = &ctx.def;
    let requested_managed = managed_fields::take(&mut decoded);
    let dry_run = ctx.query.dry_run()?;
    let generated = meta::meta_str(&decoded, "name").is_none_or(str::is_empty)
        && meta::meta_str(&decoded, "generateName").is_some_and(|s| !s.is_empty());

    for _ in 0..GENERATE_NAME_ATTEMPTS {
        let mut obj = decoded.clone();
        meta::prepare_create(&mut obj, def.strategy.sets_generation())?;
        def.strategy.default(&mut obj);
        def.strategy.prepare_for_create(&mut obj);
        let name = meta::name(&obj).to_string();
        let errors = def.strategy.validate_create(&obj);
        if !errors.is_empty() {
            return Err(ApiError::invalid(&def.group, &def.kind, &name, &errors));
        }
        match track {
            Track::Update => managed_fields::record_update(ctx, None, &mut obj, requested_managed.clone()),
            Track::Applied => managed_fields::put(&mut obj, requested_managed.clone()),
        }
        super::set_requester(def, &ctx.user, &mut obj);
        write::namespace_admission(server, def, &obj).await?;
        let allocation = server.admit_create(def, &mut obj).await?;
        if let Err(e) = server.admit_quota(def, &obj, dry_run).await {
            server.allocator.release(allocation);
            return Err(e);
        }
        if dry_run {
            server.allocator.release(allocation);
            return write::value_response(ctx, StatusCode::CREATED, &obj, &warnings);
        }
        let key = keys::object(def, ctx.namespace(), &name);
        match server.store.create(&key, crate::encoding::to_stored(&obj)).await {
            Ok(kv) => return write::stored_response(ctx, StatusCode::CREATED, &kv, &warnings),
            Err(StoreError::AlreadyExists(_)) if generated => {
                server.allocator.release(allocation);
                continue;
            }
            Err(e) => {
                server.allocator.release(allocation);
                return Err(write::store_error(def, &name, e));
            }
        }
    }
    Err(ApiError::service_unavailable(
        "failed to generate a unique name for the object after several attempts; please try again",
    ))
}

/// `POST pods/<name>/binding`: sets `spec.nodeName` of an unbound pod.
pub async fn binding(server: &Arc<ApiServer>, ctx: &Ctx) -> ApiResult<Response<Body>> {
    let def = &ctx.def;
    let binding = decode_body(ctx)?;
    let node = binding
        .get("target")
        .and_then(|t| t.get("name"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::invalid(
                "",
                "Binding",
                ctx.name(),
                &[kolibri_resources::FieldError {
                    error_type: kolibri_resources::FieldErrorType::Required,
                    field: "target.name".into(),
                    message: "target.name: Required value".into(),
                }],
            )
        })?
        .to_string();
    let name = ctx.name().to_string();
    let key = keys::object(def, ctx.namespace(), &name);
    for _ in 0..32 {
        let kv = super::read_current(server, def, &key, &name).await?;
        let mut pod: Value = serde_json::from_slice(&kv.value).map_err(ApiError::internal)?;
        if meta::is_deleting(&pod) {
            return Err(ApiError::conflict("", "pods", &name, "pod is being deleted, cannot be assigned to a host"));
        }
        // The Binding's uid is a precondition: a binding for a pod since deleted and
        // re-created under the same name must not place the new one.
        if let Some(uid) = binding.pointer("/metadata/uid").and_then(Value::as_str).filter(|u| !u.is_empty()) {
            let actual = meta::meta_str(&pod, "uid").unwrap_or_default();
            if uid != actual {
                return Err(ApiError::conflict(
                    "",
                    "pods",
                    &name,
                    &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"),
                ));
            }
        }
        if let Some(current) = pod.get("spec").and_then(|s| s.get("nodeName")).and_then(Value::as_str) {
            if !current.is_empty() {
                return Err(ApiError::conflict(
                    "",
                    "pods",
                    &name,
                    &format!("pod {name} is already assigned to node \"{current}\""),
                ));
            }
        }
        pod["spec"]["nodeName"] = json!(node);
        let conditions = pod["status"]["conditions"].as_array().cloned().unwrap_or_default();
        let mut conditions: Vec<Value> =
            conditions.into_iter().filter(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled")).collect();
        conditions.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null,
            "lastTransitionTime": meta::now_rfc3339()}));
        pod["status"]["conditions"] = Value::Array(conditions);
        match server.store.update(&key, crate::encoding::to_stored(&pod), kv.mod_revision).await {
            Ok(_) => {
                let body =
                    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
                return Ok(crate::response::json_value(StatusCode::CREATED, &body));
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(write::store_error(def, &name, e)),
        }
    }
    Err(ApiError::conflict("", "pods", &name, "too many concurrent updates, please try again"))
}
