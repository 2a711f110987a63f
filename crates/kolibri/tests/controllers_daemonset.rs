//! The DaemonSet controller against a real `kolibri server` with its scheduler. No node
//! agent runs: the test registers Node objects and plays the kubelet, marking bound pods
//! Running and Ready through the status subresource and finishing graceful deletions.
//! kubectl 1.32 and 1.33 drive the rollouts.

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::eventually;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::{watcher, WatchStreamExt};
use kubectl_common::*;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(20);

/// A server whose node lifecycle controller leaves the test's silent nodes alone.
fn server() -> common::Server {
    common::Server::start_with(&["--node-monitor-grace-period", "3600"])
}

/// Registers a Ready node with room for pods.
async fn node(client: &kube::Client, name: &str, labels: Value, taints: Value) {
    let mut all_labels = json!({"kubernetes.io/hostname": name});
    for (k, v) in labels.as_object().into_iter().flatten() {
        all_labels[k] = v.clone();
    }
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": all_labels},
        "spec": {"taints": taints},
        "status": {
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "test node"}],
        },
    }))
    .expect("node");
    Api::<Node>::all(client.clone()).create(&PostParams::default(), &node).await.expect("create node");
}

async fn patch_node(client: &kube::Client, name: &str, patch: Value) {
    Api::<Node>::all(client.clone())
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch node");
}

/// Plays the kubelet for the pods of `ns`: a pod bound to a node is marked Running and
/// Ready after `delay`; a pod being deleted is removed (its containers "stopped").
fn kubelet(client: kube::Client, ns: &str, delay: Duration) -> JoinHandle<()> {
    let api: Api<Pod> = Api::namespaced(client, ns);
    tokio::spawn(async move {
        let mut pods =
            std::pin::pin!(watcher(api.clone(), watcher::Config::default()).default_backoff().applied_objects());
        while let Some(Ok(pod)) = pods.next().await {
            let api = api.clone();
            let name = pod.metadata.name.clone().unwrap_or_default();
            if pod.metadata.deletion_timestamp.is_some() {
                let params = DeleteParams {
                    grace_period_seconds: Some(0),
                    preconditions: Some(Preconditions { uid: pod.metadata.uid.clone(), resource_version: None }),
                    ..Default::default()
                };
                tokio::spawn(async move {
                    tokio::time::sleep(delay / 2).await;
                    let _ = api.delete(&name, &params).await;
                });
                continue;
            }
            let bound = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty());
            // The API server sets Pending on creation; failed pods stay failed.
            if !bound || !matches!(phase(&pod), None | Some("Pending")) {
                continue;
            }
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let now = k8s_openapi::jiff::Timestamp::now().to_string();
                let status = json!({"status": {"phase": "Running", "conditions": [
                    {"type": "Ready", "status": "True", "lastTransitionTime": now},
                    {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
                ]}});
                let _ = api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await;
            });
        }
    })
}

fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref().and_then(|s| s.phase.as_deref())
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn node_of(pod: &Pod) -> Option<String> {
    pod.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty())
}

fn image_of(pod: &Pod) -> String {
    pod.spec.as_ref().and_then(|s| s.containers.first()).and_then(|c| c.image.clone()).unwrap_or_default()
}

fn daemon_set(name: &str, image: &str, template_spec: Value, strategy: Value) -> DaemonSet {
    let mut spec = json!({"containers": [{"name": "c", "image": image}]});
    for (k, v) in template_spec.as_object().into_iter().flatten() {
        spec[k] = v.clone();
    }
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "updateStrategy": strategy,
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
        },
    }))
    .expect("daemon set")
}

/// The live (not being deleted) pods of a DaemonSet, by node (bound pods only).
async fn pods_by_node(pods: &Api<Pod>, ds: &str) -> BTreeMap<String, Vec<Pod>> {
    let list = pods.list(&ListParams::default().labels(&format!("app={ds}"))).await.expect("list pods").items;
    let mut by_node: BTreeMap<String, Vec<Pod>> = BTreeMap::new();
    for pod in list.into_iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
        by_node.entry(node_of(&pod).unwrap_or_default()).or_default().push(pod);
    }
    by_node
}

