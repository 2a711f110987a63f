//! What every write shares: decoding the body into the kind, field validation,
//! namespace admission, and the read-modify-write loop of updates and patches.

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use kolibri_resources::ResourceDef;
use kolibri_store::{KeyValue, StoreError};
use serde_json::{json, Value};

use super::managed_fields;
use super::meta;
use super::{decode_body, object_response, Ctx};
use crate::encoding;
use crate::keys;
use crate::response::{self, Body};
use crate::status::{ApiError, ApiResult};
use crate::ApiServer;

/// How many times a write without a resourceVersion precondition retries on conflict.
const MAX_RETRIES: usize = 32;

/// Decodes the request body into the resource's kind: checks apiVersion/kind, the
/// namespace, and unknown fields. Returns the canonical object and warnings.
pub fn decode_object(ctx: &Ctx) -> ApiResult<(Value, Vec<String>)> {
    let obj = decode_body(ctx)?;
    prepare_decoded(ctx, obj)
}

/// The part of [`decode_object`] after the bytes are parsed (also used after patching).
pub fn prepare_decoded(ctx: &Ctx, mut obj: Value) -> ApiResult<(Value, Vec<String>)> {
    check_kind(ctx, &mut obj)?;
    check_namespace_field(ctx, &mut obj)?;
    let (obj, unknown) = ctx.def.strategy.normalize(obj).map_err(|e| {
        ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {e}",
            ctx.def.kind, ctx.def.version, ctx.def.kind
        ))
    })?;
    let warnings = field_validation(ctx, &unknown).map_err(|mut e| {
        e.message = format!(
            "{} in version \"{}\" cannot be handled as a {}: {}",
            ctx.def.kind, ctx.def.version, ctx.def.kind, e.message
        );
        e
    })?;
    Ok((obj, warnings))
}

/// Checks `apiVersion`/`kind` of a body against the endpoint, filling them if absent.
fn check_kind(ctx: &Ctx, obj: &mut Value) -> ApiResult<()> {
    let def = &ctx.def;
    let Some(map) = obj.as_object_mut() else {
        return Err(ApiError::bad_request("the body of the request must be a JSON object"));
    };
    let expected_version = def.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".into(), json!(expected_version));
        }
        Some(v) if v == expected_version => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({expected_version})"
            )))
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".into(), json!(def.kind));
        }
        Some(k) if k == def.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: the kind in the data ({k}) does not match the expected kind ({})",
                k, def.version, def.kind, def.kind
            )))
        }
    }
    Ok(())
}

fn check_namespace_field(ctx: &Ctx, obj: &mut Value) -> ApiResult<()> {
    let url_ns = ctx.namespace();
    let m = meta::metadata_mut(obj);
    let body_ns = m.get("namespace").and_then(Value::as_str).filter(|s| !s.is_empty());
    match (ctx.def.namespaced, url_ns, body_ns) {
        (true, Some(u), Some(b)) if u != b => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        (true, Some(u), _) => {
            m.insert("namespace".into(), json!(u));
            Ok(())
        }
        (true, None, _) => Err(ApiError::bad_request("the server could not find the requested resource")),
        (false, _, _) => {
            m.remove("namespace");
            Ok(())
        }
    }
}

/// Applies `fieldValidation` (Strict, Warn (default), Ignore) to unknown fields.
fn field_validation(ctx: &Ctx, unknown: &[String]) -> ApiResult<Vec<String>> {
    let messages: Vec<String> = unknown.iter().map(|f| format!("unknown field \"{f}\"")).collect();
    match ctx.query.get("fieldValidation").unwrap_or("Warn") {
        "Ignore" => Ok(Vec::new()),
        "Warn" => Ok(messages),
        "Strict" if messages.is_empty() => Ok(Vec::new()),
        "Strict" => Err(ApiError::bad_request(format!("strict decoding error: {}", messages.join(", ")))),
        other => Err(ApiError::bad_request(format!(
            "fieldValidation: Unsupported value: \"{other}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
        ))),
    }
}

