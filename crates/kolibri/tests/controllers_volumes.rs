//! The PersistentVolume binder controller, and the scheduler waiting for a pod's claims to be
//! bound, against a real `kolibri server` (Node objects registered by the test; no agent
//! runs, so pods are only bound, never run).

mod common;
mod sched;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::ok;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::await_condition;
use kube::runtime::{watcher, WatchStreamExt};
use sched::{Cluster, WAIT};
use serde_json::{json, Value};

fn volume(name: &str, size: &str, extra: Value) -> Value {
    let mut v = json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
        "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": format!("/srv/{name}")}}});
    sched::merge(&mut v, &extra);
    v
}

async fn create_claim(c: &Cluster, name: &str, spec: Value) -> PersistentVolumeClaim {
    let mut claim = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    sched::merge(&mut claim, &json!({ "spec": spec }));
    let claim: PersistentVolumeClaim = serde_json::from_value(claim).expect("claim");
    claims(c).create(&PostParams::default(), &claim).await.expect("create claim")
}

fn claims(c: &Cluster) -> Api<PersistentVolumeClaim> {
    Api::namespaced(c.client.clone(), "default")
}

fn volumes(c: &Cluster) -> Api<PersistentVolume> {
    Api::all(c.client.clone())
}

fn claim_phase(c: &PersistentVolumeClaim) -> &str {
    c.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default()
}

fn volume_phase(v: &PersistentVolume) -> &str {
    v.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default()
}

fn annotations(meta: &kube::api::ObjectMeta) -> BTreeMap<String, String> {
    meta.annotations.clone().unwrap_or_default()
}

/// Waits (watching) until the claim is in `phase`.
async fn claim_in_phase(c: &Cluster, name: &str, phase: &str) -> PersistentVolumeClaim {
    let cond = |o: Option<&PersistentVolumeClaim>| o.is_some_and(|o| claim_phase(o) == phase);
    match tokio::time::timeout(WAIT, await_condition(claims(c), name, cond)).await {
        Ok(Ok(Some(claim))) => claim,
        other => panic!(
            "claim {name} is not {phase} ({other:?}): {:?}\nlog:\n{}",
            claims(c).get(name).await,
            c.server.server_log()
        ),
    }
}

/// Waits (watching) until the volume is in `phase`.
async fn volume_in_phase(c: &Cluster, name: &str, phase: &str) -> PersistentVolume {
    let cond = |o: Option<&PersistentVolume>| o.is_some_and(|o| volume_phase(o) == phase);
    match tokio::time::timeout(WAIT, await_condition(volumes(c), name, cond)).await {
        Ok(Ok(Some(volume))) => volume,
        other => panic!(
            "volume {name} is not {phase} ({other:?}): {:?}\nlog:\n{}",
            volumes(c).get(name).await,
            c.server.server_log()
        ),
    }
}

