//! The scheduler's scores, end to end: each test builds nodes where one score decides
//! (the others being equal or outweighed) and checks where pods land.

mod common;
mod sched;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, PostParams};
use sched::Cluster;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_allocated_prefers_the_emptier_node() {
    let c = Cluster::start().await;
    c.node("n1", "4", "8Gi", json!({})).await;
    c.node("n2", "4", "8Gi", json!({})).await;
    c.pod("busy", json!({"cpu": "2", "memory": "4Gi"}), json!({"spec": {"nodeName": "n1"}})).await;
    for i in 0..3 {
        let name = format!("p{i}");
        c.pod(&name, json!({"cpu": "100m", "memory": "100Mi"}), json!({})).await;
        assert_eq!(c.bound(&name).await, "n2");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balanced_allocation_breaks_a_least_allocated_tie() {
    let c = Cluster::start().await;
    c.node("n1", "4", "4Gi", json!({})).await;
    c.node("n2", "4", "4Gi", json!({})).await;
    // After the new pod: n1 50% CPU / 100% memory, n2 75% / 75%: the same free share on
    // average, but n2 is balanced.
    c.pod("a", json!({"cpu": "1", "memory": "3Gi"}), json!({"spec": {"nodeName": "n1"}})).await;
    c.pod("b", json!({"cpu": "2", "memory": "2Gi"}), json!({"spec": {"nodeName": "n2"}})).await;
    c.pod("new", json!({"cpu": "1", "memory": "1Gi"}), json!({})).await;
    assert_eq!(c.bound("new").await, "n2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_locality_prefers_nodes_with_the_image() {
    let c = Cluster::start().await;
    c.node("without", "4", "8Gi", json!({})).await;
    c.node(
        "with",
        "4",
        "8Gi",
        json!({"status": {"images": [{"names": ["registry.example/app:latest"], "sizeBytes": 500_000_000}]}}),
    )
    .await;
    // No tag means :latest.
    let image = json!({"spec": {"containers": [{"name": "c", "image": "registry.example/app"}]}});
    for i in 0..3 {
        let name = format!("p{i}");
        c.pod(&name, json!({}), image.clone()).await;
        assert_eq!(c.bound(&name).await, "with");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferred_node_affinity_weights() {
    let c = Cluster::start().await;
    c.node("ssd", "4", "8Gi", json!({"metadata": {"labels": {"disk": "ssd"}}})).await;
    c.node("hdd", "4", "8Gi", json!({"metadata": {"labels": {"disk": "hdd"}}})).await;
    let prefer = |disk: &str| {
        json!({"spec": {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 80, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": [disk]}]}}]}}}})
    };
    for i in 0..3 {
        c.pod(&format!("s{i}"), json!({}), prefer("ssd")).await;
        assert_eq!(c.bound(&format!("s{i}")).await, "ssd");
    }
    c.pod("h", json!({}), prefer("hdd")).await;
    assert_eq!(c.bound("h").await, "hdd");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefer_no_schedule_taints_score_lower() {
    let c = Cluster::start().await;
    c.node(
        "tainted",
        "4",
        "8Gi",
        json!({"spec": {"taints": [{"key": "spot", "value": "true", "effect": "PreferNoSchedule"}]}}),
    )
    .await;
    c.node("clean", "4", "8Gi", json!({})).await;
    for i in 0..3 {
        let name = format!("p{i}");
        c.pod(&name, json!({"cpu": "100m"}), json!({})).await;
        assert_eq!(c.bound(&name).await, "clean");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferred_pod_affinity_and_anti_affinity_weights() {
    let c = Cluster::start().await;
    c.node("n1", "4", "8Gi", json!({})).await;
    c.node("n2", "4", "8Gi", json!({})).await;
    c.pod("cache", json!({}), json!({"metadata": {"labels": {"app": "cache"}}, "spec": {"nodeName": "n1"}})).await;
    let term = json!({"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "cache"}},
        "topologyKey": "kubernetes.io/hostname"}});
    c.pod("near", json!({}), json!({"spec": {"affinity": {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [term.clone()]}}}}))
        .await;
    assert_eq!(c.bound("near").await, "n1");
    c.pod(
        "far",
        json!({}),
        json!({"spec": {"affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [term]}}}}),
    )
    .await;
    assert_eq!(c.bound("far").await, "n2");
}

/// Pods per node among `names`.
async fn spread_of(c: &Cluster, names: &[String]) -> BTreeMap<String, usize> {
    let mut per_node = BTreeMap::new();
    for name in names {
        *per_node.entry(c.bound(name).await).or_insert(0) += 1;
    }
    per_node
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_topology_spread_outweighs_free_resources() {
    let c = Cluster::start().await;
    // Least allocated alone would put every pod on the big node.
    c.node("big", "64", "256Gi", json!({})).await;
    c.node("s1", "4", "16Gi", json!({})).await;
    c.node("s2", "4", "16Gi", json!({})).await;
    let spread = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"topologySpreadConstraints": [{
        "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": {"app": "web"}}}]}});
    let mut names = Vec::new();
    for i in 0..6 {
        let name = format!("web{i}");
        c.pod(&name, json!({"cpu": "100m", "memory": "100Mi"}), spread.clone()).await;
        c.bound(&name).await;
        names.push(name);
    }
    let per_node = spread_of(&c, &names).await;
    assert_eq!(per_node.values().copied().collect::<Vec<_>>(), [2, 2, 2], "{per_node:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_default_spreading_for_pods_of_a_controller() {
    // The test plays the StatefulSet controller (its pods are exactly the test's).
    let c = Cluster::start_with(&["--disable-controllers", "statefulset"]).await;
    c.node("big", "64", "256Gi", json!({})).await;
    c.node("s1", "4", "16Gi", json!({})).await;
    c.node("s2", "4", "16Gi", json!({})).await;
    // The owner exists, so nothing collects its pods.
    let sts: StatefulSet = serde_json::from_value(json!({"metadata": {"name": "db"}, "spec": {"replicas": 0,
        "selector": {"matchLabels": {"app": "db"}}, "serviceName": "db",
        "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}))
    .expect("statefulset");
    let sts = Api::<StatefulSet>::namespaced(c.client.clone(), "default")
        .create(&PostParams::default(), &sts)
        .await
        .expect("create statefulset");
    let owner = json!({"metadata": {"labels": {"app": "db"}, "ownerReferences": [{"apiVersion": "apps/v1",
        "kind": "StatefulSet", "name": "db", "uid": sts.metadata.uid, "controller": true}]}});
    let mut names = Vec::new();
    for i in 0..6 {
        let name = format!("db-{i}");
        c.pod(&name, json!({"cpu": "100m", "memory": "100Mi"}), owner.clone()).await;
        c.bound(&name).await;
        names.push(name);
    }
    let per_node = spread_of(&c, &names).await;
    assert_eq!(per_node.len(), 3, "spread over every node: {per_node:?}");
    // Bare pods are not spread: least allocated sends them to the big node.
    for i in 0..3 {
        let name = format!("bare{i}");
        c.pod(&name, json!({"cpu": "100m", "memory": "100Mi"}), json!({})).await;
        assert_eq!(c.bound(&name).await, "big");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_default_spreading_for_pods_selected_by_a_service() {
    let c = Cluster::start().await;
    c.node("big", "64", "256Gi", json!({})).await;
    c.node("s1", "4", "16Gi", json!({})).await;
    c.node("s2", "4", "16Gi", json!({})).await;
    let svc: Service = serde_json::from_value(json!({"metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}))
    .expect("service");
    Api::<Service>::namespaced(c.client.clone(), "default")
        .create(&PostParams::default(), &svc)
        .await
        .expect("create service");
    // No owner: only the Service's selector makes them spread.
    let labelled = json!({"metadata": {"labels": {"app": "web"}}});
    let mut names = Vec::new();
    for i in 0..6 {
        let name = format!("web-{i}");
        c.pod(&name, json!({"cpu": "100m", "memory": "100Mi"}), labelled.clone()).await;
        c.bound(&name).await;
        names.push(name);
    }
    let per_node = spread_of(&c, &names).await;
    assert_eq!(per_node.len(), 3, "spread over every node: {per_node:?}");
    // Pods the Service does not select pile up on the big node.
    for i in 0..3 {
        let name = format!("other{i}");
        c.pod(&name, json!({"cpu": "100m", "memory": "100Mi"}), json!({"metadata": {"labels": {"app": "other"}}}))
            .await;
        assert_eq!(c.bound(&name).await, "big");
    }
}
