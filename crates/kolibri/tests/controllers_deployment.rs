//! The ReplicaSet, ReplicationController and Deployment controllers against a real
//! `kolibri server`. No node agent runs: the test plays the kubelet, marking pods Running and
//! Ready through the status subresource. kubectl 1.32 and 1.33 drive the rollouts.

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::eventually;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Pod, ReplicationController};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::{watcher, WatchStreamExt};
use kubectl_common::*;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

async fn kubectl_stdin(server: &common::Server, bin: &str, args: &[&str], stdin: String) -> String {
    let cmd = server.kubectl_bin(bin, args);
    let out = tokio::task::spawn_blocking(move || run_with_deadline(cmd, Some(&stdin), Duration::from_secs(60)))
        .await
        .expect("kubectl");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// Plays the kubelet for the pods of `ns`: each new pod is marked Running and Ready after
/// `delay`, unless its name is in `hold` (then it stays Pending).
fn kubelet(client: kube::Client, ns: &str, delay: Duration) -> JoinHandle<()> {
    let api: Api<Pod> = Api::namespaced(client, ns);
    tokio::spawn(async move {
        let mut pods =
            std::pin::pin!(watcher(api.clone(), watcher::Config::default()).default_backoff().applied_objects());
        while let Some(Ok(pod)) = pods.next().await {
            let ready = pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready"));
            if ready || pod.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let api = api.clone();
            let name = pod.metadata.name.clone().unwrap_or_default();
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

fn deployment(name: &str, replicas: i32, image: &str, strategy: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": strategy,
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": image}]}},
        },
    })
}

fn image_of(pod: &Pod) -> String {
    pod.spec.as_ref().and_then(|s| s.containers.first()).and_then(|c| c.image.clone()).unwrap_or_default()
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// What a watch of the namespace's pods saw during a rollout.
#[derive(Default)]
struct Observed {
    pods: HashMap<String, (bool, String)>,
    min_ready: Option<usize>,
    max_pods: usize,
    /// A step with ready pods of both images.
    mixed: bool,
    steps: usize,
}

fn observe(client: kube::Client, ns: &str, seen: Arc<Mutex<Observed>>) -> JoinHandle<()> {
    let api: Api<Pod> = Api::namespaced(client, ns);
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
                        s.pods.insert(name, (is_ready(&p), image_of(&p)));
                    }
                }
                watcher::Event::Delete(p) => {
                    s.pods.remove(&p.metadata.name.clone().unwrap_or_default());
                }
                _ => continue,
            }
            let ready: Vec<&String> = s.pods.values().filter(|(r, _)| *r).map(|(_, i)| i).collect();
            let n = ready.len();
            let mixed = ready.iter().any(|i| i.ends_with(":v1")) && ready.iter().any(|i| i.ends_with(":v2"));
            s.mixed |= mixed;
            s.min_ready = Some(s.min_ready.map_or(n, |m| m.min(n)));
            s.max_pods = s.max_pods.max(s.pods.len());
            s.steps += 1;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_keeps_availability_within_max_unavailable() {
    let server = start_server();
    let client = server.client().await;
    let kubelet = kubelet(client.clone(), "default", Duration::from_millis(150));
    let strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}});
    kubectl_stdin(&server, KUBECTL_133, &["create", "-f", "-"], deployment("web", 4, "nginx:v1", strategy).to_string())
        .await;
    let out = kubectl_ok(&server, KUBECTL_133, &["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    assert!(out.ends_with("deployment \"web\" successfully rolled out\n"), "{out}");

    let seen = Arc::new(Mutex::new(Observed::default()));
    let watch = observe(client.clone(), "default", seen.clone());
    eventually(Duration::from_secs(10), "the watch to see the 4 ready pods", || {
        let seen = seen.clone();
        async move { (seen.lock().unwrap().pods.values().filter(|(r, _)| *r).count() == 4).then_some(()) }
    })
    .await;
    seen.lock().unwrap().min_ready = None;
    kubectl_ok(&server, KUBECTL_132, &["set", "image", "deployment/web", "c=nginx:v2"]).await;
    let out = kubectl_ok(&server, KUBECTL_132, &["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    assert!(out.contains("Waiting for deployment \"web\" rollout to finish"), "{out}");
    assert!(out.ends_with("deployment \"web\" successfully rolled out\n"), "{out}");
    eventually(Duration::from_secs(10), "only v2 pods, all ready", || {
        let seen = seen.clone();
        async move {
            let s = seen.lock().unwrap();
            (s.pods.len() == 4 && s.pods.values().all(|(r, i)| *r && i == "nginx:v2")).then_some(())
        }
    })
    .await;
    watch.abort();
    {
        let s = seen.lock().unwrap();
        // replicas 4 - maxUnavailable 1, at every step the watch saw.
        assert!(s.min_ready.unwrap() >= 3, "ready pods fell to {:?} during the rollout", s.min_ready);
        assert!(s.mixed, "no step had ready pods of both versions: the rollout was not gradual");
        assert!(s.steps >= 8, "too few steps observed: {}", s.steps);
    }

    // Two ReplicaSets, named <deployment>-<hash>, with revisions 1 and 2; the old one empty.
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let mut list = rss.list(&ListParams::default()).await.unwrap().items;
    list.sort_by_key(|rs| rs.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"].clone());
    assert_eq!(list.len(), 2);
    for (rs, (revision, replicas)) in list.iter().zip([("1", 0), ("2", 4)]) {
        let hash = &rs.metadata.labels.as_ref().unwrap()["pod-template-hash"];
        assert_eq!(rs.metadata.name.as_deref(), Some(format!("web-{hash}").as_str()));
        let annotations = rs.metadata.annotations.as_ref().unwrap();
        assert_eq!(annotations["deployment.kubernetes.io/revision"], revision);
        assert_eq!(annotations["deployment.kubernetes.io/desired-replicas"], "4");
        assert_eq!(annotations["deployment.kubernetes.io/max-replicas"], "5");
        assert_eq!(rs.spec.as_ref().unwrap().replicas, Some(replicas));
        let owner = &rs.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.name.as_str(), owner.controller), ("Deployment", "web", Some(true)));
    }
    // Pods carry the hash, generateName and a controller reference to their ReplicaSet.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let new_rs = &list[1];
    for pod in pods.list(&ListParams::default()).await.unwrap().items {
        let labels = pod.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["pod-template-hash"], new_rs.metadata.labels.as_ref().unwrap()["pod-template-hash"]);
        assert_eq!(
            pod.metadata.generate_name.as_deref(),
            Some(format!("{}-", new_rs.metadata.name.as_ref().unwrap()).as_str())
        );
        let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.controller, owner.block_owner_deletion),
            ("ReplicaSet", Some(true), Some(true))
        );
    }

    // Status and conditions as upstream words them.
    let d: Deployment = Api::namespaced(client.clone(), "default").get("web").await.unwrap();
    let status = d.status.unwrap();
    assert_eq!(
        (status.replicas, status.updated_replicas, status.ready_replicas, status.available_replicas),
        (Some(4), Some(4), Some(4), Some(4))
    );
    assert_eq!(status.observed_generation, d.metadata.generation);
    let conditions: BTreeMap<String, (String, String, String)> = status
        .conditions
        .unwrap()
        .into_iter()
        .map(|c| (c.type_, (c.status, c.reason.unwrap_or_default(), c.message.unwrap_or_default())))
        .collect();
    assert_eq!(
        conditions["Available"],
        ("True".into(), "MinimumReplicasAvailable".into(), "Deployment has minimum availability.".into())
    );
    let new_name = new_rs.metadata.name.clone().unwrap();
    assert_eq!(
        conditions["Progressing"],
        (
            "True".into(),
            "NewReplicaSetAvailable".into(),
            format!("ReplicaSet \"{new_name}\" has successfully progressed.")
        )
    );
    assert_eq!(d.metadata.annotations.unwrap()["deployment.kubernetes.io/revision"], "2");

    // Events: the deployment scaled its sets, the sets created pods.
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let messages: Vec<(String, String)> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect();
    let has = |reason: &str, message: &str| messages.iter().any(|(r, m)| r == reason && m == message);
    let old_name = list[0].metadata.name.clone().unwrap();
    assert!(has("ScalingReplicaSet", &format!("Scaled up replica set {old_name} from 0 to 4")), "{messages:?}");
    assert!(has("ScalingReplicaSet", &format!("Scaled up replica set {new_name} from 0 to 1")), "{messages:?}");
    assert!(has("ScalingReplicaSet", &format!("Scaled down replica set {old_name} from 4 to 3")), "{messages:?}");
    assert!(messages
        .iter()
        .any(|(r, m)| r == "SuccessfulCreate" && m.starts_with(&format!("Created pod: {new_name}-"))));
    assert!(messages
        .iter()
        .any(|(r, m)| r == "SuccessfulDelete" && m.starts_with(&format!("Deleted pod: {old_name}-"))));
    kubelet.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_rollout_history_undo_pause_resume_restart() {
    let server = start_server();
    let client = server.client().await;
    let kubelet = kubelet(client.clone(), "default", Duration::from_millis(20));
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    for (bin, suffix) in BINS {
        let name = format!("app{suffix}");
        let target = format!("deployment/{name}");
        let image =
            |d: &Deployment| d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0].image.clone();
        let strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
        kubectl_stdin(&server, bin, &["create", "-f", "-"], deployment(&name, 2, "busybox:v1", strategy).to_string())
            .await;
        kubectl_ok(&server, bin, &["rollout", "status", &target, "--timeout=60s"]).await;
        kubectl_ok(&server, bin, &["set", "image", &target, "c=busybox:v2"]).await;
        let out = kubectl_ok(&server, bin, &["rollout", "status", &target, "--timeout=60s"]).await;
        assert!(out.ends_with(&format!("deployment \"{name}\" successfully rolled out\n")), "{out}");

        let out = kubectl_ok(&server, bin, &["rollout", "history", &target]).await;
        assert_eq!(
            lines(&out),
            [
                format!("deployment.apps/{name}"),
                "REVISION  CHANGE-CAUSE".into(),
                "1         <none>".into(),
                "2         <none>".into()
            ]
        );
        let out = kubectl_ok(&server, bin, &["rollout", "history", &target, "--revision=1"]).await;
        assert!(out.starts_with(&format!("deployment.apps/{name} with revision #1\nPod Template:\n")), "{out}");
        assert!(out.contains("Image:\tbusybox:v1") || out.contains("Image:      busybox:v1"), "{out}");

        // Undo: back to v1, which becomes revision 3.
        let out = kubectl_ok(&server, bin, &["rollout", "undo", &target]).await;
        assert_eq!(out, format!("deployment.apps/{name} rolled back\n"));
        kubectl_ok(&server, bin, &["rollout", "status", &target, "--timeout=60s"]).await;
        assert_eq!(image(&deployments.get(&name).await.unwrap()).as_deref(), Some("busybox:v1"));
        let out = kubectl_ok(&server, bin, &["rollout", "history", &target]).await;
        assert_eq!(lines(&out)[2..], ["2         <none>", "3         <none>"]);
        let owned = |list: Vec<ReplicaSet>| -> Vec<ReplicaSet> {
            list.into_iter()
                .filter(|rs| rs.metadata.owner_references.as_ref().is_some_and(|o| o[0].name == name))
                .collect()
        };
        let sets = owned(rss.list(&ListParams::default()).await.unwrap().items);
        assert_eq!(sets.len(), 2, "undo reuses the revision-1 ReplicaSet");
        let v1 = sets
            .iter()
            .find(|rs| rs.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"] == "3");
        assert_eq!(
            v1.unwrap().metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision-history"],
            "1"
        );

        // Pause: template changes wait; the Progressing condition says so.
        let out = kubectl_ok(&server, bin, &["rollout", "pause", &target]).await;
        assert_eq!(out, format!("deployment.apps/{name} paused\n"));
        kubectl_ok(&server, bin, &["set", "image", &target, "c=busybox:v3"]).await;
        let progressing = eventually(Duration::from_secs(10), "the paused condition", || {
            let deployments = deployments.clone();
            let name = name.clone();
            async move {
                let d = deployments.get(&name).await.unwrap();
                let c = d.status?.conditions?.into_iter().find(|c| c.type_ == "Progressing")?;
                (c.reason.as_deref() == Some("DeploymentPaused")).then_some(c)
            }
        })
        .await;
        assert_eq!(
            (progressing.status.as_str(), progressing.message.as_deref()),
            ("Unknown", Some("Deployment is paused"))
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            owned(rss.list(&ListParams::default()).await.unwrap().items).len(),
            2,
            "a paused deployment rolled out"
        );
        let out = kubectl(&server, bin, &["rollout", "status", &target, "--timeout=2s"]).await;
        assert!(!out.status.success());

        let out = kubectl_ok(&server, bin, &["rollout", "resume", &target]).await;
        assert_eq!(out, format!("deployment.apps/{name} resumed\n"));
        kubectl_ok(&server, bin, &["rollout", "status", &target, "--timeout=60s"]).await;
        assert_eq!(owned(rss.list(&ListParams::default()).await.unwrap().items).len(), 3);

        // Restart: a new ReplicaSet for the same image, through the restartedAt annotation.
        let out = kubectl_ok(&server, bin, &["rollout", "restart", &target]).await;
        assert_eq!(out, format!("deployment.apps/{name} restarted\n"));
        kubectl_ok(&server, bin, &["rollout", "status", &target, "--timeout=60s"]).await;
        let sets = owned(rss.list(&ListParams::default()).await.unwrap().items);
        assert_eq!(sets.len(), 4);
        let newest = sets
            .iter()
            .find(|rs| rs.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"] == "5")
            .expect("revision 5");
        let template = newest.spec.as_ref().unwrap().template.as_ref().unwrap();
        assert!(template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .as_ref()
            .unwrap()
            .contains_key("kubectl.kubernetes.io/restartedAt"));
        assert_eq!(newest.spec.as_ref().unwrap().replicas, Some(2));
    }
    kubelet.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_scales_old_pods_away_before_new_ones_start() {
    let server = start_server();
    let client = server.client().await;
    let kubelet = kubelet(client.clone(), "default", Duration::from_millis(20));
    kubectl_stdin(
        &server,
        KUBECTL_133,
        &["create", "-f", "-"],
        deployment("db", 3, "db:v1", json!({"type": "Recreate"})).to_string(),
    )
    .await;
    kubectl_ok(&server, KUBECTL_133, &["rollout", "status", "deployment/db", "--timeout=60s"]).await;
    let seen = Arc::new(Mutex::new(Observed::default()));
    let watch = observe(client.clone(), "default", seen.clone());
    eventually(Duration::from_secs(10), "the watch to see the 3 pods", || {
        let seen = seen.clone();
        async move { (seen.lock().unwrap().pods.len() == 3).then_some(()) }
    })
    .await;
    let both = Arc::new(Mutex::new(false));
    kubectl_ok(&server, KUBECTL_133, &["set", "image", "deployment/db", "c=db:v2"]).await;
    kubectl_ok(&server, KUBECTL_133, &["rollout", "status", "deployment/db", "--timeout=60s"]).await;
    eventually(Duration::from_secs(10), "three v2 pods", || {
        let seen = seen.clone();
        let both = both.clone();
        async move {
            let s = seen.lock().unwrap();
            let images: Vec<&String> = s.pods.values().map(|(_, i)| i).collect();
            *both.lock().unwrap() |=
                images.iter().any(|i| i.ends_with(":v1")) && images.iter().any(|i| i.ends_with(":v2"));
            (s.pods.len() == 3 && images.iter().all(|i| *i == "db:v2")).then_some(())
        }
    })
    .await;
    watch.abort();
    let s = seen.lock().unwrap();
    assert!(!s.mixed, "Recreate ran old and new pods at the same time");
    assert!(s.max_pods <= 3, "Recreate had {} pods at once", s.max_pods);
    kubelet.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_sets_scale_adopt_release_and_report_status() {
    let server = start_server();
    let client = server.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let rs_doc = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "front"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"tier": "front"}},
            "template": {"metadata": {"labels": {"tier": "front"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}},
    });
    kubectl_stdin(&server, KUBECTL_133, &["create", "-f", "-"], rs_doc.to_string()).await;
    let owned = |list: Vec<Pod>| -> Vec<Pod> {
        list.into_iter()
            .filter(|p| p.metadata.owner_references.as_ref().is_some_and(|o| o[0].name == "front"))
            .collect()
    };
    let list = eventually(Duration::from_secs(10), "three pods", || {
        let pods = pods.clone();
        async move {
            let list = owned(pods.list(&ListParams::default()).await.unwrap().items);
            (list.len() == 3).then_some(list)
        }
    })
    .await;
    // Two of them become ready: scaling down to 2 deletes the pending one.
    for pod in &list[..2] {
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        let status = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}]}});
        pods.patch_status(pod.metadata.name.as_ref().unwrap(), &PatchParams::default(), &Patch::Merge(&status))
            .await
            .unwrap();
    }
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let status = eventually(Duration::from_secs(10), "the status to count two ready pods", || {
        let rss = rss.clone();
        async move {
            let s = rss.get("front").await.unwrap().status?;
            (s.ready_replicas == Some(2)).then_some(s)
        }
    })
    .await;
    assert_eq!((status.replicas, status.fully_labeled_replicas, status.available_replicas), (3, Some(3), Some(2)));
    assert_eq!(status.observed_generation, Some(1));

    let out = kubectl_ok(&server, KUBECTL_132, &["scale", "replicaset/front", "--replicas=2"]).await;
    assert_eq!(out, "replicaset.apps/front scaled\n");
    let left = eventually(Duration::from_secs(10), "two pods", || {
        let pods = pods.clone();
        async move {
            let list = owned(pods.list(&ListParams::default()).await.unwrap().items);
            (list.len() == 2).then_some(list)
        }
    })
    .await;
    let mut names: Vec<_> = left.iter().map(|p| p.metadata.name.clone().unwrap()).collect();
    let mut ready: Vec<_> = list[..2].iter().map(|p| p.metadata.name.clone().unwrap()).collect();
    names.sort();
    ready.sort();
    assert_eq!(names, ready, "the pending pod should have been deleted first");

    // An orphan with matching labels is adopted (and, being one too many, one pod goes).
    let orphan = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stray", "labels": {"tier": "front"}},
        "spec": {"containers": [{"name": "c", "image": "x"}]}});
    kubectl_stdin(&server, KUBECTL_133, &["create", "-f", "-"], orphan.to_string()).await;
    eventually(Duration::from_secs(10), "two owned pods after adopting the orphan", || {
        let pods = pods.clone();
        async move {
            let all = pods.list(&ListParams::default()).await.unwrap().items;
            let unowned = all.iter().filter(|p| p.metadata.owner_references.is_none()).count();
            (owned(all).len() == 2 && unowned == 0).then_some(())
        }
    })
    .await;
    // A pod relabeled away is released and replaced.
    let victim = owned(pods.list(&ListParams::default()).await.unwrap().items)[0].metadata.name.clone().unwrap();
    kubectl_ok(&server, KUBECTL_133, &["label", "pod", &victim, "tier=elsewhere", "--overwrite"]).await;
    eventually(Duration::from_secs(10), "the released pod and a replacement", || {
        let pods = pods.clone();
        let victim = victim.clone();
        async move {
            let released = pods.get(&victim).await.ok()?.metadata.owner_references.is_none();
            (released && owned(pods.list(&ListParams::default()).await.unwrap().items).len() == 2).then_some(())
        }
    })
    .await;

    // ReplicationControllers run the same code.
    let rc = json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "legacy"},
        "spec": {"replicas": 2, "selector": {"app": "legacy"},
            "template": {"metadata": {"labels": {"app": "legacy"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}});
    kubectl_stdin(&server, KUBECTL_133, &["create", "-f", "-"], rc.to_string()).await;
    let rcs: Api<ReplicationController> = Api::namespaced(client.clone(), "default");
    eventually(Duration::from_secs(10), "the controller's two pods", || {
        let rcs = rcs.clone();
        async move { (rcs.get("legacy").await.unwrap().status?.replicas == 2).then_some(()) }
    })
    .await;
    let out = kubectl_ok(&server, KUBECTL_133, &["get", "pods", "-l", "app=legacy", "-o", "name"]).await;
    assert_eq!(lines(&out).len(), 2, "{out}");
    assert!(lines(&out).iter().all(|l| l.starts_with("pod/legacy-")), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_workloads_are_refused_at_admission() {
    let server = start_server();
    let mut bad = deployment("bad", -1, "x", json!({"type": "RollingUpdate"}));
    bad["spec"]["template"]["metadata"]["labels"] = json!({"app": "other"});
    let cmd = server.kubectl_bin(KUBECTL_133, &["create", "-f", "-"]);
    let doc = bad.to_string();
    let out =
        tokio::task::spawn_blocking(move || run_with_deadline(cmd, Some(&doc), Duration::from_secs(30))).await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("spec.replicas: Invalid value: -1: must be greater than or equal to 0"), "{stderr}");
    assert!(stderr.contains("`selector` does not match template `labels`"), "{stderr}");
}

/// With a registered Node the scheduler binds the pods, so deleting one is graceful: it
/// keeps a deletionTimestamp until the (test's) kubelet confirms. Rollouts go on regardless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_on_a_registered_node_with_graceful_pod_deletion() {
    let server = start_server();
    let client = server.client().await;
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
        "status": {"capacity": {"cpu": "8", "memory": "16Gi", "pods": "110"}, "allocatable": {"cpu": "8", "memory": "16Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
                "lastHeartbeatTime": k8s_openapi::jiff::Timestamp::now().to_string(), "lastTransitionTime": k8s_openapi::jiff::Timestamp::now().to_string()}]}});
    kubectl_stdin(&server, KUBECTL_133, &["create", "-f", "-"], node.to_string()).await;
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    // Nodes register their status themselves.
    nodes.patch_status("n1", &PatchParams::default(), &Patch::Merge(json!({"status": node["status"]}))).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    // The kubelet of n1: bound pods become ready; pods being deleted are confirmed gone.
    let kubelet = {
        let pods = pods.clone();
        tokio::spawn(async move {
            let mut events =
                std::pin::pin!(watcher(pods.clone(), watcher::Config::default()).default_backoff().applied_objects());
            while let Some(Ok(pod)) = events.next().await {
                let name = pod.metadata.name.clone().unwrap_or_default();
                if pod.metadata.deletion_timestamp.is_some() {
                    let _ = pods.delete(&name, &kube::api::DeleteParams::default().grace_period(0)).await;
                } else if pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some("n1") && !is_ready(&pod) {
                    let now = k8s_openapi::jiff::Timestamp::now().to_string();
                    let status = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}]}});
                    let _ = pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await;
                }
            }
        })
    };
    let strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}});
    kubectl_stdin(&server, KUBECTL_133, &["create", "-f", "-"], deployment("api", 3, "api:v1", strategy).to_string())
        .await;
    kubectl_ok(&server, KUBECTL_133, &["rollout", "status", "deployment/api", "--timeout=60s"]).await;
    kubectl_ok(&server, KUBECTL_133, &["set", "image", "deployment/api", "c=api:v2"]).await;
    let out = kubectl_ok(&server, KUBECTL_133, &["rollout", "status", "deployment/api", "--timeout=60s"]).await;
    assert!(out.ends_with("deployment \"api\" successfully rolled out\n"), "{out}");
    let list = eventually(Duration::from_secs(20), "three v2 pods and no others", || {
        let pods = pods.clone();
        async move {
            let list = pods.list(&ListParams::default()).await.ok()?.items;
            (list.len() == 3 && list.iter().all(|p| image_of(p) == "api:v2")).then_some(list)
        }
    })
    .await;
    assert!(list.iter().all(|p| p.spec.as_ref().unwrap().node_name.as_deref() == Some("n1")));
    kubelet.abort();
}