/// The cell of `column` in the row of `name` of a `kubectl get` table (tables of several
/// kinds each have their header line).
fn cell(table: &str, name: &str, column: &str) -> String {
    let mut header = "";
    for line in table.lines() {
        if line.starts_with("NAME ") {
            header = line;
        } else if line.split_whitespace().next() == Some(name) {
            // The column's word (CLAIM, not the end of RECLAIM POLICY).
            let at = header
                .match_indices(column)
                .map(|(at, _)| at)
                .find(|&at| {
                    header[..at].ends_with(' ') && header[at + column.len()..].chars().next().is_none_or(|c| c == ' ')
                })
                .unwrap_or_else(|| panic!("no column {column} in {header:?}"));
            return line.get(at..).unwrap_or_default().split_whitespace().next().unwrap_or_default().to_string();
        }
    }
    panic!("no row {name} in\n{table}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immediate_claims_bind_to_the_smallest_matching_volume_and_release_it() {
    let c = Cluster::start().await;
    for (name, size, extra) in [
        ("pv-big", "5Gi", json!({})),
        ("pv-small", "2Gi", json!({})),
        ("pv-tiny", "500Mi", json!({})),
        ("pv-fast", "2Gi", json!({"spec": {"storageClassName": "fast"}})),
        ("pv-shared", "2Gi", json!({"spec": {"accessModes": ["ReadWriteOnce", "ReadWriteMany"]}})),
        ("pv-doomed", "3Gi", json!({"spec": {"persistentVolumeReclaimPolicy": "Delete"}})),
    ] {
        c.apply::<PersistentVolume>(volume(name, size, extra)).await;
    }
    for name in ["pv-big", "pv-small", "pv-tiny", "pv-fast", "pv-shared", "pv-doomed"] {
        let v = volume_in_phase(&c, name, "Available").await;
        assert!(v.status.and_then(|s| s.last_phase_transition_time).is_some());
    }

    // No class: the smallest volume without a class whose modes include RWO and that holds 1Gi.
    let created = create_claim(&c, "data", json!({"storageClassName": ""})).await;
    let claim = claim_in_phase(&c, "data", "Bound").await;
    let spec = claim.spec.clone().unwrap_or_default();
    assert_eq!(spec.volume_name.as_deref(), Some("pv-small"));
    let a = annotations(&claim.metadata);
    assert_eq!(a.get("pv.kubernetes.io/bind-completed").map(String::as_str), Some("yes"));
    assert_eq!(a.get("pv.kubernetes.io/bound-by-controller").map(String::as_str), Some("yes"));
    let status = claim.status.clone().unwrap_or_default();
    assert_eq!(status.capacity.unwrap_or_default().get("storage").map(|q| q.0.as_str()), Some("2Gi"));
    assert_eq!(status.access_modes.unwrap_or_default(), ["ReadWriteOnce"]);

    let pv = volume_in_phase(&c, "pv-small", "Bound").await;
    let claim_ref = pv.spec.clone().unwrap_or_default().claim_ref.expect("claimRef");
    assert_eq!(
        (claim_ref.kind.as_deref(), claim_ref.namespace.as_deref(), claim_ref.name.as_deref()),
        (Some("PersistentVolumeClaim"), Some("default"), Some("data"))
    );
    assert_eq!(claim_ref.uid, created.metadata.uid);
    assert_eq!(annotations(&pv.metadata).get("pv.kubernetes.io/bound-by-controller").map(String::as_str), Some("yes"));
    for other in ["pv-big", "pv-tiny", "pv-fast", "pv-shared"] {
        assert_eq!(volume_phase(&volumes(&c).get(other).await.expect("pv")), "Available", "{other}");
    }

    // What kubectl shows.
    let table = ok(c.server.kubectl(&["get", "pv,pvc", "-n", "default"]));
    assert_eq!(cell(&table, "persistentvolume/pv-small", "STATUS"), "Bound", "{table}");
    assert_eq!(cell(&table, "persistentvolume/pv-small", "CLAIM"), "default/data", "{table}");
    assert_eq!(cell(&table, "persistentvolume/pv-big", "STATUS"), "Available", "{table}");
    assert_eq!(cell(&table, "persistentvolumeclaim/data", "STATUS"), "Bound", "{table}");
    assert_eq!(cell(&table, "persistentvolumeclaim/data", "VOLUME"), "pv-small", "{table}");
    assert_eq!(cell(&table, "persistentvolumeclaim/data", "CAPACITY"), "2Gi", "{table}");

    // A claim naming its volume gets it (the user bound it: no bound-by-controller on the
    // claim; the controller set the volume's claimRef).
    create_claim(&c, "picky", json!({"storageClassName": "", "volumeName": "pv-big"})).await;
    let claim = claim_in_phase(&c, "picky", "Bound").await;
    assert_eq!(claim.spec.and_then(|s| s.volume_name).as_deref(), Some("pv-big"));
    assert_eq!(annotations(&claim.metadata).get("pv.kubernetes.io/bound-by-controller"), None);
    let pv = volume_in_phase(&c, "pv-big", "Bound").await;
    assert_eq!(pv.spec.and_then(|s| s.claim_ref).and_then(|r| r.name).as_deref(), Some("picky"));

    // A claim naming a volume that does not fit is told why.
    create_claim(&c, "greedy", json!({"storageClassName": "", "volumeName": "pv-tiny"})).await;
    assert_eq!(
        c.event("greedy", "VolumeMismatch").await,
        "Cannot bind to requested volume \"pv-tiny\": requested PV is too small"
    );
    assert_eq!(claim_phase(&claims(&c).get("greedy").await.expect("claim")), "Pending");

    // Deleting the claim releases the volume; Retain keeps it, claimRef and all.
    claims(&c).delete("data", &DeleteParams::default()).await.expect("delete claim");
    let pv = volume_in_phase(&c, "pv-small", "Released").await;
    assert_eq!(pv.spec.and_then(|s| s.claim_ref).and_then(|r| r.name).as_deref(), Some("data"));
    let table = ok(c.server.kubectl(&["get", "pv", "pv-small"]));
    assert_eq!(cell(&table, "pv-small", "STATUS"), "Released", "{table}");
    assert_eq!(cell(&table, "pv-small", "CLAIM"), "default/data", "{table}");
    // A released volume is not bound again; access modes are a superset.
    create_claim(
        &c,
        "again",
        json!({"storageClassName": "", "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": "2Gi"}}}),
    )
    .await;
    let claim = claim_in_phase(&c, "again", "Bound").await;
    assert_eq!(claim.spec.and_then(|s| s.volume_name).as_deref(), Some("pv-shared"));

    // Delete: kolibri has no in-tree deleter, so the volume fails as upstream's does for
    // a volume no plugin can delete.
    create_claim(&c, "scratch", json!({"storageClassName": "", "resources": {"requests": {"storage": "3Gi"}}})).await;
    let claim = claim_in_phase(&c, "scratch", "Bound").await;
    assert_eq!(claim.spec.and_then(|s| s.volume_name).as_deref(), Some("pv-doomed"));
    claims(&c).delete("scratch", &DeleteParams::default()).await.expect("delete claim");
    let pv = volume_in_phase(&c, "pv-doomed", "Failed").await;
    let message = "error getting deleter volume plugin for volume \"pv-doomed\": no deletable volume plugin matched";
    assert_eq!(pv.status.and_then(|s| s.message).as_deref(), Some(message));
    assert_eq!(c.event("pv-doomed", "VolumeFailedDelete").await, message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmatched_claims_wait_for_a_volume_or_a_provisioner() {
    let c = Cluster::start().await;
    create_claim(&c, "lonely", json!({"storageClassName": "", "resources": {"requests": {"storage": "2Gi"}}})).await;
    assert_eq!(
        c.event("lonely", "FailedBinding").await,
        "no persistent volumes available for this claim and no storage class is set"
    );
    assert_eq!(claim_phase(&claims(&c).get("lonely").await.expect("claim")), "Pending");

    // A volume that fits, created later, is bound at once (no periodic resync).
    c.apply::<PersistentVolume>(volume("late", "3Gi", json!({}))).await;
    let claim = claim_in_phase(&c, "lonely", "Bound").await;
    assert_eq!(claim.spec.and_then(|s| s.volume_name).as_deref(), Some("late"));

    // A class with an external provisioner: the claim is handed to it.
    c.apply::<StorageClass>(json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "ext"}, "provisioner": "example.com/ext"}))
        .await;
    create_claim(&c, "dynamic", json!({"storageClassName": "ext"})).await;
    assert_eq!(
        c.event("dynamic", "ExternalProvisioning").await,
        "Waiting for a volume to be created either by the external provisioner 'example.com/ext' or manually by the \
         system administrator. If volume creation is delayed, please verify that the provisioner is running and \
         correctly registered."
    );
    let claim = claims(&c).get("dynamic").await.expect("claim");
    let a = annotations(&claim.metadata);
    assert_eq!(a.get("volume.kubernetes.io/storage-provisioner").map(String::as_str), Some("example.com/ext"));
    assert_eq!(a.get("volume.beta.kubernetes.io/storage-provisioner").map(String::as_str), Some("example.com/ext"));
    assert_eq!(claim_phase(&claim), "Pending");
    // The provisioner creates a volume bound to the claim; the controller completes it.
    c.apply::<PersistentVolume>(volume(
        "pvc-dynamic",
        "1Gi",
        json!({
        "metadata": {"annotations": {"pv.kubernetes.io/provisioned-by": "example.com/ext"}},
        "spec": {"storageClassName": "ext", "persistentVolumeReclaimPolicy": "Delete",
            "claimRef": {"namespace": "default", "name": "dynamic", "uid": claim.metadata.uid}}}),
    ))
    .await;
    let claim = claim_in_phase(&c, "dynamic", "Bound").await;
    assert_eq!(claim.spec.and_then(|s| s.volume_name).as_deref(), Some("pvc-dynamic"));
    volume_in_phase(&c, "pvc-dynamic", "Bound").await;
    // Deleted claim: the volume is released for its provisioner to delete (not failed).
    claims(&c).delete("dynamic", &DeleteParams::default()).await.expect("delete claim");
    volume_in_phase(&c, "pvc-dynamic", "Released").await;

    // Missing classes and classes without a provisioner are reported.
    create_claim(&c, "classless", json!({"storageClassName": "nope"})).await;
    assert_eq!(c.event("classless", "ProvisioningFailed").await, "storageclass.storage.k8s.io \"nope\" not found");
    c.apply::<StorageClass>(json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "manual"}, "provisioner": "kubernetes.io/no-provisioner"}))
        .await;
    create_claim(&c, "manual", json!({"storageClassName": "manual"})).await;
    assert_eq!(
        c.event("manual", "ProvisioningFailed").await,
        "no volume plugin matched name: kubernetes.io/no-provisioner"
    );
}

