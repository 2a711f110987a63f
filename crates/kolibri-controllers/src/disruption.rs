//! The status of PodDisruptionBudgets (upstream's disruption controller): how many selected
//! pods are healthy (running, ready, not being deleted, not just evicted), how many must
//! stay healthy (`minAvailable`, or the expected scale less `maxUnavailable`; percentages
//! of the owning controllers' replicas), and so how many disruptions the eviction
//! subresource may allow. Evictions the API server recorded in `disruptedPods` count as
//! gone until the pod is deleted or two minutes pass.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::PostParams;
use kube::core::{Selector, SelectorExt};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::events::{Recorder, NORMAL, WARNING};
use crate::informer::{Change, Informer};
use crate::queue::{self, Backoff, Next, Queue};
use crate::workloads::{controller_of, key_of, split_key};
use crate::Error;

pub const NAME: &str = "disruption";
/// How long an eviction recorded in `disruptedPods` is awaited (upstream's DeletionTimeout).
const DELETION_TIMEOUT: Duration = Duration::from_secs(120);
const CONDITION: &str = "DisruptionAllowed";

pub(crate) fn start(client: Client, pods: &Arc<Informer<Pod>>, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let queue = Queue::<String>::new(Backoff::DEFAULT);
    let budgets = Informer::<PodDisruptionBudget>::new("poddisruptionbudgets", ());
    budgets.on_change({
        let queue = queue.clone();
        move |change| {
            if let Change::Applied { new, .. } = change {
                queue.add(key_of(&new.metadata));
            }
        }
    });
    let budget_store = budgets.store();
    pods.on_change({
        let (queue, budget_store) = (queue.clone(), budget_store.clone());
        move |change| {
            let pods: Vec<&Arc<Pod>> = match change {
                Change::Applied { old, new } => old.iter().chain(std::iter::once(new)).collect(),
                Change::Deleted(pod) => vec![pod],
            };
            for pdb in budget_store.state() {
                if pods.iter().any(|p| p.namespace() == pdb.namespace() && selects(&pdb, p)) {
                    queue.add(key_of(&pdb.metadata));
                }
            }
        }
    });
    let mut tasks: Vec<JoinHandle<()>> = budgets
        .start(
            watcher(Api::<PodDisruptionBudget>::all(client.clone()), watcher::Config::default()).default_backoff(),
            shutdown.clone(),
        )
        .into_iter()
        .collect();
    let ready = futures::future::join(pods.synced(), budgets.synced());
    let ready = async move {
        ready.await;
    };
    let pod_store = pods.store();
    let recorder = Recorder::new(client.clone(), "controllermanager");
    tasks.push(tokio::spawn(queue::serve(NAME, queue, 1, ready, shutdown, move |key: String| {
        let (client, budgets, pods, recorder) =
            (client.clone(), budget_store.clone(), pod_store.clone(), recorder.clone());
        async move { sync(&client, &budgets, &pods, &recorder, &key).await }
    })));
    tasks
}

/// A policy/v1 budget selects the pods its selector matches; an empty selector all of
/// its namespace, a missing or invalid one none.
fn selects(pdb: &PodDisruptionBudget, pod: &Pod) -> bool {
    selector_of(pdb).is_some_and(|s| s.matches(pod.labels()))
}

