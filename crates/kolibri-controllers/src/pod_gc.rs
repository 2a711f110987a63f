//! Pod garbage collection (upstream's pod-garbage-collector): pods bound to a node that no
//! longer exists are deleted at once (with a `DisruptionTarget` condition), and finished
//! pods (Succeeded or Failed) beyond `--terminated-pod-gc-threshold` are deleted oldest
//! first. Upstream checks every 20 s; here the checks follow pod and node changes.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::informer::{Change, Informer};
use crate::queue::{self, Backoff, Next, Queue};
use crate::Error;

pub const NAME: &str = "pod-garbage-collector";
/// Upstream's `--terminated-pod-gc-threshold` default.
pub const DEFAULT_THRESHOLD: usize = 12_500;
/// A pod naming a node never seen is left this long, in case the node is about to appear
/// (upstream's quarantine).
const QUARANTINE: Duration = Duration::from_secs(40);
/// The key of the terminated-pods check (pod keys are `namespace/name`).
const TERMINATED: &str = "";

fn is_terminated(pod: &Pod) -> bool {
    matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref()?.node_name.as_deref().filter(|n| !n.is_empty())
}

pub(crate) fn start(
    client: Client,
    pods: &Arc<Informer<Pod>>,
    nodes: &Arc<Informer<Node>>,
    threshold: usize,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let queue = Queue::<String>::new(Backoff::DEFAULT);
    pods.on_change({
        let queue = queue.clone();
        move |change| {
            let Change::Applied { old, new } = change else { return };
            if is_terminated(new) && !old.as_deref().is_some_and(is_terminated) {
                queue.add(TERMINATED.to_string());
            }
            if node_of(new).is_some() && old.as_deref().and_then(node_of).is_none() {
                // Newly bound: its node should exist by the end of the quarantine.
                queue.add_after(format!("{}/{}", new.namespace().unwrap_or_default(), new.name_any()), QUARANTINE);
            }
        }
    });
    let pod_store = pods.store();
    nodes.on_change({
        let queue = queue.clone();
        move |change| {
            if let Change::Deleted(node) = change {
                let name = node.name_any();
                for pod in pod_store.state().iter().filter(|p| node_of(p) == Some(name.as_str())) {
                    queue.add(format!("{}/{}", pod.namespace().unwrap_or_default(), pod.name_any()));
                }
            }
        }
    });
    let (pod_store, node_store) = (pods.store(), nodes.store());
    let ready = futures::future::join(pods.synced(), nodes.synced());
    let ready = async move {
        ready.await;
    };
    tokio::spawn(queue::serve(NAME, queue, 1, ready, shutdown, move |key: String| {
        let (client, pod_store, node_store) = (client.clone(), pod_store.clone(), node_store.clone());
        async move {
            if key == TERMINATED {
                collect_terminated(&client, &pod_store, threshold).await
            } else {
                collect_orphan(&client, &pod_store, &node_store, &key).await
            }
        }
    }))
}

/// Deletes the oldest finished pods beyond the threshold.
async fn collect_terminated(client: &Client, pods: &Store<Pod>, threshold: usize) -> Result<Next, Error> {
    let mut finished: Vec<Arc<Pod>> = pods.state().into_iter().filter(|p| is_terminated(p)).collect();
    if finished.len() <= threshold {
        return Ok(Next::Done);
    }
    finished.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let excess = finished.len() - threshold;
    for pod in finished.into_iter().take(excess) {
        let api = Api::<Pod>::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
        match api.delete(&pod.name_any(), &DeleteParams::default()).await {
            Ok(_) => tracing::info!(pod = %pod.name_any(), "deleted a finished pod beyond the threshold"),
            Err(e) if crate::api_reason(&e, 404) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Next::Done)
}

/// Deletes a pod whose node does not exist, at once (nothing will ever run it).
async fn collect_orphan(client: &Client, pods: &Store<Pod>, nodes: &Store<Node>, key: &str) -> Result<Next, Error> {
    let (ns, name) = key.split_once('/').unwrap_or(("", key));
    let Some(pod) = pods.get(&ObjectRef::new(name).within(ns)) else { return Ok(Next::Done) };
    let Some(node) = node_of(&pod) else { return Ok(Next::Done) };
    if nodes.get(&ObjectRef::new(node)).is_some() {
        return Ok(Next::Done);
    }
    let api = Api::<Pod>::namespaced(client.clone(), ns);
    let condition = json!({ "status": { "conditions": [{
        "type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
        "message": "PodGC: node no longer exists", "lastTransitionTime": Timestamp::now().to_string(),
    }] } });
    match api.patch_status(name, &PatchParams::default(), &Patch::Strategic(&condition)).await {
        Ok(_) => {}
        Err(e) if crate::api_reason(&e, 404) => return Ok(Next::Done),
        Err(e) => return Err(e.into()),
    }
    match api.delete(name, &DeleteParams { grace_period_seconds: Some(0), ..Default::default() }).await {
        Ok(_) => {
            tracing::info!(pod = %key, node, "deleted a pod of a node that no longer exists");
            Ok(Next::Done)
        }
        Err(e) if crate::api_reason(&e, 404) => Ok(Next::Done),
        Err(e) => Err(e.into()),
    }
}
