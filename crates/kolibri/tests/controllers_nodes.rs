//! Node lifecycle against a real `kolibri server` with a short `--node-monitor-grace-period`:
//! the test plays the kubelet (a Node with a Ready condition and a Lease it renews), stops
//! renewing, and checks the Unknown conditions, the unreachable taints, the eviction of pods
//! after their tolerationSeconds, and recovery.

mod common;

use std::time::{Duration, Instant};

use common::eventually;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{json, Value};

fn now() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

async fn heartbeat(nodes: &Api<Node>, leases: &Api<Lease>, name: &str, ready: &str) {
    let status = json!({"status": {"conditions": [{
        "type": "Ready", "status": ready, "reason": "KubeletReady", "message": "kubelet is posting ready status",
        "lastHeartbeatTime": now(), "lastTransitionTime": now(),
    }]}});
    nodes.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await.expect("node status");
    let renew = json!({"spec": {"renewTime": k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()}});
    leases.patch(name, &PatchParams::default(), &Patch::Merge(&renew)).await.expect("lease");
}

fn taints(node: &Node) -> Vec<(String, String)> {
    let mut t: Vec<(String, String)> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.key, t.effect))
        .collect();
    t.sort();
    t
}

fn pod(name: &str, node: &str, tolerations: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"nodeName": node, "tolerations": tolerations, "containers": [{"name": "c", "image": "busybox"}]},
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_nodes_are_tainted_and_their_pods_evicted() {
    let server = common::Server::start_with(&["--node-monitor-grace-period", "2"]);
    let client = server.client().await;
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    let node: Node = serde_json::from_value(json!({"metadata": {"name": "n1"}})).unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": "n1"}, "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40},
    }))
    .unwrap();
    leases.create(&PostParams::default(), &lease).await.unwrap();
    heartbeat(&nodes, &leases, "n1", "True").await;

    let short = json!([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2}]);
    pods.create(&PostParams::default(), &pod("short", "n1", short)).await.unwrap();
    pods.create(&PostParams::default(), &pod("default", "n1", json!([]))).await.unwrap();
    pods.create(&PostParams::default(), &pod("forever", "n1", json!([{"operator": "Exists"}]))).await.unwrap();

    // While the kubelet reports, nothing happens.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        heartbeat(&nodes, &leases, "n1", "True").await;
    }
    assert!(taints(&nodes.get("n1").await.unwrap()).is_empty());

    // Silence: Unknown and unreachable within the grace period (2 s) and a little.
    let silent_at = Instant::now();
    let node = eventually(Duration::from_secs(10), "node Unknown", || async {
        let node = nodes.get("n1").await.ok()?;
        let ready = node.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready")?.clone();
        (ready.status == "Unknown").then_some((node, ready))
    })
    .await;
    assert!(silent_at.elapsed() >= Duration::from_millis(1500), "marked after {:?}", silent_at.elapsed());
    let (node, ready) = node;
    assert_eq!(ready.reason.as_deref(), Some("NodeStatusUnknown"));
    assert_eq!(ready.message.as_deref(), Some("Kubelet stopped posting node status."));
    let node = eventually(Duration::from_secs(5), "unreachable taints", || {
        let nodes = nodes.clone();
        let first = node.clone();
        async move {
            let n = nodes.get("n1").await.ok().unwrap_or(first);
            (taints(&n).len() == 2).then_some(n)
        }
    })
    .await;
    assert_eq!(
        taints(&node),
        [
            ("node.kubernetes.io/unreachable".to_string(), "NoExecute".to_string()),
            ("node.kubernetes.io/unreachable".to_string(), "NoSchedule".to_string()),
        ]
    );

    // The pod tolerating 2 s goes (graceful: marked deleted, with a DisruptionTarget condition).
    let evicted = eventually(Duration::from_secs(10), "short evicted", || async {
        let p = pods.get_opt("short").await.ok()?;
        match p {
            None => Some(None),
            Some(p) if p.metadata.deletion_timestamp.is_some() => Some(Some(p)),
            _ => None,
        }
    })
    .await;
    if let Some(p) = evicted {
        let cond = p.status.and_then(|s| s.conditions).unwrap_or_default();
        let target = cond.iter().find(|c| c.type_ == "DisruptionTarget").expect("DisruptionTarget condition");
        assert_eq!(target.reason.as_deref(), Some("DeletionByTaintManager"));
    }
    // The others tolerate (300 s by default, or for good).
    for name in ["default", "forever"] {
        let p = pods.get(name).await.unwrap();
        assert!(p.metadata.deletion_timestamp.is_none(), "{name} was evicted");
    }

    // The kubelet is back: the taints go.
    heartbeat(&nodes, &leases, "n1", "True").await;
    eventually(Duration::from_secs(5), "taints removed", || async {
        let n = nodes.get("n1").await.ok()?;
        taints(&n).is_empty().then_some(())
    })
    .await;
    // A node reporting NotReady gets the not-ready taints.
    heartbeat(&nodes, &leases, "n1", "False").await;
    let n = eventually(Duration::from_secs(5), "not-ready taints", || async {
        let n = nodes.get("n1").await.ok()?;
        (taints(&n).len() == 2).then_some(n)
    })
    .await;
    assert_eq!(taints(&n)[0].0, "node.kubernetes.io/not-ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_of_deleted_nodes_and_old_finished_pods_are_collected() {
    let server = common::Server::start_with(&["--terminated-pod-gc-threshold", "2"]);
    let client = server.client().await;
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let node: Node = serde_json::from_value(json!({"metadata": {"name": "gone"}})).unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    pods.create(&PostParams::default(), &pod("on-gone", "gone", json!([]))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    nodes.delete("gone", &Default::default()).await.unwrap();
    eventually(Duration::from_secs(10), "the pod of the deleted node gone", || async {
        pods.get_opt("on-gone").await.ok()?.is_none().then_some(())
    })
    .await;

    // Four finished pods, threshold 2: the two oldest go.
    for i in 0..4 {
        let name = format!("done-{i}");
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }))
        .unwrap();
        pods.create(&PostParams::default(), &p).await.unwrap();
        let status = json!({"status": {"phase": "Succeeded"}});
        pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    eventually(Duration::from_secs(10), "two finished pods left", || async {
        let mut names: Vec<String> =
            pods.list(&Default::default()).await.ok()?.items.into_iter().filter_map(|p| p.metadata.name).collect();
        names.sort();
        (names == ["done-2", "done-3"]).then_some(())
    })
    .await;
}