/// Waits until the DaemonSet's pods are exactly one per node of `nodes`, bound and ready.
async fn wait_for_nodes(pods: &Api<Pod>, ds: &str, nodes: &[&str]) -> BTreeMap<String, Vec<Pod>> {
    let want: BTreeSet<String> = nodes.iter().map(|n| n.to_string()).collect();
    eventually(WAIT, &format!("one ready pod of {ds} on each of {nodes:?}"), || async {
        let by_node = pods_by_node(pods, ds).await;
        let nodes: BTreeSet<String> = by_node.keys().cloned().collect();
        (nodes == want && by_node.values().all(|p| p.len() == 1 && is_ready(&p[0]))).then_some(by_node)
    })
    .await
}

async fn events(client: &kube::Client) -> Vec<(String, String)> {
    let api: Api<Event> = Api::namespaced(client.clone(), "default");
    api.list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect()
}

fn status_counts(ds: &DaemonSet) -> [i32; 8] {
    let s = ds.status.clone().unwrap_or_default();
    [
        s.desired_number_scheduled,
        s.current_number_scheduled,
        s.updated_number_scheduled.unwrap_or(0),
        s.number_ready,
        s.number_available.unwrap_or(0),
        s.number_unavailable.unwrap_or(0),
        s.number_misscheduled,
        i32::from(s.observed_generation == ds.metadata.generation),
    ]
}

