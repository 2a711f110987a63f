//! Jobs (upstream's job-controller, with the ttl-after-finished controller's deletion):
//! runs pods until `completions` succeeded (or, without completions, until one succeeded and
//! none is left running), at most `parallelism` at a time.
//!
//! - **Tracking with finalizers**, as upstream: pods are created with the
//!   `batch.kubernetes.io/job-tracking` finalizer; a finished pod is first recorded in
//!   `status.uncountedTerminatedPods`, then its finalizer is removed, then it moves into the
//!   `succeeded`/`failed` counts — so deleting finished pods never loses a count.
//! - **Indexed** jobs: one pod per pending index (annotation and label
//!   `batch.kubernetes.io/job-completion-index`, `JOB_COMPLETION_INDEX`, hostname
//!   `<job>-<index>`), `status.completedIndexes` in upstream's interval form.
//! - **Failure**: `backoffLimit` (replacements wait 10 s doubling up to 10 minutes),
//!   `podFailurePolicy` (FailJob, Ignore, Count on exit codes or pod conditions),
//!   `activeDeadlineSeconds` (a timer); the job gets `FailureTarget` and `Failed`.
//! - **Success**: `SuccessCriteriaMet` and `Complete`, `completionTime`.
//! - **suspend** deletes the active pods (`Suspended` condition); resuming restarts the clock.
//! - **ttlSecondsAfterFinished**: the finished job is deleted (foreground) when it expires.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, PodFailurePolicyRule, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions, PropagationPolicy};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::events::{Recorder, NORMAL, WARNING};
use crate::informer::Change;
use crate::queue::{self, Backoff, Next, Queue};
use crate::replicaset::{controller_ref, slow_start_batch, Expectations};
use crate::workloads::{self, controller_of, key_of, split_key, Informers};
use crate::Error;

pub const NAME: &str = "job";
const COMPONENT: &str = "job-controller";
const WORKERS: usize = 5;
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
pub const INDEX_KEY: &str = "batch.kubernetes.io/job-completion-index";
/// Upstream's `MaxPodCreateDeletePerSync`.
const MAX_BATCH: usize = 500;
const POD_BACKOFF: Duration = Duration::from_secs(10);
const MAX_POD_BACKOFF: Duration = Duration::from_secs(600);

struct Controller {
    client: Client,
    jobs: Store<Job>,
    pods: Store<Pod>,
    expectations: Expectations,
    /// When each job last saw a pod fail, and how many failed since its last success.
    failures: Mutex<HashMap<String, (Instant, u32)>>,
    /// The resourceVersion of each job's last status write: an older cached job is skipped
    /// (its counts are stale; the newer version's event queues the job again).
    written: Mutex<HashMap<String, u64>>,
    recorder: Recorder,
    queue: Arc<Queue<String>>,
}

pub(crate) fn start(client: Client, informers: &Informers, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    let (jobs, pods) = (informers.jobs.get(), informers.pods.get());
    let ctl = Arc::new(Controller {
        recorder: Recorder::new(client.clone(), COMPONENT),
        client,
        jobs: jobs.store(),
        pods: pods.store(),
        expectations: Expectations::default(),
        failures: Mutex::default(),
        written: Mutex::default(),
        queue: Queue::new(Backoff::DEFAULT),
    });
    jobs.on_change({
        let ctl = ctl.clone();
        move |change| match change {
            Change::Applied { new, .. } => ctl.queue.add(key_of(&new.metadata)),
            Change::Deleted(old) => {
                let key = key_of(&old.metadata);
                ctl.expectations.forget(&key);
                ctl.lock_failures().remove(&key);
                ctl.written.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
            }
        }
    });
    pods.on_change({
        let ctl = ctl.clone();
        move |change| {
            let (pod, created, gone) = match change {
                Change::Applied { old: None, new } => (new, true, new.metadata.deletion_timestamp.is_some()),
                Change::Applied { old: Some(old), new } => {
                    if old.metadata.resource_version == new.metadata.resource_version {
                        return;
                    }
                    let gone = new.metadata.deletion_timestamp.is_some() && old.metadata.deletion_timestamp.is_none();
                    (new, false, gone)
                }
                Change::Deleted(pod) => (pod, false, true),
            };
            let Some(key) = ctl.job_of(pod) else { return };
            if created && !gone {
                ctl.expectations.creation_observed(&key);
            }
            if gone {
                ctl.expectations.deletion_observed(&key, pod.metadata.uid.as_deref().unwrap_or_default());
            }
            ctl.queue.add(key);
        }
    });
    let ready = futures::future::join(jobs.synced(), pods.synced());
    let ready = async move {
        ready.await;
    };
    let queue = ctl.queue.clone();
    tokio::spawn(queue::serve(NAME, queue, WORKERS, ready, shutdown, move |key: String| {
        let ctl = ctl.clone();
        async move { ctl.sync(&key).await }
    }))
}

