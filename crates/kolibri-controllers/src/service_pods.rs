//! What the Endpoints and EndpointSlice controllers share (upstream
//! `pkg/controller/util/endpoint`): which pods back a Service, and the port each Service
//! port reaches on a pod (numbers, or container port names).

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::runtime::reflector::Store;
use kube::ResourceExt;

use crate::informer::{Change, Informer};
use crate::queue::Queue;

/// Key of a Service: `namespace/name`.
pub(crate) fn key(ns: &str, name: &str) -> String {
    format!("{ns}/{name}")
}

/// Queues a Service's key when it changes and when a pod it selects (before or after the
/// change) does.
pub(crate) fn queue_changes(queue: &Arc<Queue<String>>, services: &Arc<Informer<Service>>, pods: &Arc<Informer<Pod>>) {
    services.on_change({
        let queue = queue.clone();
        move |change| {
            let svc = match change {
                Change::Applied { new, .. } => new,
                Change::Deleted(old) => old,
            };
            queue.add(key(&svc.namespace().unwrap_or_default(), &svc.name_any()));
        }
    });
    let service_store = services.store();
    pods.on_change({
        let queue = queue.clone();
        move |change| match change {
            Change::Applied { old, new } => queue_selecting(&service_store, [old.as_deref(), Some(new)], &queue),
            Change::Deleted(old) => queue_selecting(&service_store, [Some(old), None], &queue),
        }
    });
}

/// Queues the Services that select any of `pods`.
fn queue_selecting(services: &Store<Service>, pods: [Option<&Pod>; 2], queue: &Queue<String>) {
    for pod in pods.into_iter().flatten() {
        let Some(ns) = pod.namespace() else { continue };
        for svc in services.state().iter().filter(|s| s.namespace().as_deref() == Some(&ns)) {
            if selector(svc).is_some_and(|sel| matches(sel, pod)) {
                queue.add(key(&ns, &svc.name_any()));
            }
        }
    }
}

/// The pods of the Service's namespace its selector picks.
pub(crate) fn selected(svc: &Service, pods: &Store<Pod>) -> Vec<Arc<Pod>> {
    let ns = svc.namespace().unwrap_or_default();
    let Some(selector) = selector(svc) else { return Vec::new() };
    pods.state().into_iter().filter(|p| p.namespace().as_deref() == Some(ns.as_str()) && matches(selector, p)).collect()
}

/// The Service's selector, `None` for Services without one (their endpoints are the user's).
pub(crate) fn selector(svc: &Service) -> Option<&BTreeMap<String, String>> {
    svc.spec.as_ref()?.selector.as_ref()
}

/// Whether the pod carries every label of the selector.
pub(crate) fn matches(selector: &BTreeMap<String, String>, pod: &Pod) -> bool {
    let labels = pod.metadata.labels.as_ref();
    selector.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// A pod that can be an endpoint: it has an IP and has not finished.
pub(crate) fn has_address(pod: &Pod) -> bool {
    let status = pod.status.as_ref();
    let ip = status.and_then(|s| s.pod_ip.as_deref()).is_some_and(|ip| !ip.is_empty());
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or_default();
    ip && !matches!(phase, "Succeeded" | "Failed")
}

/// The pod's IP.
pub(crate) fn ip(pod: &Pod) -> String {
    pod.status.as_ref().and_then(|s| s.pod_ip.clone()).unwrap_or_default()
}

/// The pod's Ready condition.
pub(crate) fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

pub(crate) fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// Whether not-ready pods are published (`publishNotReadyAddresses`).
pub(crate) fn publish_not_ready(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.publish_not_ready_addresses).unwrap_or(false)
}

/// The port number a Service port reaches on `pod`; `None` when a named target port is
/// not a container port of the pod (upstream `podutil.FindPort`).
pub(crate) fn target_port(port: &ServicePort, pod: &Pod) -> Option<i32> {
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            let protocol = port.protocol.as_deref().unwrap_or("TCP");
            pod.spec.as_ref()?.containers.iter().flat_map(|c| c.ports.iter().flatten()).find_map(|p| {
                (p.name.as_deref() == Some(name.as_str()) && p.protocol.as_deref().unwrap_or("TCP") == protocol)
                    .then_some(p.container_port)
            })
        }
    }
}
