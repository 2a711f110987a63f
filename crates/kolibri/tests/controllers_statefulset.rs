//! The StatefulSet controller against a real `kolibri server`. No node agent runs: the test
//! plays the kubelet, marking pods Running and Ready through the status subresource (pods
//! stay unscheduled, so a deleted pod goes at once unless a finalizer holds it).
//! kubectl 1.32 and 1.33 drive scale, rollout status, history and undo.

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::eventually;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{watcher, WatchStreamExt};
use kubectl_common::*;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(15);

/// Marks a pod Running and Ready, as its kubelet would.
async fn mark_ready(pods: &Api<Pod>, name: &str) {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let status = json!({"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": now},
        {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
    ]}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await.expect("mark ready");
}

/// Plays the kubelet for the pods of `ns`: each new pod is marked Running and Ready after
/// `delay`.
fn kubelet(client: kube::Client, ns: &str, delay: Duration) -> JoinHandle<()> {
    let api: Api<Pod> = Api::namespaced(client, ns);
    tokio::spawn(async move {
        let mut pods =
            std::pin::pin!(watcher(api.clone(), watcher::Config::default()).default_backoff().applied_objects());
        while let Some(Ok(pod)) = pods.next().await {
            if is_ready(&pod) || pod.metadata.deletion_timestamp.is_some() || phase(&pod) == "Failed" {
                continue;
            }
            let api = api.clone();
            let name = pod.metadata.name.clone().unwrap_or_default();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let now = k8s_openapi::jiff::Timestamp::now().to_string();
                let status = json!({"status": {"phase": "Running", "conditions": [
                    {"type": "Ready", "status": "True", "lastTransitionTime": now},
                ]}});
                let _ = api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await;
            });
        }
    })
}

fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default()
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn label<'a>(pod: &'a Pod, key: &str) -> &'a str {
    pod.metadata.labels.as_ref().and_then(|l| l.get(key)).map_or("", String::as_str)
}

fn image_of(pod: &Pod) -> String {
    pod.spec.as_ref().and_then(|s| s.containers.first()).and_then(|c| c.image.clone()).unwrap_or_default()
}

fn statefulset(name: &str, replicas: i32, policy: &str, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": "svc",
            "podManagementPolicy": policy,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": image}]}},
        },
    })
}

async fn create(client: &kube::Client, set: Value) -> StatefulSet {
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &serde_json::from_value(set).unwrap()).await.expect("create statefulset")
}

/// The names of the pods that are not being deleted.
async fn live_pods(pods: &Api<Pod>) -> BTreeSet<String> {
    pods.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| p.metadata.name)
        .collect()
}

async fn wait_pods(pods: &Api<Pod>, want: &[&str]) {
    let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
    eventually(WAIT, &format!("pods {want:?}"), || {
        let want = want.clone();
        async move { (live_pods(pods).await == want).then_some(()) }
    })
    .await;
}

/// A log of what a watch of the pods saw: `deleted <name>` when a pod starts going, `ready
/// <name> <revision>` when a pod turns ready.
fn observe(client: kube::Client, log: Arc<Mutex<Vec<String>>>) -> JoinHandle<()> {
    let api: Api<Pod> = Api::namespaced(client, "default");
    tokio::spawn(async move {
        let mut seen: HashSet<String> = HashSet::new();
        let mut events = std::pin::pin!(watcher(api, watcher::Config::default()));
        while let Some(event) = events.next().await {
            let (pod, gone) = match event {
                Ok(watcher::Event::Apply(p)) => (p, false),
                Ok(watcher::Event::Delete(p)) => (p, true),
                _ => continue,
            };
            let name = pod.metadata.name.clone().unwrap_or_default();
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            let line = if gone || pod.metadata.deletion_timestamp.is_some() {
                format!("deleted {name}")
            } else if is_ready(&pod) {
                format!("ready {name} {}", label(&pod, "controller-revision-hash"))
            } else {
                continue;
            };
            if seen.insert(format!("{uid} {}", &line[..5])) {
                log.lock().unwrap().push(line);
            }
        }
    })
}

async fn events(client: &kube::Client) -> Vec<(String, String)> {
    let api: Api<Event> = Api::namespaced(client.clone(), "default");
    api.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect()
}

