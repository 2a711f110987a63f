//! Taint-based eviction (upstream's taint-eviction-controller): a pod on a node with a
//! NoExecute taint it does not tolerate is deleted at once; one it tolerates for
//! `tolerationSeconds` is deleted when that time has passed since the taint was added.
//! Each pod waits on a timer, not a poll.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::events::{Recorder, NORMAL};
use crate::informer::{Change, Informer};
use crate::queue::{self, Backoff, Next, Queue};
use crate::Error;

pub const NAME: &str = "taint-eviction";

fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref()?.node_name.as_deref().filter(|n| !n.is_empty())
}

fn pod_key(pod: &Pod) -> String {
    format!("{}/{}", pod.namespace().unwrap_or_default(), pod.name_any())
}

pub(crate) fn start(
    client: Client,
    nodes: &Arc<Informer<Node>>,
    pods: &Arc<Informer<Pod>>,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let queue = Queue::<String>::new(Backoff::DEFAULT);
    let pod_store = pods.store();
    nodes.on_change({
        let queue = queue.clone();
        let pod_store = pod_store.clone();
        move |change| {
            let Change::Applied { old, new } = change else { return };
            let taints = |n: &Node| n.spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default();
            if old.as_deref().map(taints) == Some(taints(new)) {
                return;
            }
            let name = new.name_any();
            for pod in pod_store.state().iter().filter(|p| node_of(p) == Some(name.as_str())) {
                queue.add(pod_key(pod));
            }
        }
    });
    pods.on_change({
        let queue = queue.clone();
        move |change| {
            if let Change::Applied { new, .. } = change {
                if node_of(new).is_some() && new.metadata.deletion_timestamp.is_none() {
                    queue.add(pod_key(new));
                }
            }
        }
    });
    let node_store = nodes.store();
    let recorder = Recorder::new(client.clone(), "taint-eviction-controller");
    let ready = futures::future::join(nodes.synced(), pods.synced());
    let ready = async move {
        ready.await;
    };
    tokio::spawn(queue::serve(NAME, queue, 2, ready, shutdown, move |key: String| {
        let (client, node_store, pod_store, recorder) =
            (client.clone(), node_store.clone(), pod_store.clone(), recorder.clone());
        async move { sync(&client, &node_store, &pod_store, &recorder, &key).await }
    }))
}

/// Upstream's `Toleration.ToleratesTaint`.
pub(crate) fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if t.effect.as_deref().is_some_and(|e| !e.is_empty() && e != taint.effect) {
        return false;
    }
    let key = t.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" => t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default(),
        _ => false,
    }
}

/// When the pod must go: `Some(0)` now, `Some(d)` after `d`, `None` never.
fn due_in(pod: &Pod, taints: &[Taint], now: Timestamp) -> Option<Duration> {
    let tolerations = pod.spec.as_ref().and_then(|s| s.tolerations.clone()).unwrap_or_default();
    let mut due: Option<Duration> = None;
    for taint in taints.iter().filter(|t| t.effect == "NoExecute") {
        let matching: Vec<&Toleration> = tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if matching.is_empty() {
            return Some(Duration::ZERO);
        }
        // The shortest bounded toleration counts; an unbounded one tolerates for good.
        if matching.iter().any(|t| t.toleration_seconds.is_none()) {
            continue;
        }
        let seconds = matching.iter().filter_map(|t| t.toleration_seconds).min().unwrap_or(0).max(0);
        let added = taint.time_added.as_ref().map_or(now, |t| t.0);
        let deadline = added + std::time::Duration::from_secs(seconds as u64);
        let left = if deadline > now { deadline.duration_since(now).unsigned_abs() } else { Duration::ZERO };
        due = Some(due.map_or(left, |d| d.min(left)));
    }
    due
}

async fn sync(
    client: &Client,
    nodes: &Store<Node>,
    pods: &Store<Pod>,
    recorder: &Recorder,
    key: &str,
) -> Result<Next, Error> {
    let (ns, name) = key.split_once('/').unwrap_or(("", key));
    let Some(pod) = pods.get(&ObjectRef::new(name).within(ns)) else { return Ok(Next::Done) };
    if pod.metadata.deletion_timestamp.is_some() {
        return Ok(Next::Done);
    }
    let Some(node) = node_of(&pod).and_then(|n| nodes.get(&ObjectRef::new(n))) else { return Ok(Next::Done) };
    let taints = node.spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default();
    match due_in(&pod, &taints, Timestamp::now()) {
        None => Ok(Next::Done),
        Some(d) if !d.is_zero() => Ok(Next::After(d)),
        Some(_) => {
            let api = Api::<Pod>::namespaced(client.clone(), ns);
            recorder.record(&*pod, NORMAL, "TaintManagerEviction", format!("Marking for deletion Pod {ns}/{name}"));
            let condition = json!({ "status": { "conditions": [{
                "type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                "message": "Taint manager: deleting due to NoExecute taint",
                "lastTransitionTime": Timestamp::now().to_string(),
            }] } });
            // Strategic merge keeps the other conditions (they merge by type).
            match api.patch_status(name, &PatchParams::default(), &Patch::Strategic(&condition)).await {
                Ok(_) => {}
                Err(e) if crate::api_reason(&e, 404) => return Ok(Next::Done),
                Err(e) => return Err(e.into()),
            }
            match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => Ok(Next::Done),
                Err(e) if crate::api_reason(&e, 404) => Ok(Next::Done),
                Err(e) => Err(e.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, secs_ago: i64) -> Taint {
        let added = Timestamp::now() - std::time::Duration::from_secs(secs_ago as u64);
        Taint {
            key: key.into(),
            effect: "NoExecute".into(),
            time_added: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(added)),
            value: None,
        }
    }

    fn pod(tolerations: serde_json::Value) -> Pod {
        serde_json::from_value(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [], "tolerations": tolerations}}),
        )
        .unwrap()
    }

    #[test]
    fn tolerations_decide_when_pods_go() {
        let now = Timestamp::now();
        let taints = [taint("node.kubernetes.io/unreachable", 10)];
        assert_eq!(due_in(&pod(json!([])), &taints, now), Some(Duration::ZERO));
        let bounded = pod(
            json!([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]),
        );
        let left = due_in(&bounded, &taints, now).unwrap();
        assert!(left > Duration::from_secs(285) && left <= Duration::from_secs(291), "{left:?}");
        let forever = pod(json!([{"operator": "Exists"}]));
        assert_eq!(due_in(&forever, &taints, now), None);
        let expired =
            pod(json!([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 5}]));
        assert_eq!(due_in(&expired, &taints, now), Some(Duration::ZERO));
    }
}