/// Refuses new objects in a namespace that is missing or terminating (upstream's
/// NamespaceLifecycle admission).
pub async fn namespace_admission(server: &Arc<ApiServer>, def: &ResourceDef, obj: &Value) -> ApiResult<()> {
    if !def.namespaced {
        return Ok(());
    }
    let ns = meta::meta_str(obj, "namespace").unwrap_or_default();
    let registry = server.registry();
    let Some(ns_def) = registry.get("", "v1", "namespaces") else { return Ok(()) };
    let key = keys::object(ns_def, None, ns);
    let kv = server.store.get(&key).await.map_err(ApiError::internal)?;
    let Some(kv) = kv else {
        return Err(ApiError::not_found("", "namespaces", ns));
    };
    let ns_obj: Value = serde_json::from_slice(&kv.value).map_err(ApiError::internal)?;
    if meta::is_deleting(&ns_obj) {
        let mut err = ApiError::forbidden_object(
            &def.group,
            &def.plural,
            meta::name(obj),
            &format!("unable to create new content in namespace {ns} because it is being terminated"),
        );
        err.causes.push(crate::status::Cause {
            reason: "NamespaceTerminating".into(),
            message: format!("namespace {ns} is being terminated"),
            field: "metadata.namespace".into(),
        });
        return Err(err);
    }
    Ok(())
}

/// Maps a store error of a write on `name` to the API error upstream answers.
pub fn store_error(def: &ResourceDef, name: &str, err: StoreError) -> ApiError {
    match err {
        StoreError::AlreadyExists(_) => ApiError::already_exists(&def.group, &def.plural, name),
        StoreError::NotFound(_) => ApiError::not_found(&def.group, &def.plural, name),
        StoreError::Conflict { .. } => ApiError::modified(&def.group, &def.plural, name),
        other => ApiError::internal(other),
    }
}

/// The response for a stored object, with warnings.
pub fn stored_response(ctx: &Ctx, code: StatusCode, kv: &KeyValue, warnings: &[String]) -> ApiResult<Response<Body>> {
    let wire = encoding::with_resource_version(&kv.value, kv.mod_revision);
    let mut resp = object_response(ctx, code, wire)?;
    response::add_warnings(&mut resp, warnings);
    Ok(resp)
}

/// The response for an object that was not stored (dry run).
pub fn value_response(ctx: &Ctx, code: StatusCode, obj: &Value, warnings: &[String]) -> ApiResult<Response<Body>> {
    let wire = Bytes::from(serde_json::to_vec(obj).map_err(ApiError::internal)?);
    let mut resp = object_response(ctx, code, wire)?;
    response::add_warnings(&mut resp, warnings);
    Ok(resp)
}

/// How a write's `managedFields` come about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Track {
    /// Record an Update operation by the request's manager.
    Update,
    /// The desired object carries its new `managedFields` already (server-side apply).
    Applied,
}

/// Updates one object by read-modify-write: `make` turns the current object into the
/// desired one (the body of a PUT, or the current object with a patch applied).
/// Retries on conflicts unless the desired object carries a resourceVersion
/// precondition, as upstream's `GuaranteedUpdate`. Records the write as an Update in
/// `managedFields`.
pub async fn update_object<F>(server: &Arc<ApiServer>, ctx: &Ctx, make: F) -> ApiResult<Response<Body>>
where
    F: FnMut(&Value) -> ApiResult<(Value, Vec<String>)>,
{
    update_object_tracked(server, ctx, Track::Update, make).await
}

