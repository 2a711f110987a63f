//! Priority and preemption, end to end: victims of lower priority are deleted, the
//! preemptor is nominated to the node and bound once they are gone; pods a
//! PodDisruptionBudget protects are spared when another node will do.

mod common;
mod sched;

use std::time::Duration;

use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::{Api, PostParams};
use sched::Cluster;
use serde_json::{json, Value};

async fn classes(c: &Cluster) {
    for (name, value) in [("low", 100), ("mid", 500), ("high", 1000)] {
        c.apply::<PriorityClass>(json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value}))
            .await;
    }
}

/// A pod of this class, on this node if given; victims end at once (grace period 0), as
/// no agent would confirm a graceful end.
fn spec(class: &str, node: Option<&str>) -> Value {
    let mut v = json!({"spec": {"priorityClassName": class, "terminationGracePeriodSeconds": 0}});
    if let Some(n) = node {
        v["spec"]["nodeName"] = json!(n);
    }
    v
}

async fn gone(c: &Cluster, pod: &str) -> bool {
    let t = std::time::Instant::now();
    while t.elapsed() < sched::WAIT {
        if c.pods().get_opt(pod).await.expect("get").is_none() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_higher_priority_pod_preempts_a_lower_one() {
    let c = Cluster::start().await;
    classes(&c).await;
    c.node("n1", "2", "4Gi", json!({})).await;
    c.pod("victim", json!({"cpu": "1500m"}), spec("low", None)).await;
    assert_eq!(c.bound("victim").await, "n1");
    c.pod("vip", json!({"cpu": "1"}), spec("high", None)).await;
    assert_eq!(c.event("vip", "FailedScheduling").await, "0/1 nodes are available: 1 Insufficient cpu.");
    assert!(gone(&c, "victim").await, "the victim was not deleted");
    assert_eq!(c.bound("vip").await, "n1");
    let vip = c.pods().get("vip").await.expect("vip");
    assert_eq!(vip.status.and_then(|s| s.nominated_node_name).as_deref(), Some("n1"));
    let uid = vip.metadata.uid.unwrap_or_default();
    assert_eq!(c.event("victim", "Preempted").await, format!("Preempted by pod {uid} on node n1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_victims_among_equal_priorities_or_with_preemption_policy_never() {
    let c = Cluster::start().await;
    classes(&c).await;
    c.node("n1", "2", "4Gi", json!({})).await;
    c.pod("first", json!({"cpu": "1500m"}), spec("mid", None)).await;
    c.bound("first").await;
    c.pod("same", json!({"cpu": "1"}), spec("mid", None)).await;
    assert_eq!(
        c.unschedulable("same").await,
        "0/1 nodes are available: 1 Insufficient cpu. \
         preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    );
    // A high class that never preempts: the pod gets its policy from the class (a pod that
    // states another policy than its class's is refused at admission, as upstream).
    c.apply::<PriorityClass>(json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
        "metadata": {"name": "high-polite"}, "value": 1000, "preemptionPolicy": "Never"}))
        .await;
    c.pod("polite", json!({"cpu": "1"}), spec("high-polite", None)).await;
    assert_eq!(
        c.unschedulable("polite").await,
        "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(c.node_of("first").await.as_deref(), Some("n1"));
    assert_eq!(c.node_of("polite").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fewest_and_least_important_victims_are_chosen() {
    let c = Cluster::start().await;
    classes(&c).await;
    c.node("n1", "2", "4Gi", json!({})).await;
    c.node("n2", "2", "4Gi", json!({})).await;
    // n1 holds mid-priority pods only, n2 a low one among mid ones: n2 is chosen, and only
    // the low pod goes.
    for (name, class, node) in [("m1", "mid", "n1"), ("m2", "mid", "n1"), ("m3", "mid", "n1")] {
        c.pod(name, json!({"cpu": "600m"}), spec(class, Some(node))).await;
    }
    for (name, class, node) in [("l1", "low", "n2"), ("m4", "mid", "n2"), ("m5", "mid", "n2")] {
        c.pod(name, json!({"cpu": "600m"}), spec(class, Some(node))).await;
    }
    c.pod("vip", json!({"cpu": "700m"}), spec("high", None)).await;
    assert!(gone(&c, "l1").await, "the low-priority pod was not preempted");
    assert_eq!(c.bound("vip").await, "n2");
    for survivor in ["m1", "m2", "m3", "m4", "m5"] {
        assert!(c.node_of(survivor).await.is_some(), "{survivor} was preempted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victims_covered_by_a_disruption_budget_are_spared() {
    let c = Cluster::start().await;
    classes(&c).await;
    // No disruption allowed for `app: guarded` (its pod never becomes ready: no agent).
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({"apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget", "metadata": {"name": "guard"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded"}}}}))
    .expect("pdb");
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(c.client.clone(), "default");
    pdbs.create(&PostParams::default(), &pdb).await.expect("create pdb");
    c.node("n1", "2", "4Gi", json!({})).await;
    c.node("n2", "2", "4Gi", json!({})).await;
    // Without the budget n1 would be chosen: its victim has the lower priority.
    let mut guarded = spec("low", Some("n1"));
    guarded["metadata"] = json!({"labels": {"app": "guarded"}});
    c.pod("guarded", json!({"cpu": "1500m"}), guarded).await;
    c.pod("free", json!({"cpu": "1500m"}), spec("mid", Some("n2"))).await;
    c.pod("vip", json!({"cpu": "1"}), spec("high", None)).await;
    assert!(gone(&c, "free").await, "the pod no budget protects was not preempted");
    assert_eq!(c.bound("vip").await, "n2");
    assert_eq!(c.node_of("guarded").await.as_deref(), Some("n1"));
    let pdb = pdbs.get("guard").await.expect("pdb");
    assert_eq!(pdb.status.map(|s| s.disruptions_allowed), Some(0));
}
