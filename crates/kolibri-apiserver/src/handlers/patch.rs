//! PATCH of an object or its `status`: JSON patch, merge patch, strategic merge patch,
//! and server-side apply.

use std::sync::Arc;

use http::Response;
use kolibri_fieldmanager::Managed;
use kolibri_resources::{FieldError, FieldPath};
use serde_json::{json, Value};

use super::managed_fields;
use super::write::{prepare_decoded, update_object, update_object_tracked, Track};
use super::{create, meta, Ctx};
use crate::keys;
use crate::patch::{self, PatchError, PatchType};
use crate::response::Body;
use crate::status::{ApiError, ApiResult};
use crate::ApiServer;

pub async fn patch(server: &Arc<ApiServer>, ctx: &Ctx) -> ApiResult<Response<Body>> {
    let def = &ctx.def;
    let patch_type = PatchType::from_content_type(&ctx.content_type).ok_or_else(|| {
        ApiError::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml{}",
            if def.protobuf { ", application/strategic-merge-patch+json" } else { "" }
        ))
    })?;
    validate_options(ctx, patch_type)?;
    if patch_type == PatchType::Apply {
        return apply(server, ctx).await;
    }
    let definition = if def.protobuf {
        kolibri_resources::schema::definition_name(&def.group, &def.version, &def.kind)
    } else {
        None
    };
    update_object(server, ctx, |old| {
        let patched = patch::apply(patch_type, old, &ctx.body, definition).map_err(|e| patch_error(ctx, e))?;
        prepare_decoded(ctx, patched)
    })
    .await
}

/// Upstream's `ValidatePatchOptions`: `force` only with apply, `fieldManager` required
/// for apply, and its length and characters.
fn validate_options(ctx: &Ctx, patch_type: PatchType) -> ApiResult<()> {
    let mut errors = Vec::new();
    if patch_type != PatchType::Apply {
        if ctx.query.0.contains_key("force") {
            errors.push(FieldError::forbidden(&FieldPath::new("force"), "may not be specified for non-apply patch"));
        }
    } else if ctx.query.get("fieldManager").is_none() {
        errors.push(FieldError::required(&FieldPath::new("fieldManager"), "is required for apply patch"));
    }
    managed_fields::validate_field_manager(ctx, "PatchOptions", errors)
}

/// Server-side apply: merges the applied configuration into the object (creating it
/// when missing) and records the manager's ownership.
async fn apply(server: &Arc<ApiServer>, ctx: &Ctx) -> ApiResult<Response<Body>> {
    let def = &ctx.def;
    let config = decode_config(ctx)?;
    let manager = ctx.query.get("fieldManager").unwrap_or_default();
    let force = ctx.query.flag("force");
    let fm = managed_fields::field_manager(def, ctx.info.subresource.as_deref());

    let key = keys::object(def, ctx.namespace(), ctx.name());
    let exists = server.store.get(&key).await.map_err(ApiError::internal)?.is_some();
    if !exists && ctx.info.subresource.is_none() {
        let mut empty = json!({"apiVersion": def.api_version(), "kind": def.kind, "metadata": {"name": ctx.name()}});
        if let Some(ns) = ctx.namespace() {
            empty["metadata"]["namespace"] = json!(ns);
        }
        let mut managed = Managed::default();
        let mut obj = fm
            .apply(&empty, &config, &mut managed, manager, force, &meta::now_rfc3339())
            .map_err(|e| managed_fields::apply_error(ctx, &config, e))?;
        check_name(ctx, &obj)?;
        managed_fields::put(&mut obj, Some(managed.encode()));
        let (decoded, warnings) = prepare_decoded(ctx, obj)?;
        return create::create_decoded(server, ctx, decoded, warnings, Track::Applied).await;
    }
    let config_has_rv = meta::meta_str(&config, "resourceVersion").is_some_and(|s| !s.is_empty());
    update_object_tracked(server, ctx, Track::Applied, |old| {
        let mut managed = Managed::decode(old.get("metadata").and_then(|m| m.get("managedFields"))).unwrap_or_default();
        let mut obj = fm
            .apply(old, &config, &mut managed, manager, force, &meta::now_rfc3339())
            .map_err(|e| managed_fields::apply_error(ctx, &config, e))?;
        if !config_has_rv {
            // Only a resourceVersion in the configuration is a precondition.
            meta::metadata_mut(&mut obj).remove("resourceVersion");
        }
        check_name(ctx, &obj)?;
        managed_fields::put(&mut obj, Some(managed.encode()));
        prepare_decoded(ctx, obj)
    })
    .await
}

/// The applied configuration: YAML (or JSON) of the endpoint's kind, without
/// `managedFields` (upstream's version check and `structuredMergeManager`).
fn decode_config(ctx: &Ctx) -> ApiResult<Value> {
    let yaml: serde_yaml::Value =
        serde_yaml::from_slice(&ctx.body).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    let config: Value =
        serde_json::to_value(yaml).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    let config = match config {
        Value::Null => json!({}),
        obj @ Value::Object(_) => obj,
        _ => return Err(ApiError::bad_request("error decoding YAML: the applied configuration must be an object")),
    };
    let api_version = config.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = config.get("kind").and_then(Value::as_str).unwrap_or_default();
    if api_version != ctx.def.api_version() || kind != ctx.def.kind {
        return Err(ApiError::bad_request(format!(
            "invalid object type: {}",
            managed_fields::gvk_string(api_version, kind)
        )));
    }
    if config.get("metadata").and_then(|m| m.get("managedFields")).is_some_and(|v| !v.is_null()) {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    Ok(config)
}

fn check_name(ctx: &Ctx, obj: &Value) -> ApiResult<()> {
    let name = meta::name(obj);
    if !name.is_empty() && name != ctx.name() {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({name}) does not match the name on the URL ({})",
            ctx.name()
        )));
    }
    Ok(())
}

fn patch_error(ctx: &Ctx, err: PatchError) -> ApiError {
    match err {
        PatchError::BadRequest(m) => ApiError::bad_request(m),
        PatchError::Invalid(m) => {
            tracing::debug!(error = %m, "patch rejected");
            let mut e = ApiError::bad_request("the server rejected our request due to an error in our request");
            e.code = http::StatusCode::UNPROCESSABLE_ENTITY;
            e.reason = "Invalid";
            e
        }
        PatchError::Unsupported(m) => ApiError::unsupported_media_type(if m.is_empty() {
            format!("the body of the request was in an unknown format for {}", ctx.def.plural)
        } else {
            m
        }),
    }
}
