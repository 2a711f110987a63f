//! The Job controller against a real `kolibri server`. No node agent runs: the test plays the
//! kubelet and finishes pods (Succeeded or Failed, with an exit code) through the status
//! subresource.

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::eventually;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{watcher, WatchStreamExt};
use kubectl_common::*;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

/// Plays the kubelet: each new pending pod is finished after `delay` with the exit code
/// `exit(pod)` (0: Succeeded; `None`: left running). Records the most pods seen running.
fn kubelet(
    client: kube::Client,
    delay: Duration,
    exit: impl Fn(&Pod) -> Option<i32> + Send + 'static,
    most_running: Arc<Mutex<usize>>,
) -> JoinHandle<()> {
    let api: Api<Pod> = Api::namespaced(client, "default");
    tokio::spawn(async move {
        let mut running: HashSet<String> = HashSet::new();
        let mut pods =
            std::pin::pin!(watcher(api.clone(), watcher::Config::default()).default_backoff().touched_objects());
        while let Some(Ok(pod)) = pods.next().await {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let phase = pod.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
            if pod.metadata.deletion_timestamp.is_some() || matches!(phase.as_str(), "Succeeded" | "Failed") {
                running.remove(&name);
                continue;
            }
            if !running.insert(name.clone()) {
                continue;
            }
            let mut most = most_running.lock().unwrap();
            *most = (*most).max(running.len());
            drop(most);
            let Some(code) = exit(&pod) else { continue };
            let api = api.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let phase = if code == 0 { "Succeeded" } else { "Failed" };
                let status = json!({"status": {"phase": phase, "containerStatuses": [{
                    "name": "main", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"terminated": {"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" }}},
                }]}});
                let _ = api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await;
            });
        }
    })
}