/// What one sync found among a job's pods.
struct Pods {
    active: Vec<Arc<Pod>>,
    /// Finished (or failed by deletion) and still holding the tracking finalizer.
    finished: Vec<Arc<Pod>>,
    ready: i32,
    terminating: i32,
}

impl Controller {
    fn lock_failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, u32)>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn job_of(&self, pod: &Pod) -> Option<String> {
        let r = controller_of(&pod.metadata).filter(|r| r.kind == "Job")?;
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        let job = self.jobs.get(&ObjectRef::new(&r.name).within(ns))?;
        (job.metadata.uid.as_deref() == Some(r.uid.as_str())).then(|| key_of(&job.metadata))
    }

    fn pods_of(&self, job: &Job) -> Pods {
        let uid = job.metadata.uid.as_deref().unwrap_or_default();
        let ns = job.metadata.namespace.as_deref();
        let mut out = Pods { active: Vec::new(), finished: Vec::new(), ready: 0, terminating: 0 };
        for pod in self.pods.state() {
            if pod.metadata.namespace.as_deref() != ns || controller_of(&pod.metadata).is_none_or(|r| r.uid != uid) {
                continue;
            }
            let tracked = pod.finalizers().iter().any(|f| f == TRACKING_FINALIZER);
            let terminal = matches!(workloads::phase(&pod), "Succeeded" | "Failed");
            if workloads::is_active(&pod) {
                out.ready += i32::from(workloads::is_ready(&pod));
                out.active.push(pod);
            } else {
                if pod.metadata.deletion_timestamp.is_some() && !terminal {
                    out.terminating += 1;
                }
                if tracked {
                    out.finished.push(pod);
                }
            }
        }
        out
    }

    async fn sync(&self, key: &str) -> Result<Next, Error> {
        let (ns, name) = split_key(key);
        let Some(cached) = self.jobs.get(&ObjectRef::new(name).within(ns)) else { return Ok(Next::Done) };
        let job = (*cached).clone();
        let version = |job: &Job| job.metadata.resource_version.as_deref().and_then(|v| v.parse::<u64>().ok());
        let written = self.written.lock().unwrap_or_else(|p| p.into_inner()).get(key).copied();
        if let (Some(cached), Some(written)) = (version(&job), written) {
            if cached < written {
                return Ok(Next::Done);
            }
        }
        if job.metadata.deletion_timestamp.is_some() {
            // The garbage collector takes the pods; only their finalizers are ours.
            let pods = self.pods_of(&job);
            self.release(&pods.finished.iter().chain(&pods.active).cloned().collect::<Vec<_>>()).await?;
            return Ok(Next::Done);
        }
        if finished(&job) {
            let pods = self.pods_of(&job);
            self.release(&pods.finished).await?;
            return self.ttl(&job).await;
        }
        if !self.expectations.satisfied(key) {
            return Ok(Next::Done);
        }
        self.sync_job(key, job).await
    }

    async fn sync_job(&self, key: &str, mut job: Job) -> Result<Next, Error> {
        let spec = job.spec.clone().unwrap_or_default();
        let now = workloads::now();
        let pods = self.pods_of(&job);
        let indexed = spec.completion_mode.as_deref() == Some("Indexed");
        let mut status = job.status.clone().unwrap_or_default();
        let old_status = status.clone();

        // 1. Finished pods not yet counted go into uncountedTerminatedPods.
        let uncounted = status.uncounted_terminated_pods.get_or_insert_with(Default::default);
        let mut known: HashSet<String> =
            uncounted.succeeded.iter().flatten().chain(uncounted.failed.iter().flatten()).cloned().collect();
        let mut completed: BTreeSet<i32> = parse_indexes(status.completed_indexes.as_deref().unwrap_or_default());
        let mut fail_job: Option<String> = None;
        let mut new_failures = 0;
        for pod in &pods.finished {
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            if known.contains(&uid) {
                continue;
            }
            if workloads::phase(pod) == "Succeeded" {
                uncounted.succeeded.get_or_insert_with(Vec::new).push(uid.clone());
                // Recorded with the uid: the pod may be gone by the time it is counted.
                if let Some(index) = index_of(pod).filter(|_| indexed) {
                    completed.insert(index);
                }
            } else {
                match failure_policy(&spec.pod_failure_policy.as_ref().map(|p| p.rules.clone()), pod) {
                    Some(("Ignore", _)) => {}
                    Some(("FailJob", message)) => {
                        fail_job.get_or_insert(message);
                        uncounted.failed.get_or_insert_with(Vec::new).push(uid.clone());
                    }
                    _ => {
                        new_failures += 1;
                        uncounted.failed.get_or_insert_with(Vec::new).push(uid.clone());
                    }
                }
            }
            known.insert(uid);
        }
        if new_failures > 0 {
            let mut failures = self.lock_failures();
            let entry = failures.entry(key.to_string()).or_insert((Instant::now(), 0));
            *entry = (Instant::now(), entry.1 + new_failures);
        }
        if indexed {
            let completions = spec.completions.unwrap_or(0);
            completed.retain(|i| *i < completions);
            status.completed_indexes = Some(format_indexes(&completed));
        }
        if status.uncounted_terminated_pods != old_status.uncounted_terminated_pods {
            job = self.write_status(&job, status.clone()).await?;
        }
        // 2. Their finalizers go.
        self.release(&pods.finished).await?;
        // 3. They are counted.
        let uncounted = status.uncounted_terminated_pods.take().unwrap_or_default();
        status.succeeded =
            Some(status.succeeded.unwrap_or(0) + uncounted.succeeded.as_ref().map_or(0, Vec::len) as i32);
        status.failed = Some(status.failed.unwrap_or(0) + uncounted.failed.as_ref().map_or(0, Vec::len) as i32);
        status.uncounted_terminated_pods = Some(UncountedTerminatedPods::default());

        let succeeded = status.succeeded.unwrap_or(0);
        let failed = status.failed.unwrap_or(0);
        let suspended = spec.suspend == Some(true);
        let mut active = pods.active.clone();
        let mut next = Next::Done;

        // Suspension.
        let was_suspended = condition(&status, "Suspended").is_some_and(|c| c.status == "True");
        if suspended && !was_suspended {
            set_condition(&mut status, "Suspended", "True", "JobSuspended", "Job suspended", now);
            self.recorder.record(&job, NORMAL, "Suspended", "Job suspended".into());
        } else if !suspended && was_suspended {
            set_condition(&mut status, "Suspended", "False", "JobResumed", "Job resumed", now);
            self.recorder.record(&job, NORMAL, "Resumed", "Job resumed".into());
            status.start_time = Some(Time(now));
        }
        if !suspended && status.start_time.is_none() {
            status.start_time = Some(Time(now));
        }

        // Failure or success.
        let backoff_limit = spec.backoff_limit.unwrap_or(6);
        let deadline_left = spec.active_deadline_seconds.filter(|_| !suspended).and_then(|seconds| {
            status.start_time.as_ref().map(|start| start.0.as_second() + seconds - now.as_second())
        });
        let failure = if let Some(message) = fail_job {
            Some(("PodFailurePolicy", message))
        } else if failed > backoff_limit {
            Some(("BackoffLimitExceeded", "Job has reached the specified backoff limit".to_string()))
        } else if deadline_left.is_some_and(|left| left <= 0) {
            Some(("DeadlineExceeded", "Job was active longer than specified deadline".to_string()))
        } else {
            None
        };
        let complete = if indexed {
            completed.len() as i32 >= spec.completions.unwrap_or(0)
        } else {
            match spec.completions {
                Some(c) => succeeded >= c,
                None => succeeded > 0 && active.is_empty(),
            }
        };

        if let Some((reason, message)) = &failure {
            self.delete_pods(key, &job, &active).await?;
            active.clear();
            set_condition(&mut status, "FailureTarget", "True", reason, message, now);
            if pods.terminating == 0 {
                set_condition(&mut status, "Failed", "True", reason, message, now);
                self.recorder.record(&job, WARNING, reason, message.clone());
            }
        } else if complete {
            self.delete_pods(key, &job, &active).await?;
            active.clear();
            let message = "Reached expected number of succeeded pods";
            set_condition(&mut status, "SuccessCriteriaMet", "True", "CompletionsReached", message, now);
            if pods.terminating == 0 {
                set_condition(&mut status, "Complete", "True", "CompletionsReached", message, now);
                status.completion_time = Some(Time(now));
                self.recorder.record(&job, NORMAL, "Completed", "Job completed".into());
            }
        } else if suspended {
            self.delete_pods(key, &job, &active).await?;
            active.clear();
        } else {
            if let Some(left) = deadline_left {
                next = Next::After(Duration::from_secs(left.max(1) as u64));
            }
            let parallelism = spec.parallelism.unwrap_or(1).max(0) as usize;
            let want = if indexed {
                parallelism
            } else {
                match spec.completions {
                    None if succeeded > 0 => active.len(),
                    None => parallelism,
                    Some(c) => ((c - succeeded).max(0) as usize).min(parallelism),
                }
            };
            if active.len() > want {
                let extra = active.len() - want;
                let victims = crate::replicaset::pods_to_delete(&active, extra, Timestamp::now());
                self.delete_pods(key, &job, &victims).await?;
                let gone: HashSet<_> = victims.iter().map(|p| p.metadata.uid.clone()).collect();
                active.retain(|p| !gone.contains(&p.metadata.uid));
            } else if active.len() < want {
                let wait = self.backoff_left(key);
                if wait > Duration::ZERO {
                    next = min_next(next, wait);
                } else {
                    let indexes: Vec<Option<i32>> = if indexed {
                        let running: HashSet<i32> = active.iter().filter_map(|p| index_of(p)).collect();
                        (0..spec.completions.unwrap_or(0))
                            .filter(|i| !completed.contains(i) && !running.contains(i))
                            .take(want - active.len())
                            .map(Some)
                            .collect()
                    } else {
                        vec![None; want - active.len()]
                    };
                    let n = indexes.len().min(MAX_BATCH);
                    self.expectations.expect(key, n, HashSet::new());
                    let (created, err) = slow_start_batch(n, |i| self.create_pod(&job, indexes[i])).await;
                    for _ in created..n {
                        self.expectations.creation_observed(key);
                    }
                    if let Some(e) = err {
                        self.update_status(&job, status, &pods, active.len() + created).await?;
                        return Err(e);
                    }
                    let count = active.len() + created;
                    self.update_status(&job, status, &pods, count).await?;
                    return Ok(next);
                }
            }
        }
        let count = active.len();
        let job = self.update_status(&job, status, &pods, count).await?;
        if finished(&job) {
            return self.ttl(&job).await;
        }
        Ok(next)
    }

    /// Time left of the replacement backoff after failures.
    fn backoff_left(&self, key: &str) -> Duration {
        let failures = self.lock_failures();
        let Some((at, n)) = failures.get(key) else { return Duration::ZERO };
        if *n == 0 {
            return Duration::ZERO;
        }
        let delay = POD_BACKOFF.saturating_mul(1u32.checked_shl(n - 1).unwrap_or(u32::MAX)).min(MAX_POD_BACKOFF);
        delay.saturating_sub(at.elapsed())
    }

    async fn update_status(&self, job: &Job, mut status: JobStatus, pods: &Pods, active: usize) -> Result<Job, Error> {
        fn nonzero(n: i32) -> Option<i32> {
            (n != 0).then_some(n)
        }
        status.active = nonzero(active as i32);
        status.ready = Some(pods.ready);
        status.terminating = Some(pods.terminating);
        status.succeeded = status.succeeded.and_then(nonzero);
        status.failed = status.failed.and_then(nonzero);
        if job.status.as_ref() == Some(&status) {
            return Ok(job.clone());
        }
        self.write_status(job, status).await
    }

    async fn write_status(&self, job: &Job, status: JobStatus) -> Result<Job, Error> {
        let api: Api<Job> = Api::namespaced(self.client.clone(), job.metadata.namespace.as_deref().unwrap_or_default());
        let mut copy = job.clone();
        copy.status = Some(status);
        let stored = api.replace_status(&job.name_any(), &PostParams::default(), &copy).await?;
        if let Some(version) = stored.metadata.resource_version.as_deref().and_then(|v| v.parse::<u64>().ok()) {
            self.written.lock().unwrap_or_else(|p| p.into_inner()).insert(key_of(&stored.metadata), version);
        }
        Ok(stored)
    }

    /// Removes the tracking finalizer of pods the status accounts for.
    async fn release(&self, pods: &[Arc<Pod>]) -> Result<(), Error> {
        let patches = pods.iter().filter(|p| p.finalizers().iter().any(|f| f == TRACKING_FINALIZER)).map(|pod| {
            let finalizers: Vec<&String> = pod.finalizers().iter().filter(|f| *f != TRACKING_FINALIZER).collect();
            let patch = json!({"metadata": {
                "finalizers": if finalizers.is_empty() { serde_json::Value::Null } else { json!(finalizers) },
                "resourceVersion": pod.metadata.resource_version,
            }});
            let api: Api<Pod> =
                Api::namespaced(self.client.clone(), pod.metadata.namespace.as_deref().unwrap_or_default());
            async move {
                match api.patch(&pod.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await {
                    Ok(_) => Ok(()),
                    Err(e) if crate::api_reason(&e, 404) => Ok(()),
                    Err(e) => Err(Error::from(e)),
                }
            }
        });
        for result in futures::future::join_all(patches).await {
            result?;
        }
        Ok(())
    }

    async fn create_pod(&self, job: &Job, index: Option<i32>) -> Result<(), Error> {
        let ns = job.metadata.namespace.clone().unwrap_or_default();
        let template = job.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
        let meta = template.metadata.clone().unwrap_or_default();
        let mut spec = template.spec.clone().unwrap_or_default();
        let mut labels = meta.labels.clone().unwrap_or_default();
        let mut annotations = meta.annotations.clone().unwrap_or_default();
        let mut generate_name = format!("{}-", job.name_any());
        if let Some(i) = index {
            annotations.insert(INDEX_KEY.into(), i.to_string());
            labels.insert(INDEX_KEY.into(), i.to_string());
            generate_name = format!("{}-{i}-", job.name_any());
            if spec.hostname.is_none() {
                spec.hostname = Some(format!("{}-{i}", job.name_any()));
            }
            for c in spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten()) {
                c.env.get_or_insert_with(Vec::new).push(EnvVar {
                    name: "JOB_COMPLETION_INDEX".into(),
                    value_from: Some(EnvVarSource {
                        field_ref: Some(ObjectFieldSelector {
                            api_version: Some("v1".into()),
                            field_path: format!("metadata.annotations['{INDEX_KEY}']"),
                        }),
                        ..Default::default()
                    }),
                    value: None,
                });
            }
        }
        let mut finalizers = meta.finalizers.clone().unwrap_or_default();
        finalizers.push(TRACKING_FINALIZER.into());
        let pod = Pod {
            metadata: ObjectMeta {
                generate_name: Some(generate_name),
                namespace: Some(ns.clone()),
                labels: Some(labels),
                annotations: (!annotations.is_empty()).then_some(annotations),
                finalizers: Some(finalizers),
                owner_references: Some(vec![controller_ref(job)]),
                ..Default::default()
            },
            spec: Some(spec),
            status: None,
        };
        workloads::create_pod(&self.client, &self.recorder, job, &pod).await
    }

    async fn delete_pods(&self, key: &str, job: &Job, pods: &[Arc<Pod>]) -> Result<(), Error> {
        if pods.is_empty() {
            return Ok(());
        }
        let uids = pods.iter().filter_map(|p| p.metadata.uid.clone()).collect();
        self.expectations.expect(key, 0, uids);
        let deletions = pods.iter().map(|pod| async move {
            let api: Api<Pod> =
                Api::namespaced(self.client.clone(), pod.metadata.namespace.as_deref().unwrap_or_default());
            let params = DeleteParams {
                preconditions: Some(Preconditions { uid: pod.metadata.uid.clone(), resource_version: None }),
                ..Default::default()
            };
            match api.delete(&pod.name_any(), &params).await {
                Ok(_) => {
                    self.recorder.record(job, NORMAL, "SuccessfulDelete", format!("Deleted pod: {}", pod.name_any()));
                    Ok(())
                }
                Err(e) if crate::api_reason(&e, 404) => Ok(()),
                Err(e) => {
                    self.expectations.deletion_observed(key, pod.metadata.uid.as_deref().unwrap_or_default());
                    Err(Error::Sync(workloads::error_message(&e)))
                }
            }
        });
        for result in futures::future::join_all(deletions).await {
            result?;
        }
        Ok(())
    }

    /// Deletes a finished job whose `ttlSecondsAfterFinished` expired; else looks again then.
    async fn ttl(&self, job: &Job) -> Result<Next, Error> {
        let Some(ttl) = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished) else { return Ok(Next::Done) };
        let status = job.status.clone().unwrap_or_default();
        let finished_at = status
            .conditions
            .iter()
            .flatten()
            .filter(|c| matches!(c.type_.as_str(), "Complete" | "Failed") && c.status == "True")
            .filter_map(|c| c.last_transition_time.as_ref())
            .map(|t| t.0.as_second())
            .next();
        let Some(finished_at) = finished_at else { return Ok(Next::Done) };
        let left = finished_at + i64::from(ttl) - Timestamp::now().as_second();
        if left > 0 {
            return Ok(Next::After(Duration::from_secs(left as u64)));
        }
        let api: Api<Job> = Api::namespaced(self.client.clone(), job.metadata.namespace.as_deref().unwrap_or_default());
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Foreground),
            preconditions: Some(Preconditions {
                uid: job.metadata.uid.clone(),
                resource_version: job.metadata.resource_version.clone(),
            }),
            ..Default::default()
        };
        match api.delete(&job.name_any(), &params).await {
            Ok(_) => {
                tracing::info!(job = %key_of(&job.metadata), "deleted a finished job whose TTL expired");
                Ok(Next::Done)
            }
            Err(e) if crate::api_reason(&e, 404) => Ok(Next::Done),
            Err(e) => Err(e.into()),
        }
    }
}