/// [`update_object`] with the way `managedFields` are made.
pub async fn update_object_tracked<F>(
    server: &Arc<ApiServer>,
    ctx: &Ctx,
    track: Track,
    mut make: F,
) -> ApiResult<Response<Body>>
where
    F: FnMut(&Value) -> ApiResult<(Value, Vec<String>)>,
{
    let def = &ctx.def;
    let name = ctx.name().to_string();
    let key = keys::object(def, ctx.namespace(), &name);
    let dry_run = ctx.query.dry_run()?;
    for _ in 0..MAX_RETRIES {
        let old_kv = super::read_current(server, def, &key, &name).await?;
        // A custom resource stored through another version is read as this one.
        let stored = encoding::as_version(&old_kv.value, encoding::served_api_version(def).as_deref());
        let old = encoding::decode_stored(&stored, old_kv.mod_revision).map_err(ApiError::internal)?;
        let (mut new, warnings) = make(&old)?;
        let requested_managed = managed_fields::take(&mut new);

        let requested_rv = meta::meta_str(&new, "resourceVersion").unwrap_or_default().to_string();
        let explicit_rv = !requested_rv.is_empty();
        if explicit_rv && requested_rv != old_kv.mod_revision.to_string() {
            if requested_rv.parse::<i64>().is_err() {
                return Err(ApiError::bad_request(format!(
                    "invalid resource version \"{requested_rv}\": must be a number"
                )));
            }
            return Err(ApiError::modified(&def.group, &def.plural, &name));
        }
        let new_name = meta::name(&new);
        if !new_name.is_empty() && new_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({new_name}) does not match the name on the URL ({name})"
            )));
        }
        meta::metadata_mut(&mut new).insert("name".into(), json!(name));
        meta::keep_system_fields(&mut new, &old);

        match ctx.info.subresource.as_deref() {
            Some("status") => new = with_field_of(&old, &new, "status"),
            Some("finalize") => {
                let mut merged = old.clone();
                merged["spec"]["finalizers"] =
                    new.get("spec").and_then(|s| s.get("finalizers")).cloned().unwrap_or(json!([]));
                new = merged;
            }
            _ => {
                def.strategy.default(&mut new);
                def.strategy.prepare_for_update(&mut new, &old);
                if def.strategy.bumps_generation(&new, &old) {
                    meta::bump_generation(&mut new);
                }
            }
        }
        let errors = def.strategy.validate_update(&new, &old);
        if !errors.is_empty() {
            return Err(ApiError::invalid(&def.group, &def.kind, &name, &errors));
        }
        // Node ports a Service needs now; given back below unless the write is stored.
        let allocation = if ctx.info.subresource.is_none() && crate::allocator::is_service(def) {
            server.allocator.allocate_update(&mut new, &old).map_err(|e| ApiError::invalid("", "Service", &name, &e))?
        } else {
            Default::default()
        };
        let give_back = |allocation| server.allocator.release(allocation);
        match track {
            Track::Update => managed_fields::record_update(ctx, Some(&old), &mut new, requested_managed),
            Track::Applied => managed_fields::put(&mut new, requested_managed),
        }
        meta::metadata_mut(&mut new).remove("resourceVersion");
        let bytes = encoding::to_stored(&new);
        if bytes == old_kv.value {
            // A no-op write changes nothing, not even the resourceVersion.
            give_back(allocation);
            return stored_response(ctx, StatusCode::OK, &old_kv, &warnings);
        }
        if ctx.info.subresource.is_none() {
            if let Err(e) = server.admit_quota_update(def, &new, &old, dry_run).await {
                give_back(allocation);
                return Err(e);
            }
        }
        if dry_run {
            give_back(allocation);
            meta::metadata_mut(&mut new).insert("resourceVersion".into(), json!(old_kv.mod_revision.to_string()));
            return value_response(ctx, StatusCode::OK, &new, &warnings);
        }
        // The last finalizer of an object being deleted is gone: the object goes. A
        // namespace also waits for its `spec.finalizers` (upstream's
        // ShouldDeleteNamespaceDuringUpdate).
        let spec_finalizers = def.group.is_empty()
            && def.plural == "namespaces"
            && new.pointer("/spec/finalizers").and_then(Value::as_array).is_some_and(|f| !f.is_empty());
        if meta::is_deleting(&old) && meta::finalizers(&new).is_empty() && !spec_finalizers {
            give_back(allocation);
            return match server.store.delete(&key, Some(old_kv.mod_revision)).await {
                Ok(kv) => {
                    server.on_deleted(def, &new);
                    let mut kv = kv;
                    kv.value = bytes;
                    stored_response(ctx, StatusCode::OK, &kv, &warnings)
                }
                // Written meanwhile: the next pass re-checks any precondition against it.
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => Err(store_error(def, &name, e)),
            };
        }
        match server.store.update(&key, bytes, old_kv.mod_revision).await {
            Ok(kv) => {
                if crate::allocator::is_service(def) {
                    server.allocator.release_dropped(&new, &old);
                }
                return stored_response(ctx, StatusCode::OK, &kv, &warnings);
            }
            // Written meanwhile: the next pass re-checks any precondition against it.
            Err(StoreError::Conflict { .. }) => give_back(allocation),
            Err(e) => {
                give_back(allocation);
                return Err(store_error(def, &name, e));
            }
        }
    }
    Err(ApiError::conflict(&def.group, &def.plural, &name, "too many concurrent updates, please try again"))
}

/// `base` with its `field` taken from `from` (status updates change only `status`).
fn with_field_of(base: &Value, from: &Value, field: &str) -> Value {
    let mut out = base.clone();
    if let Some(map) = out.as_object_mut() {
        match from.get(field) {
            Some(v) => {
                map.insert(field.into(), v.clone());
            }
            None => {
                map.remove(field);
            }
        }
    }
    out
}
