//! `metadata.managedFields` on the write path: who the writer is, the field manager of a
//! resource, recording Update operations, and the API errors of field ownership.

use kolibri_fieldmanager::{Error as FieldError, FieldManager, Managed, TypeRef};
use kolibri_resources::{FieldError as ValidationError, FieldPath, ResourceDef};
use serde_json::Value;

use super::{meta, Ctx};
use crate::status::{ApiError, ApiResult, Cause};

/// Upstream's `FieldManagerMaxLength`.
const MAX_FIELD_MANAGER_LENGTH: usize = 128;

/// The field manager of `def` for the request's subresource.
pub fn field_manager(def: &ResourceDef, subresource: Option<&str>) -> FieldManager {
    let ty = match &def.custom {
        Some(custom) => TypeRef::custom_cached(custom.schema.as_ref()),
        None => kolibri_resources::schema::definition_name(&def.group, &def.version, &def.kind)
            .and_then(TypeRef::builtin)
            .unwrap_or_else(TypeRef::deduced),
    };
    FieldManager::new(ty, &def.api_version(), subresource, def.has_status)
}

/// The writer of a non-apply request: `fieldManager`, else the User-Agent up to its
/// first `/` (upstream's `prefixFromUserAgent`).
pub fn manager_name(ctx: &Ctx) -> String {
    match ctx.query.get("fieldManager") {
        Some(m) => m.to_string(),
        None => ctx.user_agent.split('/').next().unwrap_or_default().to_string(),
    }
}

/// Validates `fieldManager` as upstream's `ValidateFieldManager`; `options` is the kind
/// of the request options (`CreateOptions`, `UpdateOptions`, `PatchOptions`).
pub fn validate_field_manager(ctx: &Ctx, options: &str, mut errors: Vec<ValidationError>) -> ApiResult<()> {
    let manager = ctx.query.get("fieldManager").unwrap_or_default();
    let path = FieldPath::new("fieldManager");
    if manager.len() > MAX_FIELD_MANAGER_LENGTH {
        errors.push(ValidationError::too_long(&path, MAX_FIELD_MANAGER_LENGTH));
    }
    for (i, c) in manager.char_indices() {
        if c.is_control() {
            errors.push(ValidationError::invalid(
                &path,
                manager,
                &format!("invalid character U+{:04X} (at position {i})", c as u32),
            ));
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid("meta.k8s.io", options, "", &errors))
}

/// Takes `metadata.managedFields` out of an object (what a client sent).
pub fn take(obj: &mut Value) -> Option<Value> {
    obj.get_mut("metadata").and_then(Value::as_object_mut).and_then(|m| m.remove("managedFields"))
}

/// Sets `metadata.managedFields`; an empty list is no field at all, as upstream omits it.
pub fn put(obj: &mut Value, managed: Option<Value>) {
    let m = meta::metadata_mut(obj);
    match managed {
        Some(Value::Array(a)) if a.is_empty() => {
            m.remove("managedFields");
        }
        Some(v) => {
            m.insert("managedFields".into(), v);
        }
        None => {
            m.remove("managedFields");
        }
    }
}

/// Records an Update (create, update, non-apply patch) from `old` (`None`: create) to
/// `new`. `requested` is the `managedFields` the client sent: a valid non-empty list
/// replaces the stored one, `[]` or `[{}]` resets it, anything else is ignored
/// (upstream's `decodeLiveOrNew`). Subresources always keep the stored list.
pub fn record_update(ctx: &Ctx, old: Option<&Value>, new: &mut Value, requested: Option<Value>) {
    let live_raw = old.and_then(|o| o.get("metadata")).and_then(|m| m.get("managedFields")).cloned();
    let from_live = |raw: &Option<Value>| Managed::decode(raw.as_ref()).unwrap_or_default();
    let (mut managed, kept_live) = if ctx.info.subresource.is_some() {
        (from_live(&live_raw), true)
    } else if Managed::is_reset_request(requested.as_ref()) {
        (Managed::default(), false)
    } else {
        match Managed::decode(requested.as_ref()) {
            Ok(m) if !m.entries.is_empty() => {
                let same = requested == live_raw;
                (m, same)
            }
            _ => (from_live(&live_raw), true),
        }
    };
    let fm = field_manager(&ctx.def, ctx.info.subresource.as_deref());
    let zero;
    let base = match old {
        Some(o) => o,
        // Built-in kinds are created from their Go zero value upstream, custom resources
        // from an empty object.
        None if ctx.def.custom.is_some() => {
            zero = Value::Object(serde_json::Map::new());
            &zero
        }
        None => {
            zero = fm.zero_object();
            &zero
        }
    };
    let changed = fm.update(base, new, &mut managed, &manager_name(ctx), &meta::now_rfc3339());
    if !changed && kept_live {
        // Byte for byte what is stored, so a no-op write stays a no-op.
        put(new, live_raw);
    } else {
        put(new, Some(managed.encode()));
    }
}

/// The API error of a failed apply.
pub fn apply_error(ctx: &Ctx, config: &Value, err: FieldError) -> ApiError {
    match err {
        FieldError::Conflicts(conflicts) => {
            let mut e = ApiError::bad_request(conflicts.message());
            e.code = http::StatusCode::CONFLICT;
            e.reason = "Conflict";
            e.causes = conflicts
                .causes()
                .into_iter()
                .map(|(message, field)| Cause { reason: "FieldManagerConflict".into(), message, field })
                .collect();
            e
        }
        FieldError::Type(type_error) => {
            // Upstream answers these as errors that are not a Status: 500 without a reason.
            let mut e = ApiError::internal("");
            e.reason = "";
            e.message = format!("failed to create typed patch object ({}): {type_error}", gvk_nn(ctx, config));
            e
        }
        other => ApiError::internal(other),
    }
}

/// `namespace/name; group/version, Kind=kind`, as upstream names an object in errors.
fn gvk_nn(ctx: &Ctx, config: &Value) -> String {
    let namespace = ctx.namespace().unwrap_or_default();
    let api_version = config.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = config.get("kind").and_then(Value::as_str).unwrap_or_default();
    format!("{namespace}/{}; {}", ctx.name(), gvk_string(api_version, kind))
}

/// Go's `GroupVersionKind.String()`: `apps/v1, Kind=Deployment`, `/v1, Kind=Pod`.
pub fn gvk_string(api_version: &str, kind: &str) -> String {
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    format!("{group}/{version}, Kind={kind}")
}