fn selector_of(pdb: &PodDisruptionBudget) -> Option<Selector> {
    let selector = pdb.spec.as_ref()?.selector.as_ref()?;
    Selector::try_from(selector.clone()).ok()
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

async fn sync(
    client: &Client,
    budgets: &Store<PodDisruptionBudget>,
    pods: &Store<Pod>,
    recorder: &Recorder,
    key: &str,
) -> Result<Next, Error> {
    let (namespace, name) = split_key(key);
    let Some(pdb) = budgets.get(&ObjectRef::new(name).within(namespace)) else { return Ok(Next::Done) };
    if pdb.metadata.deletion_timestamp.is_some() {
        return Ok(Next::Done);
    }
    let selected: Vec<Arc<Pod>> =
        pods.state().into_iter().filter(|p| p.namespace().as_deref() == Some(namespace) && selects(&pdb, p)).collect();
    if selected.is_empty() {
        recorder.record(&*pdb, NORMAL, "NoPods", "No matching pods found".into());
    }
    let now = Timestamp::now();
    let (disrupted, recheck) = disrupted_pods(&pdb, &selected, now, recorder);
    let status = match expected_pods(client, &pdb, &selected).await {
        Ok((expected, desired, unmanaged)) => {
            if !unmanaged.is_empty() && uses_scale(&pdb) {
                recorder.record(&*pdb, WARNING, "UnmanagedPods", format!(
                    "Pods selected by this PodDisruptionBudget (selector: {}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value.",
                    selector_of(&pdb).map(|s| s.to_string()).unwrap_or_default()
                ));
            }
            let healthy = selected
                .iter()
                .filter(|p| {
                    p.metadata.deletion_timestamp.is_none() && !disrupted.contains_key(&p.name_any()) && is_ready(p)
                })
                .count() as i32;
            let allowed = if expected <= 0 { 0 } else { (healthy - desired).max(0) };
            let mut status = PodDisruptionBudgetStatus {
                current_healthy: healthy,
                desired_healthy: desired,
                expected_pods: expected,
                disruptions_allowed: allowed,
                disrupted_pods: (!disrupted.is_empty()).then_some(disrupted),
                observed_generation: pdb.metadata.generation,
                conditions: pdb.status.as_ref().and_then(|s| s.conditions.clone()),
            };
            let (reason, state) = if allowed > 0 { ("SufficientPods", "True") } else { ("InsufficientPods", "False") };
            set_condition(&mut status, state, reason, "", now);
            status
        }
        Err(why) => {
            // Fail safe: no disruption is allowed while the budget cannot be computed.
            recorder.record(
                &*pdb,
                WARNING,
                "CalculateExpectedPodCountFailed",
                format!("Failed to calculate the number of expected pods: {why}"),
            );
            let mut status = pdb.status.clone().unwrap_or_default();
            status.disruptions_allowed = 0;
            status.observed_generation = pdb.metadata.generation;
            set_condition(&mut status, "False", "SyncFailed", &why, now);
            status
        }
    };
    if pdb.status.as_ref() != Some(&status) {
        let mut updated = (*pdb).clone();
        updated.status = Some(status);
        let api = Api::<PodDisruptionBudget>::namespaced(client.clone(), namespace);
        match api.replace_status(name, &PostParams::default(), &updated).await {
            Ok(_) => {}
            // Deleted meanwhile; or a newer version (an eviction) comes back as an event.
            Err(e) if crate::api_reason(&e, 404) || crate::api_reason(&e, 409) => return Ok(Next::Done),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(recheck.map_or(Next::Done, Next::After))
}

fn uses_scale(pdb: &PodDisruptionBudget) -> bool {
    let spec = pdb.spec.as_ref();
    spec.and_then(|s| s.max_unavailable.as_ref()).is_some()
        || matches!(spec.and_then(|s| s.min_available.as_ref()), Some(IntOrString::String(_)))
}

/// Upstream's `UpdateDisruptionAllowedCondition`: the transition time moves only when the
/// status does.
fn set_condition(status: &mut PodDisruptionBudgetStatus, state: &str, reason: &str, message: &str, now: Timestamp) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let generation = status.observed_generation.unwrap_or(0);
    match conditions.iter_mut().find(|c| c.type_ == CONDITION) {
        Some(c) => {
            if c.status != state {
                c.last_transition_time = Time(now);
            }
            c.status = state.into();
            c.reason = reason.into();
            c.message = message.into();
            c.observed_generation = Some(generation);
        }
        None => conditions.push(Condition {
            type_: CONDITION.into(),
            status: state.into(),
            reason: reason.into(),
            message: message.into(),
            observed_generation: Some(generation),
            last_transition_time: Time(now),
        }),
    }
}

/// The evictions still awaited (pods not yet deleted, within the timeout), and when the
/// oldest of them times out.
fn disrupted_pods(
    pdb: &PodDisruptionBudget,
    pods: &[Arc<Pod>],
    now: Timestamp,
    recorder: &Recorder,
) -> (BTreeMap<String, Time>, Option<Duration>) {
    let recorded = pdb.status.as_ref().and_then(|s| s.disrupted_pods.as_ref());
    let mut out = BTreeMap::new();
    let mut recheck: Option<Duration> = None;
    let timeout = SignedDuration::try_from(DELETION_TIMEOUT).unwrap_or(SignedDuration::ZERO);
    for pod in pods {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(at) = recorded.and_then(|m| m.get(&pod.name_any())) else { continue };
        let expected = at.0.checked_add(timeout).unwrap_or(at.0);
        if expected <= now {
            recorder.record(
                &**pod,
                WARNING,
                "NotDeleted",
                format!(
                    "Pod {}/{} was expected to be deleted at {expected} but it wasn't, updating pdb {}/{}",
                    pod.namespace().unwrap_or_default(),
                    pod.name_any(),
                    pdb.namespace().unwrap_or_default(),
                    pdb.name_any()
                ),
            );
            continue;
        }
        let left = Duration::try_from(expected.duration_since(now)).unwrap_or(Duration::ZERO);
        recheck = Some(recheck.map_or(left, |r| r.min(left)));
        out.insert(pod.name_any(), at.clone());
    }
    (out, recheck)
}

/// `(expectedPods, desiredHealthy, unmanaged pods)` as upstream's `getExpectedPodCount`.
async fn expected_pods(
    client: &Client,
    pdb: &PodDisruptionBudget,
    pods: &[Arc<Pod>],
) -> Result<(i32, i32, Vec<String>), String> {
    let spec = pdb.spec.clone().unwrap_or_default();
    if let Some(max_unavailable) = &spec.max_unavailable {
        let (expected, unmanaged) = expected_scale(client, pods).await?;
        let max = scaled(max_unavailable, expected)?;
        return Ok((expected, (expected - max).max(0), unmanaged));
    }
    match &spec.min_available {
        Some(IntOrString::Int(n)) => Ok((pods.len() as i32, *n, Vec::new())),
        Some(percent @ IntOrString::String(_)) => {
            let (expected, unmanaged) = expected_scale(client, pods).await?;
            Ok((expected, scaled(percent, expected)?, unmanaged))
        }
        None => Ok((pods.len() as i32, 0, Vec::new())),
    }
}

/// An int, or a percentage of `total` rounded up (`GetScaledValueFromIntOrPercent`).
fn scaled(value: &IntOrString, total: i32) -> Result<i32, String> {
    match value {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let percent: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| "invalid value for IntOrString: invalid type: string is not a percentage".to_string())?;
            Ok(((percent * i64::from(total)) as f64 / 100.0).ceil() as i32)
        }
    }
}