fn min_next(next: Next, wait: Duration) -> Next {
    match next {
        Next::After(d) if d < wait => Next::After(d),
        _ => Next::After(wait),
    }
}

/// Whether the job has a true `Complete` or `Failed` condition.
pub fn finished(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| matches!(c.type_.as_str(), "Complete" | "Failed") && c.status == "True"))
}

fn index_of(pod: &Pod) -> Option<i32> {
    pod.annotations().get(INDEX_KEY).and_then(|v| v.parse().ok())
}

fn condition<'a>(s: &'a JobStatus, type_: &str) -> Option<&'a JobCondition> {
    s.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

fn set_condition(s: &mut JobStatus, type_: &str, status: &str, reason: &str, message: &str, now: Timestamp) {
    let conditions = s.conditions.get_or_insert_with(Vec::new);
    if let Some(c) = conditions.iter_mut().find(|c| c.type_ == type_) {
        if c.status == status && c.reason.as_deref() == Some(reason) && c.message.as_deref() == Some(message) {
            return;
        }
        if c.status != status {
            c.last_transition_time = Some(Time(now));
        }
        c.status = status.into();
        c.reason = Some(reason.into());
        c.message = Some(message.into());
        c.last_probe_time = Some(Time(now));
        return;
    }
    conditions.push(JobCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    });
}

