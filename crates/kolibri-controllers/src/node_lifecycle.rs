//! Node lifecycle (upstream's node-lifecycle-controller): a node whose kubelet stops
//! renewing its Lease in `kube-node-lease` (and posting status) for the grace period has
//! its conditions set to Unknown and gets the `node.kubernetes.io/unreachable` taints; a
//! node reporting NotReady gets the `not-ready` taints; both go when it is Ready again.
//! The check of a healthy node is a timer at the moment its heartbeat would expire.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::informer::{Change, Informer};
use crate::queue::{self, Backoff, Next, Queue};
use crate::Error;

pub const NAME: &str = "node-lifecycle";
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
/// Upstream's `--node-monitor-grace-period` default.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(40);
/// The conditions upstream turns Unknown with Ready.
const CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

pub(crate) fn start(
    client: Client,
    nodes: &Arc<Informer<Node>>,
    leases: &Arc<Informer<Lease>>,
    grace: Duration,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let queue = Queue::<String>::new(Backoff::DEFAULT);
    nodes.on_change({
        let queue = queue.clone();
        move |change| {
            if let Change::Applied { new, .. } = change {
                queue.add(new.name_any());
            }
        }
    });
    leases.on_change({
        let queue = queue.clone();
        move |change| {
            if let Change::Applied { new, .. } = change {
                queue.add(new.name_any());
            }
        }
    });
    let (node_store, lease_store) = (nodes.store(), leases.store());
    let ready = futures::future::join(nodes.synced(), leases.synced());
    let ready = async move {
        ready.await;
    };
    tokio::spawn(queue::serve(NAME, queue, 1, ready, shutdown, move |name: String| {
        let (client, node_store, lease_store) = (client.clone(), node_store.clone(), lease_store.clone());
        async move { sync(&client, &node_store, &lease_store, grace, &name).await }
    }))
}

fn condition<'a>(node: &'a Node, ty: &str) -> Option<&'a NodeCondition> {
    node.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == ty)
}

/// The last sign of life: the Lease renewal, the Ready heartbeat, or the creation.
fn last_heartbeat(node: &Node, lease: Option<&Lease>) -> Timestamp {
    let lease_time = lease.and_then(|l| l.spec.as_ref()?.renew_time.as_ref()).map(|t| t.0);
    let heartbeat = condition(node, "Ready").and_then(|c| c.last_heartbeat_time.as_ref()).map(|t| t.0);
    let created = node.metadata.creation_timestamp.as_ref().map(|t| t.0);
    [lease_time, heartbeat, created].into_iter().flatten().max().unwrap_or_else(Timestamp::now)
}

async fn sync(
    client: &Client,
    nodes: &Store<Node>,
    leases: &Store<Lease>,
    grace: Duration,
    name: &str,
) -> Result<Next, Error> {
    let Some(node) = nodes.get(&ObjectRef::new(name)) else { return Ok(Next::Done) };
    let lease = leases.get(&ObjectRef::new(name).within(LEASE_NAMESPACE));
    let now = Timestamp::now();
    let last = last_heartbeat(&node, lease.as_deref());
    let silent = now.duration_since(last).unsigned_abs();
    let api = Api::<Node>::all(client.clone());

    let expired = silent >= grace;
    if expired {
        mark_unknown(&api, &node).await?;
    }
    let ready = condition(&node, "Ready").map(|c| c.status.as_str());
    let wanted: &[&str] = match (expired, ready) {
        (true, _) | (false, Some("Unknown")) => &[UNREACHABLE],
        (false, Some("False")) => &[NOT_READY],
        (false, Some("True")) => &[],
        // Never reported yet, within the grace period: nothing to say.
        (false, _) => &[],
    };
    set_taints(&api, &node, wanted).await?;
    if expired {
        Ok(Next::Done)
    } else {
        // Look again when the heartbeat would be too old; a renewal comes back sooner.
        Ok(Next::After(grace.saturating_sub(silent) + Duration::from_millis(10)))
    }
}

/// Ready and the pressure conditions become Unknown, as upstream's
/// `tryUpdateNodeHealth` does for a silent kubelet.
async fn mark_unknown(api: &Api<Node>, node: &Node) -> Result<(), Error> {
    let now = Time(Timestamp::now());
    let mut conditions: Vec<NodeCondition> =
        node.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
    let mut changed = false;
    if !conditions.iter().any(|c| c.type_ == "Ready") {
        conditions.push(NodeCondition {
            type_: "Ready".into(),
            status: "Unknown".into(),
            reason: Some("NodeStatusNeverUpdated".into()),
            message: Some("Kubelet never posted node status.".into()),
            last_heartbeat_time: node.metadata.creation_timestamp.clone(),
            last_transition_time: Some(now.clone()),
        });
        changed = true;
    }
    for c in conditions.iter_mut().filter(|c| CONDITIONS.contains(&c.type_.as_str())) {
        if c.status != "Unknown" {
            c.status = "Unknown".into();
            c.reason = Some("NodeStatusUnknown".into());
            c.message = Some("Kubelet stopped posting node status.".into());
            c.last_transition_time = Some(now.clone());
            changed = true;
        }
    }
    if changed {
        let patch = json!({ "status": { "conditions": conditions } });
        match api.patch_status(&node.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => {}
            Err(e) if crate::api_reason(&e, 404) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(node = %node.name_any(), "node stopped reporting; its conditions are Unknown");
    }
    Ok(())
}

/// Keeps exactly the `wanted` lifecycle taints (NoSchedule and NoExecute each) on the node;
/// other taints are left alone.
async fn set_taints(api: &Api<Node>, node: &Node, wanted: &[&str]) -> Result<(), Error> {
    let current: Vec<Taint> = node.spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default();
    let ours = |t: &Taint| t.key == UNREACHABLE || t.key == NOT_READY;
    let mut next: Vec<Taint> =
        current.iter().filter(|t| !ours(t) || wanted.contains(&t.key.as_str())).cloned().collect();
    for key in wanted {
        for effect in ["NoSchedule", "NoExecute"] {
            if !next.iter().any(|t| t.key == *key && t.effect == effect) {
                next.push(Taint {
                    key: (*key).into(),
                    effect: effect.into(),
                    time_added: (effect == "NoExecute").then(|| Time(Timestamp::now())),
                    value: None,
                });
            }
        }
    }
    if next == current {
        return Ok(());
    }
    let patch = json!({ "spec": { "taints": next } });
    match api.patch(&node.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await {
        Ok(_) => Ok(()),
        Err(e) if crate::api_reason(&e, 404) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