/// Pods that never become ready: after progressDeadlineSeconds (a timer in the controller)
/// the rollout is reported as stuck, and `kubectl rollout status` says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_rollout_exceeds_its_progress_deadline() {
    let server = start_server();
    let client = server.client().await;
    let mut doc = deployment("stuck", 2, "never:ready", json!({"type": "RollingUpdate"}));
    doc["spec"]["progressDeadlineSeconds"] = json!(2);
    kubectl_stdin(&server, KUBECTL_133, &["create", "-f", "-"], doc.to_string()).await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let started = Instant::now();
    let progressing = eventually(Duration::from_secs(15), "ProgressDeadlineExceeded", || {
        let deployments = deployments.clone();
        async move {
            let c = deployments
                .get("stuck")
                .await
                .ok()?
                .status?
                .conditions?
                .into_iter()
                .find(|c| c.type_ == "Progressing")?;
            (c.reason.as_deref() == Some("ProgressDeadlineExceeded")).then_some(c)
        }
    })
    .await;
    assert!(started.elapsed() >= Duration::from_secs(1), "timed out before the deadline");
    assert_eq!(progressing.status, "False");
    let message = progressing.message.unwrap();
    assert!(
        message.starts_with("ReplicaSet \"stuck-") && message.ends_with("\" has timed out progressing."),
        "{message}"
    );
    let available = deployments.get("stuck").await.unwrap().status.unwrap().conditions.unwrap();
    let available = available.iter().find(|c| c.type_ == "Available").unwrap();
    assert_eq!((available.status.as_str(), available.reason.as_deref()), ("False", Some("MinimumReplicasUnavailable")));
    let out = kubectl(&server, KUBECTL_133, &["rollout", "status", "deployment/stuck", "--timeout=10s"]).await;
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "error: deployment \"stuck\" exceeded its progress deadline\n");
}
