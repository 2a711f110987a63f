//! DELETE of an object or a collection: preconditions, finalizers, graceful deletion.

use std::sync::Arc;

use http::{Response, StatusCode};
use kolibri_store::{KeyValue, StoreError};
use serde_json::{json, Value};

use super::write::{self, store_error};
use super::{meta, Ctx};
use crate::keys;
use crate::response::{self, Body};
use crate::status::{success_status, ApiError, ApiResult};
use crate::{encoding, ApiServer};

/// Namespaces that exist in every cluster and cannot be deleted.
const PROTECTED_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

/// `DeleteOptions` from the body or the query.
#[derive(Debug, Default, Clone)]
pub(super) struct Options {
    grace_period: Option<i64>,
    propagation: Option<String>,
    uid: Option<String>,
    pub(super) resource_version: Option<String>,
}

impl Options {
    /// The options of a `DeleteOptions` object (a DELETE body, or an Eviction's).
    pub(super) fn from_body(body: &Value) -> Self {
        let mut opts = Options {
            grace_period: body.get("gracePeriodSeconds").and_then(Value::as_i64),
            propagation: body.get("propagationPolicy").and_then(Value::as_str).map(str::to_string),
            uid: body.pointer("/preconditions/uid").and_then(Value::as_str).map(str::to_string),
            resource_version: body
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        if body.get("orphanDependents").and_then(Value::as_bool) == Some(true) && opts.propagation.is_none() {
            opts.propagation = Some("Orphan".into());
        }
        opts
    }
}

fn options(ctx: &Ctx) -> ApiResult<Options> {
    let mut opts = Options::default();
    if !ctx.body.is_empty() {
        opts = Options::from_body(&super::decode_body(ctx)?);
    }
    if let Some(g) = ctx.query.get("gracePeriodSeconds") {
        opts.grace_period =
            Some(g.parse().map_err(|_| ApiError::bad_request(format!("invalid gracePeriodSeconds \"{g}\"")))?);
    }
    if let Some(p) = ctx.query.get("propagationPolicy") {
        opts.propagation = Some(p.to_string());
    }
    match opts.propagation.as_deref() {
        None | Some("Background" | "Foreground" | "Orphan") => Ok(opts),
        Some(other) => Err(ApiError::invalid("", "DeleteOptions", "", &[kolibri_resources::FieldError {
            error_type: kolibri_resources::FieldErrorType::NotSupported,
            field: "propagationPolicy".into(),
            message: format!(
                "propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
            ),
        }])),
    }
}

/// What happened to one object.
pub(super) enum Deleted {
    /// Gone from the store.
    Now(KeyValue, Value),
    /// Still there, with a deletionTimestamp (finalizers or graceful termination pending).
    Pending(KeyValue),
    /// Dry run: what would have been answered.
    DryRun(Value),
}

pub async fn delete(server: &Arc<ApiServer>, ctx: &Ctx) -> ApiResult<Response<Body>> {
    let def = &ctx.def;
    if def.plural == "namespaces" && def.group.is_empty() && PROTECTED_NAMESPACES.contains(&ctx.name()) {
        return Err(ApiError::forbidden_object("", "namespaces", ctx.name(), "this namespace may not be deleted"));
    }
    let opts = options(ctx)?;
    let dry_run = ctx.query.dry_run()?;
    match delete_one(server, ctx, ctx.name(), ctx.namespace(), &opts, dry_run).await? {
        Deleted::Now(kv, obj) => {
            let uid = meta::meta_str(&obj, "uid").unwrap_or_default();
            if ctx.format.shape == crate::negotiate::Shape::Object && returns_object(def) {
                write::stored_response(ctx, StatusCode::OK, &kv, &[])
            } else {
                Ok(response::json_value(StatusCode::OK, &success_status(&def.group, &def.plural, ctx.name(), uid)))
            }
        }
        Deleted::Pending(kv) => write::stored_response(ctx, StatusCode::OK, &kv, &[]),
        Deleted::DryRun(obj) => write::value_response(ctx, StatusCode::OK, &obj, &[]),
    }
}

/// Upstream registries that answer an immediate deletion with the object itself.
fn returns_object(def: &kolibri_resources::ResourceDef) -> bool {
    def.group.is_empty() && matches!(def.plural.as_str(), "pods" | "namespaces" | "services")
}

pub(super) async fn delete_one(
    server: &Arc<ApiServer>,
    ctx: &Ctx,
    name: &str,
    namespace: Option<&str>,
    opts: &Options,
    dry_run: bool,
) -> ApiResult<Deleted> {
    let def = &ctx.def;
    let key = keys::object(def, namespace, name);
    for _ in 0..32 {
        let kv = super::read_current(server, def, &key, name).await?;
        let obj = encoding::decode_stored(&kv.value, kv.mod_revision).map_err(ApiError::internal)?;
        if let Some(uid) = &opts.uid {
            let actual = meta::meta_str(&obj, "uid").unwrap_or_default();
            if uid != actual {
                return Err(ApiError::conflict(
                    &def.group,
                    &def.plural,
                    name,
                    &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"),
                ));
            }
        }
        if let Some(rv) = &opts.resource_version {
            if *rv != kv.mod_revision.to_string() {
                return Err(ApiError::conflict(
                    &def.group,
                    &def.plural,
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                        kv.mod_revision
                    ),
                ));
            }
        }

        let mut finalizers = meta::finalizers(&obj);
        match opts.propagation.as_deref() {
            Some("Foreground") if !finalizers.iter().any(|f| f == "foregroundDeletion") => {
                finalizers.push("foregroundDeletion".into())
            }
            Some("Orphan") if !finalizers.iter().any(|f| f == "orphan") => finalizers.push("orphan".into()),
            _ => {}
        }
        let crd = crate::crd::is_crd(def) && !meta::is_deleting(&obj);
        if crd {
            crate::crd::add_cleanup_finalizer(&mut finalizers);
        }
        let namespace_finalizers = def.group.is_empty()
            && def.plural == "namespaces"
            && obj.pointer("/spec/finalizers").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
        let grace = graceful_seconds(def, &obj, opts.grace_period);
        let pending = !finalizers.is_empty() || namespace_finalizers || grace > 0;

        if !pending {
            if dry_run {
                return Ok(Deleted::DryRun(obj));
            }
            match server.store.delete(&key, Some(kv.mod_revision)).await {
                Ok(deleted) => {
                    server.on_deleted(def, &obj);
                    return Ok(Deleted::Now(deleted, obj));
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(store_error(def, name, e)),
            }
        }

        if namespace_finalizers && meta::is_deleting(&obj) {
            return Err(ApiError::conflict(
                "",
                "namespaces",
                name,
                "The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.",
            ));
        }
        let mut new = obj.clone();
        if crd {
            crate::crd::mark_terminating(&mut new);
        }
        if meta::is_deleting(&obj) && grace == 0 && finalizers == meta::finalizers(&obj) {
            // Already being deleted; nothing more to record.
            return Ok(Deleted::Pending(kv));
        }
        let m = meta::metadata_mut(&mut new);
        if !m.contains_key("deletionTimestamp") {
            let at = chrono::Utc::now() + chrono::Duration::seconds(grace);
            m.insert("deletionTimestamp".into(), json!(at.format("%Y-%m-%dT%H:%M:%SZ").to_string()));
        }
        m.insert("deletionGracePeriodSeconds".into(), json!(grace));
        if !finalizers.is_empty() {
            m.insert("finalizers".into(), json!(finalizers));
        }
        m.remove("resourceVersion");
        if def.strategy.sets_generation() {
            meta::bump_generation(&mut new);
        }
        if namespace_finalizers {
            new["status"]["phase"] = json!("Terminating");
        }
        if dry_run {
            return Ok(Deleted::DryRun(new));
        }
        match server.store.update(&key, encoding::to_stored(&new), kv.mod_revision).await {
            Ok(kv) => return Ok(Deleted::Pending(kv)),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(store_error(def, name, e)),
        }
    }
    Err(ApiError::conflict(&def.group, &def.plural, name, "too many concurrent updates, please try again"))
}

/// The grace period of a deletion: pods bound to a node and not yet terminal get their
/// termination grace period (the node agent removes them); everything else goes at once.
fn graceful_seconds(def: &kolibri_resources::ResourceDef, obj: &Value, requested: Option<i64>) -> i64 {
    if !(def.group.is_empty() && def.plural == "pods") {
        return 0;
    }
    let bound = obj.pointer("/spec/nodeName").and_then(Value::as_str).is_some_and(|n| !n.is_empty());
    let terminal = matches!(obj.pointer("/status/phase").and_then(Value::as_str), Some("Succeeded" | "Failed"));
    if !bound || terminal {
        return 0;
    }
    let grace =
        requested.or_else(|| obj.pointer("/spec/terminationGracePeriodSeconds").and_then(Value::as_i64)).unwrap_or(30);
    // Upstream treats a negative grace period as 1 second.
    if grace < 0 {
        1
    } else {
        grace
    }
}

pub async fn delete_collection(server: &Arc<ApiServer>, ctx: &Ctx) -> ApiResult<Response<Body>> {
    let def = &ctx.def;
    let opts = options(ctx)?;
    let dry_run = ctx.query.dry_run()?;
    let items = super::list::matching(server, ctx).await?;
    let mut out = Vec::with_capacity(items.len());
    for (_, obj) in items {
        let name = meta::name(&obj).to_string();
        let namespace = meta::meta_str(&obj, "namespace").map(str::to_string);
        match delete_one(server, ctx, &name, namespace.as_deref(), &opts, dry_run).await {
            Ok(Deleted::Now(_, obj)) | Ok(Deleted::DryRun(obj)) => out.push(obj),
            Ok(Deleted::Pending(kv)) => {
                out.push(encoding::decode_stored(&kv.value, kv.mod_revision).map_err(ApiError::internal)?)
            }
            Err(e) if e.code == StatusCode::NOT_FOUND => {}
            Err(e) => return Err(e),
        }
    }
    let list = json!({
        "kind": def.list_kind,
        "apiVersion": def.api_version(),
        "metadata": { "resourceVersion": server.store.current_revision().to_string() },
        "items": out,
    });
    Ok(response::json_value(StatusCode::OK, &list))
}