async fn wait_status(dss: &Api<DaemonSet>, name: &str, want: [i32; 8]) -> DaemonSet {
    eventually(WAIT, &format!("status {want:?} of {name}"), || async {
        let ds = dss.get(name).await.ok()?;
        (status_counts(&ds) == want).then_some(ds)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pod_per_eligible_node_bound_by_the_scheduler() {
    let server = server();
    let client = server.client().await;
    let kubelet = kubelet(client.clone(), "default", Duration::from_millis(100));
    node(&client, "n1", json!({"role": "worker"}), json!([])).await;
    node(&client, "n2", json!({"role": "worker"}), json!([])).await;
    // Tainted NoSchedule, not tolerated; and a node the nodeSelector excludes.
    node(
        &client,
        "n3",
        json!({"role": "worker"}),
        json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
    )
    .await;
    node(&client, "n4", json!({"role": "infra"}), json!([])).await;
    let dss: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let ds = daemon_set("agent", "busybox:v1", json!({"nodeSelector": {"role": "worker"}}), json!(null));
    dss.create(&PostParams::default(), &ds).await.expect("create ds");

    let by_node = wait_for_nodes(&pods, "agent", &["n1", "n2"]).await;
    let ds = wait_status(&dss, "agent", [2, 2, 2, 2, 2, 0, 0, 1]).await;
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "default");
    let history = revisions.list(&ListParams::default().labels("app=agent")).await.unwrap().items;
    assert_eq!(history.len(), 1);
    let hash = history[0].metadata.labels.as_ref().unwrap()["controller-revision-hash"].clone();
    assert_eq!(history[0].metadata.name.as_deref(), Some(format!("agent-{hash}").as_str()));
    assert_eq!(history[0].revision, 1);
    assert_eq!(history[0].metadata.owner_references.as_ref().unwrap()[0].uid, ds.metadata.uid.clone().unwrap());

    let all_events = events(&client).await;
    for (node_name, list) in &by_node {
        let pod = &list[0];
        let name = pod.metadata.name.clone().unwrap();
        assert!(name.starts_with("agent-"), "{name}");
        let labels = pod.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["controller-revision-hash"], hash);
        let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.controller, owner.block_owner_deletion),
            ("DaemonSet", "agent", Some(true), Some(true))
        );
        // Pinned to its node by affinity, and bound by the scheduler (not by the controller).
        let spec = pod.spec.as_ref().unwrap();
        let affinity = serde_json::to_value(spec.affinity.as_ref().unwrap()).unwrap();
        assert_eq!(
            affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"],
            json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}])
        );
        assert!(
            all_events.contains(&("Scheduled".into(), format!("Successfully assigned default/{name} to {node_name}"))),
            "{all_events:?}"
        );
        assert!(all_events.contains(&("SuccessfulCreate".into(), format!("Created pod: {name}"))), "{all_events:?}");
        let tolerations: Vec<(String, String)> = spec
            .tolerations
            .as_ref()
            .unwrap()
            .iter()
            .map(|t| (t.key.clone().unwrap_or_default(), t.effect.clone().unwrap_or_default()))
            .collect();
        for (key, effect) in [
            ("node.kubernetes.io/not-ready", "NoExecute"),
            ("node.kubernetes.io/unreachable", "NoExecute"),
            ("node.kubernetes.io/disk-pressure", "NoSchedule"),
            ("node.kubernetes.io/memory-pressure", "NoSchedule"),
            ("node.kubernetes.io/pid-pressure", "NoSchedule"),
            ("node.kubernetes.io/unschedulable", "NoSchedule"),
        ] {
            assert!(tolerations.contains(&(key.into(), effect.into())), "{key} missing: {tolerations:?}");
        }
        assert!(spec.tolerations.as_ref().unwrap().iter().all(|t| t.toleration_seconds.is_none()));
    }

    // A new eligible node gets a pod; a relabelled one loses its pod.
    node(&client, "n5", json!({"role": "worker"}), json!([])).await;
    wait_for_nodes(&pods, "agent", &["n1", "n2", "n5"]).await;
    let gone = by_node["n1"][0].metadata.name.clone().unwrap();
    patch_node(&client, "n1", json!({"metadata": {"labels": {"role": "infra"}}})).await;
    wait_for_nodes(&pods, "agent", &["n2", "n5"]).await;
    eventually(WAIT, "the pod of n1 deleted", || async { pods.get_opt(&gone).await.ok()?.is_none().then_some(()) })
        .await;
    assert!(events(&client).await.contains(&("SuccessfulDelete".into(), format!("Deleted pod: {gone}"))));
    wait_status(&dss, "agent", [2, 2, 2, 2, 2, 0, 0, 1]).await;

    // A NoSchedule taint keeps the pod running but makes it misscheduled; an untolerated
    // NoExecute taint removes it.
    patch_node(&client, "n5", json!({"spec": {"taints": [{"key": "maintenance", "effect": "NoSchedule"}]}})).await;
    wait_status(&dss, "agent", [1, 1, 1, 1, 1, 0, 1, 1]).await;
    assert_eq!(pods_by_node(&pods, "agent").await.len(), 2);
    patch_node(&client, "n5", json!({"spec": {"taints": [{"key": "maintenance", "effect": "NoExecute"}]}})).await;
    wait_for_nodes(&pods, "agent", &["n2"]).await;
    wait_status(&dss, "agent", [1, 1, 1, 1, 1, 0, 0, 1]).await;
    kubelet.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn surplus_orphans_and_failed_pods_are_replaced() {
    let server = server();
    let client = server.client().await;
    let kubelet = kubelet(client.clone(), "default", Duration::from_millis(100));
    node(&client, "n1", json!({}), json!([])).await;
    node(&client, "n2", json!({}), json!([])).await;
    let dss: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let ds = daemon_set("logs", "busybox:v1", json!({}), json!({"type": "OnDelete"}));
    dss.create(&PostParams::default(), &ds).await.expect("create ds");
    let by_node = wait_for_nodes(&pods, "logs", &["n1", "n2"]).await;
    let kept = by_node["n1"][0].metadata.name.clone().unwrap();

    // An orphan matching the selector on n1: adopted, and as the newer of two, deleted.
    let orphan: Pod = serde_json::from_value(json!({
        "metadata": {"name": "stray", "labels": {"app": "logs"}},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox:v1"}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &orphan).await.expect("orphan");
    eventually(WAIT, "the stray pod adopted and deleted", || async {
        match pods.get_opt("stray").await.ok()? {
            None => Some(()),
            Some(p) => {
                let owned = p.metadata.owner_references.as_ref().is_some_and(|o| o[0].name == "logs");
                (owned && p.metadata.deletion_timestamp.is_some()).then_some(())
            }
        }
    })
    .await;
    let after = wait_for_nodes(&pods, "logs", &["n1", "n2"]).await;
    assert_eq!(after["n1"][0].metadata.name.as_deref(), Some(kept.as_str()), "the oldest pod stays");

    // A failed pod is deleted (with a FailedDaemonPod event) and replaced.
    let failed = after["n2"][0].metadata.name.clone().unwrap();
    let status = json!({"status": {"phase": "Failed", "conditions": [{"type": "Ready", "status": "False"}]}});
    pods.patch_status(&failed, &PatchParams::default(), &Patch::Merge(&status)).await.expect("fail the pod");
    let replaced = wait_for_nodes(&pods, "logs", &["n1", "n2"]).await;
    assert_ne!(replaced["n2"][0].metadata.name.as_deref(), Some(failed.as_str()));
    let message = format!("Found failed daemon pod default/{failed} on node n2, will try to kill it");
    assert!(events(&client).await.contains(&("FailedDaemonPod".into(), message)));

    // OnDelete: a new template replaces nothing until a pod is deleted.
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:v2"}]}}}});
    dss.patch("logs", &PatchParams::default(), &Patch::Strategic(&patch)).await.expect("update template");
    wait_status(&dss, "logs", [2, 2, 0, 2, 2, 0, 0, 1]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let by_node = pods_by_node(&pods, "logs").await;
    assert!(by_node.values().flatten().all(|p| image_of(p) == "busybox:v1"));
    pods.delete(&kept, &DeleteParams::default()).await.expect("delete");
    let by_node = wait_for_nodes(&pods, "logs", &["n1", "n2"]).await;
    assert_eq!(image_of(&by_node["n1"][0]), "busybox:v2");
    assert_eq!(image_of(&by_node["n2"][0]), "busybox:v1");
    wait_status(&dss, "logs", [2, 2, 1, 2, 2, 0, 0, 1]).await;
    kubelet.abort();
}

/// What a watch of the namespace's pods saw during a rollout.
#[derive(Default)]
struct Observed {
    /// Live pods: name → (node, ready, image).
    pods: HashMap<String, (String, bool, String)>,
    /// The fewest nodes with a ready pod, the most pods on one node, the most pods.
    min_ready_nodes: Option<usize>,
    max_per_node: usize,
    max_pods: usize,
    steps: usize,
}

fn observe(client: kube::Client, seen: Arc<Mutex<Observed>>) -> JoinHandle<()> {
    let api: Api<Pod> = Api::namespaced(client, "default");
    tokio::spawn(async move {
        let mut events = std::pin::pin!(watcher(api, watcher::Config::default()));
        while let Some(event) = events.next().await {
            let Ok(event) = event else { continue };
            let mut s = seen.lock().unwrap();
            match event {
                watcher::Event::Apply(p) | watcher::Event::InitApply(p) => {
                    let name = p.metadata.name.clone().unwrap_or_default();
                    if p.metadata.deletion_timestamp.is_some() {
                        s.pods.remove(&name);
                    } else {
                        s.pods.insert(name, (node_of(&p).unwrap_or_default(), is_ready(&p), image_of(&p)));
                    }
                }
                watcher::Event::Delete(p) => {
                    s.pods.remove(&p.metadata.name.clone().unwrap_or_default());
                }
                _ => continue,
            }
            let mut per_node: HashMap<&str, (usize, bool)> = HashMap::new();
            for (node, ready, _) in s.pods.values() {
                let e = per_node.entry(node.as_str()).or_default();
                e.0 += 1;
                e.1 |= *ready;
            }
            let ready_nodes = per_node.values().filter(|(_, r)| *r).count();
            let max_per_node = per_node.iter().filter(|(n, _)| !n.is_empty()).map(|(_, (c, _))| *c).max().unwrap_or(0);
            s.min_ready_nodes = Some(s.min_ready_nodes.map_or(ready_nodes, |m| m.min(ready_nodes)));
            s.max_per_node = s.max_per_node.max(max_per_node);
            s.max_pods = s.max_pods.max(s.pods.len());
            s.steps += 1;
        }
    })
}

async fn start_observing(client: &kube::Client, ready: usize) -> (Arc<Mutex<Observed>>, JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Observed::default()));
    let watch = observe(client.clone(), seen.clone());
    eventually(WAIT, "the watch to see the ready pods", || {
        let seen = seen.clone();
        async move { (seen.lock().unwrap().pods.values().filter(|p| p.1).count() == ready).then_some(()) }
    })
    .await;
    {
        let mut s = seen.lock().unwrap();
        (s.min_ready_nodes, s.max_per_node, s.max_pods, s.steps) = (None, 0, 0, 0);
    }
    (seen, watch)
}

async fn three_nodes(client: &kube::Client) {
    for n in ["n1", "n2", "n3"] {
        node(client, n, json!({}), json!([])).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_with_max_unavailable_then_kubectl_undo() {
    let server = server();
    let client = server.client().await;
    let kubelet = kubelet(client.clone(), "default", Duration::from_millis(200));
    three_nodes(&client).await;
    let dss: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}});
    dss.create(&PostParams::default(), &daemon_set("web", "nginx:v1", json!({}), strategy)).await.expect("create");
    let out = kubectl_ok(&server, KUBECTL_133, &["rollout", "status", "daemonset/web", "--timeout=30s"]).await;
    assert!(out.ends_with("daemon set \"web\" successfully rolled out\n"), "{out}");
    wait_for_nodes(&pods, "web", &["n1", "n2", "n3"]).await;

    let (seen, watch) = start_observing(&client, 3).await;
    kubectl_ok(&server, KUBECTL_132, &["set", "image", "daemonset/web", "c=nginx:v2"]).await;
    let out = kubectl_ok(&server, KUBECTL_132, &["rollout", "status", "daemonset/web", "--timeout=30s"]).await;
    assert!(out.contains("Waiting for daemon set \"web\" rollout to finish: "), "{out}");
    assert!(out.ends_with("daemon set \"web\" successfully rolled out\n"), "{out}");
    let by_node = wait_for_nodes(&pods, "web", &["n1", "n2", "n3"]).await;
    assert!(by_node.values().flatten().all(|p| image_of(p) == "nginx:v2"));
    watch.abort();
    {
        let s = seen.lock().unwrap();
        // maxUnavailable 1 of 3: at every step two nodes had a ready pod; never two at once.
        assert_eq!(s.min_ready_nodes, Some(2), "ready nodes during the rollout");
        assert_eq!(s.max_per_node, 1, "no surge was asked for");
        assert!(s.steps >= 9, "too few steps observed: {}", s.steps);
    }
    wait_status(&dss, "web", [3, 3, 3, 3, 3, 0, 0, 1]).await;

    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "default");
    let mut history = revisions.list(&ListParams::default().labels("app=web")).await.unwrap().items;
    history.sort_by_key(|h| h.revision);
    assert_eq!(history.iter().map(|h| h.revision).collect::<Vec<_>>(), [1, 2]);
    let hash_v2 = history[1].metadata.labels.as_ref().unwrap()["controller-revision-hash"].clone();
    assert!(by_node
        .values()
        .flatten()
        .all(|p| p.metadata.labels.as_ref().unwrap()["controller-revision-hash"] == hash_v2));

    for (bin, _) in BINS {
        let out = kubectl_ok(&server, bin, &["rollout", "history", "daemonset/web"]).await;
        let rows = lines(&out);
        assert_eq!(rows[0], "daemonset.apps/web");
        assert_eq!(rows[1], "REVISION  CHANGE-CAUSE");
        assert_eq!(rows.len(), 4, "{out}");
    }
    let out = kubectl_ok(&server, KUBECTL_133, &["rollout", "history", "daemonset/web", "--revision=1"]).await;
    assert!(out.contains("nginx:v1"), "{out}");

    // Undo with kubectl 1.33: back to v1, whose revision becomes 3.
    let out = kubectl_ok(&server, KUBECTL_133, &["rollout", "undo", "daemonset/web"]).await;
    assert_eq!(out, "daemonset.apps/web rolled back\n");
    kubectl_ok(&server, KUBECTL_133, &["rollout", "status", "daemonset/web", "--timeout=30s"]).await;
    let by_node = wait_for_nodes(&pods, "web", &["n1", "n2", "n3"]).await;
    assert!(by_node.values().flatten().all(|p| image_of(p) == "nginx:v1"));
    let mut history = revisions.list(&ListParams::default().labels("app=web")).await.unwrap().items;
    history.sort_by_key(|h| h.revision);
    assert_eq!(history.iter().map(|h| h.revision).collect::<Vec<_>>(), [2, 3], "undo reuses revision 1");
    // kubectl compares the revisions' data with the live template byte for byte: undoing to
    // the revision in place is skipped.
    let out = kubectl_ok(&server, KUBECTL_132, &["rollout", "undo", "daemonset/web", "--to-revision=3"]).await;
    assert_eq!(out, "daemonset.apps/web skipped rollback (current template already matches revision 3)\n");
    // And 1.32 rolls back to v2.
    let out = kubectl_ok(&server, KUBECTL_132, &["rollout", "undo", "daemonset/web"]).await;
    assert_eq!(out, "daemonset.apps/web rolled back\n");
    kubectl_ok(&server, KUBECTL_132, &["rollout", "status", "daemonset/web", "--timeout=30s"]).await;
    let by_node = wait_for_nodes(&pods, "web", &["n1", "n2", "n3"]).await;
    assert!(by_node.values().flatten().all(|p| image_of(p) == "nginx:v2"));
    kubelet.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn surge_starts_new_pods_before_old_ones_go() {
    let server = server();
    let client = server.client().await;
    let kubelet = kubelet(client.clone(), "default", Duration::from_millis(200));
    three_nodes(&client).await;
    let dss: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}});
    let mut ds = daemon_set("proxy", "envoy:v1", json!({}), strategy);
    ds.spec.as_mut().unwrap().revision_history_limit = Some(0);
    dss.create(&PostParams::default(), &ds).await.expect("create");
    kubectl_ok(&server, KUBECTL_132, &["rollout", "status", "daemonset/proxy", "--timeout=30s"]).await;
    let before = wait_for_nodes(&pods, "proxy", &["n1", "n2", "n3"]).await;

    let (seen, watch) = start_observing(&client, 3).await;
    let out = kubectl_ok(&server, KUBECTL_133, &["rollout", "restart", "daemonset/proxy"]).await;
    assert_eq!(out, "daemonset.apps/proxy restarted\n");
    let out = kubectl_ok(&server, KUBECTL_133, &["rollout", "status", "daemonset/proxy", "--timeout=30s"]).await;
    assert!(out.ends_with("daemon set \"proxy\" successfully rolled out\n"), "{out}");
    let after = wait_for_nodes(&pods, "proxy", &["n1", "n2", "n3"]).await;
    watch.abort();
    for (node, list) in &after {
        assert_ne!(list[0].metadata.name, before[node][0].metadata.name, "{node} was not replaced");
        assert!(list[0].metadata.annotations.as_ref().unwrap().contains_key("kubectl.kubernetes.io/restartedAt"));
    }
    {
        let s = seen.lock().unwrap();
        // maxUnavailable 0: every node kept a ready pod; maxSurge 1: one extra pod at a time.
        assert_eq!(s.min_ready_nodes, Some(3), "a node went without a ready pod");
        assert_eq!(s.max_per_node, 2, "the new pod did not start next to the old one");
        assert_eq!(s.max_pods, 4, "more than maxSurge extra pods");
    }
    wait_status(&dss, "proxy", [3, 3, 3, 3, 3, 0, 0, 1]).await;
    // revisionHistoryLimit 0: the old revision goes once no pod runs it.
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "default");
    eventually(WAIT, "only the current revision left", || async {
        let list = revisions.list(&ListParams::default().labels("app=proxy")).await.ok()?.items;
        (list.iter().map(|h| h.revision).collect::<Vec<_>>() == [2]).then_some(())
    })
    .await;
    kubelet.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_become_available_after_min_ready_seconds() {
    let server = server();
    let client = server.client().await;
    let kubelet = kubelet(client.clone(), "default", Duration::from_millis(50));
    node(&client, "n1", json!({}), json!([])).await;
    let dss: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut ds = daemon_set("slow", "busybox:v1", json!({}), json!(null));
    ds.spec.as_mut().unwrap().min_ready_seconds = Some(3);
    dss.create(&PostParams::default(), &ds).await.expect("create ds");
    wait_for_nodes(&pods, "slow", &["n1"]).await;
    // Ready, not yet available; then available with no further event (a timer, not a poll).
    wait_status(&dss, "slow", [1, 1, 1, 1, 0, 1, 0, 1]).await;
    let started = std::time::Instant::now();
    wait_status(&dss, "slow", [1, 1, 1, 1, 1, 0, 0, 1]).await;
    assert!(started.elapsed() >= Duration::from_millis(1500), "available after {:?}", started.elapsed());
    kubelet.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_creations_are_reported_and_retried() {
    let server = server();
    let client = server.client().await;
    let kubelet = kubelet(client.clone(), "default", Duration::from_millis(50));
    node(&client, "n1", json!({}), json!([])).await;
    node(&client, "n2", json!({}), json!([])).await;
    kubectl_ok(&server, KUBECTL_133, &["create", "quota", "pods", "--hard=pods=1"]).await;
    eventually(WAIT, "the quota's usage", || async {
        let q = kubectl_ok(&server, KUBECTL_133, &["get", "quota", "pods", "-o", "jsonpath={.status.used.pods}"]).await;
        (q == "0").then_some(())
    })
    .await;
    let dss: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    dss.create(&PostParams::default(), &daemon_set("capped", "busybox:v1", json!({}), json!(null)))
        .await
        .expect("create ds");
    let message = eventually(WAIT, "a FailedCreate event", || async {
        events(&client).await.into_iter().find(|(r, _)| r == "FailedCreate").map(|(_, m)| m)
    })
    .await;
    assert!(message.starts_with("Error creating: pods \"capped-"), "{message}");
    assert!(
        message.contains("is forbidden: exceeded quota: pods, requested: pods=1, used: pods=1, limited: pods=1"),
        "{message}"
    );
    wait_status(&dss, "capped", [2, 1, 1, 1, 1, 1, 0, 1]).await;
    // Retried with backoff: once the quota is gone the second pod comes.
    kubectl_ok(&server, KUBECTL_133, &["delete", "quota", "pods"]).await;
    wait_for_nodes(&pods, "capped", &["n1", "n2"]).await;
    wait_status(&dss, "capped", [2, 2, 2, 2, 2, 0, 0, 1]).await;
    kubelet.abort();
}