/// The first `podFailurePolicy` rule a failed pod matches: its action and, for FailJob,
/// upstream's message.
fn failure_policy(rules: &Option<Vec<PodFailurePolicyRule>>, pod: &Pod) -> Option<(&'static str, String)> {
    let rules = rules.as_ref()?;
    let status = pod.status.as_ref();
    let pod_name = format!("{}/{}", pod.metadata.namespace.as_deref().unwrap_or_default(), pod.name_any());
    for (i, rule) in rules.iter().enumerate() {
        let action: &'static str = match rule.action.as_str() {
            "FailJob" => "FailJob",
            "Ignore" => "Ignore",
            "Count" => "Count",
            "FailIndex" => "FailIndex",
            _ => continue,
        };
        if let Some(req) = &rule.on_exit_codes {
            let terminated = status
                .into_iter()
                .flat_map(|s| s.container_statuses.iter().flatten().chain(s.init_container_statuses.iter().flatten()))
                .filter(|c| req.container_name.as_ref().is_none_or(|n| *n == c.name))
                .filter_map(|c| Some((c.name.clone(), c.state.as_ref()?.terminated.as_ref()?.exit_code)))
                .filter(|(_, code)| *code != 0);
            for (container, code) in terminated {
                let hit = match req.operator.as_str() {
                    "In" => req.values.contains(&code),
                    "NotIn" => !req.values.contains(&code),
                    _ => false,
                };
                if hit {
                    let message = format!(
                        "Container {container} for pod {pod_name} failed with exit code {code} matching {action} rule at index {i}"
                    );
                    return Some((action, message));
                }
            }
        }
        for req in rule.on_pod_conditions.iter().flatten() {
            let want = if req.status.is_empty() { "True" } else { req.status.as_str() };
            let hit = status
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == req.type_ && c.status == want));
            if hit {
                let message = format!("Pod {pod_name} has condition {} matching {action} rule at index {i}", req.type_);
                return Some((action, message));
            }
        }
    }
    None
}

