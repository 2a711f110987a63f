//! Printers of apps/v1 workloads.

use super::*;

pub(super) fn replicas(obj: &Value) -> i64 {
    obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)
}

pub(super) fn template_cells(obj: &Value, template: &str) -> (String, String) {
    containers_images(obj.pointer(template))
}

pub(super) fn print_deployment(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (containers, images) = template_cells(obj, "/spec/template/spec");
    vec![
        name(obj),
        format!("{}/{}", int(obj, "/status/readyReplicas"), replicas(obj)).into(),
        int(obj, "/status/updatedReplicas").into(),
        int(obj, "/status/availableReplicas").into(),
        age(obj, now),
        containers.into(),
        images.into(),
        format_selector(obj.pointer("/spec/selector")).into(),
    ]
}

pub(super) fn print_replica_set(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    replica_row(obj, now, format_selector(obj.pointer("/spec/selector")))
}

/// ReplicationControllers print like ReplicaSets; only their selector is a plain map.
pub(super) fn print_replication_controller(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    replica_row(obj, now, format_labels(obj.pointer("/spec/selector")))
}

fn replica_row(obj: &Value, now: DateTime<Utc>, selector: String) -> Vec<Value> {
    let (containers, images) = template_cells(obj, "/spec/template/spec");
    vec![
        name(obj),
        replicas(obj).into(),
        int(obj, "/status/replicas").into(),
        int(obj, "/status/readyReplicas").into(),
        age(obj, now),
        containers.into(),
        images.into(),
        selector.into(),
    ]
}

pub(super) fn print_stateful_set(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (containers, images) = template_cells(obj, "/spec/template/spec");
    vec![
        name(obj),
        format!("{}/{}", int(obj, "/status/readyReplicas"), replicas(obj)).into(),
        age(obj, now),
        containers.into(),
        images.into(),
    ]
}

pub(super) fn print_daemon_set(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (containers, images) = template_cells(obj, "/spec/template/spec");
    vec![
        name(obj),
        int(obj, "/status/desiredNumberScheduled").into(),
        int(obj, "/status/currentNumberScheduled").into(),
        int(obj, "/status/numberReady").into(),
        int(obj, "/status/updatedNumberScheduled").into(),
        int(obj, "/status/numberAvailable").into(),
        format_labels(obj.pointer("/spec/template/spec/nodeSelector")).into(),
        age(obj, now),
        containers.into(),
        images.into(),
        format_selector(obj.pointer("/spec/selector")).into(),
    ]
}

/// Upstream's printControllerRevision: the controlling owner as `kind.group/name`, lowercased.
pub(super) fn print_controller_revision(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let owner = arr(obj, "/metadata/ownerReferences")
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool).unwrap_or(false));
    let controller = match owner {
        Some(r) => {
            let group = st(r, "/apiVersion").rsplit_once('/').map_or("", |(g, _)| g);
            let kind = st(r, "/kind");
            let group_kind = if group.is_empty() { kind.to_string() } else { format!("{kind}.{group}") };
            if group_kind.is_empty() {
                st(r, "/name").to_string()
            } else {
                format!("{}/{}", group_kind.to_lowercase(), st(r, "/name"))
            }
        }
        None => NONE.into(),
    };
    vec![name(obj), controller.into(), int(obj, "/revision").into(), age(obj, now)]
}