/// The summed replicas of the controllers of the pods (each counted once), and the pods
/// without a controller (upstream's `getExpectedScale`).
async fn expected_scale(client: &Client, pods: &[Arc<Pod>]) -> Result<(i32, Vec<String>), String> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut unmanaged = Vec::new();
    let mut total = 0;
    for pod in pods {
        let Some(owner) = controller_of(&pod.metadata) else {
            unmanaged.push(pod.name_any());
            continue;
        };
        let ns = pod.namespace().unwrap_or_default();
        let (uid, replicas) = scale_of(client, &ns, owner)
            .await
            .ok_or_else(|| format!("found no controllers for pod {:?}", pod.name_any()))?;
        if seen.insert(uid) {
            total += replicas;
        }
    }
    Ok((total, unmanaged))
}

/// `(uid, spec.replicas)` of a pod's controller, if it exists with the referenced uid. A
/// ReplicaSet of a Deployment counts as the Deployment.
async fn scale_of(client: &Client, ns: &str, owner: &OwnerReference) -> Option<(String, i32)> {
    let group = owner.api_version.split_once('/').map_or("", |(g, _)| g);
    let found = match (group, owner.kind.as_str()) {
        ("", "ReplicationController") => {
            let rc = Api::<ReplicationController>::namespaced(client.clone(), ns).get_opt(&owner.name).await.ok()??;
            (rc.uid()?, rc.spec.and_then(|s| s.replicas).unwrap_or(1))
        }
        ("apps", "ReplicaSet") => {
            let rs = Api::<ReplicaSet>::namespaced(client.clone(), ns).get_opt(&owner.name).await.ok()??;
            if rs.uid().as_deref() != Some(owner.uid.as_str()) {
                return None;
            }
            if let Some(parent) = controller_of(&rs.metadata).filter(|o| o.kind == "Deployment") {
                let d = Api::<Deployment>::namespaced(client.clone(), ns).get_opt(&parent.name).await.ok()??;
                if d.uid().as_deref() == Some(parent.uid.as_str()) {
                    return Some((parent.uid.clone(), d.spec.and_then(|s| s.replicas).unwrap_or(1)));
                }
            }
            (owner.uid.clone(), rs.spec.and_then(|s| s.replicas).unwrap_or(1))
        }
        ("apps", "StatefulSet") => {
            let ss = Api::<StatefulSet>::namespaced(client.clone(), ns).get_opt(&owner.name).await.ok()??;
            (ss.uid()?, ss.spec.and_then(|s| s.replicas).unwrap_or(1))
        }
        _ => return None,
    };
    (found.0 == owner.uid).then_some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_up() {
        assert_eq!(scaled(&IntOrString::String("50%".into()), 3), Ok(2));
        assert_eq!(scaled(&IntOrString::Int(1), 3), Ok(1));
        assert!(scaled(&IntOrString::String("half".into()), 3).is_err());
    }
}