/// `completedIndexes`: "1,3-5,7".
fn format_indexes(indexes: &BTreeSet<i32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut iter = indexes.iter().copied().peekable();
    while let Some(first) = iter.next() {
        let mut last = first;
        while iter.peek() == Some(&(last + 1)) {
            last += 1;
            iter.next();
        }
        parts.push(if first == last { first.to_string() } else { format!("{first}-{last}") });
    }
    parts.join(",")
}

fn parse_indexes(s: &str) -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<i32>(), b.parse::<i32>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.parse::<i32>().ok()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completed_indexes_round_trip_in_interval_form() {
        let set: BTreeSet<i32> = [0, 1, 2, 4, 6, 7].into();
        assert_eq!(format_indexes(&set), "0-2,4,6-7");
        assert_eq!(parse_indexes("0-2,4,6-7"), set);
        assert_eq!(format_indexes(&BTreeSet::new()), "");
    }

    #[test]
    fn failure_policy_matches_exit_codes_and_conditions_in_order() {
        let rules: Vec<PodFailurePolicyRule> = serde_json::from_value(json!([
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
            {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
        ]))
        .unwrap();
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "status": {"phase": "Failed", "containerStatuses": [{"name": "main", "image": "x", "imageID": "", "ready": false,
                "restartCount": 0, "state": {"terminated": {"exitCode": 42}}}]},
        }))
        .unwrap();
        let (action, message) = failure_policy(&Some(rules.clone()), &pod).unwrap();
        assert_eq!(action, "FailJob");
        assert_eq!(message, "Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1");
        let mut disrupted = pod.clone();
        disrupted.status.as_mut().unwrap().conditions =
            Some(vec![serde_json::from_value(json!({"type": "DisruptionTarget", "status": "True"})).unwrap()]);
        assert_eq!(failure_policy(&Some(rules.clone()), &disrupted).unwrap().0, "Ignore");
        let mut other = pod;
        other.status.as_mut().unwrap().container_statuses.as_mut().unwrap()[0].state =
            Some(serde_json::from_value(json!({"terminated": {"exitCode": 1}})).unwrap());
        assert!(failure_policy(&Some(rules), &other).is_none());
    }
}
