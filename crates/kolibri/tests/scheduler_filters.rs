//! The scheduler's filters, end to end: a real `kolibri server`, Node objects registered by
//! the test, pods bound (or not) by the scheduler. Expected messages are upstream's.

mod common;
mod sched;

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, Patch, PatchParams, PostParams};
use sched::Cluster;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_unschedulable_keeps_pods_off_cordoned_nodes() {
    let c = Cluster::start().await;
    c.node("cordoned", "4", "8Gi", json!({"spec": {"unschedulable": true}})).await;
    c.pod("p1", json!({}), json!({})).await;
    assert_eq!(
        c.unschedulable("p1").await,
        "0/1 nodes are available: 1 node(s) were unschedulable. \
         preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    );
    // A pod tolerating the cordon goes there.
    c.pod(
        "tolerant",
        json!({}),
        json!({"spec": {"tolerations": [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]}}),
    )
    .await;
    assert_eq!(c.bound("tolerant").await, "cordoned");
    // Uncordoning is a node update: the waiting pod is bound without being touched.
    Api::<Node>::all(c.client.clone())
        .patch("cordoned", &PatchParams::default(), &Patch::Merge(json!({"spec": {"unschedulable": false}})))
        .await
        .expect("uncordon");
    assert_eq!(c.bound("p1").await, "cordoned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_fit_reports_insufficient_cpu_and_binds_when_a_node_fits() {
    let c = Cluster::start().await;
    for n in ["n1", "n2", "n3"] {
        c.node(n, "1", "2Gi", json!({})).await;
    }
    c.pod("big", json!({"cpu": "1500m", "memory": "100Mi"}), json!({})).await;
    assert_eq!(
        c.unschedulable("big").await,
        "0/3 nodes are available: 3 Insufficient cpu. \
         preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    );
    // The pod condition says the same (written alongside the event, maybe after it).
    let t = std::time::Instant::now();
    let scheduled = loop {
        let pod = c.pods().get("big").await.expect("get");
        let cond = pod.status.and_then(|s| s.conditions).unwrap_or_default();
        if let Some(scheduled) = cond.into_iter().find(|c| c.type_ == "PodScheduled") {
            break scheduled;
        }
        assert!(t.elapsed() < sched::WAIT, "no PodScheduled condition");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!((scheduled.status.as_str(), scheduled.reason.as_deref()), ("False", Some("Unschedulable")));
    // A node that fits appears: the pod is bound to it, with no other change.
    c.node("n4", "2", "4Gi", json!({})).await;
    assert_eq!(c.bound("big").await, "n4");
    assert_eq!(c.event("big", "Scheduled").await, "Successfully assigned default/big to n4");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_fit_counts_memory_extended_resources_and_pod_slots() {
    let c = Cluster::start().await;
    c.node("small", "8", "1Gi", json!({})).await;
    c.node(
        "gpu",
        "8",
        "1Gi",
        json!({"status": {"allocatable": {"example.com/gpu": "2"}, "capacity": {"example.com/gpu": "2"}}}),
    )
    .await;
    c.node("full", "8", "64Gi", json!({"status": {"allocatable": {"pods": "0"}, "capacity": {"pods": "0"}}})).await;
    // 1.5Gi does not fit in 1Gi (binary suffixes), and "full" takes no pods.
    c.pod("mem", json!({"memory": "1.5Gi"}), json!({})).await;
    assert_eq!(
        c.unschedulable("mem").await,
        "0/3 nodes are available: 1 Too many pods, 2 Insufficient memory. \
         preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    );
    c.pod("gpu1", json!({"example.com/gpu": "2"}), json!({})).await;
    assert_eq!(c.bound("gpu1").await, "gpu");
    // The two GPUs are taken now.
    c.pod("gpu2", json!({"example.com/gpu": "1", "cpu": "100m"}), json!({})).await;
    assert_eq!(
        c.unschedulable("gpu2").await,
        // Every insufficient resource of a node counts: "full" has neither a slot nor a GPU.
        "0/3 nodes are available: 1 Too many pods, 3 Insufficient example.com/gpu. \
         preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    );
    // Init containers count by their maximum: 6 CPUs in an init container fit on 8.
    c.pod(
        "init",
        json!({"cpu": "1"}),
        json!({"spec": {"initContainers": [{"name": "i", "image": "busybox", "resources": {"requests": {"cpu": "6"}}}]}}),
    )
    .await;
    assert!(["small", "gpu"].contains(&c.bound("init").await.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_name_pods_are_not_scheduled_but_hold_their_resources() {
    let c = Cluster::start().await;
    c.node("n1", "1", "1Gi", json!({})).await;
    c.pod("pinned", json!({"cpu": "800m"}), json!({"spec": {"nodeName": "n1"}})).await;
    c.pod("other", json!({"cpu": "500m"}), json!({})).await;
    assert_eq!(
        c.unschedulable("other").await,
        "0/1 nodes are available: 1 Insufficient cpu. \
         preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    );
    // The scheduler never touched the pinned pod.
    assert!(c.event_messages("pinned", "Scheduled").await.is_empty());
    // Deleting the pinned pod frees the CPU: the other pod is bound.
    c.delete_now("pinned").await;
    assert_eq!(c.bound("other").await, "n1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_affinity_and_node_selector() {
    let c = Cluster::start().await;
    c.node("ssd", "4", "8Gi", json!({"metadata": {"labels": {"disk": "ssd", "gen": "5"}}})).await;
    c.node("hdd", "4", "8Gi", json!({"metadata": {"labels": {"disk": "hdd", "gen": "3"}}})).await;
    c.pod("sel", json!({}), json!({"spec": {"nodeSelector": {"disk": "hdd"}}})).await;
    assert_eq!(c.bound("sel").await, "hdd");
    let gt = json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["4"]}]}]}}}}});
    c.pod("gt", json!({}), gt).await;
    assert_eq!(c.bound("gt").await, "ssd");
    let none = json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "In", "values": ["nvme"]}]}]}}}}});
    c.pod("nvme", json!({}), none).await;
    assert_eq!(
        c.unschedulable("nvme").await,
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. \
         preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    );
    // Labelling a node to match is a node update: the pod is bound there.
    Api::<Node>::all(c.client.clone())
        .patch("hdd", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"disk": "nvme"}}})))
        .await
        .expect("label");
    assert_eq!(c.bound("nvme").await, "hdd");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taints_need_tolerations() {
    let c = Cluster::start().await;
    c.node(
        "gpu",
        "4",
        "8Gi",
        json!({"spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}}),
    )
    .await;
    c.node("edge", "4", "8Gi", json!({"spec": {"taints": [{"key": "key", "value": "value", "effect": "NoExecute"}]}}))
        .await;
    c.node(
        "cp",
        "4",
        "8Gi",
        json!({"spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}}),
    )
    .await;
    c.pod("plain", json!({}), json!({})).await;
    assert_eq!(
        c.unschedulable("plain").await,
        "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, \
         1 node(s) had untolerated taint {key: value}, \
         1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. \
         preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
    c.pod(
        "gpu-user",
        json!({}),
        json!({"spec": {"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}}),
    )
    .await;
    assert_eq!(c.bound("gpu-user").await, "gpu");
    // A toleration with the wrong value does not count.
    c.pod(
        "wrong",
        json!({}),
        json!({"spec": {"tolerations": [{"key": "key", "operator": "Equal", "value": "other"}]}}),
    )
    .await;
    c.unschedulable("wrong").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inter_pod_affinity_and_anti_affinity() {
    let c = Cluster::start().await;
    for (n, zone) in [("a1", "a"), ("a2", "a"), ("b1", "b")] {
        c.node(n, "4", "8Gi", json!({"metadata": {"labels": {"topology.kubernetes.io/zone": zone}}})).await;
    }
    c.pod("db", json!({}), json!({"metadata": {"labels": {"app": "db"}}, "spec": {"nodeName": "b1"}})).await;
    let term = |key: &str| json!([{"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": key}]);
    c.pod(
        "near-db",
        json!({}),
        json!({"spec": {"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": term("topology.kubernetes.io/zone")}}}}),
    )
    .await;
    assert_eq!(c.bound("near-db").await, "b1");
    c.pod(
        "away-from-db",
        json!({}),
        json!({"spec": {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": term("topology.kubernetes.io/zone")}}}}),
    )
    .await;
    assert!(c.bound("away-from-db").await.starts_with('a'));
    // An existing pod's anti-affinity keeps matching pods out of its zone.
    c.pod(
        "loner",
        json!({}),
        json!({"metadata": {"labels": {"app": "loner"}}, "spec": {"nodeName": "a1", "affinity": {"podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"app": "web"}},
            "topologyKey": "topology.kubernetes.io/zone"}]}}}}),
    )
    .await;
    c.pod("web", json!({}), json!({"metadata": {"labels": {"app": "web"}}})).await;
    assert_eq!(c.bound("web").await, "b1");
    // Affinity to pods that do not exist (and not to itself): nowhere.
    c.pod(
        "lonely",
        json!({}),
        json!({"spec": {"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchLabels": {"app": "ghost"}}, "topologyKey": "kubernetes.io/hostname"}]}}}}),
    )
    .await;
    assert_eq!(
        c.unschedulable("lonely").await,
        "0/3 nodes are available: 3 node(s) didn't match pod affinity rules. \
         preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
    // Anti-affinity to db on every hostname it could take: all taken by pods it avoids.
    c.pod("db2", json!({}), json!({"metadata": {"labels": {"app": "db"}}, "spec": {"nodeName": "a1"}})).await;
    c.pod("db3", json!({}), json!({"metadata": {"labels": {"app": "db"}}, "spec": {"nodeName": "a2"}})).await;
    c.pod(
        "no-db-host",
        json!({}),
        json!({"spec": {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": term("kubernetes.io/hostname")}}}}),
    )
    .await;
    assert_eq!(
        c.unschedulable("no-db-host").await,
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. \
         preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topology_spread_constraints_bound_the_skew() {
    let c = Cluster::start().await;
    for (n, zone) in [("a1", "a"), ("b1", "b")] {
        c.node(n, "4", "8Gi", json!({"metadata": {"labels": {"topology.kubernetes.io/zone": zone}}})).await;
    }
    for i in 0..2 {
        c.pod(&format!("old{i}"), json!({}), json!({"metadata": {"labels": {"app": "s"}}, "spec": {"nodeName": "a1"}}))
            .await;
    }
    let spread = json!({"metadata": {"labels": {"app": "s"}}, "spec": {"topologySpreadConstraints": [{
        "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "s"}}}]}});
    // Zone a has 2, zone b 0: the next two must go to b.
    for i in 0..2 {
        c.pod(&format!("new{i}"), json!({}), spread.clone()).await;
        assert_eq!(c.bound(&format!("new{i}")).await, "b1");
    }
    // A node without the zone label cannot take the pod, whatever the counts.
    c.node("nozone", "4", "8Gi", json!({})).await;
    let mut only_nozone = spread.clone();
    sched::merge(&mut only_nozone, &json!({"spec": {"nodeSelector": {"kubernetes.io/hostname": "nozone"}}}));
    c.pod("x", json!({}), only_nozone).await;
    assert_eq!(
        c.unschedulable("x").await,
        "0/3 nodes are available: 1 node(s) didn't match pod topology spread constraints (missing required label), \
         2 node(s) didn't match Pod's node affinity/selector. \
         preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_ports_must_be_free() {
    let c = Cluster::start().await;
    c.node("n1", "4", "8Gi", json!({})).await;
    c.node("n2", "4", "8Gi", json!({})).await;
    let port = json!({"spec": {"containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}});
    c.pod("web1", json!({}), port.clone()).await;
    let first = c.bound("web1").await;
    c.pod("web2", json!({}), port.clone()).await;
    let second = c.bound("web2").await;
    assert_ne!(first, second);
    c.pod("web3", json!({}), port.clone()).await;
    assert_eq!(
        c.unschedulable("web3").await,
        "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports. \
         preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
    );
    // UDP on the same port is another port.
    c.pod(
        "dns",
        json!({}),
        json!({"spec": {"containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 53, "hostPort": 8080, "protocol": "UDP"}]}]}}),
    )
    .await;
    c.bound("dns").await;
    // A freed port is a pod deletion: web3 is bound.
    c.delete_now("web1").await;
    assert_eq!(c.bound("web3").await, first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volume_binding_waits_for_first_consumer() {
    let c = Cluster::start().await;
    c.node("a1", "4", "8Gi", json!({"metadata": {"labels": {"topology.kubernetes.io/zone": "a"}}})).await;
    c.node("b1", "4", "8Gi", json!({"metadata": {"labels": {"topology.kubernetes.io/zone": "b"}}})).await;
    c.apply::<StorageClass>(json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "zonal"}, "provisioner": "example.com/zonal", "volumeBindingMode": "WaitForFirstConsumer",
        "allowedTopologies": [{"matchLabelExpressions": [{"key": "topology.kubernetes.io/zone", "values": ["b"]}]}]}))
        .await;
    c.apply::<StorageClass>(json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "local"}, "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "WaitForFirstConsumer"}))
        .await;
    c.apply::<PersistentVolume>(
        json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "local-a1"},
        "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "local",
            "local": {"path": "/mnt/disk"}, "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["a1"]}]}]}}}}),
    )
    .await;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(c.client.clone(), "default");
    for (name, class) in [("dyn", "zonal"), ("static", "local")] {
        let claim: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": name},
            "spec": {"storageClassName": class, "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))
        .expect("claim");
        claims.create(&PostParams::default(), &claim).await.expect("create claim");
    }
    let with_claim =
        |claim: &str| json!({"spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]}});
    // Dynamic provisioning only in zone b; the claim is told the node, and the pod is bound
    // once the claim is (the test plays the provisioner; the PV controller binds the claim).
    c.pod("dyn-user", json!({}), with_claim("dyn")).await;
    let selected = |o: Option<&PersistentVolumeClaim>| {
        o.and_then(|o| o.metadata.annotations.as_ref())
            .is_some_and(|a| a.get("volume.kubernetes.io/selected-node").is_some_and(|n| n == "b1"))
    };
    let claim =
        tokio::time::timeout(sched::WAIT, kube::runtime::wait::await_condition(claims.clone(), "dyn", selected))
            .await
            .expect("node selected in time")
            .expect("watch")
            .expect("claim");
    assert_eq!(c.node_of("dyn-user").await, None);
    c.apply::<PersistentVolume>(
        json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pvc-dyn"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "zonal",
            "csi": {"driver": "example.com/zonal", "volumeHandle": "dyn"},
            "claimRef": {"namespace": "default", "name": "dyn", "uid": claim.metadata.uid}}}),
    )
    .await;
    assert_eq!(c.bound("dyn-user").await, "b1");
    // The local volume is on a1 only; it is reserved for the claim.
    c.pod("static-user", json!({}), with_claim("static")).await;
    assert_eq!(c.bound("static-user").await, "a1");
    let pv = Api::<PersistentVolume>::all(c.client.clone()).get("local-a1").await.expect("pv");
    assert_eq!(pv.spec.and_then(|s| s.claim_ref).and_then(|r| r.name).as_deref(), Some("static"));
    // A missing claim is reported for every node.
    c.pod("no-claim", json!({}), with_claim("nope")).await;
    assert_eq!(
        c.unschedulable("no-claim").await,
        "0/2 nodes are available: persistentvolumeclaim \"nope\" not found. \
         preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    );
    // A claim for which no volume is left and none can be provisioned.
    let claim: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "static2"},
        "spec": {"storageClassName": "local", "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))
    .expect("claim");
    claims.create(&PostParams::default(), &claim).await.expect("create claim");
    c.pod("static-user2", json!({}), with_claim("static2")).await;
    assert_eq!(
        c.unschedulable("static-user2").await,
        "0/2 nodes are available: 2 node(s) didn't find available persistent volumes to bind. \
         preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_schedulers_pods_are_left_alone() {
    let c = Cluster::start().await;
    c.node("n1", "4", "8Gi", json!({})).await;
    c.pod("mine", json!({}), json!({"spec": {"schedulerName": "my-scheduler"}})).await;
    c.pod("default", json!({}), json!({})).await;
    // Once the default pod is bound, the other one has been seen and skipped.
    c.bound("default").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(c.node_of("mine").await, None);
    assert!(c.event_messages("mine", "FailedScheduling").await.is_empty());
    assert!(c.event_messages("mine", "Scheduled").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_nodes_at_all() {
    let c = Cluster::start().await;
    c.pod("p", json!({}), json!({})).await;
    assert_eq!(c.unschedulable("p").await, "no nodes available to schedule pods");
    c.node("late", "1", "1Gi", json!({})).await;
    assert_eq!(c.bound("p").await, "late");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_reported_without_a_hot_loop() {
    let c = Cluster::start().await;
    c.node("n1", "4", "8Gi", json!({})).await;
    // An unknown priority class: refused at admission with upstream's message; accepted,
    // with the class's priority, and scheduled once the class exists.
    let vip = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "vip"},
        "spec": {"priorityClassName": "gold", "containers": [{"name": "c", "image": "busybox"}]}});
    match c.create_pod(vip.clone()).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 403);
            assert_eq!(status.message, "pods \"vip\" is forbidden: no PriorityClass with name gold was found");
        }
        other => panic!("a pod of an unknown priority class was not refused: {other:?}"),
    }
    c.apply::<PriorityClass>(json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
        "metadata": {"name": "gold"}, "value": 1000}))
        .await;
    let created = c.create_pod(vip).await.expect("create pod");
    assert_eq!(created.spec.as_ref().and_then(|s| s.priority), Some(1000));
    assert_eq!(c.bound("vip").await, "n1");

    // A malformed quantity: rejected by the API server, or reported by the scheduler.
    let bad = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad"}, "spec": {"containers": [
        {"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "lots"}}}]}});
    if c.create_pod(bad).await.is_ok() {
        let message = c.unschedulable("bad").await;
        assert!(message.contains("lots"), "{message}");
    }
    // Impossible affinity (unsatisfiable selector operator): reported, not a crash.
    c.pod(
        "odd",
        json!({}),
        json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "a", "operator": "In", "values": ["x"]},
                                                         {"key": "a", "operator": "NotIn", "values": ["x"]}]}]}}}}}),
    )
    .await;
    c.unschedulable("odd").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(c.event_messages("odd", "FailedScheduling").await.len(), 1);
    // The scheduler is alive: a plain pod is still bound.
    c.pod("after", json!({}), json!({})).await;
    assert_eq!(c.bound("after").await, "n1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_scheduler_leaves_pods_pending() {
    let c = Cluster::start_with(&["--disable-scheduler"]).await;
    c.node("n1", "4", "8Gi", json!({})).await;
    c.pod("p", json!({}), json!({})).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(c.node_of("p").await, None);
    assert!(c.event_messages("p", "FailedScheduling").await.is_empty());
    assert!(!c.server.server_log().contains("scheduler started"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_scheduler_from_the_config_file() {
    let dir_config = |s: &common::Server| s.dir.path().join("config.yaml");
    // The harness writes the config file before the first start; restart with the key set.
    let mut server = common::Server::start();
    server.stop();
    std::fs::write(dir_config(&server), "disable-scheduler: true\n").expect("config");
    server.spawn(&[]);
    let c = Cluster { client: server.client().await, server };
    c.node("n1", "4", "8Gi", json!({})).await;
    c.pod("p", json!({}), json!({})).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(c.node_of("p").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_affinity_across_namespaces_by_selector() {
    let c = Cluster::start().await;
    c.node("n1", "4", "8Gi", json!({})).await;
    c.node("n2", "4", "8Gi", json!({})).await;
    let ns: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(json!({"metadata": {"name": "team-a", "labels": {"team": "a"}}})).expect("namespace");
    Api::<k8s_openapi::api::core::v1::Namespace>::all(c.client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
    let db: k8s_openapi::api::core::v1::Pod =
        serde_json::from_value(json!({"metadata": {"name": "db", "labels": {"app": "db"}},
        "spec": {"nodeName": "n2", "containers": [{"name": "c", "image": "busybox"}]}}))
        .expect("pod");
    Api::<k8s_openapi::api::core::v1::Pod>::namespaced(c.client.clone(), "team-a")
        .create(&PostParams::default(), &db)
        .await
        .expect("create pod");
    let affinity = |team: &str| {
        json!({"spec": {"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchLabels": {"app": "db"}}, "namespaceSelector": {"matchLabels": {"team": team}},
            "topologyKey": "kubernetes.io/hostname"}]}}}})
    };
    c.pod("with-a", json!({}), affinity("a")).await;
    assert_eq!(c.bound("with-a").await, "n2");
    c.pod("with-b", json!({}), affinity("b")).await;
    assert_eq!(
        c.unschedulable("with-b").await,
        "0/2 nodes are available: 2 node(s) didn't match pod affinity rules. \
         preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_are_one_event_with_a_series() {
    let c = Cluster::start().await;
    c.node("n1", "1", "1Gi", json!({})).await;
    c.pod("huge", json!({"cpu": "8"}), json!({})).await;
    assert_eq!(
        c.unschedulable("huge").await,
        "0/1 nodes are available: 1 Insufficient cpu. \
         preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    );
    // Each new node is another attempt (and another failure).
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(c.client.clone(), "default");
    let t = std::time::Instant::now();
    let mut added = 1;
    let series = loop {
        let list = events.list(&Default::default()).await.expect("list events").items;
        let failed: Vec<_> = list
            .into_iter()
            .filter(|e| {
                e.involved_object.name.as_deref() == Some("huge") && e.reason.as_deref() == Some("FailedScheduling")
            })
            .collect();
        assert_eq!(failed.len(), 1, "one Event for every attempt: {failed:?}");
        if let Some(series) = failed[0].series.clone() {
            // The note stays the first one's.
            assert!(failed[0].message.as_deref().is_some_and(|m| m.starts_with("0/1 nodes")), "{failed:?}");
            break series;
        }
        assert!(t.elapsed() < sched::WAIT, "no series: {failed:?}");
        if added < 4 {
            added += 1;
            c.node(&format!("n{added}"), "1", "1Gi", json!({})).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(series.count, Some(2));
    assert!(series.last_observed_time.is_some());
    assert_eq!(c.node_of("huge").await, None);
}
