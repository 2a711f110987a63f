//! Deleting a definition deletes its objects first (upstream's CRD finalizer controller):
//! objects without finalizers go at once, objects with finalizers are marked deleted and
//! waited for; then the `customresourcecleanup` finalizer is removed.

use std::sync::Arc;

use kolibri_store::{ListOptions, StoreError};
use serde_json::{json, Value};

use super::{conditions, CLEANUP_FINALIZER, PREFIX};
use crate::handlers::meta;
use crate::{encoding, ApiServer};

pub(super) async fn run(server: Arc<ApiServer>, name: String) {
    // One cleanup per definition at a time; later events find it running.
    if !server.crd_cleanups.lock().map(|mut s| s.insert(name.clone())).unwrap_or(false) {
        return;
    }
    let mut shutdown = server.shutdown.clone();
    for attempt in 0u32.. {
        match step(&server, &name).await {
            Ok(true) | Err(_) => break,
            Ok(false) => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(super::backoff(attempt)) => {}
            _ = shutdown.changed() => break,
        }
    }
    if let Ok(mut s) = server.crd_cleanups.lock() {
        s.remove(&name);
    }
}

/// One pass; `Ok(true)` when the definition needs nothing more.
async fn step(server: &Arc<ApiServer>, name: &str) -> Result<bool, StoreError> {
    let key = format!("{PREFIX}{name}");
    let Some(kv) = server.store.get(&key).await? else {
        server.stop_serving(name);
        return Ok(true);
    };
    let Ok(mut crd) = encoding::decode_stored(&kv.value, kv.mod_revision) else { return Ok(true) };
    let finalizers = meta::finalizers(&crd);
    if !finalizers.iter().any(|f| f == CLEANUP_FINALIZER) {
        return Ok(true);
    }
    let group = crd.pointer("/spec/group").and_then(Value::as_str).unwrap_or_default().to_string();
    let plural = crd
        .pointer("/status/acceptedNames/plural")
        .or_else(|| crd.pointer("/spec/names/plural"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let remaining = delete_instances(server, &format!("/registry/{group}/{plural}/")).await?;
    if remaining > 0 {
        let before = crd.clone();
        conditions::set(
            &mut crd,
            "Terminating",
            "True",
            "InstanceDeletionInProgress",
            "CustomResource deletion is in progress",
        );
        if crd != before {
            write(server, &key, &crd, kv.mod_revision).await?;
        }
        return Ok(false);
    }
    conditions::set(&mut crd, "Terminating", "False", "InstanceDeletionCompleted", "removed all instances");
    let rest: Vec<String> = finalizers.into_iter().filter(|f| f != CLEANUP_FINALIZER).collect();
    if rest.is_empty() {
        match server.store.delete(&key, Some(kv.mod_revision)).await {
            Ok(_) | Err(StoreError::NotFound(_)) => server.stop_serving(name),
            // Changed meanwhile: its event reconciles again.
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    } else {
        meta::metadata_mut(&mut crd).insert("finalizers".into(), json!(rest));
        write(server, &key, &crd, kv.mod_revision).await?;
    }
    Ok(true)
}

async fn write(server: &ApiServer, key: &str, obj: &Value, revision: i64) -> Result<(), StoreError> {
    let mut obj = obj.clone();
    meta::metadata_mut(&mut obj).remove("resourceVersion");
    match server.store.update(key, encoding::to_stored(&obj), revision).await {
        Ok(_) | Err(StoreError::Conflict { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes the objects under `prefix`; returns how many are still there (held by finalizers).
async fn delete_instances(server: &ApiServer, prefix: &str) -> Result<usize, StoreError> {
    let listed = server.store.list(prefix, ListOptions::default()).await?;
    let mut remaining = 0;
    for kv in listed.items {
        let Ok(mut obj) = encoding::decode_stored(&kv.value, kv.mod_revision) else { continue };
        if meta::finalizers(&obj).is_empty() {
            match server.store.delete(&kv.key, Some(kv.mod_revision)).await {
                Ok(_) | Err(StoreError::NotFound(_)) => {}
                Err(StoreError::Conflict { .. }) => remaining += 1,
                Err(e) => return Err(e),
            }
            continue;
        }
        remaining += 1;
        if !meta::is_deleting(&obj) {
            let m = meta::metadata_mut(&mut obj);
            m.insert("deletionTimestamp".into(), json!(meta::now_rfc3339()));
            m.insert("deletionGracePeriodSeconds".into(), json!(0));
            write(server, &kv.key, &obj, kv.mod_revision).await?;
        }
    }
    Ok(remaining)
}