async fn wait_event(client: &kube::Client, reason: &str, message: &str) {
    eventually(WAIT, &format!("event {reason} {message:?}"), || async {
        events(client).await.iter().any(|(r, m)| r == reason && m == message).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_ready_creates_in_order_and_deletes_from_the_top_one_at_a_time() {
    let server = start_server();
    let client = server.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    create(&client, statefulset("web", 3, "OrderedReady", "nginx:1")).await;

    // One at a time: web-1 only once web-0 is Running and Ready, and so on.
    for (i, name) in ["web-0", "web-1", "web-2"].into_iter().enumerate() {
        let want: Vec<String> = (0..=i).map(|j| format!("web-{j}")).collect();
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        wait_pods(&pods, &want).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(live_pods(&pods).await.len(), i + 1, "a pod was created before {name} was ready");
        mark_ready(&pods, name).await;
    }

    // Identity: labels, hostname, subdomain, controller, the revision.
    let set = eventually(WAIT, "status of 3 ready replicas", || async {
        let set = sets.get("web").await.unwrap();
        (set.status.as_ref()?.ready_replicas == Some(3)).then_some(set)
    })
    .await;
    let status = set.status.clone().unwrap();
    let revision = status.update_revision.clone().unwrap();
    assert_eq!(status.current_revision.as_deref(), Some(revision.as_str()));
    assert_eq!(
        (status.replicas, status.current_replicas, status.updated_replicas, status.available_replicas),
        (3, Some(3), Some(3), Some(3))
    );
    assert_eq!(status.observed_generation, set.metadata.generation);
    assert_eq!(status.collision_count, Some(0));
    for i in 0..3 {
        let pod = pods.get(&format!("web-{i}")).await.unwrap();
        assert_eq!(label(&pod, "app"), "web");
        assert_eq!(label(&pod, "statefulset.kubernetes.io/pod-name"), format!("web-{i}"));
        assert_eq!(label(&pod, "apps.kubernetes.io/pod-index"), i.to_string());
        assert_eq!(label(&pod, "controller-revision-hash"), revision);
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some(format!("web-{i}").as_str()));
        assert_eq!(spec.subdomain.as_deref(), Some("svc"));
        let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.controller, owner.block_owner_deletion),
            ("StatefulSet", "web", Some(true), Some(true))
        );
        assert_eq!(owner.uid, set.metadata.uid.clone().unwrap());
    }
    wait_event(&client, "SuccessfulCreate", "create Pod web-2 in StatefulSet web successful").await;

    // Scale down to 1: web-2 goes first, and web-1 only once web-2 is gone. A finalizer holds
    // web-2 in Terminating meanwhile.
    let hold = json!({"metadata": {"finalizers": ["test.kolibri.io/hold"]}});
    pods.patch("web-2", &PatchParams::default(), &Patch::Merge(&hold)).await.unwrap();
    kubectl_ok(&server, KUBECTL_132, &["scale", "statefulset/web", "--replicas=1"]).await;
    eventually(WAIT, "web-2 terminating", || async {
        pods.get("web-2").await.unwrap().metadata.deletion_timestamp.is_some().then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        live_pods(&pods).await,
        BTreeSet::from(["web-0".to_string(), "web-1".to_string()]),
        "web-1 went while web-2 was still terminating"
    );
    let release = json!({"metadata": {"finalizers": null}});
    pods.patch("web-2", &PatchParams::default(), &Patch::Merge(&release)).await.unwrap();
    wait_pods(&pods, &["web-0"]).await;
    wait_event(&client, "SuccessfulDelete", "delete Pod web-2 in StatefulSet web successful").await;
    wait_event(&client, "SuccessfulDelete", "delete Pod web-1 in StatefulSet web successful").await;
    eventually(WAIT, "status of 1 replica", || async {
        let s = sets.get("web").await.unwrap().status?;
        (s.replicas == 1 && s.ready_replicas == Some(1) && s.current_replicas == Some(1)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_creates_all_at_once_replaces_failed_pods_and_adopts_orphans() {
    let server = start_server();
    let client = server.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    // An orphan with the set's labels and an ordinal name is adopted, not replaced.
    let orphan: Pod = serde_json::from_value(json!({
        "metadata": {"name": "par-1", "labels": {"app": "par"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1"}]},
    }))
    .unwrap();
    let orphan_uid = pods.create(&PostParams::default(), &orphan).await.unwrap().metadata.uid;
    let set = create(&client, statefulset("par", 3, "Parallel", "nginx:1")).await;

    // No pod is ready, yet all exist.
    wait_pods(&pods, &["par-0", "par-1", "par-2"]).await;
    let adopted = pods.get("par-1").await.unwrap();
    assert_eq!(adopted.metadata.uid, orphan_uid);
    assert_eq!(adopted.metadata.owner_references.as_ref().unwrap()[0].uid, set.metadata.uid.clone().unwrap());
    for name in ["par-0", "par-2"] {
        assert!(!is_ready(&pods.get(name).await.unwrap()));
    }
    eventually(WAIT, "status of 3 unready replicas", || async {
        let s = sets.get("par").await.unwrap().status?;
        (s.replicas == 3 && s.ready_replicas.unwrap_or(0) == 0).then_some(())
    })
    .await;

    // A failed pod is deleted and created again.
    let before = pods.get("par-0").await.unwrap().metadata.uid;
    let failed = json!({"status": {"phase": "Failed"}});
    pods.patch_status("par-0", &PatchParams::default(), &Patch::Merge(&failed)).await.unwrap();
    eventually(WAIT, "par-0 recreated", || async {
        let pod = pods.get_opt("par-0").await.unwrap()?;
        (pod.metadata.uid != before && phase(&pod) != "Failed").then_some(())
    })
    .await;

    // Scaling to zero removes all at once, even unready ones.
    let scale = json!({"spec": {"replicas": 0}});
    sets.patch("par", &PatchParams::default(), &Patch::Merge(&scale)).await.unwrap();
    wait_pods(&pods, &[]).await;
    eventually(WAIT, "status of 0 replicas", || async {
        (sets.get("par").await.unwrap().status?.replicas == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_with_partition_updates_from_the_top_one_at_a_time() {
    let server = start_server();
    let client = server.client().await;
    let kubelet = kubelet(client.clone(), "default", Duration::from_millis(300));
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    create(&client, statefulset("db", 3, "OrderedReady", "db:1")).await;
    kubectl_ok(&server, KUBECTL_133, &["rollout", "status", "statefulset/db", "--timeout=30s"]).await;
    let old = sets.get("db").await.unwrap().status.unwrap().update_revision.unwrap();

    let log = Arc::new(Mutex::new(Vec::new()));
    let watch = observe(client.clone(), log.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    log.lock().unwrap().clear();
    let patch = json!({"spec": {
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
        "template": {"spec": {"containers": [{"name": "c", "image": "db:2"}]}},
    }});
    sets.patch("db", &PatchParams::default(), &Patch::Strategic(&patch)).await.unwrap();
    let out = kubectl_ok(&server, KUBECTL_132, &["rollout", "status", "statefulset/db", "--timeout=30s"]).await;
    assert!(out.ends_with("partitioned roll out complete: 2 new pods have been updated...\n"), "{out}");
    let set = sets.get("db").await.unwrap();
    let status = set.status.unwrap();
    let new = status.update_revision.clone().unwrap();
    assert_ne!(new, old);
    // Below the partition the current revision stays.
    assert_eq!(status.current_revision.as_deref(), Some(old.as_str()));
    assert_eq!((status.updated_replicas, status.current_replicas), (Some(2), Some(1)));
    assert_eq!(image_of(&pods.get("db-0").await.unwrap()), "db:1");
    for name in ["db-1", "db-2"] {
        let pod = pods.get(name).await.unwrap();
        assert_eq!((image_of(&pod), label(&pod, "controller-revision-hash")), ("db:2".into(), new.as_str()));
    }
    // Highest ordinal first, each replacement ready before the next pod goes.
    let seen = log.lock().unwrap().clone();
    assert_eq!(seen, ["deleted db-2", &format!("ready db-2 {new}"), "deleted db-1", &format!("ready db-1 {new}")]);

    // Partition 0: db-0 follows and the update revision becomes the current one.
    let patch = json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}});
    sets.patch("db", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    eventually(WAIT, "the rollout to complete", || async {
        let s = sets.get("db").await.unwrap().status?;
        (s.current_revision.as_deref() == Some(new.as_str())
            && s.current_replicas == Some(3)
            && s.updated_replicas == Some(3)
            && s.ready_replicas == Some(3))
        .then_some(())
    })
    .await;
    assert_eq!(image_of(&pods.get("db-0").await.unwrap()), "db:2");
    watch.abort();
    kubelet.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_scale_rollout_status_history_and_undo() {
    let server = start_server();
    let client = server.client().await;
    let kubelet = kubelet(client.clone(), "default", Duration::from_millis(20));
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for (bin, suffix) in BINS {
        let name = format!("app{suffix}");
        let target = format!("statefulset/{name}");
        let image =
            |s: &StatefulSet| s.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0].image.clone();
        create(&client, statefulset(&name, 2, "OrderedReady", "busybox:v1")).await;
        let out = kubectl_ok(&server, bin, &["rollout", "status", &target, "--timeout=30s"]).await;
        assert!(out.contains("roll out complete: 2 new pods have been updated"), "{out}");
        let out = kubectl_ok(&server, bin, &["scale", &target, "--replicas=3"]).await;
        assert_eq!(out, format!("statefulset.apps/{name} scaled\n"));
        kubectl_ok(&server, bin, &["rollout", "status", &target, "--timeout=30s"]).await;
        kubectl_ok(&server, bin, &["set", "image", &target, "c=busybox:v2"]).await;
        let out = kubectl_ok(&server, bin, &["rollout", "status", &target, "--timeout=30s"]).await;
        assert!(out.ends_with("partitioned roll out complete: 3 new pods have been updated...\n"), "{out}");

        let out = kubectl_ok(&server, bin, &["rollout", "history", &target]).await;
        assert_eq!(
            lines(&out),
            [
                format!("statefulset.apps/{name}"),
                "REVISION  CHANGE-CAUSE".into(),
                "1         <none>".into(),
                "2         <none>".into()
            ]
        );
        let out = kubectl_ok(&server, bin, &["rollout", "history", &target, "--revision=1"]).await;
        assert!(out.starts_with(&format!("statefulset.apps/{name} with revision #1\nPod Template:\n")), "{out}");
        assert!(out.contains("busybox:v1"), "{out}");

        // The revisions: `<set>-<hash>`, labelled with the hash, owned by the set.
        let owned: Vec<ControllerRevision> =
            revisions.list(&ListParams::default().labels(&format!("app={name}"))).await.unwrap().items;
        assert_eq!(owned.len(), 2);
        for rev in &owned {
            let hash = &rev.metadata.labels.as_ref().unwrap()["controller-revision-hash"];
            assert_eq!(rev.metadata.name.clone().unwrap(), format!("{name}-{hash}"));
            let owner = &rev.metadata.owner_references.as_ref().unwrap()[0];
            assert_eq!(
                (owner.kind.as_str(), owner.name.as_str(), owner.controller),
                ("StatefulSet", name.as_str(), Some(true))
            );
        }

        // Undo: back to v1, whose revision becomes 3.
        let out = kubectl_ok(&server, bin, &["rollout", "undo", &target]).await;
        assert_eq!(out, format!("statefulset.apps/{name} rolled back\n"));
        kubectl_ok(&server, bin, &["rollout", "status", &target, "--timeout=30s"]).await;
        assert_eq!(image(&sets.get(&name).await.unwrap()).as_deref(), Some("busybox:v1"));
        let out = kubectl_ok(&server, bin, &["rollout", "history", &target]).await;
        assert_eq!(lines(&out)[2..], ["2         <none>", "3         <none>"]);
        eventually(WAIT, "all pods back on v1", || async {
            let list = pods.list(&ListParams::default().labels(&format!("app={name}"))).await.unwrap().items;
            (list.len() == 3 && list.iter().all(|p| image_of(p) == "busybox:v1" && is_ready(p))).then_some(())
        })
        .await;
        let status = sets.get(&name).await.unwrap().status.unwrap();
        assert_eq!(status.current_revision, status.update_revision);
        let v1 = owned.iter().find(|r| r.revision == 1).unwrap().metadata.name.clone();
        assert_eq!(status.update_revision, v1, "undo reuses the revision of v1");
    }
    kubelet.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_from_templates_and_the_delete_retention_policy() {
    let server = start_server();
    let client = server.client().await;
    let kubelet = kubelet(client.clone(), "default", Duration::from_millis(20));
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let claim_names = || async {
        claims
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .collect::<BTreeSet<_>>()
    };
    let with_claims = |name: &str, policy: Value| {
        let mut set = statefulset(name, 2, "OrderedReady", "db:1");
        set["spec"]["persistentVolumeClaimRetentionPolicy"] = policy;
        set["spec"]["volumeClaimTemplates"] = json!([{
            "metadata": {"name": "data", "labels": {"tier": "storage"}},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        }]);
        set
    };
    let gone = create(&client, with_claims("gone", json!({"whenDeleted": "Delete", "whenScaled": "Delete"}))).await;
    create(&client, with_claims("kept", json!({"whenDeleted": "Retain", "whenScaled": "Retain"}))).await;
    kubectl_ok(&server, KUBECTL_133, &["rollout", "status", "statefulset/gone", "--timeout=30s"]).await;
    kubectl_ok(&server, KUBECTL_133, &["rollout", "status", "statefulset/kept", "--timeout=30s"]).await;

    let all = ["data-gone-0", "data-gone-1", "data-kept-0", "data-kept-1"].map(String::from);
    assert_eq!(claim_names().await, BTreeSet::from(all.clone()));
    let claim = claims.get("data-gone-1").await.unwrap();
    let labels = claim.metadata.labels.clone().unwrap();
    assert_eq!((labels["app"].as_str(), labels["tier"].as_str()), ("gone", "storage"));
    let owners = claim.metadata.owner_references.clone().unwrap();
    assert_eq!(owners.len(), 1);
    assert_eq!(
        (owners[0].kind.as_str(), owners[0].uid.as_str()),
        ("StatefulSet", gone.metadata.uid.as_deref().unwrap())
    );
    assert!(claims.get("data-kept-1").await.unwrap().metadata.owner_references.is_none());
    let pod = pods.get("gone-1").await.unwrap();
    let volume = &pod.spec.unwrap().volumes.unwrap()[0];
    assert_eq!(volume.name, "data");
    assert_eq!(volume.persistent_volume_claim.as_ref().unwrap().claim_name, "data-gone-1");
    wait_event(&client, "SuccessfulCreate", "create Claim data-gone-0 Pod gone-0 in StatefulSet gone success").await;

    // Scale down: whenScaled=Delete hands the claim to its pod, which takes it along. Scaled
    // up again at once, the new gone-1 waits for that claim to go and gets a new one.
    let first_claim = claims.get("data-gone-1").await.unwrap().metadata.uid;
    kubectl_ok(&server, KUBECTL_132, &["scale", "statefulset/gone", "--replicas=1"]).await;
    wait_pods(&pods, &["gone-0", "kept-0", "kept-1"]).await;
    kubectl_ok(&server, KUBECTL_132, &["scale", "statefulset/gone", "--replicas=2"]).await;
    eventually(WAIT, "gone-1 back with a new claim", || async {
        let claim = claims.get_opt("data-gone-1").await.unwrap()?;
        let owner = claim.metadata.owner_references.as_ref()?.first()?.kind.clone();
        let pod = pods.get_opt("gone-1").await.unwrap()?;
        (claim.metadata.uid != first_claim && owner == "StatefulSet" && is_ready(&pod)).then_some(())
    })
    .await;
    for name in ["gone", "kept"] {
        kubectl_ok(&server, KUBECTL_132, &["scale", &format!("statefulset/{name}"), "--replicas=1"]).await;
    }
    eventually(WAIT, "data-gone-1 collected", || async {
        (claim_names().await == BTreeSet::from(["data-gone-0", "data-kept-0", "data-kept-1"].map(String::from)))
            .then_some(())
    })
    .await;
    wait_pods(&pods, &["gone-0", "kept-0"]).await;

    // Deleting the sets: whenDeleted=Delete takes the claims along, Retain keeps them.
    for name in ["gone", "kept"] {
        sets.delete(name, &DeleteParams::default()).await.unwrap();
    }
    eventually(WAIT, "only the retained claims left", || async {
        (claim_names().await == BTreeSet::from(["data-kept-0", "data-kept-1"].map(String::from))).then_some(())
    })
    .await;
    wait_pods(&pods, &[]).await;
    kubelet.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_delete_ordinals_start_min_ready_seconds_and_history_limit() {
    let server = start_server();
    let client = server.client().await;
    let kubelet = kubelet(client.clone(), "default", Duration::from_millis(20));
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "default");
    let mut set = statefulset("od", 2, "OrderedReady", "od:1");
    set["spec"]["ordinals"] = json!({"start": 3});
    set["spec"]["minReadySeconds"] = json!(2);
    set["spec"]["revisionHistoryLimit"] = json!(1);
    set["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
    create(&client, set).await;

    // Ordinals from 3; od-4 waits until od-3 has been ready for minReadySeconds.
    wait_pods(&pods, &["od-3", "od-4"]).await;
    let (first, second) = (pods.get("od-3").await.unwrap(), pods.get("od-4").await.unwrap());
    let ready_at = first.status.unwrap().conditions.unwrap().into_iter().find(|c| c.type_ == "Ready").unwrap();
    let ready_at = ready_at.last_transition_time.unwrap().0;
    let created_at = second.metadata.creation_timestamp.unwrap().0;
    assert!(created_at.as_second() - ready_at.as_second() >= 2, "od-4 created {created_at}, od-3 ready {ready_at}");
    eventually(WAIT, "2 available replicas", || async {
        (sets.get("od").await.unwrap().status?.available_replicas == Some(2)).then_some(())
    })
    .await;

    // OnDelete: new templates wait for the user to delete pods. (Each template is observed
    // before the next, so that each gets a revision.)
    let mut status = None;
    for image in ["od:2", "od:3", "od:4"] {
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}});
        sets.patch("od", &PatchParams::default(), &Patch::Strategic(&patch)).await.unwrap();
        status = Some(
            eventually(WAIT, &format!("the update revision of {image}"), || async {
                let set = sets.get("od").await.unwrap();
                let status = set.status?;
                (status.observed_generation == set.metadata.generation).then_some(status)
            })
            .await,
        );
    }
    let status = status.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for name in ["od-3", "od-4"] {
        assert_eq!(image_of(&pods.get(name).await.unwrap()), "od:1", "OnDelete replaced {name}");
    }
    assert_ne!(status.current_revision, status.update_revision);
    assert_eq!((status.current_replicas, status.updated_replicas), (Some(2), None));
    // History: the live revisions (od:1 of the pods, od:4 to update to) and one more.
    let numbers = || async {
        let mut n: Vec<i64> =
            revisions.list(&ListParams::default()).await.unwrap().items.iter().map(|r| r.revision).collect();
        n.sort();
        n
    };
    eventually(WAIT, "revisions 1, 3 and 4", || async { (numbers().await == [1, 3, 4]).then_some(()) }).await;

    pods.delete("od-4", &DeleteParams::default()).await.unwrap();
    eventually(WAIT, "od-4 recreated at od:4", || async {
        let pod = pods.get_opt("od-4").await.unwrap()?;
        (image_of(&pod) == "od:4" && label(&pod, "controller-revision-hash") == status.update_revision.as_deref()?)
            .then_some(())
    })
    .await;
    pods.delete("od-3", &DeleteParams::default()).await.unwrap();
    eventually(WAIT, "od-3 recreated at od:4", || async {
        (image_of(&pods.get_opt("od-3").await.unwrap()?) == "od:4").then_some(())
    })
    .await;
    // Nothing uses od:1 any more: only od:4 and one more revision stay.
    eventually(WAIT, "revisions 3 and 4", || async { (numbers().await == [3, 4]).then_some(()) }).await;
    let done = sets.get("od").await.unwrap().status.unwrap();
    assert_eq!(done.current_revision, status.update_revision);
    assert_eq!((done.current_replicas, done.updated_replicas), (Some(2), Some(2)));
    kubelet.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_unavailable_updates_several_pods_at_once() {
    let server = start_server();
    let client = server.client().await;
    let kubelet = kubelet(client.clone(), "default", Duration::from_millis(800));
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let mut set = statefulset("mu", 4, "Parallel", "mu:1");
    set["spec"]["updateStrategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}});
    create(&client, set).await;
    kubectl_ok(&server, KUBECTL_133, &["rollout", "status", "statefulset/mu", "--timeout=30s"]).await;

    let log = Arc::new(Mutex::new(Vec::new()));
    let watch = observe(client.clone(), log.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    log.lock().unwrap().clear();
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "mu:2"}]}}}});
    sets.patch("mu", &PatchParams::default(), &Patch::Strategic(&patch)).await.unwrap();
    let new = eventually(WAIT, "the rollout to complete", || async {
        let set = sets.get("mu").await.unwrap();
        let s = set.status?;
        (s.observed_generation == set.metadata.generation
            && s.updated_replicas == Some(4)
            && s.ready_replicas == Some(4)
            && s.current_revision == s.update_revision)
            .then_some(s.update_revision?)
    })
    .await;
    watch.abort();
    // Two at a time, from the top: mu-3 and mu-2 go before either replacement is ready.
    let seen = log.lock().unwrap().clone();
    let mut first_two: Vec<&str> = seen[..2].iter().map(String::as_str).collect();
    first_two.sort();
    assert_eq!(first_two, ["deleted mu-2", "deleted mu-3"], "{seen:?}");
    let deleted: Vec<&String> = seen.iter().filter(|l| l.starts_with("deleted")).collect();
    assert_eq!(deleted.len(), 4, "{seen:?}");
    let ready =
        seen.iter().filter(|l| **l == format!("ready mu-0 {new}") || **l == format!("ready mu-1 {new}")).count();
    assert_eq!(ready, 2, "{seen:?}");
    kubelet.abort();
}