fn job(name: &str, spec: Value) -> Job {
    let mut spec = spec;
    spec["template"] =
        json!({"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}});
    serde_json::from_value(json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": spec}))
        .unwrap()
}

async fn condition(jobs: &Api<Job>, name: &str, type_: &str) -> Option<(String, String)> {
    let job = jobs.get(name).await.ok()?;
    let c = job.status?.conditions?.into_iter().find(|c| c.type_ == type_ && c.status == "True")?;
    Some((c.reason.unwrap_or_default(), c.message.unwrap_or_default()))
}

fn owned_by(pods: Vec<Pod>, job: &str) -> Vec<Pod> {
    pods.into_iter().filter(|p| p.metadata.owner_references.as_ref().is_some_and(|o| o[0].name == job)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_completes_with_parallelism_and_releases_its_pods() {
    let server = start_server();
    let client = server.client().await;
    let most = Arc::new(Mutex::new(0));
    let kubelet = kubelet(client.clone(), Duration::from_millis(300), |_| Some(0), most.clone());
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    jobs.create(&PostParams::default(), &job("work", json!({"completions": 5, "parallelism": 2}))).await.unwrap();

    let out = kc_ok(&server, KUBECTL_133, &["wait", "--for=condition=complete", "job/work", "--timeout=60s"]);
    assert_eq!(out, "job.batch/work condition met\n");
    let job = jobs.get("work").await.unwrap();
    let status = job.status.unwrap();
    assert_eq!((status.succeeded, status.failed, status.active), (Some(5), None, None));
    assert!(status.completion_time.is_some() && status.start_time.is_some());
    let types: Vec<(String, String, Option<String>)> =
        status.conditions.unwrap().into_iter().map(|c| (c.type_, c.status, c.reason)).collect();
    assert_eq!(
        types,
        [
            ("SuccessCriteriaMet".into(), "True".into(), Some("CompletionsReached".into())),
            ("Complete".into(), "True".into(), Some("CompletionsReached".into()))
        ]
    );
    assert_eq!(*most.lock().unwrap(), 2, "parallelism 2 was not used or exceeded");
    // Five pods, all finished, none held by the tracking finalizer.
    let pods = owned_by(
        Api::<Pod>::namespaced(client.clone(), "default").list(&ListParams::default()).await.unwrap().items,
        "work",
    );
    assert_eq!(pods.len(), 5);
    for pod in &pods {
        assert!(pod.metadata.finalizers.is_none(), "{:?}", pod.metadata.finalizers);
        assert!(pod.metadata.generate_name.as_deref() == Some("work-"));
        assert_eq!(pod.metadata.labels.as_ref().unwrap()["batch.kubernetes.io/job-name"], "work");
    }
    // kubectl's table shows the completions.
    let out = kc_ok(&server, KUBECTL_132, &["get", "job", "work"]);
    let (_, rows) = table(&out);
    assert_eq!(rows[0][1], "Complete");
    assert_eq!(rows[0][2], "5/5");
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let reasons: Vec<(String, String)> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect();
    assert!(reasons.contains(&("Completed".into(), "Job completed".into())), "{reasons:?}");
    assert!(reasons.iter().any(|(r, m)| r == "SuccessfulCreate" && m.starts_with("Created pod: work-")));
    // Deleting finished pods does not change the counts.
    kc_ok(&server, KUBECTL_133, &["delete", "pods", "-l", "batch.kubernetes.io/job-name=work"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(jobs.get("work").await.unwrap().status.unwrap().succeeded, Some(5));
    kubelet.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_failures_backoff_limit_failure_policy_and_deadline() {
    let server = start_server();
    let client = server.client().await;
    let most = Arc::new(Mutex::new(0));
    let exit = |pod: &Pod| {
        let job = pod.metadata.labels.as_ref()?.get("batch.kubernetes.io/job-name")?.clone();
        match job.as_str() {
            "flaky" => Some(1),
            "fatal" => Some(42),
            _ => None,
        }
    };
    let kubelet = kubelet(client.clone(), Duration::from_millis(100), exit, most);
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");

    // backoffLimit 0: the first failure fails the job.
    jobs.create(&PostParams::default(), &job("flaky", json!({"backoffLimit": 0}))).await.unwrap();
    let (reason, message) =
        eventually(Duration::from_secs(20), "flaky to fail", || condition(&jobs, "flaky", "Failed")).await;
    assert_eq!(
        (reason.as_str(), message.as_str()),
        ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
    );
    assert_eq!(jobs.get("flaky").await.unwrap().status.unwrap().failed, Some(1));
    assert!(condition(&jobs, "flaky", "FailureTarget").await.is_some());

    // A FailJob rule on exit code 42 fails the job at once, whatever the backoff limit.
    let mut fatal = job("fatal", json!({"backoffLimit": 6}));
    fatal.spec.as_mut().unwrap().pod_failure_policy = Some(
        serde_json::from_value(json!({"rules": [
            {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}}
        ]}))
        .unwrap(),
    );
    jobs.create(&PostParams::default(), &fatal).await.unwrap();
    let (reason, message) =
        eventually(Duration::from_secs(20), "fatal to fail", || condition(&jobs, "fatal", "Failed")).await;
    assert_eq!(reason, "PodFailurePolicy");
    assert!(
        message.starts_with("Container main for pod default/fatal-")
            && message.ends_with(" failed with exit code 42 matching FailJob rule at index 0"),
        "{message}"
    );

    // activeDeadlineSeconds: a pod that never finishes is stopped and the job fails.
    jobs.create(&PostParams::default(), &job("slow", json!({"activeDeadlineSeconds": 2}))).await.unwrap();
    let started = Instant::now();
    let (reason, message) =
        eventually(Duration::from_secs(20), "slow to fail", || condition(&jobs, "slow", "Failed")).await;
    assert_eq!(
        (reason.as_str(), message.as_str()),
        ("DeadlineExceeded", "Job was active longer than specified deadline")
    );
    assert!(started.elapsed() >= Duration::from_secs(1), "failed before its deadline");
    let pods = Api::<Pod>::namespaced(client.clone(), "default");
    eventually(Duration::from_secs(10), "slow's pod to be deleted", || {
        let pods = pods.clone();
        async move { owned_by(pods.list(&ListParams::default()).await.ok()?.items, "slow").is_empty().then_some(()) }
    })
    .await;
    kubelet.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexed_job_runs_each_index_once_and_suspend_holds_pods() {
    let server = start_server();
    let client = server.client().await;
    let most = Arc::new(Mutex::new(0));
    let kubelet = kubelet(client.clone(), Duration::from_millis(200), |_| Some(0), most);
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let pods = Api::<Pod>::namespaced(client.clone(), "default");

    // Suspended: no pods, a Suspended condition; resumed: the indexes run.
    let spec = json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed", "suspend": true});
    jobs.create(&PostParams::default(), &job("idx", spec)).await.unwrap();
    let (reason, message) =
        eventually(Duration::from_secs(10), "the Suspended condition", || condition(&jobs, "idx", "Suspended")).await;
    assert_eq!((reason.as_str(), message.as_str()), ("JobSuspended", "Job suspended"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(owned_by(pods.list(&ListParams::default()).await.unwrap().items, "idx").is_empty());
    assert!(jobs.get("idx").await.unwrap().status.unwrap().start_time.is_none());
    jobs.patch("idx", &PatchParams::default(), &Patch::Merge(json!({"spec": {"suspend": false}}))).await.unwrap();

    let out = kc_ok(&server, KUBECTL_133, &["wait", "--for=condition=complete", "job/idx", "--timeout=60s"]);
    assert_eq!(out, "job.batch/idx condition met\n");
    let status = jobs.get("idx").await.unwrap().status.unwrap();
    assert_eq!(status.completed_indexes.as_deref(), Some("0-2"));
    assert_eq!(status.succeeded, Some(3));
    let suspended = status.conditions.unwrap().into_iter().find(|c| c.type_ == "Suspended").unwrap();
    assert_eq!((suspended.status.as_str(), suspended.reason.as_deref()), ("False", Some("JobResumed")));

    let mut indexes: Vec<(String, String, String)> =
        owned_by(pods.list(&ListParams::default()).await.unwrap().items, "idx")
            .into_iter()
            .map(|p| {
                let index =
                    p.metadata.annotations.as_ref().unwrap()["batch.kubernetes.io/job-completion-index"].clone();
                assert_eq!(p.metadata.labels.as_ref().unwrap()["batch.kubernetes.io/job-completion-index"], index);
                let spec = p.spec.unwrap();
                let env = spec.containers[0].env.clone().unwrap();
                assert!(env.iter().any(|e| e.name == "JOB_COMPLETION_INDEX"));
                (index, spec.hostname.unwrap_or_default(), p.metadata.name.unwrap())
            })
            .collect();
    indexes.sort();
    assert_eq!(indexes.len(), 3, "{indexes:?}");
    for (i, (index, hostname, name)) in indexes.iter().enumerate() {
        assert_eq!(index, &i.to_string());
        assert_eq!(hostname, &format!("idx-{i}"));
        assert!(name.starts_with(&format!("idx-{i}-")), "{name}");
    }
    kubelet.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_jobs_go_after_their_ttl() {
    let server = start_server();
    let client = server.client().await;
    let kubelet = kubelet(client.clone(), Duration::from_millis(50), |_| Some(0), Arc::default());
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    jobs.create(&PostParams::default(), &job("brief", json!({"ttlSecondsAfterFinished": 2}))).await.unwrap();
    eventually(Duration::from_secs(20), "brief to complete", || condition(&jobs, "brief", "Complete")).await;
    let done = Instant::now();
    eventually(Duration::from_secs(20), "brief to be deleted", || {
        let jobs = jobs.clone();
        async move { jobs.get_opt("brief").await.ok()?.is_none().then_some(()) }
    })
    .await;
    assert!(done.elapsed() >= Duration::from_secs(1), "deleted before its TTL");
    kubelet.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cronjob_fires_on_the_minute_and_records_success() {
    use k8s_openapi::api::batch::v1::CronJob;
    let server = start_server();
    let client = server.client().await;
    let kubelet = kubelet(client.clone(), Duration::from_millis(100), |_| Some(0), Arc::default());
    let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"},
        "spec": {"schedule": "* * * * *", "timeZone": "Etc/UTC", "jobTemplate": {"metadata": {"labels": {"from": "tick"}},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}}}}}});
    let out = kc_stdin(&server, KUBECTL_133, &["create", "-f", "-"], &cron.to_string());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A time zone the host does not know is refused at admission, as upstream does.
    let mut bad = cron.clone();
    bad["metadata"]["name"] = json!("lost");
    bad["spec"]["timeZone"] = json!("Mars/Olympus_Mons");
    let out = kc_stdin(&server, KUBECTL_133, &["create", "-f", "-"], &bad.to_string());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("spec.timeZone: Invalid value: \"Mars/Olympus_Mons\": unknown time zone Mars/Olympus_Mons"),
        "{stderr}"
    );
    // An invalid schedule is refused at admission.
    let mut invalid = cron.clone();
    invalid["metadata"]["name"] = json!("never");
    invalid["spec"]["schedule"] = json!("61 * * * *");
    let out = kc_stdin(&server, KUBECTL_133, &["create", "-f", "-"], &invalid.to_string());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("spec.schedule: Invalid value: \"61 * * * *\""));

    let cronjobs: Api<CronJob> = Api::namespaced(client.clone(), "default");
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let job = eventually(Duration::from_secs(70), "the first scheduled job", || {
        let jobs = jobs.clone();
        async move {
            jobs.list(&ListParams::default()).await.ok()?.items.into_iter().find(|j| {
                j.metadata.owner_references.as_ref().is_some_and(|o| o[0].kind == "CronJob" && o[0].name == "tick")
            })
        }
    })
    .await;
    let name = job.metadata.name.clone().unwrap();
    let annotations = job.metadata.annotations.clone().unwrap();
    let scheduled: k8s_openapi::jiff::Timestamp =
        annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"].parse().expect("RFC 3339 time");
    assert_eq!(scheduled.as_second() % 60, 0, "not on a minute");
    assert_eq!(name, format!("tick-{}", scheduled.as_second() / 60));
    assert_eq!(job.metadata.labels.as_ref().unwrap()["from"], "tick");
    let status = eventually(Duration::from_secs(20), "the job to succeed and be recorded", || {
        let cronjobs = cronjobs.clone();
        async move {
            let status = cronjobs.get("tick").await.ok()?.status?;
            (status.last_successful_time.is_some() && status.active.is_none()).then_some(status)
        }
    })
    .await;
    assert_eq!(status.last_schedule_time.unwrap().0, scheduled);
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let messages: Vec<String> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some("tick"))
        .map(|e| format!("{}: {}", e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect();
    assert!(messages.contains(&format!("SuccessfulCreate: Created job {name}")), "{messages:?}");
    assert!(
        messages.contains(&format!("SawCompletedJob: Saw completed job: {name}, condition: Complete")),
        "{messages:?}"
    );
    kubelet.abort();
}