/// Records the resourceVersion of the first state of each named object that passes `cond`.
fn first_seen<K>(api: Api<K>, cond: impl Fn(&K) -> bool + Send + 'static) -> Arc<Mutex<BTreeMap<String, u64>>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let seen = Arc::new(Mutex::new(BTreeMap::new()));
    let out = seen.clone();
    tokio::spawn(async move {
        let mut events = std::pin::pin!(watcher(api, watcher::Config::default()).default_backoff().applied_objects());
        while let Some(Ok(obj)) = events.next().await {
            if cond(&obj) {
                let rv = obj.meta().resource_version.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0);
                let name = obj.meta().name.clone().unwrap_or_default();
                seen.lock().unwrap().entry(name).or_insert(rv);
            }
        }
    });
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_first_consumer_binds_where_the_pod_goes_and_before_the_pod() {
    let c = Cluster::start().await;
    c.node("node-a", "4", "8Gi", json!({})).await;
    c.node("node-b", "4", "8Gi", json!({})).await;
    c.apply::<StorageClass>(json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "local"}, "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "WaitForFirstConsumer"}))
        .await;
    c.apply::<PersistentVolume>(
        json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "local-b"},
        "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "local",
            "local": {"path": "/mnt/disk"}, "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-b"]}]}]}}}}),
    )
    .await;
    volume_in_phase(&c, "local-b", "Available").await;
    create_claim(&c, "local-data", json!({"storageClassName": "local"})).await;
    assert_eq!(
        c.event("local-data", "WaitForFirstConsumer").await,
        "waiting for first consumer to be created before binding"
    );
    // Not bound by the controller: the scheduler chooses.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(claim_phase(&claims(&c).get("local-data").await.expect("claim")), "Pending");
    assert_eq!(volume_phase(&volumes(&c).get("local-b").await.expect("pv")), "Available");

    let bound_claims = first_seen(claims(&c), |o: &PersistentVolumeClaim| {
        o.metadata.annotations.as_ref().is_some_and(|a| a.contains_key("pv.kubernetes.io/bind-completed"))
    });
    let bound_pods = first_seen(c.pods(), |p: &Pod| p.spec.as_ref().is_some_and(|s| s.node_name.is_some()));
    c.pod(
        "user",
        json!({}),
        json!({"spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "local-data"}}]}}),
    )
    .await;
    assert_eq!(c.bound("user").await, "node-b");
    let claim = claim_in_phase(&c, "local-data", "Bound").await;
    assert_eq!(claim.spec.and_then(|s| s.volume_name).as_deref(), Some("local-b"));
    let pv = volume_in_phase(&c, "local-b", "Bound").await;
    assert_eq!(pv.spec.and_then(|s| s.claim_ref).and_then(|r| r.name).as_deref(), Some("local-data"));
    // The claim was bound (a store revision) before the pod.
    let (claim_rv, pod_rv) = common::eventually(WAIT, "both watches", || {
        let (claims, pods) = (bound_claims.lock().unwrap().clone(), bound_pods.lock().unwrap().clone());
        async move { Some((*claims.get("local-data")?, *pods.get("user")?)) }
    })
    .await;
    assert!(claim_rv < pod_rv, "claim bound at {claim_rv}, pod at {pod_rv}");
    assert_eq!(c.event("user", "Scheduled").await, "Successfully assigned default/user to node-b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_binds_the_pod_only_once_its_claims_are_bound() {
    // No PersistentVolume controller: the test completes the binding itself.
    let c = Cluster::start_with(&["--disable-controllers", "persistentvolume-binder-controller"]).await;
    c.node("n1", "4", "8Gi", json!({})).await;
    c.apply::<StorageClass>(json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "local"}, "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "WaitForFirstConsumer"}))
        .await;
    c.apply::<PersistentVolume>(volume("disk", "1Gi", json!({"spec": {"storageClassName": "local"}}))).await;
    let claim = create_claim(&c, "data", json!({"storageClassName": "local"})).await;
    c.pod(
        "user",
        json!({}),
        json!({"spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}}),
    )
    .await;
    // The scheduler reserves the volume (as upstream: claimRef with the uid, bound by controller) ...
    let reserved = |o: Option<&PersistentVolume>| {
        o.and_then(|o| o.spec.as_ref()).and_then(|s| s.claim_ref.as_ref()).is_some_and(|r| r.uid == claim.metadata.uid)
    };
    let pv = tokio::time::timeout(WAIT, await_condition(volumes(&c), "disk", reserved))
        .await
        .expect("reserved in time")
        .expect("watch")
        .expect("pv");
    assert_eq!(annotations(&pv.metadata).get("pv.kubernetes.io/bound-by-controller").map(String::as_str), Some("yes"));
    // ... and waits.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(c.node_of("user").await, None);
    // Half a binding is not enough.
    let patch = json!({"spec": {"volumeName": "disk"}});
    claims(&c).patch("data", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("patch claim");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(c.node_of("user").await, None);
    let patch = json!({"metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes"}}});
    claims(&c).patch("data", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("patch claim");
    assert_eq!(c.bound("user").await, "n1");

    // A reservation undone while waiting sends the pod back to the queue with upstream's error.
    let claim = create_claim(&c, "data2", json!({"storageClassName": "local"})).await;
    c.apply::<PersistentVolume>(volume("disk2", "1Gi", json!({"spec": {"storageClassName": "local"}}))).await;
    c.pod(
        "user2",
        json!({}),
        json!({"spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data2"}}]}}),
    )
    .await;
    let reserved = |o: Option<&PersistentVolume>| {
        o.and_then(|o| o.spec.as_ref()).and_then(|s| s.claim_ref.as_ref()).is_some_and(|r| r.uid == claim.metadata.uid)
    };
    tokio::time::timeout(WAIT, await_condition(volumes(&c), "disk2", reserved))
        .await
        .expect("reserved in time")
        .expect("watch");
    let patch = json!({"spec": {"claimRef": null}});
    volumes(&c).patch("disk2", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("patch pv");
    // (An earlier FailedScheduling may come from a scheduler that had not seen disk2 yet.)
    let expected = "running PreBind plugin \"VolumeBinding\": binding volumes: ClaimRef got reset for pv \"disk2\"";
    common::eventually(WAIT, expected, || async {
        c.event_messages("user2", "FailedScheduling").await.into_iter().find(|m| m.contains(expected))
    })
    .await;
}
